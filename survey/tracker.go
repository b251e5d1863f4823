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

// callState is what the tracker knows about a live call.
type callState struct {
	CallID      string
	Caller      string
	CallAt      time.Time
	Seen        time.Time
	Visits      []Visit
	nextLine2   bool
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

// track applies e to the calls map and returns a finished answered call
// (to be decided) or a disposition for a call already decided. It does no
// I/O. maxAge bounds how long a call that never ends is remembered.
func (s *Service) track(e eventlog.Event) (done *callState, late *eventlog.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nEvents++
	if s.nEvents%1024 == 0 {
		for id, c := range s.calls {
			if e.At.Sub(c.Seen) > 12*time.Hour {
				delete(s.calls, id)
			}
		}
	}
	if e.CallID == "" {
		return nil, nil
	}
	c := s.calls[e.CallID]
	get := func() *callState {
		if c == nil {
			c = &callState{CallID: e.CallID, CallAt: e.At}
			s.calls[e.CallID] = c
		}
		c.Seen = e.At
		return c
	}
	switch e.Type {
	case eventlog.CallArrived:
		c := get()
		c.Caller, c.CallAt = e.Caller, e.At
	case eventlog.QueueJoined:
		if c != nil && e.String(eventlog.KeyEscalatedFrom) != "" {
			c.nextLine2 = true
		}
	case eventlog.CallEscalated:
		if c != nil {
			c.Escalated, c.EscalatedTo, c.EscReason, c.nextLine2 = true, e.String(eventlog.KeyToQueue), e.Reason, true
		}
	case eventlog.QueueAnswered:
		c := get()
		if c.Caller == "" {
			c.Caller = e.Caller
		}
		line := 1
		if c.nextLine2 {
			line = 2
		}
		if l, ok := s.cfg.QueueLines[e.Queue]; ok && (l == 1 || l == 2) {
			line = l
		}
		c.Visits = append(c.Visits, Visit{Queue: e.Queue, Agent: e.Agent, Team: s.cfg.Teams[e.Agent], Line: line, AnsweredAt: e.At})
	case eventlog.CallDisposition:
		if c == nil {
			ev := e
			return nil, &ev
		}
		c.Disposition, c.Code, c.Notes = e.Reason, e.String(eventlog.KeyCode), e.String(eventlog.KeyNotes)
		c.NoSurvey = c.NoSurvey || e.Flag(eventlog.KeyNoSurvey)
	case eventlog.CallFinished, eventlog.CallEnded:
		if c == nil {
			return nil, nil
		}
		if e.Type == eventlog.CallFinished && e.Reason != "answered" {
			return nil, nil
		}
		delete(s.calls, e.CallID)
		if len(c.Visits) == 0 {
			return nil, nil // not answered: not a survey candidate
		}
		c.EndedAt = e.At
		return c, nil
	}
	return nil, nil
}
