package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
)

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Queue is the Engine's configuration; the Runner builds the Engine
	// (so that it sees every event for the live stream) and owns it.
	Queue Config
	// Switch dials agents and callbacks; required.
	Switch sip.Switch
	// Presence, when set, is asked before an agent's phone is dialled; an
	// unregistered phone counts as a failed ring at once (reason
	// "unreachable"), without waiting for the switch. The API shows it.
	Presence interface{ Registered(user string) bool }
	// AgentSIPUser maps an agent id to the SIP user its phone registers as;
	// nil means the id itself.
	AgentSIPUser func(agentID string) string
	// Publisher receives every Engine event; optional. It is called with
	// the Runner's lock held, so it must only hand the event on: an
	// eventlog.Bus queues it and delivers it to the consumers (reporting,
	// survey, the live stream) on its own goroutine.
	Publisher eventlog.Publisher
	// IDs stamps the Engine's events (the Bus's generator, so that every
	// event of the process has one ID scheme); nil: the Engine's own.
	IDs *eventlog.IDs
	// Clock is the Engine's clock; nil means SystemClock.
	Clock  Clock
	Logger *slog.Logger
	// EscalationNumber is the number first-line agents transfer (REFER) a
	// call to, or dial while holding it, to escalate. Empty disables REFER
	// escalation.
	EscalationNumber string
	// EscalationQueue is the second-line queue for escalations when neither
	// the request nor the call's queue (QueueConfig.EscalateTo) names one.
	EscalationQueue string
	// EscalationReasons, when not empty, are the reason codes the API
	// accepts for escalations.
	EscalationReasons []string
	// FeatureCodes agents dial from their phones; zero fields take the
	// defaults (*1 login, *2 logout, *3 pause, *4 ready, *9 escalate).
	FeatureCodes FeatureCodes
	// CallbackKeys maps a queue name to the DTMF key a waiting caller
	// presses to be called back; queues without an entry offer no callback.
	CallbackKeys map[string]rune
	// CallbackTrunk and CallbackCallerID are used to dial callers back;
	// empty means the switch's defaults.
	CallbackTrunk, CallbackCallerID string
	// CallbackOfferPrompts maps a queue name to the prompt that offers its
	// waiting callers a callback (OfferCallback); "hotline/callback-offer"
	// when a queue with a callback key has no entry.
	CallbackOfferPrompts map[string]string
	// Callbacks, when set, keeps queued callbacks durable (package
	// queue/callback): a callback is stored before the caller hears the
	// confirmation and is hung up. Nil: callbacks live in the Engine only
	// and are lost with the process.
	Callbacks CallbackStore
	// CallbackGate, when set, is asked before every callback dial; a
	// refusal ends the callback (callback.result reason refused).
	CallbackGate CallbackGate
	// DefaultMOH is the music-on-hold class for queues without one;
	// "default" when empty.
	DefaultMOH string
	// PromptLang is the language of feature-code prompts; "ru" when empty.
	PromptLang string
	// MaskNumber hides caller numbers in logs; nil keeps the last four
	// digits ("+7******6789").
	MaskNumber func(string) string
	// RecentCalls is how many finished calls are remembered for
	// dispositions; 0 means 4096.
	RecentCalls int
}

// CallbackStore keeps a queued callback durable (package queue/callback).
type CallbackStore interface {
	StoreCallback(ctx context.Context, cb CallbackCall) error
}

// CallbackGate is the dialling policy for callbacks: a non-nil error
// refuses the dial of number for the callback of callID, whose call came
// in on trunk. An error wrapping ErrDialDeferred holds it back for now
// (a limit: not an attempt, tried again after the spacing); any other
// refusal ends the callback.
type CallbackGate interface {
	AllowCallback(ctx context.Context, callID, number, trunk string) error
}

// ErrDialDeferred marks a temporary refusal of a CallbackGate.
var ErrDialDeferred = errors.New("queue: dial deferred by the dialling policy")

// Runner executes the Engine's decisions on sip.Legs: it rings agents,
// bridges, plays music on hold and announcements, dials callbacks and
// reports every outcome back to the Engine. One mutex serializes every
// input to the Engine (legs, timers, API, feature codes).
type Runner struct {
	cfg  RunnerConfig
	log  *slog.Logger
	mask func(string) string
	sw   sip.Switch

	base context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
	wake chan struct{}

	mu      sync.Mutex
	eng     *Engine
	calls   map[string]*callRec
	conns   map[string]*agentConn // answered agent legs by agent id
	rings   map[ringID]*ringRun
	bySIP   map[string]string // SIP user → agent id
	recent  *recentCalls
	wakeAt  time.Time
	wakeSet bool
	closed  bool
}

// callRec is what the Runner holds for a live call of the Engine.
type callRec struct {
	id      string
	queue   string
	leg     sip.Leg // the caller's leg; nil once it left or was handed off
	moh     string
	bridge  *bridgeRun // caller ↔ agent
	consult *bridgeRun // first agent ↔ consultant
	play    *playRun
	then    []sip.Prompt  // to play after play (a callback offer after an announcement)
	dial    *dialRun      // callback dial in progress
	stored  chan struct{} // closed once the callback is stored (RunnerConfig.Callbacks)
	agents  []string      // agents who answered, in order
}

type bridgeRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	a, b   sip.Leg
}

type playRun struct{ cancel context.CancelFunc }

type dialRun struct{ cancel context.CancelFunc }

type ringID struct{ call, agent string }

type ringRun struct{ cancel context.CancelFunc }

// agentConn is an agent's answered leg for a call.
type agentConn struct {
	agent, callID string
	leg           sip.Leg
	detached      bool // the Runner released it on purpose
}

// ErrClosed is returned by Enqueue after Run has returned.
var ErrClosed = errors.New("queue: runner is closed")

// NewRunner builds the Engine from cfg.Queue and a Runner around it. Call
// Run to start its timers; Enqueue, HandleAgentCall and Handler may be used
// from then on (and before: timers only fire once Run runs).
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if cfg.Switch == nil {
		return nil, errors.New("queue: RunnerConfig.Switch is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaskNumber == nil {
		cfg.MaskNumber = sip.MaskNumber
	}
	if cfg.AgentSIPUser == nil {
		cfg.AgentSIPUser = func(id string) string { return id }
	}
	if cfg.DefaultMOH == "" {
		cfg.DefaultMOH = "default"
	}
	if cfg.PromptLang == "" {
		cfg.PromptLang = "ru"
	}
	if cfg.RecentCalls == 0 {
		cfg.RecentCalls = 4096
	}
	cfg.FeatureCodes = cfg.FeatureCodes.withDefaults()
	if err := cfg.FeatureCodes.validate(); err != nil {
		return nil, err
	}
	r := &Runner{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "queue"),
		mask:   cfg.MaskNumber,
		sw:     cfg.Switch,
		wake:   make(chan struct{}, 1),
		calls:  map[string]*callRec{},
		conns:  map[string]*agentConn{},
		rings:  map[ringID]*ringRun{},
		bySIP:  map[string]string{},
		recent: newRecentCalls(cfg.RecentCalls),
	}
	r.base, r.stop = context.WithCancel(context.Background())
	qc := cfg.Queue
	if cfg.IDs != nil {
		qc.IDs = cfg.IDs
	}
	eng, err := New(qc, cfg.Clock, cfg.Publisher)
	if err != nil {
		return nil, err
	}
	r.eng = eng
	for _, a := range eng.Agents() {
		u := cfg.AgentSIPUser(a.ID)
		if other, dup := r.bySIP[u]; dup {
			return nil, fmt.Errorf("queue: agents %q and %q share SIP user %q", other, a.ID, u)
		}
		r.bySIP[u] = a.ID
	}
	return r, nil
}

// Run fires the Engine's timers until ctx ends. Then it hangs up every leg
// the Runner owns, stops every goroutine it started and returns ctx.Err().
// Run must be called once.
func (r *Runner) Run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		r.mu.Lock()
		at, set := r.wakeAt, r.wakeSet
		r.mu.Unlock()
		d := time.Hour
		if set {
			d = max(at.Sub(r.now()), 0)
		}
		t.Reset(d)
		select {
		case <-ctx.Done():
			r.shutdown()
			return ctx.Err()
		case <-r.wake:
		case <-t.C:
			if set {
				r.mu.Lock()
				if !r.closed {
					r.exec(r.eng.Tick())
					// A Tick that found nothing due yet sends no SetTimer:
					// ask for the next deadline instead.
					r.wakeAt, r.wakeSet = r.eng.NextWake()
				}
				r.mu.Unlock()
			}
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
	}
}

func (r *Runner) now() time.Time {
	if r.cfg.Clock != nil {
		return r.cfg.Clock.Now()
	}
	return time.Now()
}

func (r *Runner) shutdown() {
	r.mu.Lock()
	r.closed = true
	r.stop()
	for _, rec := range r.calls {
		if rec.leg != nil {
			_ = rec.leg.Hangup(sip.CauseShutdown)
		}
	}
	for _, c := range r.conns {
		c.detached = true
		_ = c.leg.Hangup(sip.CauseShutdown)
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Enqueue hands a caller's answered leg to a queue (from the IVR). nc.ID
// defaults to the leg's id and nc.Caller to its From. On success the
// Runner owns the leg until it ends: the caller's hangup reaches the Engine
// exactly once, and the Runner hangs the leg up when the Engine is done
// with the call. An unknown PreferredAgent is ignored (the call is not
// refused for it). On error the leg stays with the caller of Enqueue.
func (r *Runner) Enqueue(ctx context.Context, leg sip.Leg, nc NewCall) error {
	info := leg.Info()
	if nc.ID == "" {
		nc.ID = info.ID
	}
	if nc.Caller == "" {
		nc.Caller = info.From
	}
	if nc.Trunk == "" {
		nc.Trunk = info.Trunk
	}
	if err := leg.Answer(ctx); err != nil {
		return fmt.Errorf("queue: answer %s: %w", nc.ID, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if r.calls[nc.ID] != nil {
		return fmt.Errorf("%w: %q", ErrDuplicate, nc.ID)
	}
	if nc.PreferredAgent != "" && !r.eng.HasAgent(nc.PreferredAgent) {
		// E.g. the agent of the caller's previous call left the config.
		r.log.Info("queue preferred agent unknown, ignored", "call", nc.ID, "agent", nc.PreferredAgent)
		nc.PreferredAgent, nc.PreferFor = "", 0
	}
	rec := &callRec{id: nc.ID, queue: nc.Queue, leg: leg}
	r.calls[nc.ID] = rec
	acts, err := r.eng.Enqueue(nc)
	if err != nil {
		delete(r.calls, nc.ID)
		return err
	}
	r.log.Info("queue call joined", "call", nc.ID, "caller", r.mask(nc.Caller), "queue", nc.Queue, "priority", nc.Priority)
	r.watchCaller(rec, leg)
	r.exec(acts, nc.ID)
	return nil
}

// exec carries out acts in order (r.mu held) and then settles every call
// they or the input touched: a call the Engine is done with loses its legs.
func (r *Runner) exec(acts []Action, touched ...string) {
	for _, a := range acts {
		switch a := a.(type) {
		case RingAgent:
			r.ringAgent(a)
			touched = append(touched, a.CallID)
		case StopRinging:
			if run := r.rings[ringID{a.CallID, a.Agent}]; run != nil {
				run.cancel()
				delete(r.rings, ringID{a.CallID, a.Agent})
			}
		case Bridge:
			r.bridgeCall(a)
		case StartMOH:
			r.startMOH(a.CallID, a.Class)
		case StopMOH:
			if rec := r.calls[a.CallID]; rec != nil {
				r.stopPlay(rec)
				if rec.leg != nil {
					_ = rec.leg.StopMOH()
				}
			}
		case Announce:
			r.announce(a)
		case Overflow:
			r.log.Info("queue overflow", "call", a.CallID, "from", a.From, "to", a.To, "reason", a.Reason)
			if rec := r.calls[a.CallID]; rec != nil {
				rec.queue = a.To
			}
		case HangupCaller:
			r.hangupCaller(a)
			touched = append(touched, a.CallID)
		case DialCallback:
			r.dialCallback(a)
		case OfferCallback:
			r.offerCallback(a)
		case ReleaseAgent:
			r.releaseAgent(a.CallID, a.Agent)
			touched = append(touched, a.CallID)
		case ConsultBridge:
			r.consultBridge(a)
		case SetTimer:
			r.wakeAt, r.wakeSet = a.At, !a.At.IsZero()
			select {
			case r.wake <- struct{}{}:
			default:
			}
		default: // the Engine's actions are a closed set: a new one must be handled here
			panic(fmt.Sprintf("queue: Runner cannot execute action %T", a))
		}
	}
	for _, id := range touched {
		r.settle(id)
	}
}

// settle tears down a call the Engine no longer knows.
func (r *Runner) settle(id string) {
	rec := r.calls[id]
	if rec == nil {
		return
	}
	if r.eng.Live(id) {
		return
	}
	r.stopPlay(rec)
	r.unbridge(&rec.bridge)
	r.unbridge(&rec.consult)
	if rec.dial != nil {
		rec.dial.cancel()
		rec.dial = nil
	}
	if rec.leg != nil {
		_ = rec.leg.Hangup(sip.CauseNormal)
		rec.leg = nil
	}
	for id2, c := range r.conns {
		if c.callID == id {
			c.detached = true
			_ = c.leg.Hangup(sip.CauseNormal)
			delete(r.conns, id2)
		}
	}
	for k, run := range r.rings {
		if k.call == id {
			run.cancel()
			delete(r.rings, k)
		}
	}
	delete(r.calls, id)
	r.recent.add(id, rec.agents)
	r.log.Debug("queue call settled", "call", id)
}

// ---- agents' phones ----

func (r *Runner) ringAgent(a RingAgent) {
	key := ringID{a.CallID, a.Agent}
	if old := r.rings[key]; old != nil {
		old.cancel()
	}
	ctx, cancel := context.WithCancel(r.base)
	run := &ringRun{cancel: cancel}
	r.rings[key] = run
	user := r.cfg.AgentSIPUser(a.Agent)
	callerID := a.Caller
	if callerID == "anonymous" {
		callerID = ""
	}
	r.wg.Go(func() {
		defer cancel()
		var leg sip.Leg
		var err error
		if r.cfg.Presence != nil && !r.cfg.Presence.Registered(user) {
			err = &sip.DialError{Target: sip.Target{Agent: user}, Cause: sip.CauseUnreachable}
		} else {
			leg, err = r.sw.Dial(ctx, sip.Target{Agent: user, RingTimeout: a.Timeout, CallerID: callerID,
				Headers: map[string]string{"X-Hotline-Queue": a.Queue, "X-Hotline-Call": a.CallID}})
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.rings[key] != run || r.closed {
			if leg != nil { // answered after the offer was withdrawn
				_ = leg.Hangup(sip.CauseNormal)
			}
			return
		}
		delete(r.rings, key)
		if err != nil {
			reason := causeReason(sip.CauseOf(err))
			r.log.Info("queue ring failed", "call", a.CallID, "agent", a.Agent, "reason", reason)
			acts, ierr := r.eng.RingFailed(a.CallID, a.Agent, reason)
			if ierr != nil {
				r.log.Debug("queue ring report ignored", "call", a.CallID, "agent", a.Agent, "error", ierr)
			}
			r.exec(acts, a.CallID)
			return
		}
		if old := r.conns[a.Agent]; old != nil { // cannot happen: an agent has one call
			old.detached = true
			_ = old.leg.Hangup(sip.CauseNormal)
		}
		conn := &agentConn{agent: a.Agent, callID: a.CallID, leg: leg}
		r.conns[a.Agent] = conn
		acts, ierr := r.eng.RingAnswered(a.CallID, a.Agent)
		if ierr != nil {
			// ErrStale: the offer was withdrawn while the phone answered.
			delete(r.conns, a.Agent)
			conn.detached = true
			_ = leg.Hangup(sip.CauseNormal)
			r.log.Info("queue late answer hung up", "call", a.CallID, "agent", a.Agent, "error", ierr)
			r.exec(acts, a.CallID)
			return
		}
		r.log.Info("queue agent answered", "call", a.CallID, "agent", a.Agent, "purpose", a.Purpose.String())
		if rec := r.calls[a.CallID]; rec != nil {
			rec.agents = append(rec.agents, a.Agent)
		}
		r.watchAgent(conn)
		r.exec(acts, a.CallID)
	})
}

func causeReason(c sip.Cause) string {
	switch c {
	case sip.CauseNoAnswer, sip.CauseCancelled:
		return "no-answer"
	case sip.CauseBusy:
		return "busy"
	case sip.CauseRejected:
		return "rejected"
	case sip.CauseUnreachable:
		return "unreachable"
	}
	return "failed"
}

// watchAgent follows an answered agent leg: its hangup, feature-code
// digits and transfer requests.
func (r *Runner) watchAgent(conn *agentConn) {
	leg := conn.leg
	code := []rune(r.cfg.FeatureCodes.Escalate)
	r.wg.Go(func() {
		evs := leg.Events()
		var digits []rune
		var last time.Time
		for {
			select {
			case <-leg.Done():
				r.agentEnded(conn)
				return
			case <-r.base.Done():
				return
			case ev, ok := <-evs:
				if !ok {
					evs = nil
					continue
				}
				switch ev := ev.(type) {
				case sip.HoldEvent:
					// The agent's phone held the caller: nothing to decide,
					// but the caller hears music meanwhile, not silence.
					r.agentHold(conn, ev.Hold)
				case sip.TransferEvent:
					r.agentTransfer(conn, ev)
				case sip.DigitEvent:
					if !last.IsZero() && ev.At.Sub(last) > 3*time.Second {
						digits = digits[:0]
					}
					last = ev.At
					digits = append(digits, ev.Digit)
					if len(digits) > len(code) {
						digits = digits[len(digits)-len(code):]
					}
					if len(code) > 0 && string(digits) == string(code) {
						digits = digits[:0]
						r.mu.Lock()
						if r.conns[conn.agent] == conn && !conn.detached && !r.closed {
							acts, err := r.escalate(conn.callID, conn.agent, Escalation{Mode: "code"})
							if err != nil {
								r.log.Info("queue escalation by code refused", "call", conn.callID, "agent", conn.agent, "error", err)
							}
							r.exec(acts, conn.callID)
						}
						r.mu.Unlock()
					}
				default: // sip.Event is a closed set
					panic(fmt.Sprintf("queue: unknown sip event %T", ev))
				}
			}
		}
	})
}

// agentHold plays the queue's music to the caller while the agent's phone
// holds the call (re-INVITE sendonly/inactive), and stops it on resume;
// the bridge goes on underneath.
func (r *Runner) agentHold(conn *agentConn, hold bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.calls[conn.callID]
	if r.closed || r.conns[conn.agent] != conn || conn.detached || rec == nil || rec.leg == nil || rec.bridge == nil {
		return
	}
	r.log.Info("queue agent hold", "call", conn.callID, "agent", conn.agent, "hold", hold)
	if !hold {
		_ = rec.leg.StopMOH()
		return
	}
	class := rec.moh
	if class == "" {
		class = r.cfg.DefaultMOH
	}
	if err := rec.leg.StartMOH(class); err != nil && !errors.Is(err, sip.ErrHangup) {
		_ = rec.leg.StartMOH(r.cfg.DefaultMOH)
	}
}

// agentEnded reports an agent leg that ended without the Runner's doing.
func (r *Runner) agentEnded(conn *agentConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns[conn.agent] != conn || conn.detached || r.closed {
		return
	}
	if end, _ := conn.leg.Ended(); end.Detached {
		// The switch let go of the call (hotline stopping, the call goes
		// on in Asterisk): nothing happened to it that could be recorded.
		return
	}
	delete(r.conns, conn.agent)
	c, ok := r.eng.CallState(conn.callID)
	if !ok {
		return
	}
	rec := r.calls[conn.callID]
	var acts []Action
	var err error
	switch {
	case c.Agent == conn.agent && c.State == callStateNames[stDialing]:
		if rec != nil && rec.dial != nil {
			rec.dial.cancel() // the dial reports CallbackFailed
		}
		return
	case c.Agent == conn.agent:
		r.log.Info("queue agent hung up", "call", conn.callID, "agent", conn.agent)
		acts, err = r.eng.Hangup(conn.callID, ByAgent)
	case c.Consultant == conn.agent:
		r.log.Info("queue consultant hung up", "call", conn.callID, "agent", conn.agent)
		acts, err = r.eng.ConsultCancel(conn.callID)
	default:
		return
	}
	if err != nil {
		r.log.Warn("queue agent hangup not taken", "call", conn.callID, "agent", conn.agent, "error", err)
	}
	r.exec(acts, conn.callID)
}

// agentTransfer handles a REFER from an agent's phone: a transfer to the
// escalation number escalates the call (blind); anything else is refused.
func (r *Runner) agentTransfer(conn *agentConn, t sip.TransferEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.conns[conn.agent] != conn || conn.detached || r.cfg.EscalationNumber == "" || t.Target != r.cfg.EscalationNumber {
		r.log.Info("queue transfer refused", "call", conn.callID, "agent", conn.agent, "target", r.mask(t.Target))
		t.Reply(false)
		return
	}
	acts, err := r.escalate(conn.callID, conn.agent, Escalation{Mode: "blind"})
	if err != nil {
		r.log.Info("queue escalation by transfer refused", "call", conn.callID, "agent", conn.agent, "error", err)
		t.Reply(false)
		return
	}
	// Accept (NOTIFY 200) before the ReleaseAgent action hangs the phone up.
	t.Reply(true)
	r.exec(acts, conn.callID)
}

// escalate is the Engine's Escalate on behalf of agentID (empty: the API,
// whoever is connected), with the configured default second-line queue.
// The caller executes the actions. r.mu held.
func (r *Runner) escalate(callID, agentID string, x Escalation) ([]Action, error) {
	c, ok := r.eng.CallState(callID)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownCall, callID)
	}
	if agentID != "" && (c.Agent != agentID || c.State != callStateNames[stConnected]) {
		return nil, fmt.Errorf("%w: agent %q is not connected to call %q", ErrState, agentID, callID)
	}
	if to, _ := r.eng.EscalatesTo(callID); x.Queue == "" && to == "" {
		x.Queue = r.cfg.EscalationQueue
	}
	from := c.Agent
	acts, err := r.eng.Escalate(callID, x)
	if err != nil {
		return nil, err
	}
	r.log.Info("queue call escalated", "call", callID, "agent", from, "mode", x.Mode)
	return acts, nil
}

// releaseAgent unbridges and hangs up the agent's leg of callID.
func (r *Runner) releaseAgent(callID, agentID string) {
	conn := r.conns[agentID]
	if conn == nil || conn.callID != callID {
		return
	}
	if rec := r.calls[callID]; rec != nil {
		for _, b := range []**bridgeRun{&rec.bridge, &rec.consult} {
			if *b != nil && ((*b).a == conn.leg || (*b).b == conn.leg) {
				r.unbridge(b)
			}
		}
	}
	conn.detached = true
	delete(r.conns, agentID)
	_ = conn.leg.Hangup(sip.CauseNormal)
}

// ---- caller legs ----

// watchCaller reports the caller's hangup (once) and callback requests.
// Digits pressed before the queue took the call (the IVR menu choice is
// still in the leg's event stream) are not callback requests.
func (r *Runner) watchCaller(rec *callRec, leg sip.Leg) {
	since := time.Now()
	r.wg.Go(func() {
		evs := leg.Events()
		for {
			select {
			case <-leg.Done():
				r.callerEnded(rec, leg)
				return
			case <-r.base.Done():
				return
			case ev, ok := <-evs:
				if !ok {
					evs = nil
					continue
				}
				switch ev := ev.(type) {
				case sip.DigitEvent:
					if ev.At.Before(since) {
						continue
					}
					r.callerDigit(rec, leg, ev.Digit)
				case sip.TransferEvent:
					ev.Reply(false)
				case sip.HoldEvent:
					// A caller's hold changes nothing in the queue.
				default: // sip.Event is a closed set
					panic(fmt.Sprintf("queue: unknown sip event %T", ev))
				}
			}
		}
	})
}

func (r *Runner) callerEnded(rec *callRec, leg sip.Leg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls[rec.id] != rec || rec.leg != leg || r.closed {
		return // hung up by the Runner, or handed off
	}
	if end, _ := leg.Ended(); end.Detached {
		return // the switch let go of the call; see agentEnded
	}
	rec.leg = nil
	r.log.Info("queue caller hung up", "call", rec.id)
	acts, err := r.eng.Hangup(rec.id, ByCaller)
	if err != nil {
		r.log.Warn("queue caller hangup not taken", "call", rec.id, "error", err)
	}
	r.exec(acts, rec.id)
}

func (r *Runner) callerDigit(rec *callRec, leg sip.Leg, d rune) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls[rec.id] != rec || rec.leg != leg || r.closed {
		return
	}
	c, ok := r.eng.CallState(rec.id)
	if !ok || c.Callback || (c.State != callStateNames[stWaiting] && c.State != callStateNames[stOffering]) {
		return
	}
	key, ok := r.cfg.CallbackKeys[c.Queue]
	if !ok || key != d {
		return
	}
	acts, err := r.eng.RequestCallback(rec.id, "")
	if err != nil {
		r.log.Info("queue callback refused", "call", rec.id, "error", err)
		return
	}
	r.log.Info("queue callback requested", "call", rec.id)
	r.exec(acts, rec.id)
}

func (r *Runner) mohClass(class string) string {
	if class == "" {
		return r.cfg.DefaultMOH
	}
	return class
}

func (r *Runner) startMOH(callID, class string) {
	rec := r.calls[callID]
	if rec == nil {
		return
	}
	r.stopPlay(rec)
	r.unbridge(&rec.bridge)
	rec.moh = r.mohClass(class)
	if rec.leg == nil {
		return
	}
	if err := rec.leg.StartMOH(rec.moh); err != nil && !errors.Is(err, sip.ErrHangup) {
		r.log.Warn("queue moh failed", "call", callID, "class", rec.moh, "error", err)
		if rec.moh != r.cfg.DefaultMOH {
			_ = rec.leg.StartMOH(r.cfg.DefaultMOH)
		}
	}
}

func (r *Runner) stopPlay(rec *callRec) {
	rec.then = nil
	if rec.play != nil {
		rec.play.cancel()
		rec.play = nil
	}
}

// announce plays the position and estimated wait, then resumes the music.
func (r *Runner) announce(a Announce) {
	rec := r.calls[a.CallID]
	if rec == nil || rec.leg == nil || rec.bridge != nil {
		return
	}
	names := AnnouncementPrompts(a.Position, a.EWT)
	prompts := make([]sip.Prompt, len(names))
	for i, n := range names {
		prompts[i] = sip.Prompt{Name: n, Lang: a.Lang}
	}
	r.playThenMOH(rec, a.CallID, prompts)
}

// afterPlay queues prompts to follow what rec is playing (r.mu held).
func (r *Runner) afterPlay(rec *callRec, prompts []sip.Prompt) {
	rec.then = append(rec.then, prompts...)
}

// playThenMOH plays prompts to the waiting caller (replacing what played),
// then what afterPlay queued meanwhile, then resumes the music (r.mu held).
func (r *Runner) playThenMOH(rec *callRec, callID string, prompts []sip.Prompt) {
	r.stopPlay(rec)
	rec.then = nil
	ctx, cancel := context.WithCancel(r.base)
	run := &playRun{cancel: cancel}
	rec.play = run
	leg := rec.leg
	r.wg.Go(func() {
		defer cancel()
		_, err := leg.Play(ctx, sip.PlayOptions{Prompts: prompts})
		if err != nil && ctx.Err() == nil && !errors.Is(err, sip.ErrHangup) {
			r.log.Warn("queue announcement failed", "call", callID, "error", err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if rec.play == run {
			rec.play = nil
			if rec.leg == leg && r.calls[callID] == rec && !r.closed {
				if next := rec.then; len(next) > 0 && ctx.Err() == nil {
					r.playThenMOH(rec, callID, next)
					return
				}
				_ = leg.StartMOH(rec.moh)
			}
		}
	})
}

// hangupCaller plays the prompt (if any) and hangs the caller up. The leg
// is detached first, so its end is not reported as an abandon.
func (r *Runner) hangupCaller(a HangupCaller) {
	rec := r.calls[a.CallID]
	if rec == nil || rec.leg == nil {
		return
	}
	r.stopPlay(rec)
	r.unbridge(&rec.bridge)
	leg := rec.leg
	rec.leg = nil
	r.log.Info("queue caller hung up by hotline", "call", a.CallID, "reason", a.Reason)
	var stored chan struct{}
	if a.Callback != nil && r.cfg.Callbacks != nil {
		// The dial waits for the store, so that the callback's outcome
		// never reaches the store before the callback does.
		stored = make(chan struct{})
		rec.stored = stored
	}
	r.wg.Go(func() {
		if stored != nil {
			defer func() {
				select {
				case <-stored:
				default:
					close(stored)
				}
			}()
		}
		if a.Callback != nil && r.cfg.Callbacks != nil {
			// Durable before the caller is told: a crash after the
			// confirmation does not lose the promise.
			ctx, cancel := context.WithTimeout(r.base, 15*time.Second)
			if err := r.cfg.Callbacks.StoreCallback(ctx, *a.Callback); err != nil {
				r.log.Error("queue callback not stored: it lives in memory only until it is made", "call", a.CallID, "error", err)
			}
			cancel()
			close(stored)
		}
		if a.Prompt != "" {
			ctx, cancel := context.WithTimeout(r.base, 2*time.Minute)
			_ = leg.StopMOH()
			if _, err := leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: a.Prompt, Lang: a.Lang}}}); err != nil &&
				!errors.Is(err, sip.ErrHangup) && ctx.Err() == nil {
				r.log.Warn("queue closing prompt failed", "call", a.CallID, "prompt", a.Prompt, "error", err)
			}
			cancel()
		}
		_ = leg.Hangup(sip.CauseNormal)
	})
}

// ---- bridges ----

func (r *Runner) startBridge(a, b sip.Leg, what, callID string) *bridgeRun {
	ctx, cancel := context.WithCancel(r.base)
	br := &bridgeRun{cancel: cancel, done: make(chan struct{}), a: a, b: b}
	r.wg.Go(func() {
		defer close(br.done)
		defer cancel()
		if err := a.Bridge(ctx, b); err != nil && ctx.Err() == nil && !errors.Is(err, sip.ErrHangup) {
			r.log.Warn("queue bridge failed", "call", callID, "bridge", what, "error", err)
		}
	})
	return br
}

// unbridge cancels a bridge and waits until both legs are unbridged
// (Bridge returns at once on cancellation).
func (r *Runner) unbridge(b **bridgeRun) {
	if *b == nil {
		return
	}
	(*b).cancel()
	<-(*b).done
	*b = nil
}

func (r *Runner) bridgeCall(a Bridge) {
	rec := r.calls[a.CallID]
	conn := r.conns[a.Agent]
	if rec == nil || rec.leg == nil || conn == nil {
		r.log.Warn("queue bridge: a leg is missing", "call", a.CallID, "agent", a.Agent)
		return
	}
	r.stopPlay(rec)
	r.unbridge(&rec.bridge)
	if rec.consult != nil && (rec.consult.a == conn.leg || rec.consult.b == conn.leg) {
		r.unbridge(&rec.consult)
	}
	conn.callID = a.CallID
	rec.bridge = r.startBridge(rec.leg, conn.leg, "call", a.CallID)
}

func (r *Runner) consultBridge(a ConsultBridge) {
	rec := r.calls[a.CallID]
	first, second := r.conns[a.Agent], r.conns[a.Consultant]
	if rec == nil || first == nil || second == nil {
		r.log.Warn("queue consult bridge: a leg is missing", "call", a.CallID, "agent", a.Agent, "consultant", a.Consultant)
		return
	}
	r.unbridge(&rec.consult)
	if rec.bridge != nil && (rec.bridge.b == first.leg || rec.bridge.a == first.leg) {
		r.unbridge(&rec.bridge)
	}
	rec.consult = r.startBridge(first.leg, second.leg, "consult", a.CallID)
}

// ---- callbacks ----

func (r *Runner) dialCallback(a DialCallback) {
	rec := r.calls[a.CallID]
	if rec == nil {
		return
	}
	if conn := r.conns[a.Agent]; conn != nil {
		_ = conn.leg.StartMOH(r.cfg.DefaultMOH) // the agent waits for the caller
	}
	ctx, cancel := context.WithCancel(r.base)
	run := &dialRun{cancel: cancel}
	rec.dial = run
	stored := rec.stored
	r.log.Info("queue callback dial", "call", a.CallID, "number", r.mask(a.Number), "attempt", a.Attempt)
	r.wg.Go(func() {
		defer cancel()
		if stored != nil {
			select {
			case <-stored:
			case <-ctx.Done():
			}
		}
		var leg sip.Leg
		var err error
		refused := false
		if r.cfg.CallbackGate != nil {
			if gerr := r.cfg.CallbackGate.AllowCallback(ctx, a.CallID, a.Number, a.Trunk); gerr != nil {
				r.log.Warn("queue callback dial refused by the dialling policy", "call", a.CallID, "number", r.mask(a.Number), "error", gerr)
				err, refused = gerr, true
			}
		}
		if !refused {
			leg, err = r.sw.Dial(ctx, sip.Target{Number: a.Number, Trunk: r.cfg.CallbackTrunk, CallerID: r.cfg.CallbackCallerID, RingTimeout: a.Timeout,
				Headers: map[string]string{"X-Hotline-Purpose": "callback", "X-Hotline-Call": a.CallID}})
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.calls[a.CallID] != rec || rec.dial != run || r.closed {
			if leg != nil {
				_ = leg.Hangup(sip.CauseNormal)
			}
			return
		}
		rec.dial = nil
		if conn := r.conns[a.Agent]; a.Agent != "" && (conn == nil || conn.callID != a.CallID) {
			// The reserved agent hung up while the caller was dialled.
			if leg != nil {
				_ = leg.Hangup(sip.CauseNormal)
				leg = nil
			}
			err = errors.New("queue: the agent left")
		}
		if err != nil {
			reason := causeReason(sip.CauseOf(err))
			switch {
			case refused && errors.Is(err, ErrDialDeferred):
				reason = "deferred"
			case refused:
				reason = "refused"
			case reason == "rejected" || reason == "unreachable" || a.Agent != "" && r.conns[a.Agent] == nil:
				reason = "failed"
			}
			acts, ierr := r.eng.CallbackFailed(a.CallID, reason)
			if ierr != nil {
				r.log.Warn("queue callback failure not taken", "call", a.CallID, "error", ierr)
			}
			r.exec(acts, a.CallID)
			return
		}
		rec.leg = leg
		acts, ierr := r.eng.CallbackAnswered(a.CallID)
		if ierr != nil {
			rec.leg = nil
			_ = leg.Hangup(sip.CauseNormal)
			r.log.Warn("queue callback answer not taken", "call", a.CallID, "error", ierr)
			r.exec(acts, a.CallID)
			return
		}
		r.watchCaller(rec, leg)
		r.exec(acts, a.CallID)
	})
}

// offerCallback plays the callback offer to a waiting caller, then
// resumes the music, like an announcement.
func (r *Runner) offerCallback(a OfferCallback) {
	rec := r.calls[a.CallID]
	if rec == nil || rec.leg == nil || rec.bridge != nil {
		return
	}
	if _, ok := r.cfg.CallbackKeys[a.Queue]; !ok {
		return // no key to press: nothing to offer
	}
	prompt := r.cfg.CallbackOfferPrompts[a.Queue]
	if prompt == "" {
		prompt = "hotline/callback-offer"
	}
	if rec.play != nil {
		// An announcement is playing: the offer follows it.
		r.afterPlay(rec, []sip.Prompt{{Name: prompt, Lang: a.Lang}})
		return
	}
	r.playThenMOH(rec, a.CallID, []sip.Prompt{{Name: prompt, Lang: a.Lang}})
}

// EnqueueCallback hands a durable callback (package queue/callback) to the
// Engine at the caller's original place (Engine.EnqueueCallback). A
// callback the Runner has live is ErrDuplicate.
func (r *Runner) EnqueueCallback(cb CallbackCall) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if r.calls[cb.ID] != nil {
		return fmt.Errorf("%w: %q", ErrDuplicate, cb.ID)
	}
	rec := &callRec{id: cb.ID, queue: cb.Queue}
	r.calls[cb.ID] = rec
	acts, err := r.eng.EnqueueCallback(cb)
	if err != nil {
		delete(r.calls, cb.ID)
		return err
	}
	r.log.Info("queue callback queued", "call", cb.ID, "number", r.mask(cb.Number), "queue", cb.Queue, "attempts", cb.Attempts)
	r.exec(acts, cb.ID)
	return nil
}

// WithdrawCallback takes a callback waiting in line out of the Engine for
// its durable job to hand back later (Engine.WithdrawCallback).
func (r *Runner) WithdrawCallback(callID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	acts, err := r.eng.WithdrawCallback(callID)
	if err != nil {
		return err
	}
	r.log.Info("queue callback withdrawn until calling hours", "call", callID)
	r.exec(acts, callID)
	return nil
}

// CancelCallback withdraws a queued callback (its number was erased): a
// callback waiting in line or between attempts ends (call.finished
// callback-cancelled). One being dialled is not stopped (ErrState).
func (r *Runner) CancelCallback(callID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	c, ok := r.eng.CallState(callID)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownCall, callID)
	}
	if !c.Callback {
		return fmt.Errorf("%w: call %q is not a callback", ErrState, callID)
	}
	acts, err := r.eng.Hangup(callID, ByCaller)
	if err != nil {
		return err
	}
	r.log.Info("queue callback cancelled", "call", callID)
	r.exec(acts, callID)
	return nil
}

// ---- helpers ----

// recentCalls remembers finished calls (and their agents) for
// dispositions, bounded.
type recentCalls struct {
	max   int
	order []string
	calls map[string][]string
}

func newRecentCalls(n int) *recentCalls {
	return &recentCalls{max: n, calls: map[string][]string{}}
}

func (rc *recentCalls) add(id string, agents []string) {
	if _, ok := rc.calls[id]; ok {
		rc.calls[id] = append(rc.calls[id], agents...)
		return
	}
	rc.calls[id] = agents
	rc.order = append(rc.order, id)
	if len(rc.order) > rc.max {
		delete(rc.calls, rc.order[0])
		rc.order = rc.order[1:]
	}
}
