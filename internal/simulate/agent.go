package simulate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/internal/config"

	"github.com/hotline-cc/hotline/sip/siptest"
)

// registerExpiry is how long the agents' registrations last; they are
// refreshed at half of it.
const registerExpiry = 5 * time.Minute

// agent is one simulated agent with a softphone.
type agent struct {
	s       *sim
	cfg     config.Agent
	ph      *siptest.Phone
	log     *slog.Logger
	useCode bool // feature codes instead of the API for login, pause, ready
	ctx     context.Context
	wg      *sync.WaitGroup

	mu   sync.Mutex
	busy bool // ringing or on a call
}

// startAgents registers every agent's phone and logs the agents in.
func (s *sim) startAgents(ctx context.Context) error {
	actx, cancel := context.WithCancel(ctx)
	s.stopAgentCtx = cancel
	for i, ac := range s.cfg.Agents {
		a := &agent{s: s, cfg: ac, log: s.log.With("agent", ac.ID), ctx: actx, wg: &s.agentWG,
			useCode: s.cfg.Control == "code" || (s.cfg.Control == "mix" && i%2 == 1)}
		user := ac.SIPUser
		if user == "" {
			user = ac.ID
		}
		ph, err := siptest.NewPhone(siptest.PhoneConfig{UserAgent: "hotline-simulate", QuietSIP: true, IP: s.cfg.AgentIP, User: user, Password: ac.Password.Value(),
			Media: s.agentMedia, Voice: s.cfg.Voice, Logger: s.log, Handler: a})
		if err != nil {
			return fmt.Errorf("agent %s: %w", ac.ID, err)
		}
		a.ph = ph
		s.agents = append(s.agents, a)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = ph.Register(rctx, s.cfg.SIP, registerExpiry)
		cancel()
		if err != nil {
			return fmt.Errorf("agent %s: %w (is hotline running at %s with this config?)", ac.ID, err, s.cfg.SIP)
		}
		s.agentWG.Go(a.keepRegistered)
		if err := a.control(ctx, "login"); err != nil {
			return fmt.Errorf("agent %s: login: %w", ac.ID, err)
		}
		s.counts.Add(func(c *Snapshot) { c.Logins++ })
		if !sleep(ctx, 150*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// stopAgents ends the agents' work, logs them out and unregisters them.
func (s *sim) stopAgents() {
	if s.stopAgentCtx != nil {
		s.stopAgentCtx()
	}
	done := make(chan struct{})
	go func() { s.agentWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.log.Warn("simulate: some agents did not finish")
	}
	for _, a := range s.agents {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := a.s.api.do(ctx, "POST", "/api/v1/agents/"+a.cfg.ID+"/logout", nil, nil); err != nil {
			a.log.Debug("simulate: logout", "error", err)
		}
		_ = a.ph.Register(ctx, s.cfg.SIP, 0)
		cancel()
		a.ph.Close()
	}
}

// keepRegistered refreshes the registration until the agents stop.
func (a *agent) keepRegistered() {
	for sleep(a.ctx, registerExpiry/2) {
		ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
		if err := a.ph.Register(ctx, a.s.cfg.SIP, registerExpiry); err != nil && a.ctx.Err() == nil {
			a.log.Warn("simulate: re-registration failed", "error", err)
			a.s.counts.Add(func(c *Snapshot) { c.AgentErrors++ })
		}
		cancel()
	}
}

// control logs in, pauses or readies the agent: by feature code from the
// phone or by the API. A feature code that fails falls back to the API.
func (a *agent) control(ctx context.Context, op string) error {
	if a.useCode {
		code := map[string]string{"login": a.s.cfg.Features.Login, "pause": a.s.cfg.Features.Pause,
			"ready": a.s.cfg.Features.Ready, "logout": a.s.cfg.Features.Logout}[op]
		err := a.dialCode(ctx, code)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.log.Warn("simulate: feature code failed; using the API", "op", op, "code", code, "error", err)
		a.s.counts.Add(func(c *Snapshot) { c.AgentErrors++ })
	}
	var body any
	if op == "pause" {
		body = map[string]string{"reason": "break"}
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return a.s.api.do(actx, "POST", "/api/v1/agents/"+a.cfg.ID+"/"+op, body, nil)
}

// dialCode dials a feature code and waits for hotline to confirm and hang
// up; it then checks the agent's state by the API (read only).
func (a *agent) dialCode(ctx context.Context, code string) error {
	if code == "" {
		return errors.New("no feature code configured")
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := a.ph.Call(dctx, siptest.CallOptions{Addr: a.s.cfg.SIP, To: code})
	if err != nil {
		return fmt.Errorf("dial %s: %w", code, err)
	}
	select {
	case <-c.Done(): // hotline played the confirmation and hung up
	case <-dctx.Done():
		_ = c.Hangup(context.Background())
		return fmt.Errorf("dial %s: hotline did not hang up after the confirmation", code)
	}
	return nil
}

// ring is the agent's phone ringing: busy on a call, it refuses; else it
// answers after a drawn delay.
func (a *agent) Ring(c *siptest.Call, cancelled <-chan struct{}) bool {
	a.mu.Lock()
	if a.busy {
		a.mu.Unlock()
		return false
	}
	a.busy = true
	a.mu.Unlock()
	t := time.NewTimer(a.s.rnd.draw(a.s.cfg.RingDelay))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-cancelled:
		return false
	case <-a.ctx.Done():
		return false
	}
}

func (a *agent) Missed(*siptest.Call) {
	a.mu.Lock()
	a.busy = false
	a.mu.Unlock()
}

// answered is the agent's call: talk, maybe escalate, hang up, set the
// disposition, after-call work, maybe a pause.
func (a *agent) Answered(c *siptest.Call) {
	a.wg.Add(1)
	defer a.wg.Done()
	s := a.s
	callID, queue := c.Header("X-Hotline-Call"), c.Header("X-Hotline-Queue")
	log := a.log.With("call", callID, "queue", queue)
	st, wasEscalated := s.agentAnswered(c.From, queue)
	talk := s.rnd.draw(s.cfg.Talk)
	escalate := a.cfg.Line != 2 && st != nil && !wasEscalated && s.cfg.EscalateShare > 0 && s.rnd.chance(s.cfg.EscalateShare)
	if escalate {
		talk /= 2 // the agent finds out it is a second-line matter
	}
	select {
	case <-time.After(talk):
	case <-c.Done():
	case <-a.ctx.Done():
	}
	result := ""
	select {
	case <-c.Done(): // the caller (or hotline) ended it
	default:
		if escalate && a.ctx.Err() == nil && a.escalate(c, st, callID, log) {
			result = "escalated"
		}
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Hangup(hctx)
		cancel()
	}
	a.mu.Lock()
	a.busy = false
	a.mu.Unlock()
	if result == "" {
		result = "not_resolved"
		if s.rnd.chance(s.cfg.ResolvedShare) {
			result = "resolved"
		}
	}
	if callID == "" {
		return
	}
	// Dispositions are recorded even when the run is ending.
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := s.api.do(dctx, "POST", "/api/v1/calls/"+callID+"/disposition",
		map[string]string{"agent": a.cfg.ID, "result": result, "code": "simulated", "notes": "hotline simulate"}, nil)
	cancel()
	if err != nil {
		log.Warn("simulate: disposition not taken", "error", err)
		s.counts.Add(func(c *Snapshot) { c.AgentErrors++ })
	} else {
		s.people.setResolved(c.From, result == "resolved")
		s.counts.Add(func(c *Snapshot) {
			switch result {
			case "resolved":
				c.Resolved++
			case "not_resolved":
				c.NotResolved++
			}
		})
	}
	a.afterCall(log)
}

// escalate hands the call to second line by REFER to the escalation
// number or by the API, and reports whether hotline took it.
func (a *agent) escalate(c *siptest.Call, st *callerState, callID string, log *slog.Logger) bool {
	s := a.s
	via := s.cfg.EscalateVia
	if via == "mix" {
		via = "api"
		if s.cfg.EscalationNumber != "" && s.rnd.chance(0.5) {
			via = "refer"
		}
	}
	undo := s.escalating(st)
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	var err error
	if via == "refer" {
		var code int
		code, err = c.Refer(ctx, s.cfg.EscalationNumber)
		if err == nil && code/100 != 2 {
			err = fmt.Errorf("REFER %s: status %d", s.cfg.EscalationNumber, code)
		}
	} else {
		body := map[string]string{"notes": "simulated escalation"}
		if n := len(s.cfg.EscalationReasons); n > 0 {
			body["reason"] = s.cfg.EscalationReasons[s.rnd.intn(n)]
		}
		err = s.api.do(ctx, "POST", "/api/v1/calls/"+callID+"/escalate", body, nil)
	}
	if err != nil {
		undo()
		log.Warn("simulate: escalation refused", "via", via, "error", err)
		s.counts.Add(func(c *Snapshot) { c.AgentErrors++ })
		return false
	}
	s.counts.Add(func(c *Snapshot) {
		c.Escalated++
		if via == "refer" {
			c.EscalatedByREFER++
		} else {
			c.EscalatedByAPI++
		}
	})
	log.Debug("simulate: escalated", "via", via)
	// hotline releases the agent's leg (BYE); wait for it briefly.
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
	case <-a.ctx.Done():
	}
	return true
}

// afterCall is the after-call work: a drawn time, then ready (ending a
// wrap-up early), sometimes a pause first.
func (a *agent) afterCall(log *slog.Logger) {
	s := a.s
	if !sleep(a.ctx, s.rnd.draw(s.cfg.AfterCall)) {
		return
	}
	if s.cfg.PauseShare > 0 && s.rnd.chance(s.cfg.PauseShare) {
		if err := a.control(a.ctx, "pause"); err != nil {
			log.Warn("simulate: pause", "error", err)
			s.counts.Add(func(c *Snapshot) { c.AgentErrors++ })
			return
		}
		s.counts.Add(func(c *Snapshot) { c.Pauses++ })
		if !sleep(a.ctx, s.rnd.draw(s.cfg.PauseLength)) {
			return
		}
		a.readyIf("paused", log)
		return
	}
	a.readyIf("wrap-up", log)
}

// readyIf makes the agent ready if it is in state (it may be on its next
// call already).
func (a *agent) readyIf(state string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
	defer cancel()
	var v agentView
	if err := a.s.api.do(ctx, "GET", "/api/v1/agents/"+a.cfg.ID, nil, &v); err != nil {
		log.Debug("simulate: agent state", "error", err)
		return
	}
	if v.State != state {
		return
	}
	if err := a.control(a.ctx, "ready"); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == 409 {
			return // the state changed meanwhile
		}
		log.Warn("simulate: ready", "error", err)
		a.s.counts.Add(func(c *Snapshot) { c.AgentErrors++ })
	}
}
