package desk

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/reporting"
)

// callIndex keeps the events of recent calls (the newest keep of them):
// who was offered or answered each call, its queues, and what the card
// shows.
type callIndex struct {
	mu    sync.Mutex
	calls map[string]*callRec
	order []string // call IDs by first event, oldest first
	keep  int
}

type callRec struct {
	events []eventlog.Event
	agents []string // offered, answered, escalated from, disposed by
	queues []string
}

func newCallIndex(keep int) *callIndex { return &callIndex{calls: map[string]*callRec{}, keep: keep} }

func (x *callIndex) add(ev eventlog.Event) {
	if ev.CallID == "" || ev.Type == ActionEvent {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	// A callback an agent scheduled from a call is on that call's card too.
	if of := ev.String(eventlog.KeyOfCall); ev.Type == eventlog.CallbackRequested && of != "" && of != ev.CallID {
		if c := x.calls[of]; c != nil && len(c.events) < 2000 {
			c.events = append(c.events, ev)
		}
	}
	c, ok := x.calls[ev.CallID]
	if !ok {
		c = &callRec{}
		x.calls[ev.CallID] = c
		x.order = append(x.order, ev.CallID)
		for len(x.order) > x.keep {
			delete(x.calls, x.order[0])
			x.order = x.order[1:]
		}
	}
	if len(c.events) < 2000 { // a runaway call does not grow without bound
		c.events = append(c.events, ev)
	}
	if ev.Agent != "" && !slices.Contains(c.agents, ev.Agent) {
		switch ev.Type {
		case eventlog.AgentOffered, eventlog.QueueAnswered, eventlog.CallEscalated, eventlog.CallDisposition,
			eventlog.EscalationAnswered, eventlog.ConsultAnswered, eventlog.CallCompleted, eventlog.CallbackRequested:
			c.agents = append(c.agents, ev.Agent)
		}
	}
	if ev.Queue != "" && !slices.Contains(c.queues, ev.Queue) {
		c.queues = append(c.queues, ev.Queue)
	}
}

func (x *callIndex) hasAgent(callID string, ok func(string) bool) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	c := x.calls[callID]
	return c != nil && slices.ContainsFunc(c.agents, ok)
}

func (x *callIndex) hasQueue(callID string, ok func(string) bool) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	c := x.calls[callID]
	return c != nil && slices.ContainsFunc(c.queues, ok)
}

func (x *callIndex) events(callID string) []eventlog.Event {
	x.mu.Lock()
	defer x.mu.Unlock()
	if c := x.calls[callID]; c != nil {
		return slices.Clone(c.events)
	}
	return nil
}

// dispositions counts today's dispositions by agent (since the desk
// started: the index is in memory).
func (x *callIndex) dispositions(agent string, since time.Time) map[string]int {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[string]int{}
	for _, c := range x.calls {
		for _, e := range c.events {
			if e.Type == eventlog.CallDisposition && e.Agent == agent && !e.At.Before(since) {
				out[e.Reason]++
			}
		}
	}
	return out
}

// Card is the caller's card.
type Card struct {
	CallID      string            `json:"call_id"`
	Caller      string            `json:"caller"`
	Arrived     time.Time         `json:"arrived"`
	Language    string            `json:"language,omitempty"`
	Queue       string            `json:"queue,omitempty"`
	WaitedS     float64           `json:"waited_s"`
	State       string            `json:"state"` // ivr, waiting, ringing, talking, ended
	IVRPath     []string          `json:"ivr_path"`
	Digits      []Digits          `json:"digits"`
	Collected   map[string]string `json:"collected,omitempty"`
	Agents      []string          `json:"agents"`
	Escalations []Escalation      `json:"escalations"`
	Outcomes    []Outcome         `json:"outcomes"`
	// Consult is the warm escalation under way or last ended (nil: none).
	Consult *Consult `json:"consult,omitempty"`
	// Callbacks are the callbacks agents scheduled for this caller from
	// this call.
	Callbacks []CallbackJSON `json:"callbacks"`
	History   []PastCall     `json:"history"`
	// HistoryNote says why History may be incomplete ("" when it is not).
	HistoryNote string `json:"history_note,omitempty"`
}

// Digits are what the caller pressed at one IVR node.
type Digits struct {
	Node   string `json:"node"`
	Digits string `json:"digits"`
}

// Escalation is a hand-over to second line, with first line's reason and note.
type Escalation struct {
	At        time.Time `json:"at"`
	FromQueue string    `json:"from_queue"`
	FromAgent string    `json:"from_agent"`
	ToQueue   string    `json:"to_queue"`
	Reason    string    `json:"reason,omitempty"`
	Notes     string    `json:"notes,omitempty"`
	Mode      string    `json:"mode,omitempty"`
}

// Consult is a warm escalation: first line consults second line with the
// caller on hold, then completes (transfers, with the reason and note) or
// returns to the caller.
type Consult struct {
	At        time.Time `json:"at"`
	FromAgent string    `json:"from_agent"`
	FromQueue string    `json:"from_queue"`
	ToQueue   string    `json:"to_queue"`
	Reason    string    `json:"reason,omitempty"`
	Notes     string    `json:"notes,omitempty"`
	// Agent is the consultant (rung or answering), "" while waiting.
	Agent string `json:"agent,omitempty"`
	// State: waiting, ringing, talking (the consultant answered: complete
	// or return), or how it ended: completed, returned, caller-hangup,
	// agent-left.
	State string `json:"state"`
}

// Outcome is an agent's disposition of the call.
type Outcome struct {
	At       time.Time `json:"at"`
	Agent    string    `json:"agent"`
	Result   string    `json:"result"`
	Category string    `json:"category,omitempty"`
	Notes    string    `json:"notes,omitempty"`
}

// PastCall is one of the caller's earlier calls in the FCR window.
type PastCall struct {
	CallID      string    `json:"call_id"`
	At          time.Time `json:"at"`
	Queue       string    `json:"queue,omitempty"`
	Agent       string    `json:"agent,omitempty"`
	Outcome     string    `json:"outcome"`
	Category    string    `json:"category,omitempty"`
	Escalations int       `json:"escalations"`
	EscalatedTo string    `json:"escalated_to,omitempty"`
	CSI         int       `json:"csi,omitempty"` // the survey's rating 1-5, 0 none
	Solved      string    `json:"solved,omitempty"`
}

// buildCard folds a call's events into its card (without history).
func buildCard(callID string, evs []eventlog.Event, now time.Time) Card {
	c := eventlog.FoldCall(ownEvents(callID, evs))
	card := Card{CallID: callID, Caller: c.Caller, Arrived: c.ArrivedAt, Language: c.Language, IVRPath: c.IVRPath,
		Digits: []Digits{}, Agents: []string{}, Escalations: []Escalation{}, Outcomes: []Outcome{}, History: []PastCall{},
		Callbacks: []CallbackJSON{}, State: "ivr"}
	if card.IVRPath == nil {
		card.IVRPath = []string{}
	}
	var joined time.Time
	for _, e := range evs {
		switch e.Type {
		case eventlog.IVRDigits:
			card.Digits = append(card.Digits, Digits{Node: e.String(eventlog.KeyNode), Digits: e.String(eventlog.KeyDigits)})
		case eventlog.IVRCollect:
			if card.Collected == nil {
				card.Collected = map[string]string{}
			}
			card.Collected[e.String(eventlog.KeyVar)] = e.String(eventlog.KeyValue)
		case eventlog.QueueJoined:
			card.Queue, joined, card.State = e.Queue, e.At, "waiting"
			card.WaitedS = 0
		case eventlog.AgentOffered:
			if card.State == "waiting" {
				card.State = "ringing"
			}
			if card.Consult != nil && e.String(eventlog.KeyPurpose) == "consult" {
				card.Consult.State, card.Consult.Agent = "ringing", e.Agent
			}
		case eventlog.ConsultStarted:
			card.Consult = &Consult{At: e.At, FromAgent: e.Agent, FromQueue: e.Queue, ToQueue: e.String(eventlog.KeyToQueue),
				Reason: e.Reason, Notes: e.String(eventlog.KeyNotes), State: "waiting"}
		case eventlog.ConsultAnswered:
			if card.Consult != nil {
				card.Consult.State, card.Consult.Agent = "talking", e.Agent
			}
		case eventlog.ConsultEnded:
			if card.Consult != nil {
				card.Consult.State = e.Reason
			}
		case eventlog.CallbackRequested:
			if card.Caller == "" && e.CallID == callID {
				card.Caller = e.Caller // a callback's own card
			}
			if of := e.String(eventlog.KeyOfCall); of == callID {
				due, _ := e.Time(eventlog.KeyDue)
				card.Callbacks = append(card.Callbacks, CallbackJSON{CallID: e.CallID, OfCall: of, Queue: e.Queue, Agent: e.Agent,
					Due: due, Notes: e.String(eventlog.KeyNotes), State: "scheduled"})
			}
		case eventlog.QueueAnswered:
			card.State = "talking"
			if w, ok := e.Duration(eventlog.KeyWait); ok {
				card.WaitedS = w.Seconds()
			}
			joined = time.Time{}
		case eventlog.CallEscalated:
			card.Escalations = append(card.Escalations, Escalation{At: e.At, FromQueue: e.Queue, FromAgent: e.Agent,
				ToQueue: e.String(eventlog.KeyToQueue), Reason: e.Reason, Notes: e.String(eventlog.KeyNotes), Mode: e.String(eventlog.KeyMode)})
		case eventlog.CallDisposition:
			card.Outcomes = append(card.Outcomes, Outcome{At: e.At, Agent: e.Agent, Result: e.Reason,
				Category: e.String(eventlog.KeyCode), Notes: e.String(eventlog.KeyNotes)})
		case eventlog.CallEnded:
			card.State = "ended"
		}
		if e.Agent != "" && !slices.Contains(card.Agents, e.Agent) && (e.Type == eventlog.QueueAnswered || e.Type == eventlog.AgentOffered) {
			card.Agents = append(card.Agents, e.Agent)
		}
	}
	if !joined.IsZero() && card.State != "ended" {
		card.WaitedS = now.Sub(joined).Seconds()
	}
	return card
}

// ownEvents are the events of callID itself (the index also keeps, with a
// call, the callbacks scheduled from it, which are calls of their own).
func ownEvents(callID string, evs []eventlog.Event) []eventlog.Event {
	return slices.DeleteFunc(slices.Clone(evs), func(e eventlog.Event) bool { return e.CallID != callID })
}

// pastCall folds a stored call into a history line.
func pastCall(callID string, evs []eventlog.Event) PastCall {
	c := eventlog.FoldCall(evs)
	p := PastCall{CallID: callID, At: c.ArrivedAt, Outcome: c.Disposition, Category: c.DispositionCode,
		Escalations: c.Escalations, EscalatedTo: c.LastEscalatedTo, CSI: c.SurveyRating, Solved: c.SurveySolved}
	if p.Outcome == "" {
		p.Outcome = c.Finished
	}
	if p.Outcome == "" {
		p.Outcome = c.EndReason
	}
	if n := len(c.Answers); n > 0 {
		p.Agent, p.Queue = c.Answers[n-1].Agent, c.Answers[n-1].Queue
	} else if n := len(c.Visits); n > 0 {
		p.Queue = c.Visits[n-1].Queue
	}
	return p
}

// maxHistory is how many earlier calls a card lists (the newest).
const maxHistory = 10

// history reads the caller's earlier calls in the FCR window from the
// stored event log (call IDs sort by creation, newest first).
func (d *Desk) history(ctx context.Context, caller, current string, now time.Time) ([]PastCall, string) {
	if d.cfg.History == nil {
		return nil, "no database: no history"
	}
	if caller == "" || caller == "anonymous" {
		return nil, ""
	}
	ids, err := d.cfg.History.CallsOfNumber(ctx, caller)
	if err != nil {
		d.log.Warn("desk: caller history", "err", err)
		return nil, "history unavailable"
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	since := now.Add(-d.cfg.FCRWindow)
	var out []PastCall
	for _, id := range ids {
		if id == current {
			continue
		}
		evs, err := d.cfg.History.CallEvents(ctx, id)
		if err != nil {
			d.log.Warn("desk: caller history", "call", id, "err", err)
			return out, "history incomplete"
		}
		p := pastCall(id, evs)
		if p.At.Before(since) {
			break
		}
		out = append(out, p)
		if len(out) == maxHistory {
			break
		}
	}
	return out, ""
}

func (d *Desk) card(w http.ResponseWriter, r *http.Request, p principal) {
	id := r.PathValue("id")
	if !d.mayReadCall(p, id) {
		writeError(w, http.StatusForbidden, "not your call")
		return
	}
	evs := d.calls.events(id)
	if len(evs) == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no recent call %q", id))
		return
	}
	now := d.now()
	card := buildCard(id, evs, now)
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	hist, note := d.history(ctx, card.Caller, id, now)
	if hist != nil {
		card.History = hist
	}
	card.HistoryNote = note
	writeJSON(w, http.StatusOK, card)
}

// TodayJSON is an agent's figures today.
type TodayJSON struct {
	Agent        string         `json:"agent"`
	Answered     int            `json:"answered"`
	AHTS         float64        `json:"aht_s"`
	TalkS        float64        `json:"talk_s"`
	Missed       int            `json:"missed_rings"`
	Escalations  int            `json:"escalations"`
	Dispositions map[string]int `json:"dispositions"` // result → calls
	FCR          *float64       `json:"fcr,omitempty"`
	// CSI of the agent's calls surveyed today (whenever they were
	// answered): how many were rated and the mean score 0–100
	// (docs/metrics.md, CSI); CSI is absent when none was rated.
	CSIRatings int      `json:"csi_ratings"`
	CSI        *float64 `json:"csi,omitempty"`
	Note       string   `json:"note,omitempty"`
}

func (d *Desk) today(w http.ResponseWriter, r *http.Request, p principal) {
	id := r.PathValue("id")
	if !d.mayActOnAgent(p, id) {
		writeError(w, http.StatusForbidden, "not your figures")
		return
	}
	now := d.now()
	y, m, day := now.In(d.cfg.Location).Date()
	from := time.Date(y, m, day, 0, 0, 0, 0, d.cfg.Location)
	out := TodayJSON{Agent: id, Dispositions: d.calls.dispositions(id, from)}
	if n := out.Dispositions["resolved"] + out.Dispositions["not_resolved"] + out.Dispositions["escalated"]; n > 0 {
		f := float64(out.Dispositions["resolved"]) / float64(n)
		out.FCR = &f
	}
	if d.cfg.Figures == nil {
		out.Note = "no database: dispositions only"
		writeJSON(w, http.StatusOK, out)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	agents, _, err := d.cfg.Figures.AgentReport(ctx, from, now, now)
	if err != nil {
		d.log.Warn("desk: agent figures", "err", err)
		out.Note = "figures unavailable"
		writeJSON(w, http.StatusOK, out)
		return
	}
	for _, a := range agents {
		if a.Agent == id {
			out.Answered, out.Missed, out.Escalations = a.Answered, a.Missed, a.Escalations
			out.TalkS = a.Talk.Seconds()
			if a.Answered > 0 {
				out.AHTS = (a.Talk + a.Wrapup).Seconds() / float64(a.Answered)
			}
		}
	}
	csi, err := d.cfg.Figures.CSISurveyedReport(ctx, from, now, reporting.ByAgent)
	if err != nil {
		d.log.Warn("desk: agent CSI", "err", err)
		out.Note = "CSI unavailable"
	}
	for _, c := range csi {
		if c.Key == id {
			out.CSIRatings = c.Ratings
			if v, ok := c.Score.Value(); ok {
				out.CSI = &v
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// ---- the live stream ----

// isMonitorEvent: a supervisor's monitor.* event.
func isMonitorEvent(t eventlog.Type) bool {
	switch t {
	case eventlog.MonitorStarted, eventlog.MonitorMode, eventlog.MonitorFollowed, eventlog.MonitorEnded:
		return true
	}
	return false
}

// visible reports whether p may see ev on the live stream.
func (d *Desk) visible(p principal, ev eventlog.Event) bool {
	switch p.role() {
	case RoleAdmin:
		return true
	case RoleAgent:
		if isMonitorEvent(ev.Type) {
			return false // listening is silent: the agent is not told (docs/desk.md, Monitoring)
		}
		if ev.Agent == p.user.ID {
			return true
		}
	case RoleSupervisor:
		if ev.Agent != "" && d.mayActOnAgent(p, ev.Agent) {
			return true
		}
	}
	return ev.CallID != "" && ev.Type != ActionEvent && d.mayReadCall(p, ev.CallID)
}

// events streams the events the user may see as Server-Sent Events; a
// reconnecting page sends Last-Event-ID (or ?last_event_id=) and gets what it missed (from a
// history of 4096 events), each event once.
func (d *Desk) events(w http.ResponseWriter, r *http.Request, p principal) {
	// An agent's page sees its own events only (filtered as they are
	// published), so a short backlog is plenty: 64 events (≈ 10 KiB a
	// page) before a page that stopped reading is dropped and catches up
	// on reconnecting; supervisors and admins see many agents' events.
	buffer := 256
	if p.role() == RoleAgent {
		buffer = 64
	}
	d.live.Stream(w, r, eventlog.StreamOptions{Comment: "hotline desk", Retry: time.Second, Buffer: buffer, Filter: func(ev eventlog.Event) (eventlog.Event, bool) {
		if !d.visible(p, ev) {
			return ev, false
		}
		if ev.Type == eventlog.CallArrived && p.role() != RoleAdmin {
			ev.Caller = "" // the number is on the card of a call the user may read
		}
		return ev, true
	}})
}
