package reporting

import (
	"sort"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// AgentState is one row of the agent state log.
type AgentState struct {
	EventID string
	Agent   string
	At      time.Time
	From    string
	To      string
	Reason  string
	// WrapUp, WrapCall and WrapQueue: for a state "wrap-up" (LastAgentStates
	// only), its planned length and the call and queue it follows.
	WrapUp              time.Duration
	WrapCall, WrapQueue string
}

// StateClass classifies an agent state for occupancy.
type StateClass int

// State classes.
const (
	StateLoggedOut StateClass = iota
	StatePaused
	StateLoggedIn // ready, ringing, on call, wrap-up...
)

// ClassifyState maps the queue's state names: "logged-out" (the Engine's
// name), "logged_out", "offline", "loggedout" and "" are logged out; "paused" and "pause" are paused; every
// other state is logged in and not paused.
func ClassifyState(s string) StateClass {
	switch s {
	case "", "logged-out", "logged_out", "loggedout", "offline":
		return StateLoggedOut
	case "paused", "pause":
		return StatePaused
	}
	return StateLoggedIn
}

// StatesFromEvents extracts the agent state log from events.
func StatesFromEvents(evs []eventlog.Event) []AgentState {
	var out []AgentState
	for _, e := range evs {
		if e.Type == eventlog.AgentState {
			out = append(out, AgentState{EventID: e.ID, Agent: e.Agent, At: e.At, From: e.String(eventlog.KeyFrom), To: e.String(eventlog.KeyTo), Reason: e.Reason})
		}
	}
	return out
}

// StateTime adds, per agent, the logged-in (not paused) and paused time
// inside [from, to). A state lasts until the agent's next state event; the
// last state of an agent lasts until openUntil (not counted if openUntil is
// zero, which is what rollups do so that they only hold closed facts).
func StateTime(states []AgentState, from, to, openUntil time.Time) (available, paused map[string]time.Duration) {
	available, paused = map[string]time.Duration{}, map[string]time.Duration{}
	eachState(states, from, to, openUntil, func(s AgentState, d time.Duration) {
		switch ClassifyState(s.To) {
		case StateLoggedIn:
			available[s.Agent] += d
		case StatePaused:
			paused[s.Agent] += d
		case StateLoggedOut:
		}
	})
	return available, paused
}

// NoPauseReason is the reason a pause without one is counted under.
const NoPauseReason = "none"

// PauseTime adds, per agent and pause reason (the Reason of the
// agent.state event that began the pause; NoPauseReason when it had none),
// the paused time inside [from, to), exactly as StateTime counts paused
// time: a pause lasts until the agent's next state event (a new reason
// while paused starts a new period), is clipped to the range, and the
// last state lasts until openUntil. So the reasons of an agent add up to
// their Paused.
func PauseTime(states []AgentState, from, to, openUntil time.Time) map[string]map[string]time.Duration {
	out := map[string]map[string]time.Duration{}
	eachState(states, from, to, openUntil, func(s AgentState, d time.Duration) {
		if ClassifyState(s.To) != StatePaused {
			return
		}
		r := s.Reason
		if r == "" {
			r = NoPauseReason
		}
		if out[s.Agent] == nil {
			out[s.Agent] = map[string]time.Duration{}
		}
		out[s.Agent][r] += d
	})
	return out
}

// eachState calls f with every state period's overlap with [from, to)
// (positive only): a state lasts until the agent's next state event, the
// last one until openUntil (not at all when openUntil is zero).
func eachState(states []AgentState, from, to, openUntil time.Time, f func(s AgentState, d time.Duration)) {
	by := map[string][]AgentState{}
	for _, s := range states {
		by[s.Agent] = append(by[s.Agent], s)
	}
	for _, ss := range by {
		sort.SliceStable(ss, func(i, j int) bool {
			if !ss[i].At.Equal(ss[j].At) {
				return ss[i].At.Before(ss[j].At)
			}
			return ss[i].EventID < ss[j].EventID
		})
		for i, s := range ss {
			end := openUntil
			if i+1 < len(ss) {
				end = ss[i+1].At
			}
			if end.IsZero() {
				continue
			}
			if d := overlap(s.At, end, from, to); d > 0 {
				f(s, d)
			}
		}
	}
}

func overlap(a0, a1, b0, b1 time.Time) time.Duration {
	s, e := a0, a1
	if b0.After(s) {
		s = b0
	}
	if b1.Before(e) {
		e = b1
	}
	if !e.After(s) {
		return 0
	}
	return e.Sub(s)
}

// MissedRing is an offer the agent did not answer.
type MissedRing struct {
	Agent string
	At    time.Time
}

// MissedFromEvents extracts agent.ring_noanswer events.
func MissedFromEvents(evs []eventlog.Event) []MissedRing {
	var out []MissedRing
	for _, e := range evs {
		if e.Type == eventlog.AgentRingNoAnswer {
			out = append(out, MissedRing{Agent: e.Agent, At: e.At})
		}
	}
	return out
}

// AgentFigures are one agent's (or one team's) figures over a range.
type AgentFigures struct {
	Agent       string        `json:"agent,omitempty"`
	Team        string        `json:"team,omitempty"`
	Answered    int           `json:"answered"`
	Missed      int           `json:"missed_rings"`
	Escalations int           `json:"escalations"`
	Ring        time.Duration `json:"ring_ns"` // offer → answer, summed
	Talk        time.Duration `json:"talk_ns"`
	Wrapup      time.Duration `json:"wrapup_ns"`
	Available   time.Duration `json:"available_ns"` // logged in and not paused
	Paused      time.Duration `json:"paused_ns"`
	// PausedByReason splits Paused by pause reason (PauseTime); the
	// values add up to Paused.
	PausedByReason map[string]time.Duration `json:"paused_by_reason_ns"`
	AvgRing        Ratio                    `json:"avg_ring_s"` // "who answers faster"
	AvgTalk        Ratio                    `json:"avg_talk_s"`
	AvgWrapup      Ratio                    `json:"avg_wrapup_s"`
	AHT            Ratio                    `json:"aht_s"`
	// Occupancy = (talk + wrap-up) / logged-in-and-not-paused time.
	Occupancy Ratio `json:"occupancy"`
}

func (a *AgentFigures) derive() {
	if a.PausedByReason == nil {
		a.PausedByReason = map[string]time.Duration{}
	}
	n := float64(a.Answered)
	a.AvgRing = Ratio{a.Ring.Seconds(), n}
	a.AvgTalk = Ratio{a.Talk.Seconds(), n}
	a.AvgWrapup = Ratio{a.Wrapup.Seconds(), n}
	a.AHT = Ratio{(a.Talk + a.Wrapup).Seconds(), n}
	a.Occupancy = Ratio{(a.Talk + a.Wrapup).Seconds(), a.Available.Seconds()}
}

func (a *AgentFigures) add(o AgentFigures) {
	a.Answered += o.Answered
	a.Missed += o.Missed
	a.Escalations += o.Escalations
	a.Ring += o.Ring
	a.Talk += o.Talk
	a.Wrapup += o.Wrapup
	a.Available += o.Available
	a.Paused += o.Paused
	for r, d := range o.PausedByReason {
		if a.PausedByReason == nil {
			a.PausedByReason = map[string]time.Duration{}
		}
		a.PausedByReason[r] += d
	}
}

// ComputeAgents computes per-agent figures for [from, to): visits answered
// in the range (talk and wrap-up credited to the answer time), missed rings
// in the range, and state time clipped to the range (see StateTime).
func ComputeAgents(visits []Visit, missed []MissedRing, states []AgentState, from, to, openUntil time.Time, cfg *Config) []AgentFigures {
	m := map[string]*AgentFigures{}
	get := func(a string) *AgentFigures {
		f := m[a]
		if f == nil {
			f = &AgentFigures{Agent: a, Team: cfg.team(a)}
			m[a] = f
		}
		return f
	}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	for _, v := range visits {
		if v.Outcome != OutcomeAnswered || !in(v.AnsweredAt) {
			continue
		}
		f := get(v.Agent)
		f.Answered++
		f.Ring += v.Ring
		f.Talk += v.Talk
		f.Wrapup += v.Wrapup
		if v.EscalatedTo != "" {
			f.Escalations++
		}
	}
	for _, r := range missed {
		if in(r.At) {
			get(r.Agent).Missed++
		}
	}
	avail, paused := StateTime(states, from, to, openUntil)
	for a, d := range avail {
		get(a).Available += d
	}
	for a, d := range paused {
		get(a).Paused += d
	}
	for a, rs := range PauseTime(states, from, to, openUntil) {
		get(a).PausedByReason = rs
	}
	out := make([]AgentFigures, 0, len(m))
	for _, f := range m {
		f.derive()
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Agent < out[j].Agent })
	return out
}

// ComputeTeams sums agent figures per team (agents without a team are under "").
func ComputeTeams(agents []AgentFigures) []AgentFigures {
	m := map[string]*AgentFigures{}
	for _, a := range agents {
		t := m[a.Team]
		if t == nil {
			t = &AgentFigures{Team: a.Team}
			m[a.Team] = t
		}
		t.add(a)
	}
	out := make([]AgentFigures, 0, len(m))
	for _, t := range m {
		t.derive()
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Team < out[j].Team })
	return out
}

// EscalationFigures describe first-line → second-line handovers.
type EscalationFigures struct {
	// FirstLineAnswered counts answered first-line visits; Escalated those
	// of them escalated. Rate = Escalated / FirstLineAnswered.
	FirstLineAnswered int   `json:"first_line_answered"`
	Escalated         int   `json:"escalated"`
	Rate              Ratio `json:"rate"`
	// TimeToSecondLine: escalation event → second-line answer, over
	// escalations answered by second line (mean and median, seconds).
	SecondLineReached  int      `json:"second_line_reached"`
	MeanTimeToSecondS  Ratio    `json:"mean_time_to_second_line_s"`
	MedianTimeToSecond *float64 `json:"median_time_to_second_line_s"`
	// SecondLine are the figures over second-line visits (SL with each
	// second-line queue's own T).
	SecondLine Figures           `json:"second_line"`
	Pairs      []EscalationCount `json:"pairs"`
}

// EscalationCount counts escalations from one queue to another.
type EscalationCount struct {
	FromQueue string `json:"from_queue"`
	ToQueue   string `json:"to_queue"`
	Count     int    `json:"count"`
}

// ComputeEscalations computes escalation figures from visits.
func ComputeEscalations(visits []Visit) EscalationFigures {
	var f EscalationFigures
	var second Counts
	byCall := map[string][]Visit{}
	pairs := map[[2]string]int{}
	for _, v := range visits {
		byCall[v.CallID] = append(byCall[v.CallID], v)
		if v.Line == LineSecond {
			second.CountVisit(v)
		}
		if v.Line == LineFirst && v.Outcome == OutcomeAnswered {
			f.FirstLineAnswered++
			if v.EscalatedTo != "" {
				f.Escalated++
				pairs[[2]string{v.Queue, v.EscalatedTo}]++
			}
		}
	}
	var times []float64
	var sum float64
	for _, vs := range byCall {
		sort.Slice(vs, func(i, j int) bool { return vs[i].N < vs[j].N })
		for i, v := range vs {
			if v.Line != LineFirst || v.EscalatedTo == "" {
				continue
			}
			for _, w := range vs[i+1:] {
				if w.EscalatedFrom != "" && w.Outcome == OutcomeAnswered && !w.AnsweredAt.Before(v.EscalatedAt) {
					d := w.AnsweredAt.Sub(v.EscalatedAt).Seconds()
					times = append(times, d)
					sum += d
					break
				}
			}
		}
	}
	f.Rate = Ratio{float64(f.Escalated), float64(f.FirstLineAnswered)}
	f.SecondLineReached = len(times)
	f.MeanTimeToSecondS = Ratio{sum, float64(len(times))}
	f.MedianTimeToSecond = Percentile(times, 0.5)
	f.SecondLine = second.Figures()
	for k, n := range pairs {
		f.Pairs = append(f.Pairs, EscalationCount{k[0], k[1], n})
	}
	sort.Slice(f.Pairs, func(i, j int) bool {
		if f.Pairs[i].FromQueue != f.Pairs[j].FromQueue {
			return f.Pairs[i].FromQueue < f.Pairs[j].FromQueue
		}
		return f.Pairs[i].ToQueue < f.Pairs[j].ToQueue
	})
	return f
}

func sortStates(ss []AgentState) {
	sort.SliceStable(ss, func(i, j int) bool {
		if !ss[i].At.Equal(ss[j].At) {
			return ss[i].At.Before(ss[j].At)
		}
		return ss[i].EventID < ss[j].EventID
	})
}
