package server

import (
	"context"
	"strconv"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/queue"
	"github.com/hotline-cc/hotline/sip"
)

// queueConfigOf maps the YAML agents and queues to the Engine's config.
func queueConfigOf(c *config.Config) queue.Config {
	var qc queue.Config
	for _, a := range c.Agents {
		qc.Agents = append(qc.Agents, queue.AgentConfig{
			ID: a.ID, Name: a.Name, Line: a.Line, Team: a.Team, Skills: a.Skills,
			WrapUp: a.Wrapup, MaxMissed: a.MaxMissed,
		})
	}
	for _, q := range c.Queues {
		x := queue.QueueConfig{
			Name: q.Name, Line: q.Line, Skill: q.Skill, MinLevel: q.MinLevel,
			Strategy: queue.Strategy(q.Strategy), Priority: q.Priority,
			ServiceLevel: q.SLThreshold, SLTarget: q.SLTarget, ShortAbandon: q.ShortAbandon,
			RingTimeout: q.RingTimeout, WrapUp: q.Wrapup,
			MaxWait: q.MaxWait, OnMaxWait: exitOf(q.OnMaxWait),
			MaxLen: q.MaxLength, OnFull: exitOf(q.OnFull),
			MOHClass: q.MOH, Lang: c.Service.Language,
		}
		// join_empty: false refuses callers when nobody serving the queue is
		// logged in; leave_empty: true moves them out when the last logs out.
		if !q.JoinEmpty {
			x.JoinWhenNoAgents = queue.NoneLoggedIn
		}
		if q.LeaveEmpty {
			x.LeaveWhenNoAgents = queue.NoneLoggedIn
		}
		if q.Announce.Position || q.Announce.WaitTime {
			x.AnnounceInterval = q.Announce.Every
		}
		if q.Line != 2 && c.Escalation.Queue != "" {
			x.EscalateTo = c.Escalation.Queue
		}
		if q.Callback.Enabled {
			x.Callback = queue.CallbackConfig{Attempts: q.Callback.Retries + 1, Spacing: q.Callback.RetryDelay, Prompt: "hotline/callback-confirm"}
		}
		qc.Queues = append(qc.Queues, x)
	}
	return qc
}

func exitOf(a config.Action) queue.Exit {
	switch a.Action {
	case config.ActionOverflow:
		return queue.Exit{Kind: queue.ExitOverflow, Queue: a.Queue}
	case config.ActionCallback:
		return queue.Exit{Kind: queue.ExitCallback}
	}
	return queue.Exit{Kind: queue.ExitHangup, Message: a.Message}
}

// runnerConfigOf builds the Runner's config around the Engine's.
func runnerConfigOf(c *config.Config, sw sip.Switch, presence interface{ Registered(string) bool }, pub eventlog.Publisher) queue.RunnerConfig {
	users := map[string]string{}
	for _, a := range c.Agents {
		users[a.ID] = a.SIPUser
	}
	rc := queue.RunnerConfig{
		Queue: queueConfigOf(c), Switch: sw, Presence: presence, Publisher: pub,
		AgentSIPUser: func(id string) string {
			if u, ok := users[id]; ok {
				return u
			}
			return id
		},
		EscalationNumber: c.Escalation.Number, EscalationQueue: c.Escalation.Queue,
		EscalationReasons: c.Escalation.Reasons,
		FeatureCodes: queue.FeatureCodes{
			Login: c.Features.Login, Logout: c.Features.Logout, Pause: c.Features.Pause,
			Ready: c.Features.Ready, Escalate: c.Features.Escalate,
		},
		CallbackKeys: map[string]rune{},
		PromptLang:   c.Service.Language,
	}
	if len(c.SIP.Trunks) > 0 {
		rc.CallbackTrunk, rc.CallbackCallerID = c.SIP.Trunks[0].Name, c.SIP.Trunks[0].CallerID
	}
	for _, q := range c.Queues {
		if q.Callback.Enabled && q.Callback.Key != "" {
			rc.CallbackKeys[q.Name] = rune(q.Callback.Key[0])
		}
	}
	return rc
}

// ivrToQueue hands the IVR's callers to the queue Runner.
type ivrToQueue struct {
	runner *queue.Runner
	cfg    *config.Config
}

// Enqueue implements ivr.Enqueuer.
func (h ivrToQueue) Enqueue(ctx context.Context, leg sip.Leg, r ivr.Result) error {
	nc := queue.NewCall{
		ID: r.CallID, Caller: r.Caller.ID(), Queue: r.Queue, Priority: r.Priority, Lang: r.Lang,
		IVRPath: r.Path, Data: map[string]string{},
	}
	if nc.ID == "" {
		nc.ID = leg.Info().ID
	}
	for k, v := range r.Vars {
		nc.Data[k] = v
	}
	if hist := r.History; hist != nil {
		nc.Data["history_calls"] = strconv.Itoa(hist.Calls)
		if hist.LastOutcome != "" {
			nc.Data["history_last_outcome"] = hist.LastOutcome
		}
		if hist.LastAgent != "" {
			nc.Data["history_last_agent"] = hist.LastAgent
		}
		if hist.OpenEscalation != nil {
			nc.Data["history_open_escalation"] = hist.OpenEscalation.CallID
		}
		// The agent who took the caller's previous call is preferred for
		// the queue's preferred_agent_wait.
		for _, q := range h.cfg.Queues {
			if q.Name == r.Queue && q.PreferredAgentWait > 0 && hist.LastAgent != "" {
				nc.PreferredAgent, nc.PreferFor = hist.LastAgent, q.PreferredAgentWait
			}
		}
	}
	return h.runner.Enqueue(ctx, leg, nc)
}
