package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Handler returns the agent HTTP JSON API, mounted at /api/v1/ (the
// returned handler matches full paths, so mount it at "/api/v1/"):
//
//	GET  /api/v1/agents                       every agent
//	GET  /api/v1/agents/{id}
//	POST /api/v1/agents/{id}/login|logout|ready
//	POST /api/v1/agents/{id}/pause            {"reason": "lunch"}
//	GET  /api/v1/queues                       live state of every queue
//	GET  /api/v1/queues/{name}                waiting calls, agents by state
//	GET  /api/v1/calls                        live calls
//	GET  /api/v1/calls/{id}                   one live call with its context
//	POST /api/v1/calls/{id}/disposition       {"agent", "result", "code", "notes", "no_survey"}
//	POST /api/v1/calls/{id}/escalate          {"queue", "reason", "notes"}
//	POST /api/v1/calls/{id}/consult           {"queue", "reason", "notes"}
//	POST /api/v1/calls/{id}/consult/complete
//	POST /api/v1/calls/{id}/consult/cancel
//
// Errors are {"error": "..."}: 400 for invalid input, 404 for unknown ids,
// 409 when the call or agent is not in a state that allows the request.
// The API has no authentication: serve it on loopback or behind a proxy
// that authenticates.
func (r *Runner) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/agents", r.getAgents)
	mux.HandleFunc("GET /api/v1/agents/{id}", r.getAgent)
	mux.HandleFunc("POST /api/v1/agents/{id}/{op}", r.postAgent)
	mux.HandleFunc("GET /api/v1/queues", r.getQueues)
	mux.HandleFunc("GET /api/v1/queues/{name}", r.getQueue)
	mux.HandleFunc("GET /api/v1/calls", r.getCalls)
	mux.HandleFunc("GET /api/v1/calls/{id}", r.getCall)
	mux.HandleFunc("POST /api/v1/calls/{id}/disposition", r.postDisposition)
	mux.HandleFunc("POST /api/v1/calls/{id}/escalate", r.postEscalate)
	mux.HandleFunc("POST /api/v1/calls/{id}/consult", r.postConsult)
	mux.HandleFunc("POST /api/v1/calls/{id}/consult/{op}", r.postConsultOp)
	return mux
}

// ---- JSON shapes ----

// AgentJSON is an agent in the API.
type AgentJSON struct {
	ID            string         `json:"id"`
	Name          string         `json:"name,omitempty"`
	Line          int            `json:"line"`
	Team          string         `json:"team,omitempty"`
	Skills        map[string]int `json:"skills,omitempty"`
	State         string         `json:"state"`
	Reason        string         `json:"reason,omitempty"`
	Since         time.Time      `json:"since"`
	CallID        string         `json:"call_id,omitempty"`
	Missed        int            `json:"missed"`
	Queues        []string       `json:"queues"`
	PendingPause  bool           `json:"pending_pause,omitempty"`
	PendingLogout bool           `json:"pending_logout,omitempty"`
	// Registered is whether the agent's phone is registered; absent when
	// the Runner has no presence source.
	Registered *bool `json:"registered,omitempty"`
}

// EscalationJSON is one escalation in a call's context.
type EscalationJSON struct {
	At        time.Time `json:"at"`
	FromQueue string    `json:"from_queue"`
	FromAgent string    `json:"from_agent"`
	ToQueue   string    `json:"to_queue"`
	Reason    string    `json:"reason,omitempty"`
	Notes     string    `json:"notes,omitempty"`
	Mode      string    `json:"mode"`
}

// ContextJSON is a call's context: what a second-line agent sees.
type ContextJSON struct {
	IVRPath     []string          `json:"ivr_path"`
	Data        map[string]string `json:"data,omitempty"` // caller lookup and history from the IVR
	Lang        string            `json:"lang"`
	Arrived     time.Time         `json:"arrived"`
	FirstAgent  string            `json:"first_agent,omitempty"`
	Agents      []string          `json:"agents"`
	Escalations []EscalationJSON  `json:"escalations"`
}

// CallJSON is a live call in the API.
type CallJSON struct {
	ID             string       `json:"id"`
	Caller         string       `json:"caller"`
	Queue          string       `json:"queue"`
	State          string       `json:"state"`
	Priority       int          `json:"priority"`
	Position       int          `json:"position,omitempty"`
	Joined         time.Time    `json:"joined"`
	WaitMS         int64        `json:"wait_ms"`
	Escalated      bool         `json:"escalated"`
	Callback       bool         `json:"callback"`
	PreferredAgent string       `json:"preferred_agent,omitempty"`
	Agent          string       `json:"agent,omitempty"`
	Ringing        []string     `json:"ringing,omitempty"`
	Consulting     string       `json:"consulting,omitempty"`
	EWTS           int          `json:"ewt_s"`
	Context        *ContextJSON `json:"context,omitempty"`
}

// QueueJSON is a queue's live state in the API.
type QueueJSON struct {
	Name             string              `json:"name"`
	Line             int                 `json:"line"`
	Waiting          []CallJSON          `json:"waiting"`
	Offered          int                 `json:"offered"`
	Parked           int                 `json:"parked"`
	Size             int                 `json:"size"`
	Agents           map[string][]string `json:"agents"` // state → agent ids
	LongestWaitMS    int64               `json:"longest_wait_ms"`
	EWTS             int                 `json:"ewt_s"`
	ServiceLevelS    float64             `json:"sl_threshold_s"`
	AvgAnsweredWaitS float64             `json:"avg_answered_wait_s"`
	AvgHandleS       float64             `json:"avg_handle_s"`
	Stats            QueueStatsJSON      `json:"stats"`
}

// QueueStatsJSON counts since the start.
type QueueStatsJSON struct {
	Joined         int `json:"joined"`
	Answered       int `json:"answered"`
	AnsweredInSL   int `json:"answered_in_sl"`
	Abandoned      int `json:"abandoned"`
	ShortAbandoned int `json:"short_abandoned"`
	Overflowed     int `json:"overflowed"`
	TimedOut       int `json:"timed_out"`
}

func (r *Runner) agentJSON(a AgentInfo) AgentJSON {
	j := AgentJSON{ID: a.ID, Name: a.Name, Line: a.Line, Team: a.Team, Skills: a.Skills, State: a.State.String(),
		Reason: a.Reason, Since: a.Since.UTC(), CallID: a.CallID, Missed: a.Missed, Queues: a.Queues,
		PendingPause: a.PendingPause, PendingLogout: a.PendingLogout}
	if j.Queues == nil {
		j.Queues = []string{}
	}
	if r.cfg.Presence != nil {
		reg := r.cfg.Presence.Registered(r.cfg.AgentSIPUser(a.ID))
		j.Registered = &reg
	}
	return j
}

func callJSON(c CallInfo, withCtx bool) CallJSON {
	j := CallJSON{ID: c.ID, Caller: c.Caller, Queue: c.Queue, State: c.State, Priority: c.Priority, Position: c.Position,
		Joined: c.Joined.UTC(), WaitMS: c.Wait.Milliseconds(), Escalated: c.Escalated, Callback: c.Callback,
		PreferredAgent: c.PreferredAgent, Agent: c.Agent, Ringing: c.Ringing, Consulting: c.Consulting, EWTS: c.EWT}
	if withCtx {
		x := c.Context
		cj := &ContextJSON{IVRPath: x.IVRPath, Data: x.Data, Lang: x.Lang, Arrived: x.Arrived.UTC(), FirstAgent: x.FirstAgent,
			Agents: x.Agents, Escalations: []EscalationJSON{}}
		if cj.IVRPath == nil {
			cj.IVRPath = []string{}
		}
		if cj.Agents == nil {
			cj.Agents = []string{}
		}
		for _, e := range x.Escalations {
			cj.Escalations = append(cj.Escalations, EscalationJSON{At: e.At.UTC(), FromQueue: e.FromQueue, FromAgent: e.FromAgent,
				ToQueue: e.ToQueue, Reason: e.Reason, Notes: e.Notes, Mode: e.Mode})
		}
		j.Context = cj
	}
	return j
}

func queueJSON(q QueueInfo) QueueJSON {
	j := QueueJSON{Name: q.Name, Line: q.Line, Waiting: make([]CallJSON, 0, len(q.Waiting)), Offered: q.Offered, Parked: q.Parked,
		Size: q.Size, Agents: map[string][]string{}, LongestWaitMS: q.LongestWait.Milliseconds(), EWTS: q.EWT,
		ServiceLevelS: q.ServiceLevel.Seconds(), AvgAnsweredWaitS: q.AvgAnsweredWait, AvgHandleS: q.AvgHandle,
		Stats: QueueStatsJSON{Joined: q.Stats.Joined, Answered: q.Stats.Answered, AnsweredInSL: q.Stats.AnsweredInSL,
			Abandoned: q.Stats.Abandoned, ShortAbandoned: q.Stats.ShortAbandoned, Overflowed: q.Stats.Overflowed, TimedOut: q.Stats.TimedOut}}
	for _, c := range q.Waiting {
		j.Waiting = append(j.Waiting, callJSON(c, false))
	}
	for st, ids := range q.Agents {
		j.Agents[st.String()] = ids
	}
	return j
}

// ---- helpers ----

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// writeEngineError maps Engine errors to statuses.
func writeEngineError(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrUnknownCall), errors.Is(err, ErrUnknownAgent):
		code = http.StatusNotFound
	case errors.Is(err, ErrState), errors.Is(err, ErrStale), errors.Is(err, ErrDuplicate), errors.Is(err, ErrUnknownQueue):
		code = http.StatusConflict // an unknown queue here is a missing escalation queue in config
	case errors.Is(err, ErrClosed):
		code = http.StatusServiceUnavailable
	}
	writeError(w, code, strings.TrimPrefix(err.Error(), "queue: "))
}

// decode reads an optional JSON body into v, refusing unknown fields.
func decode(w http.ResponseWriter, req *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "invalid JSON body: trailing data")
		return false
	}
	return true
}

// input runs an Engine input under the lock and executes its actions.
func (r *Runner) input(callID string, f func() ([]Action, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	acts, err := f()
	if err != nil {
		return err
	}
	if callID != "" {
		r.exec(acts, callID)
	} else {
		r.exec(acts)
	}
	return nil
}

// ---- agents ----

// Agents returns every agent as GET /api/v1/agents shows it.
func (r *Runner) Agents() []AgentJSON {
	r.mu.Lock()
	as := r.eng.Agents()
	r.mu.Unlock()
	out := make([]AgentJSON, len(as))
	for i, a := range as {
		out[i] = r.agentJSON(a)
	}
	return out
}

func (r *Runner) getAgents(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, r.Agents())
}

func (r *Runner) getAgent(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	a, err := r.eng.Agent(req.PathValue("id"))
	r.mu.Unlock()
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, r.agentJSON(a))
}

func (r *Runner) postAgent(w http.ResponseWriter, req *http.Request) {
	id, op := req.PathValue("id"), req.PathValue("op")
	var body struct {
		Reason string `json:"reason"`
	}
	if !decode(w, req, &body) {
		return
	}
	if body.Reason != "" && op != "pause" {
		writeError(w, http.StatusBadRequest, "reason is only for pause")
		return
	}
	if len(body.Reason) > 64 {
		writeError(w, http.StatusBadRequest, "reason is longer than 64 characters")
		return
	}
	var f func() ([]Action, error)
	switch op {
	case "login":
		f = func() ([]Action, error) { return r.eng.Login(id) }
	case "logout":
		f = func() ([]Action, error) { return r.eng.Logout(id) }
	case "ready":
		f = func() ([]Action, error) { return r.eng.Ready(id) }
	case "pause":
		f = func() ([]Action, error) { return r.eng.Pause(id, body.Reason) }
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no agent operation %q (want login, logout, pause or ready)", op))
		return
	}
	if err := r.input("", f); err != nil {
		writeEngineError(w, err)
		return
	}
	r.log.Info("queue agent api", "agent", id, "op", op)
	r.getAgent(w, req)
}

// ---- queues ----

func (r *Runner) getQueues(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	qs := r.eng.Queues()
	r.mu.Unlock()
	out := make([]QueueJSON, len(qs))
	for i, q := range qs {
		out[i] = queueJSON(q)
	}
	writeJSON(w, http.StatusOK, out)
}

func (r *Runner) getQueue(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	q, err := r.eng.Queue(req.PathValue("name"))
	r.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown queue %q", req.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, queueJSON(q))
}

// ---- calls ----

func (r *Runner) getCalls(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	cs := r.eng.Calls()
	r.mu.Unlock()
	out := make([]CallJSON, len(cs))
	for i, c := range cs {
		out[i] = callJSON(c, false)
	}
	writeJSON(w, http.StatusOK, out)
}

func (r *Runner) getCall(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	c, err := r.eng.Call(req.PathValue("id"))
	r.mu.Unlock()
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, callJSON(c, true))
}

func (r *Runner) postDisposition(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	var body struct {
		Agent    string `json:"agent"`
		Result   string `json:"result"`
		Code     string `json:"code"`
		Notes    string `json:"notes"`
		NoSurvey bool   `json:"no_survey"`
	}
	if !decode(w, req, &body) {
		return
	}
	switch body.Result {
	case "resolved", "not_resolved", "escalated":
	case "":
		writeError(w, http.StatusBadRequest, "result is required: resolved, not_resolved or escalated")
		return
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("result %q: want resolved, not_resolved or escalated", body.Result))
		return
	}
	if len(body.Code) > 64 || len(body.Notes) > 4000 {
		writeError(w, http.StatusBadRequest, "code (64) or notes (4000 characters) too long")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var agents []string
	if c, err := r.eng.Call(id); err == nil {
		agents = c.Context.Agents
	} else if as, ok := r.recent.calls[id]; ok {
		agents = as
	} else {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown call %q", id))
		return
	}
	if body.Agent == "" {
		if len(agents) == 0 {
			writeError(w, http.StatusBadRequest, "agent is required: no agent answered this call")
			return
		}
		body.Agent = agents[len(agents)-1]
	} else if !slices.Contains(agents, body.Agent) {
		if !r.eng.HasAgent(body.Agent) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown agent %q", body.Agent))
			return
		}
		writeError(w, http.StatusConflict, fmt.Sprintf("agent %q did not answer call %q", body.Agent, id))
		return
	}
	if err := r.eng.Dispose(Disposition{CallID: id, Agent: body.Agent, Result: body.Result, Code: body.Code, Notes: body.Notes,
		NoSurvey: body.NoSurvey}); err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"call_id": id, "agent": body.Agent, "result": body.Result})
}

type escalationBody struct {
	Queue  string `json:"queue"`
	Reason string `json:"reason"`
	Notes  string `json:"notes"`
}

// escalation validates an escalate/consult body.
func (r *Runner) escalation(w http.ResponseWriter, req *http.Request) (Escalation, bool) {
	var body escalationBody
	if !decode(w, req, &body) {
		return Escalation{}, false
	}
	if len(body.Reason) > 64 || len(body.Notes) > 4000 {
		writeError(w, http.StatusBadRequest, "reason (64) or notes (4000 characters) too long")
		return Escalation{}, false
	}
	if len(r.cfg.EscalationReasons) > 0 && body.Reason != "" && !slices.Contains(r.cfg.EscalationReasons, body.Reason) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reason %q: want one of %s", body.Reason, strings.Join(r.cfg.EscalationReasons, ", ")))
		return Escalation{}, false
	}
	if body.Queue != "" {
		r.mu.Lock()
		ok := r.eng.HasQueue(body.Queue)
		r.mu.Unlock()
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown queue %q", body.Queue))
			return Escalation{}, false
		}
	}
	return Escalation{Queue: body.Queue, Reason: body.Reason, Notes: body.Notes}, true
}

func (r *Runner) postEscalate(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	x, ok := r.escalation(w, req)
	if !ok {
		return
	}
	x.Mode = "api"
	if err := r.input(id, func() ([]Action, error) { return r.escalate(id, "", x) }); err != nil {
		writeEngineError(w, err)
		return
	}
	r.getCall(w, req)
}

func (r *Runner) postConsult(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	x, ok := r.escalation(w, req)
	if !ok {
		return
	}
	err := r.input(id, func() ([]Action, error) {
		if to, ok := r.eng.EscalatesTo(id); ok && x.Queue == "" && to == "" {
			x.Queue = r.cfg.EscalationQueue
		}
		return r.eng.ConsultStart(id, x)
	})
	if err != nil {
		writeEngineError(w, err)
		return
	}
	r.getCall(w, req)
}

func (r *Runner) postConsultOp(w http.ResponseWriter, req *http.Request) {
	id, op := req.PathValue("id"), req.PathValue("op")
	var body struct{}
	if !decode(w, req, &body) {
		return
	}
	var f func() ([]Action, error)
	switch op {
	case "complete":
		f = func() ([]Action, error) { return r.eng.ConsultComplete(id) }
	case "cancel":
		f = func() ([]Action, error) { return r.eng.ConsultCancel(id) }
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no consult operation %q (want complete or cancel)", op))
		return
	}
	if err := r.input(id, f); err != nil {
		writeEngineError(w, err)
		return
	}
	r.getCall(w, req)
}
