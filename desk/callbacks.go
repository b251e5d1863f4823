package desk

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// Callbacks schedules and lists the callbacks agents schedule from the
// desk (the durable callbacks of queue/callback, which internal/server
// adapts).
type Callbacks interface {
	Schedule(ctx context.Context, req CallbackRequest) (callID string, err error)
	OfAgent(ctx context.Context, agent string) ([]CallbackJSON, error)
}

// ErrInvalidCallback marks a request the callback service refuses (no
// number, a queue without callbacks, a due time in the past): 400.
var ErrInvalidCallback = errors.New("invalid callback")

// CallbackRequest is what the desk asks the callback service for.
type CallbackRequest struct {
	OfCall, Number, Trunk, Queue, Lang string
	Agent, Notes                       string
	Due                                time.Time
}

// CallbackJSON is a scheduled callback on the card and in the agent's list.
type CallbackJSON struct {
	CallID   string    `json:"call_id"`
	OfCall   string    `json:"of_call"`
	Caller   string    `json:"caller,omitempty"`
	Queue    string    `json:"queue"`
	Agent    string    `json:"agent"`
	Due      time.Time `json:"due"`
	Notes    string    `json:"notes,omitempty"`
	State    string    `json:"state"`
	Outcome  string    `json:"outcome,omitempty"`
	Attempts int       `json:"attempts"`
}

// maxCallbackAhead bounds how far ahead a callback may be scheduled.
const maxCallbackAhead = 30 * 24 * time.Hour

// scheduleCallback: POST /desk/api/calls/{id}/callback {"at", "notes",
// "agent"}: a callback for the caller of call id, due at "at" (RFC 3339).
// An agent schedules for the callers of their own calls, in their own
// name; a supervisor for their team's calls (in the name of the agent
// given, or the call's last agent); an admin (or the token) for any.
func (d *Desk) scheduleCallback(w http.ResponseWriter, r *http.Request, p principal) {
	id := r.PathValue("id")
	var body struct {
		At    time.Time `json:"at"`
		Notes string    `json:"notes"`
		Agent string    `json:"agent"`
	}
	if !decode(w, r, &body) {
		return
	}
	if !d.mayReadCall(p, id) {
		writeError(w, http.StatusForbidden, "not your call")
		return
	}
	if d.cfg.Callbacks == nil {
		writeError(w, http.StatusServiceUnavailable, "callbacks need the database")
		return
	}
	evs := d.calls.events(id)
	if len(evs) == 0 {
		writeError(w, http.StatusNotFound, "no recent call "+id)
		return
	}
	card := buildCard(id, evs, d.now())
	agent := body.Agent
	switch p.role() {
	case RoleAgent:
		if agent != "" && agent != p.user.ID {
			writeError(w, http.StatusForbidden, "an agent schedules callbacks only in their own name")
			return
		}
		agent = p.user.ID
	case RoleSupervisor, RoleAdmin:
		if agent == "" && len(card.Agents) > 0 {
			agent = card.Agents[len(card.Agents)-1]
		}
		if agent != "" && !d.mayActOnAgent(p, agent) {
			writeError(w, http.StatusForbidden, "not your team's agent")
			return
		}
	}
	now := d.now()
	switch {
	case body.At.IsZero():
		writeError(w, http.StatusBadRequest, "at: the time to call back (RFC 3339) is required")
		return
	case body.At.Before(now.Add(-time.Minute)):
		writeError(w, http.StatusBadRequest, "at: the time to call back is in the past")
		return
	case body.At.After(now.Add(maxCallbackAhead)):
		writeError(w, http.StatusBadRequest, "at: at most 30 days ahead")
		return
	case len(body.Notes) > 4000:
		writeError(w, http.StatusBadRequest, "notes: at most 4000 characters")
		return
	}
	c := eventlog.FoldCall(ownEvents(id, evs))
	queue := card.Queue
	if n := len(c.Answers); n > 0 {
		queue = c.Answers[n-1].Queue
	}
	if c.Caller == "" || c.Caller == "anonymous" {
		writeError(w, http.StatusBadRequest, "the caller's number is unknown: nobody to call back")
		return
	}
	if queue == "" {
		writeError(w, http.StatusBadRequest, "the call was in no queue: no line to call back from")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	cb, err := d.cfg.Callbacks.Schedule(ctx, CallbackRequest{OfCall: id, Number: c.Caller, Trunk: c.Trunk, Queue: queue,
		Lang: c.Language, Agent: agent, Notes: body.Notes, Due: body.At})
	switch {
	case errors.Is(err, ErrInvalidCallback):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		d.log.Error("desk: scheduling a callback", "call", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the callback could not be stored")
		return
	}
	d.record(p, "call.callback", agent, id, map[string]string{"callback": cb, "due": body.At.UTC().Format(time.RFC3339)})
	writeJSON(w, http.StatusCreated, CallbackJSON{CallID: cb, OfCall: id, Caller: c.Caller, Queue: queue, Agent: agent,
		Due: body.At.UTC(), Notes: body.Notes, State: "scheduled"})
}

// agentCallbacks: GET /desk/api/agents/{id}/callbacks: the callbacks the
// agent scheduled (an agent their own, a supervisor their team's).
func (d *Desk) agentCallbacks(w http.ResponseWriter, r *http.Request, p principal) {
	id := r.PathValue("id")
	if !d.mayActOnAgent(p, id) {
		writeError(w, http.StatusForbidden, "not your callbacks")
		return
	}
	if d.cfg.Callbacks == nil {
		writeJSON(w, http.StatusOK, map[string]any{"callbacks": []CallbackJSON{}, "note": "no database: no callbacks"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	cbs, err := d.cfg.Callbacks.OfAgent(ctx, id)
	if err != nil {
		d.log.Warn("desk: agent's callbacks", "agent", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "callbacks unavailable")
		return
	}
	// The notes live in the event log (personal data, stored as refs), not
	// in the callback table: they are shown from the recent events the
	// desk holds (since it started; after a restart the list has none).
	for i := range cbs {
		for _, e := range d.calls.events(cbs[i].CallID) {
			if e.Type == eventlog.CallbackRequested && e.CallID == cbs[i].CallID && cbs[i].Notes == "" {
				cbs[i].Notes = e.String(eventlog.KeyNotes)
			}
		}
	}
	if cbs == nil {
		cbs = []CallbackJSON{}
	}
	slices.SortStableFunc(cbs, func(a, b CallbackJSON) int { return b.Due.Compare(a.Due) })
	writeJSON(w, http.StatusOK, map[string]any{"callbacks": cbs})
}
