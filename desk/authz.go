package desk

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
)

// API guards next (the /api/v1 handler; mount the result at /api/): the
// request must come with the bearer token (admin scope) or a desk session
// (401 otherwise), a session's state-changing request must carry its CSRF
// token (403), and the role must allow it (403):
//
//   - agent: GET /api/v1/agents/{self}, POST /api/v1/agents/{self}/{op}
//     (a pause reason from the catalogue), GET /api/v1/calls/{id} and POST
//     its disposition (recorded as theirs), escalate and consult for calls
//     they were offered or answered;
//   - supervisor: the same for the agents of their teams and the calls
//     those agents or their queues had, and GET /api/v1/queues/{their queue};
//   - admin (and the token): everything, including the lists, the live
//     event stream, reports, surveys and erasure.
//
// Every successful state-changing request is recorded as a desk.action
// event naming who made it. With no users and no token configured the API
// stays open, as before the desk (loopback only, which the config enforces).
func (d *Desk) API(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.Enabled() {
			next.ServeHTTP(w, r)
			return
		}
		p, ok := d.who(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
			writeError(w, http.StatusUnauthorized, "log in to the desk or send Authorization: Bearer <http.token>")
			return
		}
		if !checkCSRF(p, r) {
			writeError(w, http.StatusForbidden, "missing or wrong CSRF token (X-CSRF-Token)")
			return
		}
		act, ok := d.authorize(w, r, p)
		if !ok {
			return
		}
		if act.action == "" {
			next.ServeHTTP(w, r)
			return
		}
		rec := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		if rec.code/100 == 2 {
			d.record(p, act.action, act.agent, act.call, act.data)
		}
	})
}

// act is what a state-changing request does, for its desk.action event.
type act struct {
	action, agent, call string
	data                map[string]string
}

// authorize decides; on refusal it has written the answer.
func (d *Desk) authorize(w http.ResponseWriter, r *http.Request, p principal) (act, bool) {
	rest, _ := strings.CutPrefix(r.URL.Path, "/api/v1/")
	parts := strings.Split(rest, "/")
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	deny := func() (act, bool) {
		writeError(w, http.StatusForbidden, "your role ("+p.role()+") may not do this")
		return act{}, false
	}
	switch {
	case len(parts) >= 2 && parts[0] == "agents":
		id := parts[1]
		if !d.mayActOnAgent(p, id) {
			return deny()
		}
		if get {
			return act{}, true
		}
		if len(parts) != 3 {
			return deny()
		}
		a := act{action: "agent." + parts[2], agent: id}
		if parts[2] == "pause" {
			body, ok := readBody(w, r)
			if !ok {
				return act{}, false
			}
			var b struct {
				Reason string `json:"reason"`
			}
			_ = json.Unmarshal(body, &b)
			if p.role() != RoleAdmin && len(d.cfg.PauseReasons) > 0 && !slices.Contains(d.cfg.PauseReasons, b.Reason) {
				writeError(w, http.StatusBadRequest, "reason: want one of "+strings.Join(d.cfg.PauseReasons, ", "))
				return act{}, false
			}
			a.data = map[string]string{"pause_reason": b.Reason}
		}
		return a, true
	case len(parts) >= 2 && parts[0] == "calls":
		id := parts[1]
		if len(parts) == 3 && parts[2] == "monitor" { // monitor.go
			return d.authorizeMonitor(w, r, p, id)
		}
		if !d.mayReadCall(p, id) {
			return deny()
		}
		if get {
			return act{}, true
		}
		op := strings.Join(parts[2:], ".") // consult/complete → call.consult.complete
		a := act{action: "call." + op, call: id}
		if p.user != nil && p.user.Role == RoleAgent {
			a.agent = p.user.ID
		}
		if op == "disposition" && p.role() != RoleAdmin {
			// Agents dispose as themselves; a supervisor names an agent
			// of their team (or the API picks the call's last agent).
			body, ok := readBody(w, r)
			if !ok {
				return act{}, false
			}
			var b map[string]any
			if err := json.Unmarshal(body, &b); err != nil || b == nil {
				return a, true // the queue API answers the bad body
			}
			named, _ := b["agent"].(string)
			switch p.role() {
			case RoleAgent:
				if named != "" && named != p.user.ID {
					writeError(w, http.StatusForbidden, "an agent records only their own disposition")
					return act{}, false
				}
				b["agent"] = p.user.ID
			case RoleSupervisor:
				if named != "" && !d.mayActOnAgent(p, named) {
					return deny()
				}
			}
			if cat, _ := b["code"].(string); cat != "" && len(d.cfg.OutcomeCategories) > 0 && !slices.Contains(d.cfg.OutcomeCategories, cat) {
				writeError(w, http.StatusBadRequest, "code: want one of "+strings.Join(d.cfg.OutcomeCategories, ", "))
				return act{}, false
			}
			nb, _ := json.Marshal(b)
			r.Body = io.NopCloser(bytes.NewReader(nb))
			r.ContentLength = int64(len(nb))
		}
		return a, true
	case len(parts) == 2 && parts[0] == "queues" && get && p.role() == RoleSupervisor:
		if slices.Contains(p.user.Queues, parts[1]) {
			return act{}, true
		}
		return deny()
	}
	if p.role() != RoleAdmin {
		return deny()
	}
	if get {
		return act{}, true
	}
	return act{action: strings.ToLower(r.Method) + " " + r.URL.Path}, true
}

// mayActOnAgent: agents on themselves, supervisors on their teams'
// agents, admins on all.
func (d *Desk) mayActOnAgent(p principal, agent string) bool {
	switch p.role() {
	case RoleAdmin:
		return true
	case RoleAgent:
		return p.user.ID == agent
	case RoleSupervisor:
		a, ok := d.agents[agent]
		return ok && a.Team != "" && slices.Contains(p.user.Teams, a.Team)
	}
	return false
}

// mayReadCall: agents the calls they were offered; supervisors the calls
// of their teams' agents and of their queues; admins all.
func (d *Desk) mayReadCall(p principal, callID string) bool {
	switch p.role() {
	case RoleAdmin:
		return true
	case RoleAgent:
		return d.calls.hasAgent(callID, func(a string) bool { return a == p.user.ID })
	case RoleSupervisor:
		return d.calls.hasAgent(callID, func(a string) bool { return d.mayActOnAgent(p, a) }) ||
			d.calls.hasQueue(callID, func(q string) bool { return slices.Contains(p.user.Queues, q) })
	}
	return false
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
