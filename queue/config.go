package queue

import (
	"errors"
	"fmt"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// Config is everything the Engine needs to know up front. It is a plain
// struct: internal/config maps the YAML file onto it.
type Config struct {
	Agents []AgentConfig
	Queues []QueueConfig
	// IDs stamps every event (eventlog's one ID scheme); nil means a
	// generator of the Engine's own, with EventIDPrefix.
	IDs *eventlog.IDs
	// EventIDPrefix is the prefix of the Engine's own generator; empty
	// means eventlog.DefaultPrefix of the clock's time at New.
	EventIDPrefix string
}

// AgentConfig describes one agent.
type AgentConfig struct {
	ID   string // unique, non-empty (the SIP user is a good choice)
	Name string
	// Line is 1 (first line) or 2 (second line); 0 means 1.
	Line int
	Team string
	// Skills maps a skill name to a level from 1 (novice) to 5 (expert).
	Skills map[string]int
	// WrapUp is the after-call work time, unless the queue of the call sets
	// its own (QueueConfig.WrapUp > 0 wins).
	WrapUp time.Duration
	// MaxMissed is how many consecutive unanswered offers pause the agent
	// with reason "missed calls". 0 means 2; negative means never.
	MaxMissed int
}

// Strategy chooses among the available agents of a queue.
type Strategy string

// Strategies.
const (
	// LongestIdle offers the call to the agent idle the longest (default).
	LongestIdle Strategy = "longest-idle"
	// RoundRobin offers to the agent this queue offered a call to least recently.
	RoundRobin Strategy = "round-robin"
	// SkillLevel offers to the agent with the highest level in the queue's
	// skill, longest idle first among equals.
	SkillLevel Strategy = "skill-level"
	// RingAll rings every available agent; the first to answer wins.
	RingAll Strategy = "ring-all"
)

// ExitKind says what happens to a caller who leaves a queue without an
// agent (max wait reached, queue full, no agents).
type ExitKind string

// Exit kinds.
const (
	// ExitHangup ends the call, after playing Exit.Message if set (default).
	ExitHangup ExitKind = "message"
	// ExitOverflow moves the call to Exit.Queue.
	ExitOverflow ExitKind = "overflow"
	// ExitCallback turns the call into a queued callback: the caller hangs up
	// and keeps their place (needs the caller's number; otherwise ExitHangup).
	ExitCallback ExitKind = "callback"
)

// Exit is an exit action.
type Exit struct {
	Kind    ExitKind
	Queue   string // ExitOverflow: the target queue
	Message string // ExitHangup: prompt name to play before hanging up (optional)
}

// NoAgentsPolicy decides when a queue counts as having no agents, for
// joining and for leaving.
type NoAgentsPolicy string

// No-agents policies.
const (
	// Never: a queue never counts as empty (join: always allowed; leave:
	// callers stay). The default.
	Never NoAgentsPolicy = ""
	// NoneLoggedIn: empty when no agent serving the queue is logged in
	// (paused agents count as logged in).
	NoneLoggedIn NoAgentsPolicy = "none-logged-in"
	// NoneReady: empty when every serving agent is logged out or paused
	// (agents on a call or in wrap-up count as ready).
	NoneReady NoAgentsPolicy = "none-ready"
)

// CallbackConfig tunes queued callbacks.
type CallbackConfig struct {
	// Attempts is how many times the caller is dialled; 0 means 3.
	Attempts int
	// Spacing is the pause between attempts; 0 means 2 minutes.
	Spacing time.Duration
	// Prompt is played to the caller before the Engine hangs up on a
	// callback request (optional).
	Prompt string
	// DialTimeout bounds each attempt's ringing; 0 means 30 s.
	DialTimeout time.Duration
	// CallerFirst: when the callback's turn comes (an agent is free for
	// it) the caller is dialled without reserving the agent; once they
	// answer they wait at their place (music) for the next agent. False:
	// agent first (an agent is reserved and rings, then the caller is
	// dialled).
	CallerFirst bool
	// Durable: the callbacks are durable jobs outside the Engine (package
	// queue/callback) that schedule the attempts. A failed attempt that is
	// not the last ends the call (call.finished reason callback-retry)
	// instead of parking it; the job hands it back (EnqueueCallback) at
	// its place when the next attempt is due.
	Durable bool
}

// CallbackOffer says when a waiting caller hears the callback offer (the
// queue's callback key must be configured in the Runner). Any
// combination; the zero value never offers.
type CallbackOffer struct {
	OnJoin bool          // when the caller joins the queue
	After  time.Duration // once, this long after joining (0: never)
	// WithAnnouncements: after every periodic position announcement.
	WithAnnouncements bool
}

// QueueConfig describes one queue.
type QueueConfig struct {
	Name string // unique, non-empty
	// Line is the line the queue belongs to (1 or 2). When both the queue's
	// and an agent's line are set, they must match for the agent to serve
	// the queue. 0 means any line.
	Line int
	// Skill is the required skill and MinLevel its minimum level (0 means 1).
	// An empty Skill means every agent of the line serves the queue.
	Skill    string
	MinLevel int
	Strategy Strategy // empty means LongestIdle
	// Priority is added to every caller's priority in this queue; it makes a
	// queue as a whole more urgent across queues.
	Priority int
	// ServiceLevel is the SL threshold (default 20 s) and SLTarget the
	// target ratio (default 0.8).
	ServiceLevel time.Duration
	SLTarget     float64
	// ShortAbandon: abandons faster than this are short (default 5 s).
	ShortAbandon time.Duration
	// RingTimeout bounds each offer to an agent (default 15 s).
	RingTimeout time.Duration
	// WrapUp, when > 0, overrides the agent's wrap-up for calls of this queue.
	WrapUp time.Duration

	// MaxWait (0: unlimited) and what happens then.
	MaxWait   time.Duration
	OnMaxWait Exit
	// MaxLen (0: unlimited) counts calls in the queue (waiting, being
	// offered, queued callbacks) and OnFull applies to callers beyond it.
	MaxLen int
	OnFull Exit
	// JoinWhenNoAgents rejects new callers (with OnNoAgents) when the queue
	// is empty under that policy; LeaveWhenNoAgents moves waiting callers out
	// (with OnNoAgents) when it becomes empty.
	JoinWhenNoAgents  NoAgentsPolicy
	LeaveWhenNoAgents NoAgentsPolicy
	OnNoAgents        Exit

	// AnnounceInterval (0: never) repeats position and estimated wait;
	// AnnounceOnJoin also announces at once when the caller joins.
	AnnounceInterval time.Duration
	AnnounceOnJoin   bool
	MOHClass         string // music-on-hold class ("" means the switch default)
	Lang             string // announcement language, "ru" (default) or "en"

	// EscalateTo is the second-line queue that escalations go to by default.
	EscalateTo string
	Callback   CallbackConfig
	// CallbackOffer: when waiting callers are told they can ask for a
	// callback (OfferCallback actions).
	CallbackOffer CallbackOffer
}

// Defaults.
const (
	DefaultServiceLevel = 20 * time.Second
	DefaultSLTarget     = 0.8
	DefaultShortAbandon = 5 * time.Second
	DefaultRingTimeout  = 15 * time.Second
	DefaultMaxMissed    = 2
	DefaultCBAttempts   = 3
	DefaultCBSpacing    = 2 * time.Minute
	DefaultCBDial       = 30 * time.Second
	// maxHops bounds overflow chains so that a cycle of full queues ends.
	maxHops = 8
)

func (q *QueueConfig) applyDefaults() {
	if q.Strategy == "" {
		q.Strategy = LongestIdle
	}
	if q.MinLevel == 0 {
		q.MinLevel = 1
	}
	if q.ServiceLevel == 0 {
		q.ServiceLevel = DefaultServiceLevel
	}
	if q.SLTarget == 0 {
		q.SLTarget = DefaultSLTarget
	}
	if q.ShortAbandon == 0 {
		q.ShortAbandon = DefaultShortAbandon
	}
	if q.RingTimeout == 0 {
		q.RingTimeout = DefaultRingTimeout
	}
	if q.Lang == "" {
		q.Lang = "ru"
	}
	if q.Callback.Attempts == 0 {
		q.Callback.Attempts = DefaultCBAttempts
	}
	if q.Callback.Spacing == 0 {
		q.Callback.Spacing = DefaultCBSpacing
	}
	if q.Callback.DialTimeout == 0 {
		q.Callback.DialTimeout = DefaultCBDial
	}
	for _, x := range []*Exit{&q.OnMaxWait, &q.OnFull, &q.OnNoAgents} {
		if x.Kind == "" {
			x.Kind = ExitHangup
		}
	}
}

func (a *AgentConfig) applyDefaults() {
	if a.Line == 0 {
		a.Line = 1
	}
	if a.MaxMissed == 0 {
		a.MaxMissed = DefaultMaxMissed
	}
}

// Validate checks the configuration and returns every problem found, joined.
// It does not modify c.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	agents := map[string]bool{}
	for i, a := range c.Agents {
		switch {
		case a.ID == "":
			bad("agents[%d]: id is empty", i)
		case agents[a.ID]:
			bad("agent %q: duplicate id", a.ID)
		}
		agents[a.ID] = true
		if a.Line < 0 || a.Line > 2 {
			bad("agent %q: line %d: must be 1 or 2", a.ID, a.Line)
		}
		for s, l := range a.Skills {
			if s == "" {
				bad("agent %q: empty skill name", a.ID)
			}
			if l < 1 || l > 5 {
				bad("agent %q: skill %q level %d: must be 1..5", a.ID, s, l)
			}
		}
		if a.WrapUp < 0 {
			bad("agent %q: negative wrap-up %s", a.ID, a.WrapUp)
		}
	}
	queues := map[string]bool{}
	for i, q := range c.Queues {
		switch {
		case q.Name == "":
			bad("queues[%d]: name is empty", i)
		case queues[q.Name]:
			bad("queue %q: duplicate name", q.Name)
		}
		queues[q.Name] = true
	}
	for _, q := range c.Queues {
		n := q.Name
		if q.Line < 0 || q.Line > 2 {
			bad("queue %q: line %d: must be 0, 1 or 2", n, q.Line)
		}
		if q.MinLevel < 0 || q.MinLevel > 5 {
			bad("queue %q: min level %d: must be 1..5", n, q.MinLevel)
		}
		switch q.Strategy {
		case "", LongestIdle, RoundRobin, SkillLevel, RingAll:
		default:
			bad("queue %q: unknown strategy %q (want longest-idle, round-robin, skill-level or ring-all)", n, q.Strategy)
		}
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"service level", q.ServiceLevel}, {"short abandon", q.ShortAbandon}, {"ring timeout", q.RingTimeout},
			{"wrap-up", q.WrapUp}, {"max wait", q.MaxWait}, {"announce interval", q.AnnounceInterval},
			{"callback spacing", q.Callback.Spacing}, {"callback dial timeout", q.Callback.DialTimeout},
			{"callback offer delay", q.CallbackOffer.After}} {
			if d.v < 0 {
				bad("queue %q: negative %s %s", n, d.name, d.v)
			}
		}
		if q.SLTarget < 0 || q.SLTarget > 1 {
			bad("queue %q: SL target %v: must be within 0..1", n, q.SLTarget)
		}
		if q.MaxLen < 0 {
			bad("queue %q: negative max length %d", n, q.MaxLen)
		}
		if q.Callback.Attempts < 0 {
			bad("queue %q: negative callback attempts %d", n, q.Callback.Attempts)
		}
		for _, p := range []struct {
			name string
			v    NoAgentsPolicy
		}{{"join-when-no-agents", q.JoinWhenNoAgents}, {"leave-when-no-agents", q.LeaveWhenNoAgents}} {
			switch p.v {
			case Never, NoneLoggedIn, NoneReady:
			default:
				bad("queue %q: %s: unknown policy %q (want none-logged-in or none-ready)", n, p.name, p.v)
			}
		}
		for _, x := range []struct {
			name string
			v    Exit
		}{{"on max wait", q.OnMaxWait}, {"on full", q.OnFull}, {"on no agents", q.OnNoAgents}} {
			switch x.v.Kind {
			case "", ExitHangup, ExitCallback:
			case ExitOverflow:
				switch {
				case x.v.Queue == "":
					bad("queue %q: %s: overflow needs a target queue", n, x.name)
				case x.v.Queue == n:
					bad("queue %q: %s: overflow to itself", n, x.name)
				case !queues[x.v.Queue]:
					bad("queue %q: %s: unknown overflow queue %q", n, x.name, x.v.Queue)
				}
			default:
				bad("queue %q: %s: unknown exit %q (want message, overflow or callback)", n, x.name, x.v.Kind)
			}
		}
		if q.EscalateTo != "" && !queues[q.EscalateTo] {
			bad("queue %q: unknown escalation queue %q", n, q.EscalateTo)
		}
		if q.EscalateTo == n && n != "" {
			bad("queue %q: escalates to itself", n)
		}
	}
	return errors.Join(errs...)
}
