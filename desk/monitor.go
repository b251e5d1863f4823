package desk

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// Monitoring (listen, whisper, barge; docs/desk.md, "Monitoring"): the API
// is POST, PATCH and DELETE /api/v1/calls/{id}/monitor, served by the
// server and guarded here; the page lists the supervisor's live calls
// (GET /desk/api/live) with the three actions.

// mayMonitor: supervisors the calls of their teams' agents and of their
// queues, admins (and the token) all; never agents, not even on their own
// calls. The one rule for the API, the page and the feature code
// (MayMonitor).
func (d *Desk) mayMonitor(p principal, callID string) bool {
	switch p.role() {
	case RoleAdmin, RoleSupervisor:
		return d.mayReadCall(p, callID)
	}
	return false
}

// MayMonitor reports whether desk user userID may monitor the call (the
// monitor feature code dialled from the user's phone).
func (d *Desk) MayMonitor(userID, callID string) bool {
	d.mu.Lock()
	u := d.users[userID]
	d.mu.Unlock()
	return u != nil && d.mayMonitor(principal{user: u}, callID)
}

// authorizeMonitor guards /api/v1/calls/{id}/monitor: a supervisor acts as
// themselves (the body's "supervisor" is set to them; naming another is
// refused), an admin's session names anyone (default themselves), the
// token must name one (the handler answers 400 otherwise).
func (d *Desk) authorizeMonitor(w http.ResponseWriter, r *http.Request, p principal, callID string) (act, bool) {
	if !d.mayMonitor(p, callID) {
		writeError(w, http.StatusForbidden, "your role ("+p.role()+") may not monitor this call")
		return act{}, false
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return act{}, true
	}
	body, ok := readBody(w, r)
	if !ok {
		return act{}, false
	}
	b := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &b); err != nil || b == nil {
			writeError(w, http.StatusBadRequest, "the body is not a JSON object")
			return act{}, false
		}
	}
	named, _ := b["supervisor"].(string)
	if !p.machine {
		if p.role() == RoleSupervisor && named != "" && named != p.user.ID {
			writeError(w, http.StatusForbidden, "a supervisor monitors as themselves")
			return act{}, false
		}
		if named == "" {
			b["supervisor"] = p.user.ID
		}
	}
	nb, _ := json.Marshal(b)
	r.Body = io.NopCloser(bytes.NewReader(nb))
	r.ContentLength = int64(len(nb))
	a := act{action: "call.monitor", call: callID, data: map[string]string{}}
	switch r.Method {
	case http.MethodPatch:
		a.action = "call.monitor.mode"
	case http.MethodDelete:
		a.action = "call.monitor.leave"
	}
	if m, _ := b["mode"].(string); m != "" {
		a.data[string(eventlog.KeyMode)] = m
	}
	return a, true
}

// LiveCall is a call one of the supervisor's agents is on now.
type LiveCall struct {
	CallID string    `json:"call_id"`
	Agent  string    `json:"agent"`
	Name   string    `json:"name,omitempty"`
	Team   string    `json:"team,omitempty"`
	Since  time.Time `json:"since"`
	Queues []string  `json:"queues"`
}

// liveCalls serves GET /desk/api/live: the calls the user may monitor now
// (supervisors and admins; agents get 403), from the agents' states.
func (d *Desk) liveCalls(w http.ResponseWriter, r *http.Request, p principal) {
	if p.role() != RoleSupervisor && p.role() != RoleAdmin {
		writeError(w, http.StatusForbidden, "your role ("+p.role()+") may not monitor calls")
		return
	}
	out := []LiveCall{}
	if d.cfg.AgentStates != nil {
		as, err := d.cfg.AgentStates(r.Context())
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		for _, a := range as {
			if a.CallID == "" || !d.mayMonitor(p, a.CallID) {
				continue
			}
			out = append(out, LiveCall{CallID: a.CallID, Agent: a.ID, Name: a.Name, Team: a.Team, Since: a.Since, Queues: a.Queues})
		}
	}
	slices.SortFunc(out, func(a, b LiveCall) int { return a.Since.Compare(b.Since) })
	writeJSON(w, http.StatusOK, out)
}
