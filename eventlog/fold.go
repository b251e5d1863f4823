package eventlog

import (
	"strings"
	"time"
)

// Outcome is how a queue visit ended.
type Outcome string

// Visit outcomes.
const (
	OutcomeWaiting    Outcome = "waiting" // no outcome yet
	OutcomeAnswered   Outcome = "answered"
	OutcomeAbandoned  Outcome = "abandoned"
	OutcomeOverflowed Outcome = "overflowed"
	OutcomeTimeout    Outcome = "timeout"
	OutcomeCallback   Outcome = "callback"
	OutcomeIVR        Outcome = "ivr" // call-level: never reached a queue
)

// Visit is one stay of a call in one queue, as the events tell it.
type Visit struct {
	N        int // 0-based order within the call
	Queue    string
	JoinedAt time.Time
	Priority int
	Outcome  Outcome
	LeftAt   time.Time     // when the wait ended (answer, abandon, overflow...)
	Wait     time.Duration // queue entry to answer / hang-up / overflow
	// Resumed: the visit is a wait that an earlier process began (it was
	// re-adopted after a restart); it is not a new offer.
	Resumed      bool
	Agent        string // who answered
	AnsweredAt   time.Time
	Ring         time.Duration // last offer to the answering agent → answer; 0 if unknown
	Talk         time.Duration
	Wrapup       time.Duration
	RingNoAnswer int
	// EscalatedFrom is the first-line queue of an escalated call's visit.
	EscalatedFrom string
	// AfterEscalation: the call had been escalated (by a call.escalated or
	// a join from an escalation) when this visit began or was answered.
	AfterEscalation bool
	EscalatedTo     string
	EscalatedAt     time.Time
	OverflowTo      string
	// EWT is the estimated wait announced to the caller when the visit
	// began (KeyEWT of its queue.joined, else of its queue.answered);
	// HasEWT says whether any was.
	EWT    time.Duration
	HasEWT bool
}

// Call is the one fold of a call's events: everything hotline's figures
// and decisions need to know about one call, advanced one event at a time
// by Apply. The call records (reporting), the Prometheus collectors, the
// survey's choice of calls and the resumption of a wait after a restart
// all read it, so they cannot disagree. The zero value is an empty call.
type Call struct {
	CallID          string
	ArrivedAt       time.Time
	Caller          string
	Dialed, Trunk   string
	IVRPath         []string
	Language        string
	Visits          []Visit
	Answers         []Answer
	Disposition     string // resolved | not_resolved | escalated
	DispositionCode string
	Notes           string
	NoSurvey        bool
	EscalatedTo     string // the first escalation's target queue
	EscalatedAt     time.Time
	Escalations     int    // call.escalated events
	LastEscalatedTo string // the last escalation's target queue
	LastEscReason   string // and its reason code
	EndedAt         time.Time
	EndReason       string
	// Finished is the Engine's last word on the call (queue.call_finished):
	// its reason, "" before.
	Finished     string
	SurveyStatus string // the last survey.* step: completed, scheduled, skipped...
	SurveyRating int    // 1–5, 0 = none
	SurveySolved string // yes | no | ""

	open      int // 1 + index of the visit waiting now; 0: none
	escalated bool
	offeredAt map[string]time.Time
}

// Step is what one event changed in a Call's visits.
type Step struct {
	// Closed is the visit whose wait ended (nil: none).
	Closed *Visit
	// Opened is the visit that began (nil: none); a Resumed one is not a
	// new offer.
	Opened *Visit
	// Updated is the answered visit whose talk or wrap-up time an event
	// set, and TalkDelta, WrapupDelta how much each changed (a later
	// event replaces an earlier value: counters add the delta).
	Updated                *Visit
	TalkDelta, WrapupDelta time.Duration
	// Escalated is the answered visit an event escalated (once per visit).
	Escalated *Visit
}

// Answer is one queue.answered of the call: in a wait (its visit is
// answered) or not (a callback that reached the caller).
type Answer struct {
	Queue, Agent string
	At           time.Time
	// AfterEscalation: the call had been escalated by then.
	AfterEscalation bool
	// Visit is the index of the visit it answered; -1 for none.
	Visit int
}

// FoldCall folds the events of one call, in the order given (sort them by
// time and ID first, as SortEvents does).
func FoldCall(evs []Event) *Call {
	c := &Call{}
	for _, e := range evs {
		c.Apply(e)
	}
	return c
}

// Waiting returns the visit waiting now, if any.
func (c *Call) Waiting() (*Visit, bool) {
	if c.open == 0 {
		return nil, false
	}
	return &c.Visits[c.open-1], true
}

// answeredBy returns the visit agent's talk and wrap-up belong to: the one
// their latest answer closed. It is nil when that answer was outside a wait
// (a callback) and when the agent answered nothing on this call (a
// consultant who took it over in a warm transfer: that talk is no queue
// visit's). An event naming no agent goes to the last answered visit.
func (c *Call) answeredBy(agent string) *Visit {
	for i := len(c.Answers) - 1; i >= 0; i-- {
		if a := c.Answers[i]; a.Agent == agent {
			if a.Visit < 0 {
				return nil
			}
			return &c.Visits[a.Visit]
		}
	}
	if agent != "" {
		return nil
	}
	for i := len(c.Visits) - 1; i >= 0; i-- {
		if v := &c.Visits[i]; v.Outcome == OutcomeAnswered {
			return v
		}
	}
	return nil
}

// close ends the waiting visit with outcome o at e.
func (c *Call) close(e Event, o Outcome) *Visit {
	if c.open == 0 {
		return nil
	}
	v := &c.Visits[c.open-1]
	if e.Queue != "" && e.Queue != v.Queue {
		// The outcome of a visit a later queue.joined already closed (the
		// two were logged in the other order): not this visit's.
		return nil
	}
	c.open = 0
	v.Outcome = o
	v.LeftAt = e.At
	if w, ok := e.Duration(KeyWait); ok {
		v.Wait = w
	} else {
		v.Wait = e.At.Sub(v.JoinedAt)
	}
	return v
}

// Apply advances the call by one event and says which visits it opened or
// closed. Events of other calls must not be applied.
func (c *Call) Apply(e Event) Step {
	if c.CallID == "" {
		c.CallID = e.CallID
	}
	if c.Caller == "" && e.Caller != "" {
		c.Caller = e.Caller
	}
	var st Step
	switch e.Type {
	case CallArrived:
		c.ArrivedAt = e.At
		c.Caller = e.Caller
		c.Dialed = e.String(KeyTo)
		c.Trunk = e.String(KeyTrunk)
	case IVRNode:
		if n := e.String(KeyNode); n != "" && (len(c.IVRPath) == 0 || c.IVRPath[len(c.IVRPath)-1] != n) {
			c.IVRPath = append(c.IVRPath, n)
		}
	case IVRLanguage:
		c.Language = e.String(KeyLang)
	case QueueJoined:
		at := e.At
		resumed := e.Flag(KeyResumed)
		if resumed {
			if w, ok := c.Waiting(); ok && w.Queue == e.Queue {
				break // the same wait, resumed after a restart
			}
			if t, ok := e.Time(KeyJoinedAt); ok {
				at = t // the earlier process's events are missing: the wait began then
			}
		}
		// Joined again without an outcome: the first wait ended here.
		st.Closed = c.close(Event{At: at}, OutcomeOverflowed)
		from := e.String(KeyEscalatedFrom)
		c.escalated = c.escalated || from != ""
		ewt, hasEWT := e.Duration(KeyEWT)
		c.Visits = append(c.Visits, Visit{
			N: len(c.Visits), Queue: e.Queue, JoinedAt: at, Priority: e.Priority, Outcome: OutcomeWaiting,
			Resumed: resumed, EscalatedFrom: from, AfterEscalation: c.escalated, EWT: ewt, HasEWT: hasEWT,
		})
		c.open = len(c.Visits)
		if st.Closed != nil { // the append may have moved the visits
			st.Closed = &c.Visits[st.Closed.N]
		}
		st.Opened = &c.Visits[c.open-1]
	case AgentOffered:
		if c.offeredAt == nil {
			c.offeredAt = map[string]time.Time{}
		}
		c.offeredAt[e.Agent] = e.At
	case AgentRingNoAnswer:
		if v, ok := c.Waiting(); ok {
			v.RingNoAnswer++
		}
	case QueueAnswered:
		v := c.close(e, OutcomeAnswered)
		a := Answer{Queue: e.Queue, Agent: e.Agent, At: e.At, AfterEscalation: c.escalated, Visit: -1}
		if v != nil {
			a.Visit = v.N
		}
		c.Answers = append(c.Answers, a)
		if v == nil {
			break // an answer outside a wait: a callback that reached the caller
		}
		v.Agent = e.Agent
		v.AnsweredAt = e.At
		if d, ok := e.Duration(KeyEWT); ok && !v.HasEWT {
			v.EWT, v.HasEWT = d, true
		}
		v.AfterEscalation = v.AfterEscalation || c.escalated
		if t, ok := c.offeredAt[e.Agent]; ok && !t.After(e.At) {
			v.Ring = e.At.Sub(t)
		}
		st.Closed = v
	case QueueAbandoned:
		st.Closed = c.close(e, OutcomeAbandoned)
	case QueueOverflowed:
		for i := len(c.Visits) - 1; i >= 0; i-- {
			if v := &c.Visits[i]; e.Queue == "" || v.Queue == e.Queue {
				v.OverflowTo = e.String(KeyToQueue)
				break
			}
		}
		st.Closed = c.close(e, OutcomeOverflowed)
	case QueueTimeout:
		st.Closed = c.close(e, OutcomeTimeout)
	case CallbackRequested:
		st.Closed = c.close(e, OutcomeCallback)
	case CallCompleted:
		if v := c.answeredBy(e.Agent); v != nil {
			old := v.Talk
			if d, ok := e.Duration(KeyTalk); ok {
				v.Talk = d
			} else {
				v.Talk = e.At.Sub(v.AnsweredAt)
			}
			st.Updated, st.TalkDelta = v, v.Talk-old
		}
	case WrapupEnded:
		if v := c.answeredBy(e.Agent); v != nil {
			if d, ok := e.Duration(KeyWrapup); ok {
				st.Updated, st.WrapupDelta = v, d-v.Wrapup
				v.Wrapup = d
			}
		}
	case CallDisposition:
		c.Disposition = e.Reason
		c.DispositionCode = e.String(KeyCode)
		c.Notes = e.String(KeyNotes)
		c.NoSurvey = c.NoSurvey || e.Flag(KeyNoSurvey)
	case CallEscalated:
		c.escalated = true
		for i := len(c.Visits) - 1; i >= 0; i-- {
			if v := &c.Visits[i]; v.Outcome == OutcomeAnswered && (e.Queue == "" || v.Queue == e.Queue) {
				if v.EscalatedTo == "" { // a visit escalates once: to its first target
					v.EscalatedTo = e.String(KeyToQueue)
					v.EscalatedAt = e.At
					st.Escalated = v
				}
				break
			}
		}
		if c.EscalatedTo == "" {
			c.EscalatedTo = e.String(KeyToQueue)
			c.EscalatedAt = e.At
		}
		c.Escalations++
		c.LastEscalatedTo, c.LastEscReason = e.String(KeyToQueue), e.Reason
	case CallFinished:
		c.Finished = e.Reason
	case CallEnded:
		// Hung up while waiting with no queue event: an abandon.
		st.Closed = c.close(e, OutcomeAbandoned)
		c.EndedAt = e.At
		c.EndReason = e.Reason
	case SurveyCompleted:
		c.SurveyStatus = "completed"
		if r, ok := e.Int(KeyRating); ok && r >= 1 && r <= 5 {
			c.SurveyRating = r
		}
		if s := e.String(KeySolved); s == "yes" || s == "no" {
			c.SurveySolved = s
		}
	case SurveySkipped, SurveyScheduled, SurveyAttempt, SurveyFailed, SurveyOptOut:
		if c.SurveyStatus != "completed" {
			c.SurveyStatus = strings.TrimPrefix(string(e.Type), "survey.")
		}
	}
	return st
}
