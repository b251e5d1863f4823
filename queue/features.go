package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/sip"
)

// FeatureCodes are the codes agents dial from their softphones. Each is
// 1–8 characters of 0-9, * and #.
type FeatureCodes struct {
	Login    string // default "*1": log in (become available)
	Logout   string // default "*2": log out (after the current call)
	Pause    string // default "*3": pause (reason "pause"); dialled as *3 followed by digits, the digits are the reason code
	Ready    string // default "*4": unpause, end wrap-up early
	Escalate string // default "*9": escalate the current call (dialled in the call, or as a second call while it is held)
}

// Default feature codes.
const (
	DefaultLoginCode    = "*1"
	DefaultLogoutCode   = "*2"
	DefaultPauseCode    = "*3"
	DefaultReadyCode    = "*4"
	DefaultEscalateCode = "*9"
)

// Prompts played after a feature code.
const (
	PromptFeatureOK    = "hotline/feature-ok"
	PromptFeatureError = "hotline/feature-error"
)

func (f FeatureCodes) withDefaults() FeatureCodes {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&f.Login, DefaultLoginCode)
	def(&f.Logout, DefaultLogoutCode)
	def(&f.Pause, DefaultPauseCode)
	def(&f.Ready, DefaultReadyCode)
	def(&f.Escalate, DefaultEscalateCode)
	return f
}

func (f FeatureCodes) validate() error {
	seen := map[string]string{}
	for _, c := range []struct{ name, code string }{{"login", f.Login}, {"logout", f.Logout}, {"pause", f.Pause},
		{"ready", f.Ready}, {"escalate", f.Escalate}} {
		if len(c.code) < 1 || len(c.code) > 8 || strings.Trim(c.code, "0123456789*#") != "" {
			return fmt.Errorf("queue: feature code %s %q: want 1-8 characters of 0-9, * and #", c.name, c.code)
		}
		if other, dup := seen[c.code]; dup {
			return fmt.Errorf("queue: feature codes %s and %s are both %q", other, c.name, c.code)
		}
		seen[c.code] = c.name
	}
	return nil
}

// AgentCallResult says what HandleAgentCall did.
type AgentCallResult struct {
	Agent   string // agent id ("" when the phone's user is not an agent)
	Feature string // login | logout | pause | ready | escalate; "" when the number was not a feature code
	Err     error  // why the feature failed, if it did
}

// HandleAgentCall serves a call placed from an agent's phone (an inbound
// leg with Info().Agent set): a feature code is answered, carried out,
// confirmed with PromptFeatureOK or PromptFeatureError and hung up; any
// other number is refused (CauseRejected). The escalation number dialled
// as a second call escalates the agent's current call, like *9. It
// returns when the leg is done; run it in its own goroutine.
func (r *Runner) HandleAgentCall(ctx context.Context, leg sip.Leg) AgentCallResult {
	info := leg.Info()
	r.mu.Lock()
	agentID, known := r.bySIP[info.Agent]
	r.mu.Unlock()
	res := AgentCallResult{Agent: agentID}
	if info.Agent == "" || !known {
		r.log.Info("queue agent call refused: not an agent", "user", info.Agent)
		_ = leg.Hangup(sip.CauseRejected)
		res.Err = fmt.Errorf("%w: SIP user %q", ErrUnknownAgent, info.Agent)
		return res
	}
	f := r.cfg.FeatureCodes
	to := info.To
	var op func() ([]Action, error)
	switch {
	case to == f.Login:
		res.Feature = "login"
		op = func() ([]Action, error) { return r.eng.Login(agentID) }
	case to == f.Logout:
		res.Feature = "logout"
		op = func() ([]Action, error) { return r.eng.Logout(agentID) }
	case to == f.Ready:
		res.Feature = "ready"
		op = func() ([]Action, error) { return r.eng.Ready(agentID) }
	case strings.HasPrefix(to, f.Pause) && strings.Trim(to[len(f.Pause):], "0123456789") == "":
		res.Feature = "pause"
		reason := "pause"
		if code := to[len(f.Pause):]; code != "" {
			reason = "code-" + code
		}
		op = func() ([]Action, error) { return r.eng.Pause(agentID, reason) }
	case to == f.Escalate || (r.cfg.EscalationNumber != "" && to == r.cfg.EscalationNumber):
		res.Feature = "escalate"
		op = func() ([]Action, error) {
			a, err := r.eng.Agent(agentID)
			if err != nil {
				return nil, err
			}
			if c, ok := r.eng.CallState(a.CallID); !ok || c.State != callStateNames[stConnected] || c.Agent != agentID {
				return nil, fmt.Errorf("%w: agent %q has no connected call", ErrState, agentID)
			}
			return r.escalate(a.CallID, agentID, Escalation{Mode: "code"})
		}
	default:
		r.log.Info("queue agent call refused: not a feature code", "agent", agentID, "to", r.mask(to))
		_ = leg.Hangup(sip.CauseRejected)
		res.Err = fmt.Errorf("queue: %q is not a feature code", to)
		return res
	}
	if err := leg.Answer(ctx); err != nil {
		_ = leg.Hangup(sip.CauseFailure)
		res.Err = err
		return res
	}
	r.mu.Lock()
	if r.closed {
		res.Err = ErrClosed
	} else {
		acts, err := op()
		res.Err = err
		r.exec(acts)
	}
	r.mu.Unlock()
	prompt := PromptFeatureOK
	if res.Err != nil {
		prompt = PromptFeatureError
	}
	r.log.Info("queue feature code", "agent", agentID, "feature", res.Feature, "ok", res.Err == nil)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := leg.Play(pctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: prompt, Lang: r.cfg.PromptLang}}}); err != nil && !errors.Is(err, sip.ErrHangup) {
		r.log.Warn("queue feature prompt failed", "agent", agentID, "error", err)
	}
	_ = leg.Hangup(sip.CauseNormal)
	return res
}
