package reporting_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/hotline-cc/hotline/reporting/reportingtest"
)

// TestRecordsAndMetricsAgree feeds hand-made streams with every visit
// outcome and the awkward cases (a callback that reaches the caller, a
// warm transfer whose consultant talks, a wait resumed after a restart, a
// hang-up with no queue event, repeated escalations) to the call records
// and to the Prometheus collectors, which must give the same figures. The
// queue package does the same with the Engine's randomized simulation.
func TestRecordsAndMetricsAgree(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	var evs []eventlog.Event
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ev := func(sec float64, typ eventlog.Type, call, q, agent string) eventlog.Event {
		n++
		e := eventlog.Event{ID: fmt.Sprintf("e%06d", n), At: at(sec), Type: typ, CallID: call, Queue: q, Agent: agent, Caller: "+79123456789"}
		return e
	}
	add := func(es ...eventlog.Event) { evs = append(evs, es...) }
	ms := time.Millisecond
	// Answered in 12 s, talk, wrap-up, resolved.
	add(ev(0, eventlog.CallArrived, "c1", "", ""), ev(1, eventlog.QueueJoined, "c1", "l1", ""),
		ev(10, eventlog.AgentOffered, "c1", "l1", "a1"),
		ev(13, eventlog.QueueAnswered, "c1", "l1", "a1").WithDuration(eventlog.KeyWait, 12000*ms),
		ev(73, eventlog.CallCompleted, "c1", "l1", "a1").WithDuration(eventlog.KeyTalk, 60000*ms),
		ev(73, eventlog.CallEnded, "c1", "", ""),
		ev(83, eventlog.WrapupEnded, "c1", "l1", "a1").WithDuration(eventlog.KeyWrapup, 10000*ms))
	// Short abandon, long abandon, hang-up with no queue event.
	add(ev(100, eventlog.QueueJoined, "c2", "l1", ""), ev(103, eventlog.QueueAbandoned, "c2", "l1", "").WithDuration(eventlog.KeyWait, 3000*ms))
	add(ev(100, eventlog.QueueJoined, "c3", "l1", ""), ev(140, eventlog.QueueAbandoned, "c3", "l1", "").WithDuration(eventlog.KeyWait, 40000*ms))
	add(ev(100, eventlog.QueueJoined, "c4", "l1", ""), ev(125, eventlog.CallEnded, "c4", "", ""))
	// Overflow to another queue, answered there; timeout.
	add(ev(200, eventlog.QueueJoined, "c5", "l1", ""),
		ev(290, eventlog.QueueOverflowed, "c5", "l1", "").WithDuration(eventlog.KeyWait, 90000*ms).WithString(eventlog.KeyToQueue, "billing"),
		ev(290, eventlog.QueueJoined, "c5", "billing", ""), ev(295, eventlog.AgentOffered, "c5", "billing", "a2"),
		ev(300, eventlog.QueueAnswered, "c5", "billing", "a2").WithDuration(eventlog.KeyWait, 10000*ms),
		ev(400, eventlog.CallCompleted, "c5", "billing", "a2").WithDuration(eventlog.KeyTalk, 100000*ms))
	add(ev(200, eventlog.QueueJoined, "c6", "billing", ""), ev(500, eventlog.QueueTimeout, "c6", "billing", "").WithDuration(eventlog.KeyWait, 300000*ms))
	// A callback that reaches the caller: its answer and talk are no visit's.
	add(ev(600, eventlog.QueueJoined, "c7", "l1", ""),
		ev(630, eventlog.CallbackRequested, "c7", "l1", "").WithDuration(eventlog.KeyWait, 30000*ms),
		ev(700, eventlog.AgentOffered, "c7", "l1", "a1"),
		ev(710, eventlog.QueueAnswered, "c7", "l1", "a1"),
		ev(770, eventlog.CallCompleted, "c7", "l1", "a1").WithDuration(eventlog.KeyTalk, 60000*ms))
	// Blind escalation (twice from the same visit: counted once), second line answers.
	add(ev(800, eventlog.QueueJoined, "c8", "l1", ""), ev(805, eventlog.QueueAnswered, "c8", "l1", "a1").WithDuration(eventlog.KeyWait, 5000*ms),
		ev(830, eventlog.CallEscalated, "c8", "l1", "a1").WithString(eventlog.KeyToQueue, "l2"),
		ev(831, eventlog.CallEscalated, "c8", "l1", "a1").WithString(eventlog.KeyToQueue, "l2"),
		ev(831, eventlog.CallCompleted, "c8", "l1", "a1").WithDuration(eventlog.KeyTalk, 26000*ms).WithString(eventlog.KeyBy, "transfer"),
		ev(831, eventlog.QueueJoined, "c8", "l2", "").WithString(eventlog.KeyEscalatedFrom, "l1"),
		ev(850, eventlog.QueueAnswered, "c8", "l2", "b1").WithDuration(eventlog.KeyWait, 19000*ms),
		ev(950, eventlog.CallCompleted, "c8", "l2", "b1").WithDuration(eventlog.KeyTalk, 100000*ms),
		ev(960, eventlog.WrapupEnded, "c8", "l1", "a1").WithDuration(eventlog.KeyWrapup, 129000*ms),
		ev(990, eventlog.WrapupEnded, "c8", "l2", "b1").WithDuration(eventlog.KeyWrapup, 40000*ms))
	// Warm transfer: the consultant b2 takes over without answering a visit.
	add(ev(1000, eventlog.QueueJoined, "c9", "l1", ""), ev(1004, eventlog.QueueAnswered, "c9", "l1", "a2").WithDuration(eventlog.KeyWait, 4000*ms),
		ev(1030, eventlog.ConsultStarted, "c9", "l1", "a2").WithString(eventlog.KeyToQueue, "l2"),
		ev(1040, eventlog.ConsultAnswered, "c9", "l2", "b2"),
		ev(1050, eventlog.CallCompleted, "c9", "l1", "a2").WithDuration(eventlog.KeyTalk, 46000*ms).WithString(eventlog.KeyBy, "transfer"),
		ev(1050, eventlog.CallEscalated, "c9", "l1", "a2").WithString(eventlog.KeyToQueue, "l2").WithString(eventlog.KeyMode, "warm"),
		ev(1050, eventlog.ConsultEnded, "c9", "l2", "b2"),
		ev(1200, eventlog.CallCompleted, "c9", "l2", "b2").WithDuration(eventlog.KeyTalk, 150000*ms))
	// A resumed join of a wait the stream has seen is the same wait. (A
	// resumed wait whose join the stream lacks is a new visit to the
	// records and not a new offer to /metrics, where the process that
	// began it counted it: streams here come from one process.)
	add(ev(1290, eventlog.QueueJoined, "c10", "l1", ""),
		ev(1301, eventlog.QueueJoined, "c10", "l1", "").WithFlag(eventlog.KeyResumed, true).WithTime(eventlog.KeyJoinedAt, at(1290)),
		ev(1325, eventlog.QueueAnswered, "c10", "l1", "a1").WithDuration(eventlog.KeyWait, 35000*ms))
	// Joined again with no outcome (the first wait ended there).
	add(ev(1400, eventlog.QueueJoined, "c11", "l1", ""), ev(1410, eventlog.QueueJoined, "c11", "billing", ""),
		ev(1420, eventlog.QueueAnswered, "c11", "billing", "a2").WithDuration(eventlog.KeyWait, 10000*ms))
	cfg := &reporting.Config{Queues: map[string]reporting.QueueConfig{"billing": {Threshold: 30 * time.Second}, "l2": {Line: reporting.LineSecond}}}
	reportingtest.Agree(t, evs, cfg)
}
