package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
)

// Outcome says how the IVR part of a call ended.
type Outcome string

// Outcomes.
const (
	OutcomeQueue        Outcome = "queue"         // handed to Result.Queue
	OutcomeMessage      Outcome = "message"       // closing message played, hung up; Result.Reason says why
	OutcomeHangup       Outcome = "hangup"        // a hangup node ended the call; Result.Reason
	OutcomeCallback     Outcome = "callback"      // a callback request was recorded, hung up
	OutcomeCallerHangup Outcome = "caller-hangup" // the caller hung up during the IVR
)

// Result is what the IVR decided. For OutcomeQueue it is also the hand-over
// to the queue: the queue's name, the priority, what the caller entered,
// the prompt language and the path through the flow.
type Result struct {
	Outcome  Outcome
	CallID   string
	Queue    string // OutcomeQueue; OutcomeCallback: the queue to call back for
	Priority int
	Reason   string // OutcomeMessage, OutcomeHangup, OutcomeCallback
	Lang     string
	Vars     map[string]string // collected values by var name
	Path     []string          // "flow/node" in visiting order
	Caller   Caller
	History  *CallerHistory // the caller card, when a lookup node ran
	// Handed is set when Run handed the call to the Enqueuer.
	Handed bool
}

// Enqueuer takes a call off the IVR's hands (the queue side implements it).
// Enqueue returns once the queue has accepted the call, not when an agent
// answers; the leg stays up.
type Enqueuer interface {
	Enqueue(ctx context.Context, leg sip.Leg, r Result) error
}

// CallbackRequest asks for a call back in working hours.
type CallbackRequest struct {
	CallID   string
	Number   string // E.164
	Trunk    string // the trunk the call came in on (the leg's)
	Queue    string
	Priority int
	Lang     string
	Vars     map[string]string
	At       time.Time
}

// Callbacks records callback requests (the queue or survey side implements it).
type Callbacks interface {
	RequestCallback(ctx context.Context, r CallbackRequest) error
}

// Call is the IVR's state of one call; Run fills it as the caller moves.
type Call struct {
	// ID is the call's ID in events; the leg's ID when empty.
	ID string
	// Flow is the entry flow (chosen by the wiring from the called number).
	Flow string
	// Caller is normalized from the leg's From when Caller.Raw is empty.
	Caller   Caller
	Lang     string
	Priority int
	Vars     map[string]string
	Path     []string
	History  *CallerHistory
}

// ExecutorConfig wires an Executor.
type ExecutorConfig struct {
	Flows     *Flows
	Publisher eventlog.Publisher // required
	History   History            // required when a flow has a lookup node
	Enqueuer  Enqueuer           // nil: Run only returns the Result for the wiring to hand over
	Callbacks Callbacks          // required when a flow has a callback node
	Clock     Clock              // nil: the system clock
	Logger    *slog.Logger       // nil: slog.Default()
	// NewID makes event IDs (the bus's generator in serve); nil: an
	// eventlog.IDs of the executor's own.
	NewID func() string
	// MaxSteps bounds the nodes one call may visit (a guard against a
	// caller going round menus forever); 0 means 200. Past it the call
	// goes to the default queue.
	MaxSteps int
}

// Executor runs flows on legs. It is safe for concurrent use; a config
// reload builds a new Executor while calls in progress finish on the old.
type Executor struct {
	cfg ExecutorConfig
	// history tracks whether the caller history answers, so that an
	// outage is logged once (and its end once), not on every call.
	history historyHealth
}

// historyHealth is whether the History's latest lookup failed.
type historyHealth struct {
	mu   sync.Mutex
	down bool
}

// set records the latest lookup's outcome and tells whether it changed
// the state (the first failure of an outage, the first success after it).
func (h *historyHealth) set(down bool) (changed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	changed = h.down != down
	h.down = down
	return changed
}

// NewExecutor returns an Executor. It refuses flows that use a feature
// whose dependency cfg lacks (a lookup node without History, a callback
// node without Callbacks): such a node would do nothing for the caller.
// The error names the file and line of each (ConfigErrors).
func NewExecutor(cfg ExecutorConfig) (*Executor, error) {
	if err := cfg.missingDeps(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = 200
	}
	if cfg.Publisher == nil {
		cfg.Publisher = eventlog.PublisherFunc(func(eventlog.Event) {})
	}
	if cfg.NewID == nil {
		cfg.NewID = eventlog.NewIDs("").Next
	}
	return &Executor{cfg: cfg}, nil
}

// missingDeps lists the nodes whose dependency is not wired.
func (cfg ExecutorConfig) missingDeps() error {
	if cfg.Flows == nil {
		return errors.New("ivr: executor without flows")
	}
	var errs ConfigErrors
	for _, name := range slices.Sorted(maps.Keys(cfg.Flows.Flows)) {
		fl := cfg.Flows.Flows[name]
		for _, nn := range slices.Sorted(maps.Keys(fl.Nodes)) {
			nd := fl.Nodes[nn]
			switch {
			case nd.Type == NodeLookup && cfg.History == nil:
				errs = append(errs, &ConfigError{File: cfg.Flows.File, Line: nd.Line,
					Msg: fmt.Sprintf("ivr.flows.%s.%s: a lookup node needs the caller history (the reporting database: set database.url)", name, nn)})
			case nd.Type == NodeCallback && cfg.Callbacks == nil:
				errs = append(errs, &ConfigError{File: cfg.Flows.File, Line: nd.Line,
					Msg: fmt.Sprintf("ivr.flows.%s.%s: a callback node needs a callback service (durable callbacks: set database.url)", name, nn)})
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *ConfigError) int { return a.Line - b.Line })
	return errs
}

// errCallerHangup ends a run when the leg is gone.
var errCallerHangup = errors.New("ivr: caller hung up")

// run is one call's execution.
type run struct {
	e    *Executor
	leg  sip.Leg
	call *Call
	log  *slog.Logger
	// typedAhead is set when the caller barged into a prompt: the digit
	// waits in the leg's buffer, so the next menu or collect skips its
	// prompt and reads it.
	typedAhead bool
}

// Run answers the leg and executes call.Flow until the call is handed to a
// queue, ended by the flow, or the caller hangs up (which is a Result, not
// an error). It returns an error for an unknown flow, a leg that fails
// otherwise, a cancelled ctx, or a queue hand-over that failed even to the
// default queue; the wiring then ends the call.
func (e *Executor) Run(ctx context.Context, leg sip.Leg, call *Call) (Result, error) {
	info := leg.Info()
	if call.ID == "" {
		call.ID = info.ID
	}
	if call.Caller.Raw == "" && call.Caller.E164 == "" && !call.Caller.Anonymous {
		call.Caller = NormalizeCaller(info.From, e.cfg.Flows.Region)
	}
	if call.Lang == "" {
		call.Lang = e.cfg.Flows.Language
	}
	if call.Vars == nil {
		call.Vars = map[string]string{}
	}
	r := &run{e: e, leg: leg, call: call, log: e.cfg.Logger.With("call", call.ID, "flow", call.Flow)}
	fl, ok := e.cfg.Flows.Flow(call.Flow)
	if !ok {
		return Result{}, fmt.Errorf("ivr: unknown flow %q", call.Flow)
	}
	if err := leg.Answer(ctx); err != nil {
		if errors.Is(err, sip.ErrHangup) {
			return r.result(OutcomeCallerHangup), nil
		}
		return Result{}, fmt.Errorf("ivr: answer: %w", err)
	}
	res, err := r.flow(ctx, fl)
	if errors.Is(err, errCallerHangup) || errors.Is(err, sip.ErrHangup) {
		r.log.Info("caller hung up in ivr", "path", call.Path)
		return r.result(OutcomeCallerHangup), nil
	}
	return res, err
}

func (r *run) result(o Outcome) Result {
	return Result{
		Outcome:  o,
		CallID:   r.call.ID,
		Priority: r.call.Priority,
		Lang:     r.call.Lang,
		Vars:     maps.Clone(r.call.Vars),
		Path:     append([]string(nil), r.call.Path...),
		Caller:   r.call.Caller,
		History:  r.call.History,
	}
}

// event is an event of this call.
func (r *run) event(t eventlog.Type, reason string) eventlog.Event {
	return eventlog.Event{Type: t, CallID: r.call.ID, Caller: r.call.Caller.ID(), Reason: reason}
}

// emit stamps and publishes e.
func (r *run) emit(e eventlog.Event) {
	e.ID, e.At = r.e.cfg.NewID(), r.e.cfg.Clock.Now().UTC()
	r.e.cfg.Publisher.Publish(e)
}

// flow walks the graph from fl's start.
func (r *run) flow(ctx context.Context, fl *Flow) (Result, error) {
	nd := fl.Nodes[fl.Start]
	for step := 0; ; step++ {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		select {
		case <-r.leg.Done():
			return Result{}, errCallerHangup
		default:
		}
		if step >= r.e.cfg.MaxSteps {
			r.log.Warn("ivr step limit reached", "steps", step, "default_queue", r.e.cfg.Flows.DefaultQueue)
			if r.e.cfg.Flows.DefaultQueue == "" {
				return r.finish(ctx, nd, OutcomeHangup, nil, "step-limit")
			}
			return r.toQueue(ctx, fl, nd, r.e.cfg.Flows.DefaultQueue, 0, "step-limit")
		}
		r.call.Path = append(r.call.Path, fl.Name+"/"+nd.Name)
		next, nextFlow, res, done, err := r.node(ctx, fl, nd)
		if err != nil || done {
			return res, err
		}
		if nextFlow != nil {
			fl = nextFlow
		}
		nd = fl.Nodes[next]
	}
}

func (r *run) nodeEvent(fl *Flow, nd *Node) eventlog.Event {
	return r.event(eventlog.IVRNode, "").WithString(eventlog.KeyFlow, fl.Name).WithString(eventlog.KeyNode, nd.Name).
		WithString(eventlog.KeyNodeType, string(nd.Type))
}

// node executes one node and says where to go next, or returns the result.
func (r *run) node(ctx context.Context, fl *Flow, nd *Node) (next string, nextFlow *Flow, res Result, done bool, err error) {
	switch nd.Type {
	case NodePlay:
		r.emit(r.nodeEvent(fl, nd))
		_, err = r.play(ctx, nd.Prompts, nd.BargeIn)
		return nd.Next.Node, nil, res, false, err
	case NodeMenu:
		r.emit(r.nodeEvent(fl, nd))
		return r.menu(ctx, fl, nd)
	case NodeCollect:
		r.emit(r.nodeEvent(fl, nd))
		return r.collect(ctx, fl, nd)
	case NodeLanguage:
		r.emit(r.nodeEvent(fl, nd))
		r.call.Lang = nd.Lang
		r.emit(r.event(eventlog.IVRLanguage, "").WithString(eventlog.KeyLang, nd.Lang).WithString(eventlog.KeyNode, nd.Name))
		return nd.Next.Node, nil, res, false, nil
	case NodeHours:
		open := nd.Schedule.Open(r.e.cfg.Clock.Now())
		r.emit(r.nodeEvent(fl, nd).WithString(eventlog.KeySchedule, nd.Schedule.Name).WithString(eventlog.KeyOpen, strconv.FormatBool(open)))
		if open {
			return nd.Open.Node, nil, res, false, nil
		}
		return nd.Closed.Node, nil, res, false, nil
	case NodeLookup:
		return r.lookup(ctx, fl, nd)
	case NodeQueue:
		r.emit(r.nodeEvent(fl, nd).WithString(eventlog.KeyQueue, nd.Queue).WithInt(eventlog.KeyPriority, max(nd.Priority, r.call.Priority)))
		if _, err := r.play(ctx, nd.Prompts, false); err != nil {
			return "", nil, res, true, err
		}
		res, err = r.toQueue(ctx, fl, nd, nd.Queue, nd.Priority, "")
		return "", nil, res, true, err
	case NodeMessage:
		r.emit(r.nodeEvent(fl, nd))
		res, err = r.finish(ctx, nd, OutcomeMessage, nd.Prompts, nd.Reason)
		return "", nil, res, true, err
	case NodeHangup:
		r.emit(r.nodeEvent(fl, nd))
		res, err = r.finish(ctx, nd, OutcomeHangup, nil, nd.Reason)
		return "", nil, res, true, err
	case NodeCallback:
		r.emit(r.nodeEvent(fl, nd))
		return r.callback(ctx, fl, nd)
	case NodeGoto:
		r.emit(r.nodeEvent(fl, nd))
		if nd.GotoFlow != "" {
			other := r.e.cfg.Flows.Flows[nd.GotoFlow]
			return other.Start, other, res, false, nil
		}
		return nd.GotoNode.Node, nil, res, false, nil
	}
	return "", nil, res, true, fmt.Errorf("ivr: node %s: unknown type %q", nd.Name, nd.Type)
}

// play plays prompts in the call's language; with bargeIn a digit stops
// the playback and stays in the leg's buffer for the next read.
func (r *run) play(ctx context.Context, refs []PromptRef, bargeIn bool) (rune, error) {
	if len(refs) == 0 {
		return 0, nil
	}
	ps := make([]sip.Prompt, len(refs))
	for i, p := range refs {
		ps[i] = p.prompt(r.call.Lang)
	}
	d, err := r.leg.Play(ctx, sip.PlayOptions{Prompts: ps, StopOnDigit: bargeIn})
	if err != nil {
		return 0, r.legErr(err)
	}
	if d != 0 {
		r.typedAhead = true
	}
	return d, nil
}

func (r *run) legErr(err error) error {
	if errors.Is(err, sip.ErrHangup) {
		return errCallerHangup
	}
	return err
}

func (r *run) menu(ctx context.Context, fl *Flow, nd *Node) (string, *Flow, Result, bool, error) {
	var pre []PromptRef
	for try := 1; try <= nd.Tries; try++ {
		if !r.typedAhead {
			prompts := append(append([]PromptRef(nil), pre...), nd.Prompts...)
			if _, err := r.play(ctx, prompts, nd.BargeIn); err != nil {
				return "", nil, Result{}, true, err
			}
		}
		r.typedAhead = false
		digits, err := r.leg.ReadDigits(ctx, sip.DigitOptions{Max: 1, FirstTimeout: nd.Timeout})
		if err != nil {
			return "", nil, Result{}, true, r.legErr(err)
		}
		if digits == "" {
			r.emit(r.event(eventlog.IVRTimeout, "").WithString(eventlog.KeyNode, nd.Name).WithInt(eventlog.KeyTry, try))
			pre = nd.TimeoutPrompts
			continue
		}
		if t, ok := nd.Options[[]rune(digits)[0]]; ok {
			r.emit(r.event(eventlog.IVRDigits, "").WithString(eventlog.KeyNode, nd.Name).WithString(eventlog.KeyDigits, digits))
			return t.Node, nil, Result{}, false, nil
		}
		r.emit(r.event(eventlog.IVRInvalid, "").WithString(eventlog.KeyNode, nd.Name).WithString(eventlog.KeyDigits, digits).WithInt(eventlog.KeyTry, try))
		r.leg.FlushDigits()
		pre = nd.InvalidPrompts
	}
	return r.afterTries(ctx, fl, nd, pre)
}

// afterTries plays the last invalid/timeout prompt and takes the fallback.
func (r *run) afterTries(ctx context.Context, fl *Flow, nd *Node, last []PromptRef) (string, *Flow, Result, bool, error) {
	if _, err := r.play(ctx, last, false); err != nil {
		return "", nil, Result{}, true, err
	}
	if nd.Fallback.Node != "" {
		return nd.Fallback.Node, nil, Result{}, false, nil
	}
	res, err := r.toQueue(ctx, fl, nd, nd.FallbackQueue, 0, "max-tries")
	return "", nil, res, true, err
}

func (r *run) collect(ctx context.Context, fl *Flow, nd *Node) (string, *Flow, Result, bool, error) {
	var pre []PromptRef
	for try := 1; try <= nd.Tries; try++ {
		if !r.typedAhead {
			prompts := append(append([]PromptRef(nil), pre...), nd.Prompts...)
			if _, err := r.play(ctx, prompts, nd.BargeIn); err != nil {
				return "", nil, Result{}, true, err
			}
		}
		r.typedAhead = false
		digits, err := r.leg.ReadDigits(ctx, sip.DigitOptions{
			Max: nd.MaxDigits, FirstTimeout: nd.Timeout, InterTimeout: nd.InterTimeout, Terminator: nd.Terminator,
		})
		if err != nil {
			return "", nil, Result{}, true, r.legErr(err)
		}
		if digits == "" {
			r.emit(r.event(eventlog.IVRTimeout, "").WithString(eventlog.KeyNode, nd.Name).WithInt(eventlog.KeyTry, try))
			pre = nd.TimeoutPrompts
			continue
		}
		if len(digits) < nd.MinDigits || nd.Pattern != nil && !nd.Pattern.MatchString(digits) {
			r.emit(r.event(eventlog.IVRInvalid, "").WithString(eventlog.KeyNode, nd.Name).WithString(eventlog.KeyDigits, digits).WithInt(eventlog.KeyTry, try))
			r.leg.FlushDigits()
			pre = nd.InvalidPrompts
			continue
		}
		r.call.Vars[nd.Var] = digits
		r.emit(r.event(eventlog.IVRDigits, "").WithString(eventlog.KeyNode, nd.Name).WithString(eventlog.KeyDigits, digits))
		r.emit(r.event(eventlog.IVRCollect, "").WithString(eventlog.KeyNode, nd.Name).WithString(eventlog.KeyVar, nd.Var).WithString(eventlog.KeyValue, digits))
		return nd.Next.Node, nil, Result{}, false, nil
	}
	return r.afterTries(ctx, fl, nd, pre)
}

func (r *run) lookup(ctx context.Context, fl *Flow, nd *Node) (string, *Flow, Result, bool, error) {
	var h CallerHistory
	ev := r.nodeEvent(fl, nd)
	if !r.call.Caller.Anonymous && r.e.cfg.History != nil {
		lctx, cancel := context.WithTimeout(ctx, nd.Timeout)
		since := r.e.cfg.Clock.Now().AddDate(0, 0, -nd.Days)
		got, err := r.e.cfg.History.Lookup(lctx, r.call.Caller.E164, since)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return "", nil, Result{}, true, ctx.Err()
			}
			// Never keep the caller waiting on reporting: go on without
			// history (the node's timeout bounds the wait). Logged once
			// per outage; every call's event carries the error.
			if r.e.history.set(true) {
				r.log.Warn("caller history unavailable: calls go on without it (logged once until it answers again)", "err", err)
			} else {
				r.log.Debug("caller history lookup failed", "err", err)
			}
			ev = ev.WithString(eventlog.KeyError, err.Error())
		} else {
			if r.e.history.set(false) {
				r.log.Info("caller history answers again")
			}
			h = got
		}
	}
	r.call.History = &h
	ev = ev.WithInt(eventlog.KeyCalls, h.Calls)
	if h.OpenEscalation != nil {
		ev = ev.WithString(eventlog.KeyOpenEscalation, h.OpenEscalation.Queue)
	}
	now := r.e.cfg.Clock.Now()
	target := nd.Next.Node
	for i, b := range nd.Branches {
		if !b.matches(h, r.call.Caller, now) {
			continue
		}
		r.call.Priority = max(r.call.Priority, b.Priority)
		if b.Goto.Node != "" {
			ev = ev.WithInt(eventlog.KeyBranch, i+1)
			target = b.Goto.Node
			break
		}
	}
	r.emit(ev.WithInt(eventlog.KeyPriority, r.call.Priority))
	return target, nil, Result{}, false, nil
}

func (b Branch) matches(h CallerHistory, c Caller, now time.Time) bool {
	if b.Anonymous != nil && *b.Anonymous != c.Anonymous {
		return false
	}
	if b.OpenEscalation != nil && *b.OpenEscalation != (h.OpenEscalation != nil) {
		return false
	}
	if b.CalledWithin > 0 && (h.LastCallAt.IsZero() || now.Sub(h.LastCallAt) > b.CalledWithin) {
		return false
	}
	if b.CallsAtLeast > 0 && h.Calls < b.CallsAtLeast {
		return false
	}
	if b.LastOutcome != "" && h.LastOutcome != b.LastOutcome {
		return false
	}
	return true
}

// toQueue hands the call over, falling back to the default queue when the
// hand-over to q fails.
func (r *run) toQueue(ctx context.Context, fl *Flow, nd *Node, q string, prio int, why string) (Result, error) {
	res := r.result(OutcomeQueue)
	res.Queue = q
	res.Priority = max(prio, r.call.Priority)
	res.Reason = why
	// Digits typed ahead belong to the IVR, not to the queue's features.
	r.leg.FlushDigits()
	if r.e.cfg.Enqueuer == nil {
		return res, nil
	}
	err := r.e.cfg.Enqueuer.Enqueue(ctx, r.leg, res)
	if err == nil {
		res.Handed = true
		return res, nil
	}
	if errors.Is(err, sip.ErrHangup) {
		return res, errCallerHangup
	}
	dq := r.e.cfg.Flows.DefaultQueue
	if dq == "" || dq == q {
		return res, fmt.Errorf("ivr: enqueue %s: %w", q, err)
	}
	r.log.Error("enqueue failed; trying the default queue", "queue", q, "default", dq, "err", err)
	res.Queue = dq
	if err := r.e.cfg.Enqueuer.Enqueue(ctx, r.leg, res); err != nil {
		if errors.Is(err, sip.ErrHangup) {
			return res, errCallerHangup
		}
		return res, fmt.Errorf("ivr: enqueue %s and default %s: %w", q, dq, err)
	}
	res.Handed = true
	return res, nil
}

// finish plays closing prompts, records the reason and hangs up.
func (r *run) finish(ctx context.Context, nd *Node, o Outcome, prompts []PromptRef, reason string) (Result, error) {
	if _, err := r.play(ctx, prompts, false); err != nil {
		return Result{}, err
	}
	ev := r.event(eventlog.IVRMessage, reason).WithString(eventlog.KeyNode, nd.Name)
	if len(prompts) == 0 {
		ev = ev.WithString(eventlog.KeyPrompt, "none")
	}
	r.emit(ev)
	res := r.result(o)
	res.Reason = reason
	if err := r.leg.Hangup(sip.CauseNormal); err != nil && !errors.Is(err, sip.ErrHangup) {
		r.log.Warn("hangup failed", "err", err)
	}
	return res, nil
}

func (r *run) callback(ctx context.Context, fl *Flow, nd *Node) (string, *Flow, Result, bool, error) {
	if r.call.Caller.Anonymous {
		r.log.Info("callback requested by an anonymous caller", "why", r.call.Caller.Why)
		if nd.NoNumber.Node != "" {
			return nd.NoNumber.Node, nil, Result{}, false, nil
		}
		res, err := r.toQueue(ctx, fl, nd, r.fallbackQueue(nd), 0, "callback-anonymous")
		return "", nil, res, true, err
	}
	req := CallbackRequest{
		CallID: r.call.ID, Number: r.call.Caller.E164, Trunk: r.leg.Info().Trunk, Queue: r.fallbackQueue(nd), Priority: r.call.Priority,
		Lang: r.call.Lang, Vars: maps.Clone(r.call.Vars), At: r.e.cfg.Clock.Now().UTC(),
	}
	if r.e.cfg.Callbacks != nil {
		if err := r.e.cfg.Callbacks.RequestCallback(ctx, req); err != nil {
			r.log.Error("recording the callback request failed", "err", err)
			if nd.Fallback.Node != "" {
				return nd.Fallback.Node, nil, Result{}, false, nil
			}
			res, err := r.toQueue(ctx, fl, nd, r.fallbackQueue(nd), 0, "callback-failed")
			return "", nil, res, true, err
		}
	}
	r.emit(r.event(eventlog.IVRCallback, nd.Reason).WithString(eventlog.KeyNode, nd.Name).WithString(eventlog.KeyQueue, req.Queue))
	res, err := r.finish(ctx, nd, OutcomeCallback, nd.Prompts, nd.Reason)
	res.Queue = req.Queue
	return "", nil, res, true, err
}

func (r *run) fallbackQueue(nd *Node) string {
	if nd.Queue != "" {
		return nd.Queue
	}
	return r.e.cfg.Flows.DefaultQueue
}
