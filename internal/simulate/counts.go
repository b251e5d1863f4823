package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Counts is the simulator's own record of what happened, counted from the
// callers', agents' and customers' side of the wire. It is safe for
// concurrent use; Snapshot returns a copy.
type Counts struct {
	mu sync.Mutex
	c  Snapshot
}

// Snapshot is a copy of the counts.
type Snapshot struct {
	// Callers.
	Placed       int `json:"placed"`         // INVITEs sent to the line
	Failed       int `json:"failed"`         // not answered by hotline (error status, timeout)
	Queued       int `json:"queued"`         // got through the IVR menu (a digit pressed or the menu timed out)
	Answered     int `json:"answered"`       // reached a first agent
	AnsweredInSL int `json:"answered_in_sl"` // ... within the SL threshold (the caller's own clock)
	Abandoned    int `json:"abandoned"`      // hung up while waiting for a first agent (patience ran out)
	EndedInIVR   int `json:"ended_in_ivr"`   // the call ended before the menu choice
	// Escalations (second line).
	Escalated          int `json:"escalated"`           // escalations hotline accepted (REFER 202 or API 2xx)
	EscalatedByREFER   int `json:"escalated_by_refer"`  //
	EscalatedByAPI     int `json:"escalated_by_api"`    //
	EscalationAnswered int `json:"escalation_answered"` // escalated callers who reached a second-line agent
	EscalationAbandon  int `json:"escalation_abandoned"`
	// Call ends and dispositions.
	Completed   int `json:"completed"` // talks that ended with the agent or caller hanging up
	Resolved    int `json:"resolved"`
	NotResolved int `json:"not_resolved"`
	// Agents.
	Logins      int `json:"logins"`
	Pauses      int `json:"pauses"`
	AgentErrors int `json:"agent_errors"` // API or SIP operations that failed
	// Customers (next-day survey).
	SurveyCalls    int         `json:"survey_calls"`    // survey INVITEs received
	SurveyAnswered int         `json:"survey_answered"` // answered by the customer
	Ratings        map[int]int `json:"ratings"`         // rating pressed → count
	SolvedYes      int         `json:"solved_yes"`
	SolvedNo       int         `json:"solved_no"`
	// Waits, for ASA: the caller's clock from the queue entry (menu choice + Grace) to the agent.
	WaitSum time.Duration `json:"wait_sum_ns"`
	// ByQueue counts answers by the queue named in hotline's ring
	// (X-Hotline-Queue), first and second line alike.
	ByQueue map[string]int `json:"answered_by_queue"`
	// Menu counts the menu choices ("1", "2", "9", "none").
	Menu map[string]int `json:"menu"`
}

// Add applies f to the counts under the lock.
func (c *Counts) Add(f func(s *Snapshot)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c.Ratings == nil {
		c.c.Ratings, c.c.ByQueue, c.c.Menu = map[int]int{}, map[string]int{}, map[string]int{}
	}
	f(&c.c)
}

// Snapshot returns a copy of the counts.
func (c *Counts) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.c
	s.Ratings, s.ByQueue, s.Menu = map[int]int{}, map[string]int{}, map[string]int{}
	for k, v := range c.c.Ratings {
		s.Ratings[k] = v
	}
	for k, v := range c.c.ByQueue {
		s.ByQueue[k] = v
	}
	for k, v := range c.c.Menu {
		s.Menu[k] = v
	}
	return s
}

// RatingsGiven is the number of ratings pressed.
func (s Snapshot) RatingsGiven() int {
	n := 0
	for _, v := range s.Ratings {
		n += v
	}
	return n
}

// CSI is the mean rating mapped to 0–100 ((r−1)/4×100, as hotline's
// reporting), and false without ratings.
func (s Snapshot) CSI() (float64, bool) {
	n, sum := 0, 0.0
	for r, v := range s.Ratings {
		n += v
		sum += float64(v) * float64(r-1) / 4 * 100
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// ASA is the mean wait of first answers, and false without answers.
func (s Snapshot) ASA() (time.Duration, bool) {
	if s.Answered == 0 {
		return 0, false
	}
	return s.WaitSum / time.Duration(s.Answered), true
}

func pct(n, d int) string {
	if d == 0 {
		return "—"
	}
	return strconv.FormatFloat(100*float64(n)/float64(d), 'f', 1, 64) + " %"
}

// WriteText prints the counts for people, sl being the threshold used for
// AnsweredInSL.
func (s Snapshot) WriteText(w io.Writer, sl time.Duration) {
	line := func(name string, v any, note string) {
		if note != "" {
			fmt.Fprintf(w, "  %-34s %8v   %s\n", name, v, note)
		} else {
			fmt.Fprintf(w, "  %-34s %8v\n", name, v)
		}
	}
	fmt.Fprintln(w, "simulator's own counts")
	line("calls placed", s.Placed, "")
	line("not connected", s.Failed, "")
	if s.EndedInIVR > 0 {
		line("ended in the IVR", s.EndedInIVR, "")
	}
	line("through the IVR to a queue", s.Queued, menuNote(s.Menu))
	line("answered by an agent", s.Answered, pct(s.Answered, s.Queued)+" of queued")
	line(fmt.Sprintf("answered within %s", sl), s.AnsweredInSL, pct(s.AnsweredInSL, s.Answered)+" of answered")
	asa := "—"
	if d, ok := s.ASA(); ok {
		asa = d.Round(100 * time.Millisecond).String()
	}
	line("average speed of answer", asa, "caller's clock, from the queue entry")
	line("abandoned (patience ran out)", s.Abandoned, pct(s.Abandoned, s.Queued)+" of queued")
	line("escalated to second line", s.Escalated, fmt.Sprintf("REFER %d, API %d; %s of answered", s.EscalatedByREFER, s.EscalatedByAPI, pct(s.Escalated, s.Answered)))
	line("escalations answered", s.EscalationAnswered, fmt.Sprintf("abandoned while escalated: %d", s.EscalationAbandon))
	line("dispositions resolved / not", fmt.Sprintf("%d/%d", s.Resolved, s.NotResolved), "")
	for _, q := range sortedKeys(s.ByQueue) {
		line("answered from "+q, s.ByQueue[q], "")
	}
	line("agent logins / pauses", fmt.Sprintf("%d/%d", s.Logins, s.Pauses), "")
	if s.AgentErrors > 0 {
		line("agent operations failed", s.AgentErrors, "")
	}
	line("survey calls received", s.SurveyCalls, fmt.Sprintf("answered %d", s.SurveyAnswered))
	dist := ""
	for r := 5; r >= 1; r-- {
		dist += fmt.Sprintf(" %d:%d", r, s.Ratings[r])
	}
	line("ratings given", s.RatingsGiven(), "by value"+dist)
	csi := "—"
	if v, ok := s.CSI(); ok {
		csi = strconv.FormatFloat(v, 'f', 1, 64)
	}
	line("CSI (0-100)", csi, fmt.Sprintf("solved yes/no %d/%d", s.SolvedYes, s.SolvedNo))
}

func menuNote(m map[string]int) string {
	s := "menu"
	for _, k := range sortedKeys(m) {
		s += fmt.Sprintf(" %s:%d", k, m[k])
	}
	return s
}

// WriteJSON prints the counts as one JSON object.
func (s Snapshot) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
