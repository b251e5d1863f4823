package reporting

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// QueueLogOptions configure the Asterisk queue_log export.
type QueueLogOptions struct {
	// AgentPrefix is put before agent IDs in the agent field (default
	// "Agent/", the convention of QueueMetrics and app_queue's agents).
	AgentPrefix string
	// QueuesOf returns the queues an agent serves, for ADDMEMBER,
	// REMOVEMEMBER, PAUSE and UNPAUSE lines per queue. Nil: one line per
	// change with queue "NONE" (PAUSEALL/UNPAUSEALL for pauses).
	QueuesOf func(agentID string) []string
}

// QueueLog converts hotline events, in order, to lines of Asterisk's
// queue_log ("epoch|callid|queue|agent|EVENT|data1|data2|..."), so that
// QueueMetrics and other queue_log tools can read hotline's history:
//
//	queue.joined                ENTERQUEUE|url|callerid
//	agent.ring_noanswer         RINGNOANSWER|ringtime_ms
//	queue.answered              CONNECT|holdtime|callid|ringtime
//	call.completed (by caller)  COMPLETECALLER|holdtime|calltime|origposition
//	call.completed (by agent)   COMPLETEAGENT|holdtime|calltime|origposition
//	call.completed (escalated)  TRANSFER|to_queue|hotline|holdtime|calltime|origposition
//	queue.abandoned, call.ended while waiting
//	                            ABANDON|position|origposition|waittime
//	queue.overflowed, queue.timeout
//	                            EXITWITHTIMEOUT|position|origposition|waittime
//	callback.requested          EXITWITHKEY|*|position|origposition|waittime
//	agent.state to/from logged out   ADDMEMBER / REMOVEMEMBER
//	agent.state to/from paused       PAUSE|reason / UNPAUSE|reason
//
// Times are whole seconds (holdtime from the queue's wait_ms). A call whose
// join preceded the exported range still gets its CONNECT/COMPLETE lines
// (with origposition 1 when unknown).
//
// Every queue visit gets exactly one terminal line (ABANDON,
// EXITWITHTIMEOUT, EXITWITHKEY, or the COMPLETE/TRANSFER of its answer),
// whatever the order of events logged at the same moment: the first of a
// visit's outcome event and the call's hang-up writes it and the other is
// dropped; a queue.joined while the previous visit still waits closes that
// visit with EXITWITHTIMEOUT (the call fold's "overflowed"), and its own
// outcome event, if it comes after, is dropped. A call is remembered for
// an hour after its call.ended, so that late events of the same call
// (queue outcome, call.completed) still find it.
type QueueLog struct {
	w      *bufio.Writer
	opt    QueueLogOptions
	calls  map[string]*qlCall
	paused map[string]bool
	ended  []callMark // calls in the order of their call.ended, for the sweep
}

type qlCall struct {
	caller      string
	queue       string // current queue
	origPos     string
	joinedAt    time.Time
	waiting     bool
	visited     map[string]bool // queues joined in the export (their outcomes are known)
	hold        int64           // seconds, of the last answer
	offeredAt   map[string]time.Time
	escalatedTo string
	escAgent    string
	joinedFrom  string // escalated_from of the current visit
	endedAt     time.Time
}

// qlEndedTTL is how long a call is kept after its call.ended.
const qlEndedTTL = time.Hour

// NewQueueLog returns a converter writing to w; call Flush at the end.
func NewQueueLog(w io.Writer, opt QueueLogOptions) *QueueLog {
	if opt.AgentPrefix == "" {
		opt.AgentPrefix = "Agent/"
	}
	return &QueueLog{w: bufio.NewWriter(w), opt: opt, calls: map[string]*qlCall{}, paused: map[string]bool{}}
}

// Flush writes buffered lines.
func (l *QueueLog) Flush() error { return l.w.Flush() }

func (l *QueueLog) line(at time.Time, callID, q, agent, event string, data ...string) {
	if callID == "" {
		callID = "NONE"
	}
	if q == "" {
		q = "NONE"
	}
	if agent == "" {
		agent = "NONE"
	} else {
		agent = l.opt.AgentPrefix + agent
	}
	fields := append([]string{strconv.FormatInt(at.Unix(), 10), callID, q, agent, event}, data...)
	for i, f := range fields {
		fields[i] = strings.NewReplacer("|", "_", "\n", " ", "\r", " ").Replace(f)
	}
	l.w.WriteString(strings.Join(fields, "|"))
	l.w.WriteByte('\n')
}

func secs(d time.Duration) string {
	return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10)
}

func (l *QueueLog) call(id string) *qlCall {
	c := l.calls[id]
	if c == nil {
		c = &qlCall{origPos: "1", offeredAt: map[string]time.Time{}, visited: map[string]bool{}}
		l.calls[id] = c
	}
	return c
}

// waitOfEvent is the wait carried by an outcome event, else measured.
func waitOfEvent(e eventlog.Event, c *qlCall) time.Duration {
	if d, ok := e.Duration(eventlog.KeyWait); ok {
		return d
	}
	if c.joinedAt.IsZero() {
		return 0
	}
	return e.At.Sub(c.joinedAt)
}

func position(e eventlog.Event) string {
	if p, ok := e.Int(eventlog.KeyPosition); ok {
		return strconv.Itoa(p)
	}
	return "1"
}

// Write converts one event (events must come in time order; events of
// the same moment may come in any order).
func (l *QueueLog) Write(e eventlog.Event) {
	l.sweep(e.At)
	switch e.Type {
	case eventlog.CallArrived:
		l.call(e.CallID).caller = e.Caller
	case eventlog.QueueJoined:
		c := l.call(e.CallID)
		if e.Caller != "" {
			c.caller = e.Caller
		}
		if c.waiting {
			// Joined again before the previous visit's outcome: that
			// wait ended here (overflowed, as the call fold has it).
			l.line(e.At, e.CallID, c.queue, "", "EXITWITHTIMEOUT", "1", c.origPos, secs(e.At.Sub(c.joinedAt)))
		}
		c.queue, c.joinedAt, c.waiting = e.Queue, e.At, true
		c.visited[e.Queue] = true
		c.origPos = position(e)
		c.joinedFrom = e.String(eventlog.KeyEscalatedFrom)
		l.line(e.At, e.CallID, e.Queue, "", "ENTERQUEUE", "", c.caller)
	case eventlog.AgentOffered:
		l.call(e.CallID).offeredAt[e.Agent] = e.At
	case eventlog.AgentRingNoAnswer:
		ringD, _ := e.Duration(eventlog.KeyRing)
		ring := strconv.FormatInt(ringD.Milliseconds(), 10)
		l.line(e.At, e.CallID, l.queueOf(e), e.Agent, "RINGNOANSWER", ring)
	case eventlog.QueueAnswered:
		c := l.call(e.CallID)
		c.hold = int64(waitOfEvent(e, c).Round(time.Second) / time.Second)
		c.waiting = false
		ring := "0"
		if t, ok := c.offeredAt[e.Agent]; ok && !t.After(e.At) {
			ring = secs(e.At.Sub(t))
		}
		l.line(e.At, e.CallID, l.queueOf(e), e.Agent, "CONNECT", strconv.FormatInt(c.hold, 10), e.CallID, ring)
	case eventlog.CallEscalated:
		c := l.call(e.CallID)
		c.escalatedTo, c.escAgent = e.String(eventlog.KeyToQueue), e.Agent
	case eventlog.CallCompleted:
		c := l.call(e.CallID)
		talk, ok := e.Duration(eventlog.KeyTalk)
		if !ok {
			talk = 0
		}
		hold := strconv.FormatInt(c.hold, 10)
		q := l.queueOf(e)
		to := c.escalatedTo
		if to == "" && c.waiting && c.joinedFrom == q {
			to = c.queue // the escalation's join came before its call.escalated
		}
		switch {
		case c.escalatedTo != "" && c.escAgent == e.Agent || e.String(eventlog.KeyBy) == "transfer":
			l.line(e.At, e.CallID, q, e.Agent, "TRANSFER", to, "hotline", hold, secs(talk), c.origPos)
			c.escalatedTo, c.escAgent = "", ""
		case e.String(eventlog.KeyBy) == "agent":
			l.line(e.At, e.CallID, q, e.Agent, "COMPLETEAGENT", hold, secs(talk), c.origPos)
		default:
			l.line(e.At, e.CallID, q, e.Agent, "COMPLETECALLER", hold, secs(talk), c.origPos)
		}
	case eventlog.QueueAbandoned:
		l.exit(e, "ABANDON")
	case eventlog.QueueOverflowed, eventlog.QueueTimeout:
		l.exit(e, "EXITWITHTIMEOUT")
	case eventlog.CallbackRequested:
		l.exit(e, "EXITWITHKEY", "*")
	case eventlog.CallEnded:
		c := l.calls[e.CallID]
		if c == nil {
			break
		}
		if c.waiting {
			l.exit(e, "ABANDON")
		}
		if c.endedAt.IsZero() {
			c.endedAt = e.At
			l.ended = append(l.ended, callMark{e.CallID, e.At})
		}
	case eventlog.AgentState:
		l.agentState(e)
	}
}

func (l *QueueLog) queueOf(e eventlog.Event) string {
	if e.Queue != "" {
		return e.Queue
	}
	if c := l.calls[e.CallID]; c != nil {
		return c.queue
	}
	return ""
}

// sweep forgets calls that ended more than qlEndedTTL before now.
func (l *QueueLog) sweep(now time.Time) {
	cut := now.Add(-qlEndedTTL)
	i := 0
	for i < len(l.ended) && l.ended[i].at.Before(cut) {
		if c := l.calls[l.ended[i].call]; c != nil && !c.endedAt.After(l.ended[i].at) {
			delete(l.calls, l.ended[i].call)
		}
		i++
	}
	if i > 0 {
		l.ended = append(l.ended[:0], l.ended[i:]...)
	}
}

func (l *QueueLog) exit(e eventlog.Event, event string, pre ...string) {
	c := l.call(e.CallID)
	if e.Type != eventlog.CallEnded && (!c.waiting || c.queue != e.Queue) && e.Queue != "" {
		if c.visited[e.Queue] {
			// The visit's terminal line is written (the hang-up or the
			// next join came first): one line per visit.
			return
		}
		// An outcome for a visit we did not see start: still log it.
		c.visited[e.Queue] = true
		if !c.waiting {
			c.queue = e.Queue
		}
		data := append(pre, position(e), c.origPos, secs(waitOfEvent(e, c)))
		l.line(e.At, e.CallID, e.Queue, "", event, data...)
		return
	}
	c.waiting = false
	data := append(pre, position(e), c.origPos, secs(waitOfEvent(e, c)))
	q := e.Queue
	if q == "" {
		q = c.queue
	}
	l.line(e.At, e.CallID, q, "", event, data...)
}

func (l *QueueLog) agentState(e eventlog.Event) {
	from, to := CanonicalState(e.String(eventlog.KeyFrom)), CanonicalState(e.String(eventlog.KeyTo))
	var queues []string
	if l.opt.QueuesOf != nil {
		queues = l.opt.QueuesOf(e.Agent)
	}
	each := func(event, all string, data ...string) {
		if len(queues) == 0 {
			if all == "" {
				all = event
			}
			l.line(e.At, "", "", e.Agent, all, data...)
			return
		}
		for _, q := range queues {
			l.line(e.At, "", q, e.Agent, event, data...)
		}
	}
	wasPaused := l.paused[e.Agent] || from == AgentPaused
	switch {
	case from == AgentLoggedOut && to != AgentLoggedOut:
		each("ADDMEMBER", "")
	case to == AgentLoggedOut && from != AgentLoggedOut:
		if wasPaused {
			each("UNPAUSE", "UNPAUSEALL", e.Reason)
		}
		each("REMOVEMEMBER", "")
	}
	switch {
	case to == AgentPaused && !wasPaused:
		each("PAUSE", "PAUSEALL", e.Reason)
	case to != AgentPaused && to != AgentLoggedOut && wasPaused:
		each("UNPAUSE", "UNPAUSEALL", e.Reason)
	}
	l.paused[e.Agent] = to == AgentPaused
}

// ExportQueueLog writes the events with at in [from, to) as Asterisk
// queue_log lines (see QueueLog), streaming from the database. The
// callerid field shows the number a caller's ref maps to, "anonymous"
// once the number is erased or expired: never a number without its
// mapping.
func (s *Store) ExportQueueLog(ctx context.Context, w io.Writer, from, to time.Time, opt QueueLogOptions) error {
	l := NewQueueLog(w, opt)
	if err := s.shownEvents(ctx, from, to, func(e eventlog.Event) error {
		l.Write(e)
		return nil
	}); err != nil {
		return err
	}
	return l.Flush()
}
