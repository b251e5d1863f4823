package survey

import (
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// Visit is one answered queue visit of a call.
type Visit struct {
	Queue      string    `json:"queue"`
	Agent      string    `json:"agent"`
	Team       string    `json:"team,omitempty"`
	Line       int       `json:"line"`
	AnsweredAt time.Time `json:"answered_at"`
}

// callState is a finished, answered call as the survey decides on it.
type callState struct {
	CallID      string
	Caller      string
	Trunk       string // the trunk the call came in on (call.arrived); "" when not a trunk call
	CallAt      time.Time
	Visits      []Visit
	Escalated   bool
	EscalatedTo string
	EscReason   string
	Disposition string
	Code        string
	Notes       string
	NoSurvey    bool
	EndedAt     time.Time
}

// last returns the last answered visit.
func (c *callState) last() Visit {
	if len(c.Visits) == 0 {
		return Visit{}
	}
	return c.Visits[len(c.Visits)-1]
}

// tracked is a live call: eventlog's one call fold, and when it was first
// and last seen.
type tracked struct {
	f           eventlog.Call
	first, seen time.Time
}

// track applies e to the calls map and returns a finished answered call
// (to be decided) or a disposition for a call already decided. It does no
// I/O. A call that never ends is forgotten 12 hours after its last event.
func (s *Service) track(e eventlog.Event) (done *callState, late *eventlog.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nEvents++
	if s.nEvents%1024 == 0 {
		for id, c := range s.calls {
			if e.At.Sub(c.seen) > 12*time.Hour {
				delete(s.calls, id)
			}
		}
	}
	if e.CallID == "" {
		return nil, nil
	}
	c := s.calls[e.CallID]
	if c == nil {
		switch e.Type {
		case eventlog.CallArrived, eventlog.QueueJoined, eventlog.QueueAnswered:
			c = &tracked{first: e.At}
			s.calls[e.CallID] = c
		case eventlog.CallDisposition:
			ev := e // after the call was decided
			return nil, &ev
		default:
			return nil, nil // not a call this process saw (survey events of earlier calls, say)
		}
	}
	c.seen = e.At
	c.f.Apply(e)
	switch e.Type {
	case eventlog.CallFinished:
		if e.Reason != "answered" {
			return nil, nil
		}
	case eventlog.CallEnded:
	default:
		return nil, nil
	}
	delete(s.calls, e.CallID)
	cs := s.decided(c)
	cs.EndedAt = e.At
	if len(cs.Visits) == 0 {
		return nil, nil // not answered: not a survey candidate
	}
	return cs, nil
}

// decided turns a tracked call into what the survey decides on: its
// answered visits with the line each counts for.
func (s *Service) decided(c *tracked) *callState {
	f := &c.f
	cs := &callState{
		CallID: f.CallID, Caller: f.Caller, Trunk: f.Trunk, CallAt: f.ArrivedAt,
		Escalated: f.Escalations > 0, EscalatedTo: f.LastEscalatedTo, EscReason: f.LastEscReason,
		Disposition: f.Disposition, Code: f.DispositionCode, Notes: f.Notes, NoSurvey: f.NoSurvey,
	}
	if cs.CallAt.IsZero() {
		cs.CallAt = c.first
	}
	for _, v := range f.Answers { // callbacks that reached the caller too
		line := 1
		if v.AfterEscalation {
			line = 2
		}
		if l, ok := s.cfg.QueueLines[v.Queue]; ok && (l == 1 || l == 2) {
			line = l
		}
		cs.Visits = append(cs.Visits, Visit{Queue: v.Queue, Agent: v.Agent, Team: s.cfg.Teams[v.Agent], Line: line, AnsweredAt: v.At})
	}
	return cs
}
