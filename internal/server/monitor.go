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

// monitorSession is one supervisor on one call.
type monitorSession struct {
	supervisor, callID, agent, queue string
	via                              string // session|token|phone
	audio                            string // phone|browser
	leg                              sip.Leg
	mon                              sip.Monitor
	started                          time.Time

	mu     sync.Mutex
	mode   sip.MonitorMode
	reason string // why it ends, set by whoever stops it first
}

func (m *monitorSession) setReason(r string) {
	m.mu.Lock()
	if m.reason == "" {
		m.reason = r
	}
	m.mu.Unlock()
}

// monitoring is the server's monitor sessions, one per supervisor.
type monitoring struct {
	s     *Server
	users atomic.Pointer[[]config.WebUser] // web.users, swapped by Reload (their phones)
	mu    sync.Mutex
	by    map[string]*monitorSession // by supervisor
}

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
	m := &monitorSession{supervisor: supervisor, callID: callID, agent: conn.Agent, queue: conn.Queue, via: via, audio: audio, mode: mode}
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
	mg.mu.Lock()
	m.mon, m.started = mon, s.now()
	mg.mu.Unlock()
	s.bus.Publish(mg.event(m, eventlog.MonitorStarted).WithString(eventlog.KeyMode, mode.String()))
	s.log.Info("monitor started", "call", callID, "agent", conn.Agent, "supervisor", supervisor, "mode", mode.String(), "via", via, "audio", audio)
	s.calls.Add(1)
	go func() {
		defer s.calls.Done()
		select {
		case <-m.mon.Done():
		case <-leg.Done():
			m.setReason("supervisor-hangup")
		}
		_ = m.mon.Stop()
		m.setReason("call-ended")
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

func (mg *monitoring) event(m *monitorSession, t eventlog.Type) eventlog.Event {
	return eventlog.Event{Type: t, CallID: m.callID, Agent: m.agent, Queue: m.queue}.
		WithString(eventlog.KeySupervisor, m.supervisor).WithString(eventlog.KeyVia, m.via).WithString(eventlog.KeyAudio, m.audio)
}

// session is the supervisor's session on callID.
func (mg *monitoring) session(supervisor, callID string) (*monitorSession, error) {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	m := mg.by[supervisor]
	if m == nil || m.callID != callID || m.mon == nil {
		return nil, errNoMonitor
	}
	return m, nil
}

// setMode switches a session's mode.
func (mg *monitoring) setMode(m *monitorSession, mode sip.MonitorMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mode == mode {
		return nil
	}
	if err := m.mon.SetMode(mode); err != nil {
		return err
	}
	mg.s.bus.Publish(mg.event(m, eventlog.MonitorMode).WithString(eventlog.KeyMode, mode.String()).
		WithString(eventlog.KeyFrom, m.mode.String()))
	m.mode = mode
	return nil
}

// leave ends a session (the call goes on).
func (mg *monitoring) leave(m *monitorSession, reason string) {
	m.setReason(reason)
	_ = m.mon.Stop()
}

// list is the sessions on callID.
func (mg *monitoring) list(callID string) []monitorJSON {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	out := []monitorJSON{}
	for _, m := range mg.by {
		if m.callID == callID && m.mon != nil {
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
		case <-m.mon.Done():
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
