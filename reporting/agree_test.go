package reporting_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	// Next-day survey answers and dispositions: the escalated call c8 is
	// first line for FCR (its first answer) and second line for CSI (its
	// last); so is the warm transfer c9, whose only answered visit is l1.
	survey := func(sec float64, call, solved string, rating int) eventlog.Event {
		return ev(sec, eventlog.SurveyCompleted, call, "", "").WithString(eventlog.KeySolved, solved).WithInt(eventlog.KeyRating, rating)
	}
	disp := func(sec float64, call, reason string) eventlog.Event {
		e := ev(sec, eventlog.CallDisposition, call, "", "")
		e.Reason = reason
		return e
	}
	add(disp(84, "c1", "not_resolved"), disp(992, "c8", "resolved"), disp(1201, "c9", "escalated"),
		survey(5000, "c1", "no", 2), survey(5001, "c8", "yes", 4), survey(5002, "c9", "yes", 5), survey(5003, "c5", "no", 1))
	cfg := &reporting.Config{Queues: map[string]reporting.QueueConfig{"billing": {Threshold: 30 * time.Second}, "l2": {Line: reporting.LineSecond}}}
	reportingtest.Agree(t, evs, cfg)
}

// TestMetricsFCRByFirstLine: survey FCR per line in /metrics groups a call
// by the line of its first answered visit (docs/metrics.md), as the report
// does — an escalated call solved by second line is first line's
// resolution, and {line="second"} stays empty when no call was first
// answered there.
func TestMetricsFCRByFirstLine(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	ev := func(sec float64, typ eventlog.Type, call, q, agent string) eventlog.Event {
		n++
		return eventlog.Event{ID: fmt.Sprintf("e%06d", n), At: t0.Add(time.Duration(sec * float64(time.Second))), Type: typ, CallID: call, Queue: q, Agent: agent}
	}
	var evs []eventlog.Event
	// Three calls answered by first line; e1 and e2 escalated and answered by l2.
	for i, solved := range []string{"yes", "yes", "no"} {
		c := fmt.Sprintf("e%d", i+1)
		t := float64(i * 100)
		evs = append(evs, ev(t, eventlog.QueueJoined, c, "l1", ""),
			ev(t+5, eventlog.QueueAnswered, c, "l1", "a1").WithDuration(eventlog.KeyWait, 5*time.Second))
		if i < 2 {
			evs = append(evs, ev(t+30, eventlog.CallEscalated, c, "l1", "a1").WithString(eventlog.KeyToQueue, "l2"),
				ev(t+30, eventlog.QueueJoined, c, "l2", "").WithString(eventlog.KeyEscalatedFrom, "l1"),
				ev(t+40, eventlog.QueueAnswered, c, "l2", "b1").WithDuration(eventlog.KeyWait, 10*time.Second))
		}
		evs = append(evs, ev(t+90, eventlog.CallEnded, c, "", ""),
			ev(t+3600, eventlog.SurveyCompleted, c, "", "").WithString(eventlog.KeySolved, solved).WithInt(eventlog.KeyRating, 5))
	}
	reportingtest.Agree(t, evs, nil)
	reg := prometheus.NewRegistry()
	m, err := reporting.NewMetrics(reg, reporting.MetricsOptions{Now: func() time.Time { return t0.Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		m.Publish(e)
	}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hotline_fcr_ratio" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			var line, src string
			for _, lp := range mt.GetLabel() {
				switch lp.GetName() {
				case "line":
					line = lp.GetValue()
				case "source":
					src = lp.GetValue()
				}
			}
			got[line+"/"+src] = mt.GetGauge().GetValue()
		}
	}
	if len(got) != 1 || got["first/survey"] != 2.0/3 {
		t.Errorf("hotline_fcr_ratio = %v, want only first/survey = 2/3", got)
	}
}
