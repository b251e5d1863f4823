package queue

import (
	"errors"
	"fmt"
	"time"
)

// AgentResume is an agent's last state before the process stopped, as its
// last agent.state event logged it: Status is that event's "to" (an
// AgentStatus name), Reason its reason.
type AgentResume struct {
	Agent  string
	Status string
	Reason string
	// WrapUpLeft is, for an agent who was in wrap-up, what is left of it
	// (none: the agent comes back available); WrapCall and WrapQueue name
	// the call it follows.
	WrapUpLeft          time.Duration
	WrapCall, WrapQueue string
}

// ParseAgentStatus reads an AgentStatus name ("available", "paused", ...).
func ParseAgentStatus(s string) (AgentStatus, error) {
	for i, n := range statusNames {
		if n == s {
			return AgentStatus(i), nil
		}
	}
	return 0, fmt.Errorf("queue: unknown agent status %q", s)
}

// ResumeAgents puts agents back as they were when the previous process
// stopped (a crash or a restart), so that they are offered calls at once
// instead of after logging in again: an agent who was logged in
// (available, ringing, on a call or in wrap-up) is logged in and
// available — the calls of that time are gone with the process — and a
// paused agent is logged in and paused with the same reason. Agents that
// were logged out, are no longer configured or are already logged in
// (they did so before this ran) are left alone. It returns how many agents
// it logged in; the error joins the entries it could not read.
func (r *Runner) ResumeAgents(rs []AgentResume) (int, error) {
	var errs []error
	n := 0
	for _, x := range rs {
		st, err := ParseAgentStatus(x.Status)
		if err != nil {
			errs = append(errs, fmt.Errorf("agent %q: %w", x.Agent, err))
			continue
		}
		var pause, wrap bool
		switch st {
		case LoggedOut:
			continue
		case Available, Ringing, OnCall:
		case WrapUp:
			wrap = x.WrapUpLeft > 0
		case Paused:
			pause = true
		default:
			errs = append(errs, fmt.Errorf("agent %q: status %v not handled", x.Agent, st))
			continue
		}
		resumed := false
		err = r.input("", func() ([]Action, error) {
			a, err := r.eng.lookupAgent(x.Agent)
			if errors.Is(err, ErrUnknownAgent) || (err == nil && a.state != LoggedOut) {
				return nil, nil // no longer configured, or logged in already
			}
			if err != nil {
				return nil, err
			}
			resumed = true
			acts, err := r.eng.Login(x.Agent)
			if err != nil || (!pause && !wrap) {
				return acts, err
			}
			var more []Action
			if pause {
				more, err = r.eng.Pause(x.Agent, x.Reason)
			} else {
				more, err = r.eng.ResumeWrapUp(x.Agent, x.WrapUpLeft, x.WrapCall, x.WrapQueue)
			}
			return append(acts, more...), err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("agent %q: %w", x.Agent, err))
			continue
		}
		if resumed {
			n++
		}
	}
	return n, errors.Join(errs...)
}
