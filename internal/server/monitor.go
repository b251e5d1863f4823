package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/queue"
	"github.com/hotline-cc/hotline/sip"
)

// Monitoring: a supervisor listens to, whispers to or barges into a call
// an agent is on (docs/queue.md, "Monitoring"). The supervisor's audio is
// their SIP user (web.users[].sip_user): the API rings it — every contact,
// a desk phone and the desk page's browser softphone alike, or with
// "audio": "browser" only the browser — or the supervisor dials a monitor
// feature code plus the agent from the phone. The
// switch mixes (sip.Monitorer); this file finds the call's agent leg, the
// phone, checks who may (the desk's rule), and records every use as
// monitor.* events.

// monitorSession is one supervisor on one call. It follows the call: when
// the agent's bridge ends and the call goes on to another agent (an
// escalation, blind or warm, or a consultation cancelled back to the same
// agent), the supervisor's leg stays up and joins the next bridge in the
// same mode (monitor.followed).
type monitorSession struct {
	supervisor, callID string
	via                string // session|token|phone
	audio              string // phone|browser
	leg                sip.Leg
	live               bool // joined (set under monitoring.mu)
	started            time.Time
	inbox              callEvents    // the call's events (monitoring.Publish)
	left               chan struct{} // closed by leave
	leaveOnce          sync.Once

	mu           sync.Mutex
	agent, queue string // the agent monitored now, and the call's queue
	mon          sip.Monitor
	waiting      bool // between two bridges of the call (follow)
	mode         sip.MonitorMode
	reason       string // why it ends, set by whoever stops it first
}

func (m *monitorSession) setReason(r string) {
	m.mu.Lock()
	if m.reason == "" {
		m.reason = r
	}
	m.mu.Unlock()
}

func (m *monitorSession) ending() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reason != ""
}

func (m *monitorSession) monitor() sip.Monitor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mon
}

// callEvents is a session's mailbox of its call's events: the bus's
// consumer never waits for a session.
type callEvents struct {
	mu   sync.Mutex
	evs  []eventlog.Event
	more chan struct{} // a token when evs grew
}

func (c *callEvents) put(e eventlog.Event) {
	c.mu.Lock()
	c.evs = append(c.evs, e)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
}

func (c *callEvents) take() []eventlog.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	evs := c.evs
	c.evs = nil
	return evs
}

// monitoring is the server's monitor sessions, one per supervisor. It is
// a consumer of the bus (Publish): the events of monitored calls go to
// their sessions, which follow a call from agent to agent.
type monitoring struct {
	s     *Server
	users atomic.Pointer[[]config.WebUser] // web.users, swapped by Reload (their phones)
	mu    sync.Mutex
	by    map[string]*monitorSession // by supervisor
	quit  chan struct{}              // closed at shutdown (stop)
	once  sync.Once
}

// Publish implements eventlog.Publisher: a monitored call's connections
// and end reach its sessions.
func (mg *monitoring) Publish(e eventlog.Event) {
	switch e.Type {
	case eventlog.QueueAnswered, eventlog.EscalationAnswered, eventlog.ConsultEnded, eventlog.CallFinished:
	default:
		return
	}
	mg.mu.Lock()
	defer mg.mu.Unlock()
	for _, m := range mg.by {
		if m.callID == e.CallID {
			m.inbox.put(e)
		}
	}
}

// stop ends every session (the server shuts down): one waiting for its
// call's next agent stops waiting.
func (mg *monitoring) stop() {
	mg.once.Do(func() { close(mg.quit) })
}

// followTimeout bounds the wait for the switch to bring up a call's new
// bridge once the queue has connected it (WaitBridged).
const followTimeout = 10 * time.Second

// setUsers takes the desk users (and their phones) of a config.
func (mg *monitoring) setUsers(cfg *config.Config) {
	us := slices.Clone(cfg.Web.Users)
	mg.users.Store(&us)
}

func (mg *monitoring) webUsers() []config.WebUser {
	if p := mg.users.Load(); p != nil {
		return *p
	}
	return nil
}

// Errors of monitoring, mapped to HTTP statuses by monitorStatus.
var (
	errMonitorBusy    = errors.New("the supervisor is already monitoring a call")
	errNoMonitor      = errors.New("the supervisor is not monitoring this call")
	errNoPhone        = errors.New("the supervisor has no phone (web.users[].sip_user)")
	errNoSupervisor   = errors.New("unknown supervisor")
	errMonitorMissing = errors.New("this switch cannot monitor calls")
	errNoBrowser      = errors.New("no browser softphone here: Asterisk handles the calls (docs/asterisk.md); use a SIP phone")
	errBadAudio       = errors.New(`audio: want "phone" or "browser"`)
)

// phoneOf is a desk user's SIP user ("" when none).
func (s *Server) phoneOf(user string) (string, bool) {
	for _, u := range s.mon.webUsers() {
		if u.ID == user {
			return u.SIPUser, true
		}
	}
	return "", false
}

// supervisorOfPhone is the desk user whose phone is SIP user sipUser.
func (s *Server) supervisorOfPhone(sipUser string) string {
	for _, u := range s.mon.webUsers() {
		if u.SIPUser != "" && u.SIPUser == sipUser {
			return u.ID
		}
	}
	return ""
}

// start joins the supervisor to the call in mode, ringing their phone
// unless leg (their own call in, a feature code) is given.
// With browser, only the contacts of the browser softphone ring.
func (mg *monitoring) start(ctx context.Context, supervisor, callID, via string, mode sip.MonitorMode, leg sip.Leg, browser bool) (*monitorSession, error) {
	s := mg.s
	mr, ok := s.sw.(sip.Monitorer)
	if !ok {
		return nil, errMonitorMissing
	}
	if browser && s.native == nil {
		return nil, errNoBrowser
	}
	conn, err := s.runner.Connected(callID)
	if err != nil {
		return nil, err
	}
	audio := "phone"
	if browser {
		audio = "browser"
	}
	m := &monitorSession{supervisor: supervisor, callID: callID, agent: conn.Agent, queue: conn.Queue, via: via, audio: audio, mode: mode,
		inbox: callEvents{more: make(chan struct{}, 1)}, left: make(chan struct{})}
	mg.mu.Lock()
	if mg.by == nil {
		mg.by = map[string]*monitorSession{}
	}
	if mg.by[supervisor] != nil {
		mg.mu.Unlock()
		return nil, errMonitorBusy
	}
	mg.by[supervisor] = m // claimed while the phone rings
	mg.mu.Unlock()
	release := func() {
		mg.mu.Lock()
		if mg.by[supervisor] == m {
			delete(mg.by, supervisor)
		}
		mg.mu.Unlock()
	}
	if leg == nil {
		phone, _ := s.phoneOf(supervisor)
		if phone == "" {
			release()
			return nil, errNoPhone
		}
		leg, err = s.sw.Dial(ctx, sip.Target{Agent: phone, Browser: browser, CallerName: "monitor " + conn.Agent,
			Headers: map[string]string{"X-Hotline-Monitor": mode.String() + " " + conn.Agent}})
		if err != nil {
			release()
			return nil, fmt.Errorf("the supervisor's phone: %w", err)
		}
	}
	m.leg = leg
	mon, err := mr.Monitor(ctx, conn.AgentLeg, leg, mode)
	if err != nil {
		release()
		if via != "phone" {
			_ = leg.Hangup(sip.CauseNormal)
		}
		return nil, err
	}
	m.mu.Lock()
	m.mon = mon
	m.mu.Unlock()
	mg.mu.Lock()
	m.live, m.started = true, s.now()
	mg.mu.Unlock()
	s.bus.Publish(mg.event(m, eventlog.MonitorStarted).WithString(eventlog.KeyMode, mode.String()))
	s.log.Info("monitor started", "call", callID, "agent", conn.Agent, "supervisor", supervisor, "mode", mode.String(), "via", via, "audio", audio)
	s.calls.Add(1)
	go func() {
		defer s.calls.Done()
		mg.run(m, mr)
		_ = leg.Hangup(sip.CauseNormal)
		release()
		m.mu.Lock()
		ev := mg.event(m, eventlog.MonitorEnded).WithString(eventlog.KeyMode, m.mode.String()).
			WithDuration(eventlog.KeyMonitored, s.now().Sub(m.started))
		ev.Reason = m.reason
		m.mu.Unlock()
		s.bus.Publish(ev)
		s.log.Info("monitor ended", "call", callID, "supervisor", supervisor, "reason", ev.Reason)
	}()
	return m, nil
}

// run lasts as long as the session: the monitor of each bridge of the
// call in turn, until the supervisor leaves or hangs up or the call ends.
func (mg *monitoring) run(m *monitorSession, mr sip.Monitorer) {
	for {
		mon := m.monitor()
		select {
		case <-mon.Done():
		case <-m.leg.Done():
			m.setReason("supervisor-hangup")
		case <-mg.quit:
			m.setReason("shutdown")
		}
		_ = mon.Stop()
		if m.ending() || !mg.follow(m, mr) {
			m.setReason("call-ended")
			return
		}
	}
}

// follow waits, after the bridge the session monitored ended, for the
// call's next one (the queue connected it to an agent again: an
// escalation answered, a consultation cancelled) and joins it in the
// session's mode; it reports false when the call ended first, or the
// supervisor left or hung up (the reason is set then). The supervisor's
// leg stays up, silent, meanwhile.
func (mg *monitoring) follow(m *monitorSession, mr sip.Monitorer) bool {
	m.mu.Lock()
	m.waiting = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.waiting = false
		m.mu.Unlock()
	}()
	for {
		select {
		case <-m.leg.Done():
			m.setReason("supervisor-hangup")
			return false
		case <-m.left:
			return false
		case <-mg.quit:
			m.setReason("shutdown")
			return false
		case <-m.inbox.more:
		}
		for _, e := range m.inbox.take() {
			switch e.Type {
			case eventlog.CallFinished:
				return false
			case eventlog.ConsultEnded:
				if e.Reason != "returned" {
					continue // completed: call.escalation_answered follows
				}
			}
			if mg.rejoin(m, mr) {
				return true
			}
		}
	}
}

// rejoin joins the call's current bridge (once the switch has it up) in
// the session's mode and records the hand-over.
func (mg *monitoring) rejoin(m *monitorSession, mr sip.Monitorer) bool {
	s := mg.s
	conn, err := s.runner.Connected(m.callID)
	if err != nil {
		return false // not connected (any more): the next event decides
	}
	ctx, cancel := context.WithTimeout(context.Background(), followTimeout)
	defer cancel()
	if err := mr.WaitBridged(ctx, conn.AgentLeg); err != nil {
		s.log.Info("monitor: the call's new bridge did not come up", "call", m.callID, "agent", conn.Agent, "error", err)
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reason != "" {
		return false
	}
	mon, err := mr.Monitor(ctx, conn.AgentLeg, m.leg, m.mode)
	if err != nil {
		s.log.Info("monitor: following the call failed", "call", m.callID, "agent", conn.Agent, "error", err)
		return false
	}
	from, fromQueue := m.agent, m.queue
	m.mon, m.agent, m.queue = mon, conn.Agent, conn.Queue
	s.bus.Publish(mg.event(m, eventlog.MonitorFollowed).WithString(eventlog.KeyMode, m.mode.String()).
		WithString(eventlog.KeyFromAgent, from).WithString(eventlog.KeyFromQueue, fromQueue))
	s.log.Info("monitor followed the call", "call", m.callID, "supervisor", m.supervisor, "from", from, "agent", conn.Agent, "mode", m.mode.String())
	return true
}

// event is a monitor.* event of the session (m.mu held, or before the
// session is shared).
func (mg *monitoring) event(m *monitorSession, t eventlog.Type) eventlog.Event {
	return eventlog.Event{Type: t, CallID: m.callID, Agent: m.agent, Queue: m.queue}.
		WithString(eventlog.KeySupervisor, m.supervisor).WithString(eventlog.KeyVia, m.via).WithString(eventlog.KeyAudio, m.audio)
}

// session is the supervisor's session on callID.
func (mg *monitoring) session(supervisor, callID string) (*monitorSession, error) {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	m := mg.by[supervisor]
	if m == nil || m.callID != callID || !m.live {
		return nil, errNoMonitor
	}
	return m, nil
}

// setMode switches a session's mode (between two bridges of the call, for
// the next one).
func (mg *monitoring) setMode(m *monitorSession, mode sip.MonitorMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mode == mode {
		return nil
	}
	if !m.waiting {
		if err := m.mon.SetMode(mode); err != nil {
			return err
		}
	}
	mg.s.bus.Publish(mg.event(m, eventlog.MonitorMode).WithString(eventlog.KeyMode, mode.String()).
		WithString(eventlog.KeyFrom, m.mode.String()))
	m.mode = mode
	return nil
}

// leave ends a session (the call goes on).
func (mg *monitoring) leave(m *monitorSession, reason string) {
	m.setReason(reason)
	m.leaveOnce.Do(func() { close(m.left) })
	_ = m.monitor().Stop()
}

// list is the sessions on callID.
func (mg *monitoring) list(callID string) []monitorJSON {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	out := []monitorJSON{}
	for _, m := range mg.by {
		if m.callID == callID && m.live {
			out = append(out, m.json())
		}
	}
	return out
}

type monitorJSON struct {
	CallID     string    `json:"call_id"`
	Agent      string    `json:"agent"`
	Supervisor string    `json:"supervisor"`
	Mode       string    `json:"mode"`
	Via        string    `json:"via"`
	Audio      string    `json:"audio"`
	Started    time.Time `json:"started"`
}

func (m *monitorSession) json() monitorJSON {
	m.mu.Lock()
	defer m.mu.Unlock()
	return monitorJSON{CallID: m.callID, Agent: m.agent, Supervisor: m.supervisor, Mode: m.mode.String(), Via: m.via, Audio: m.audio, Started: m.started.UTC()}
}

// ---- HTTP: /api/v1/calls/{id}/monitor ----

// monitorHandler serves
//
//	GET    /api/v1/calls/{id}/monitor   who monitors the call
//	POST   /api/v1/calls/{id}/monitor   {"mode": "listen", "supervisor": "sv1"}: ring the supervisor's phone and join
//	PATCH  /api/v1/calls/{id}/monitor   {"mode": "whisper", "supervisor": "sv1"}
//	DELETE /api/v1/calls/{id}/monitor   {"supervisor": "sv1"}: leave
//
// The desk's role check (desk.authorizeMonitor) sets "supervisor" for a
// supervisor's session and refuses agents.
func (mg *monitoring) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/calls/{id}/monitor", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, mg.list(r.PathValue("id")))
	})
	mux.HandleFunc("POST /api/v1/calls/{id}/monitor", mg.post)
	mux.HandleFunc("PATCH /api/v1/calls/{id}/monitor", mg.patch)
	mux.HandleFunc("DELETE /api/v1/calls/{id}/monitor", mg.del)
	return mux
}

type monitorBody struct {
	Mode       string `json:"mode"`
	Supervisor string `json:"supervisor"`
	// Audio (POST): "phone" (default: every contact of the supervisor's
	// SIP user rings, desk phone and browser softphone alike) or
	// "browser" (only the desk page's softphone rings).
	Audio string `json:"audio"`
}

func readMonitorBody(w http.ResponseWriter, r *http.Request, needMode bool) (monitorBody, sip.MonitorMode, bool) {
	var b monitorBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil && !errors.Is(err, io.EOF) {
		writeJSONError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return b, 0, false
	}
	if b.Supervisor == "" {
		writeJSONError(w, http.StatusBadRequest, "supervisor: required (the desk user whose phone monitors)")
		return b, 0, false
	}
	if !needMode {
		return b, 0, true
	}
	if b.Mode == "" {
		b.Mode = sip.MonitorListen.String()
	}
	mode, err := sip.ParseMonitorMode(b.Mode)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "mode: want listen, whisper or barge")
		return b, 0, false
	}
	return b, mode, true
}

// via says how an API request came: a desk session or the token.
func via(r *http.Request) string {
	if r.Header.Get("Authorization") != "" {
		return "token"
	}
	return "session"
}

func (mg *monitoring) post(w http.ResponseWriter, r *http.Request) {
	b, mode, ok := readMonitorBody(w, r, true)
	if !ok {
		return
	}
	if _, known := mg.s.phoneOf(b.Supervisor); !known {
		writeJSONError(w, http.StatusBadRequest, errNoSupervisor.Error()+" "+b.Supervisor)
		return
	}
	var browser bool
	switch b.Audio {
	case "", "phone":
	case "browser":
		browser = true
	default:
		writeJSONError(w, http.StatusBadRequest, errBadAudio.Error())
		return
	}
	m, err := mg.start(r.Context(), b.Supervisor, r.PathValue("id"), via(r), mode, nil, browser)
	if err != nil {
		writeJSONError(w, monitorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, m.json())
}

func (mg *monitoring) patch(w http.ResponseWriter, r *http.Request) {
	b, mode, ok := readMonitorBody(w, r, true)
	if !ok {
		return
	}
	m, err := mg.session(b.Supervisor, r.PathValue("id"))
	if err == nil {
		err = mg.setMode(m, mode)
	}
	if err != nil {
		writeJSONError(w, monitorStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, m.json())
}

func (mg *monitoring) del(w http.ResponseWriter, r *http.Request) {
	b, _, ok := readMonitorBody(w, r, false)
	if !ok {
		return
	}
	m, err := mg.session(b.Supervisor, r.PathValue("id"))
	if err != nil {
		writeJSONError(w, monitorStatus(err), err.Error())
		return
	}
	mg.leave(m, "left")
	w.WriteHeader(http.StatusNoContent)
}

// monitorStatus maps an error of monitoring to an HTTP status.
func monitorStatus(err error) int {
	var de *sip.DialError
	switch {
	case errors.Is(err, queue.ErrUnknownCall), errors.Is(err, errNoMonitor):
		return http.StatusNotFound
	case errors.Is(err, queue.ErrNotConnected), errors.Is(err, sip.ErrNotBridged), errors.Is(err, errMonitorBusy),
		errors.Is(err, sip.ErrAlreadyBridged), errors.Is(err, sip.ErrHangup):
		return http.StatusConflict
	case errors.Is(err, errNoPhone), errors.Is(err, errNoSupervisor), errors.Is(err, errNoBrowser):
		return http.StatusBadRequest
	case errors.As(err, &de):
		return http.StatusBadGateway // the supervisor's phone did not answer
	}
	return http.StatusInternalServerError
}

// ---- SIP: the monitor feature codes ----

// handleSupervisorCall serves a call from a supervisor's phone: a monitor
// feature code (features.listen, .whisper, .barge) followed by the agent's
// SIP user or id joins the call that agent is on; during it the digits 1,
// 2 and 3 switch to listen, whisper and barge; hanging up leaves. Anything
// else is refused.
func (s *Server) handleSupervisorCall(ctx context.Context, leg sip.Leg, supervisor string) {
	info := leg.Info()
	f := s.cfg.Features
	var mode sip.MonitorMode
	var rest string
	switch {
	case f.Listen != "" && strings.HasPrefix(info.To, f.Listen):
		mode, rest = sip.MonitorListen, info.To[len(f.Listen):]
	case f.Whisper != "" && strings.HasPrefix(info.To, f.Whisper):
		mode, rest = sip.MonitorWhisper, info.To[len(f.Whisper):]
	case f.Barge != "" && strings.HasPrefix(info.To, f.Barge):
		mode, rest = sip.MonitorBarge, info.To[len(f.Barge):]
	default:
		s.log.Info("supervisor call refused: not a monitor code", "supervisor", supervisor)
		_ = leg.Hangup(sip.CauseRejected)
		return
	}
	agent, ok := s.runner.AgentByUser(rest)
	if !ok {
		s.log.Info("monitor code: unknown agent", "supervisor", supervisor, "agent", rest)
		_ = leg.Hangup(sip.CauseUnreachable)
		return
	}
	callID := s.runner.AgentCall(agent)
	if callID == "" || !s.desk.MayMonitor(supervisor, callID) {
		s.log.Info("monitor code refused", "supervisor", supervisor, "agent", agent, "call", callID)
		_ = leg.Hangup(sip.CauseRejected)
		return
	}
	if err := leg.Answer(ctx); err != nil {
		_ = leg.Hangup(sip.CauseFailure)
		return
	}
	m, err := s.mon.start(ctx, supervisor, callID, "phone", mode, leg, false)
	if err != nil {
		s.log.Info("monitor code failed", "supervisor", supervisor, "agent", agent, "call", callID, "error", err)
		_, _ = leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: queue.PromptFeatureError, Lang: s.cfg.Service.Language}}})
		_ = leg.Hangup(sip.CauseNormal)
		return
	}
	for {
		select {
		case <-m.left:
			return
		case <-leg.Done():
			return
		case ev, ok := <-leg.Events():
			if !ok {
				return
			}
			d, isDigit := ev.(sip.DigitEvent)
			if !isDigit || d.Digit < '1' || d.Digit > '3' {
				continue
			}
			if err := s.mon.setMode(m, sip.MonitorMode(d.Digit-'1')); err != nil {
				s.log.Info("monitor mode switch failed", "supervisor", supervisor, "error", err)
			}
		}
	}
}

func (s *Server) now() time.Time { return time.Now() }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
