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
type QueueLog struct {
	w      *bufio.Writer
	opt    QueueLogOptions
	calls  map[string]*qlCall
	paused map[string]bool
}

type qlCall struct {
	caller      string
	queue       string // current queue
	origPos     string
	joinedAt    time.Time
	waiting     bool
	hold        int64 // seconds, of the last answer
	offeredAt   map[string]time.Time
	escalatedTo string
	escAgent    string
}

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
		c = &qlCall{origPos: "1", offeredAt: map[string]time.Time{}}
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

// Write converts one event (events must come in time order).
func (l *QueueLog) Write(e eventlog.Event) {
	switch e.Type {
	case eventlog.CallArrived:
		l.call(e.CallID).caller = e.Caller
	case eventlog.QueueJoined:
		c := l.call(e.CallID)
		if e.Caller != "" {
			c.caller = e.Caller
		}
		c.queue, c.joinedAt, c.waiting = e.Queue, e.At, true
		c.origPos = position(e)
		c.escalatedTo, c.escAgent = "", ""
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
		switch {
		case c.escalatedTo != "" && c.escAgent == e.Agent || e.String(eventlog.KeyBy) == "transfer":
			l.line(e.At, e.CallID, q, e.Agent, "TRANSFER", c.escalatedTo, "hotline", hold, secs(talk), c.origPos)
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
		if c := l.calls[e.CallID]; c != nil && c.waiting {
			l.exit(e, "ABANDON")
		}
		delete(l.calls, e.CallID)
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

func (l *QueueLog) exit(e eventlog.Event, event string, pre ...string) {
	c := l.call(e.CallID)
	if !c.waiting && e.Type != eventlog.CallEnded && c.queue != "" && e.Queue != c.queue {
		// An outcome for a visit we did not see start: still log it.
		c.queue = e.Queue
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
