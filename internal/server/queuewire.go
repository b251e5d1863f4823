package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hotline-cc/hotline/dialpolicy"
	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/queue"
	"github.com/hotline-cc/hotline/queue/callback"
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
		// Every queue takes callbacks (on_max_wait, the IVR's callback
		// node); callback.enabled only gives its waiting callers the key.
		// With a database they are durable jobs (queue/callback).
		x.Callback = queue.CallbackConfig{Attempts: q.Callback.Retries + 1, Spacing: q.Callback.RetryDelay,
			DialTimeout: q.Callback.DialTimeout, Prompt: "hotline/callback-confirm", Durable: c.Database.URL != "",
			CallerFirst: q.Callback.Mode == config.CallbackCallerFirst}
		if q.Callback.Enabled {
			o := q.Callback.Offer
			x.CallbackOffer = queue.CallbackOffer{OnJoin: o.OnJoin, After: o.After, WithAnnouncements: o.WithAnnouncements}
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
		CallbackKeys:         map[string]rune{},
		CallbackOfferPrompts: map[string]string{},
		PromptLang:           c.Service.Language,
	}
	if len(c.SIP.Trunks) > 0 {
		rc.CallbackTrunk, rc.CallbackCallerID = c.SIP.Trunks[0].Name, c.SIP.Trunks[0].CallerID
	}
	for _, q := range c.Queues {
		if q.Callback.Enabled && q.Callback.Key != "" {
			rc.CallbackKeys[q.Name] = rune(q.Callback.Key[0])
			if q.Callback.Offer.Prompt != "" {
				rc.CallbackOfferPrompts[q.Name] = q.Callback.Offer.Prompt
			}
		}
	}
	return rc
}

// ivrToQueue hands the IVR's callers to the queue Runner.
type ivrToQueue struct {
	runner *queue.Runner
	cfg    *config.Config
	srv    *Server // recording (recording.go)
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
		if hist.LastCSI > 0 {
			nc.Data["history_last_csi"] = strconv.Itoa(hist.LastCSI)
		}
		// The agent who took the caller's previous call is preferred for
		// the queue's preferred_agent_wait.
		for _, q := range h.cfg.Queues {
			if q.Name == r.Queue && q.PreferredAgentWait > 0 && hist.LastAgent != "" {
				nc.PreferredAgent, nc.PreferFor = hist.LastAgent, q.PreferredAgentWait
			}
		}
	}
	if err := h.srv.startRecording(ctx, leg, nc.ID, nc.Queue, nc.Lang); err != nil {
		return err
	}
	return h.runner.Enqueue(ctx, leg, nc)
}

// callbackConfigOf maps every queue's callback keys to the durable
// callbacks' policy (calling hours in the service's zone).
func callbackConfigOf(c *config.Config) callback.Config {
	cc := callback.Config{Queues: map[string]callback.QueueConfig{}, Zone: c.Service.Location}
	for _, q := range c.Queues {
		h := callback.Hours{From: q.Callback.Hours.FromOffset, To: q.Callback.Hours.ToOffset}
		if h.From == 0 && h.To == 23*time.Hour+59*time.Minute {
			h.To = 0 // 00:00-23:59: at any time
		}
		cc.Queues[q.Name] = callback.QueueConfig{Attempts: q.Callback.Retries + 1, Spacing: q.Callback.RetryDelay,
			Hours: h, Expire: q.Callback.Expire}
	}
	return cc
}

// callbackStore is the Runner's and the IVR's way to the callback service,
// which starts after the Runner is built (nil until then).
type callbackStore struct {
	svc atomic.Pointer[callback.Service]
}

var errNoCallbackService = errors.New("the callback service is not running")

// StoreCallback implements queue.CallbackStore.
func (c *callbackStore) StoreCallback(ctx context.Context, cb queue.CallbackCall) error {
	svc := c.svc.Load()
	if svc == nil {
		return errNoCallbackService
	}
	return svc.StoreCallback(ctx, cb)
}

// RequestCallback implements ivr.Callbacks: the IVR's callback node.
// The caller was never in line: their place is the moment of the request.
func (c *callbackStore) RequestCallback(ctx context.Context, r ivr.CallbackRequest) error {
	return c.StoreCallback(ctx, queue.CallbackCall{ID: r.CallID, Number: r.Number, Trunk: r.Trunk, Queue: r.Queue, Priority: r.Priority,
		Lang: r.Lang, Joined: r.At, Requested: r.At, Source: "ivr"})
}

// callbackGate asks the dialling policy the survey shares (dialpolicy,
// Server.DialPolicy) before every callback dial, with the trunk the
// caller's call came in on. A permanent refusal (not E.164, not inbound,
// denied, not allowed) ends the callback (callback.result refused); a
// limit (per-number, daily cap) or a ledger error defers it (not an
// attempt; tried again after the spacing).
type callbackGate struct{ s *Server }

// AllowCallback implements queue.CallbackGate.
func (g callbackGate) AllowCallback(ctx context.Context, callID, number, trunk string) error {
	p := g.s.dialPolicy
	if p == nil {
		return nil // not built (New failed before it): nothing is dialled anyway
	}
	err := p.Permit(ctx, dialpolicy.Request{Purpose: dialpolicy.PurposeCallback, Number: number, CallID: callID, Trunk: trunk})
	if err == nil {
		return nil
	}
	if ref, ok := dialpolicy.AsRefusal(err); ok && ref.Reason.Permanent() {
		return err
	}
	return fmt.Errorf("%w: %w", queue.ErrDialDeferred, err)
}
