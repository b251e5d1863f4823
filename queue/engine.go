package queue

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// Clock tells the Engine the time. Tests use a fake one; production uses
// the wall clock (SystemClock). The Engine reads it once per input.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AgentStatus is an agent's state.
type AgentStatus int

// Agent states.
const (
	LoggedOut AgentStatus = iota
	Available
	Ringing // reserved for one call: its phone rings (or, for a callback, is about to)
	OnCall
	WrapUp
	Paused
)

var statusNames = [...]string{"logged-out", "available", "ringing", "on-call", "wrap-up", "paused"}

func (s AgentStatus) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// Party says who ended a bridged call.
type Party string

// Parties.
const (
	ByCaller Party = "caller"
	ByAgent  Party = "agent"
)

// Errors returned by inputs. They wrap with details; test with errors.Is.
var (
	ErrUnknownCall  = errors.New("queue: unknown call")
	ErrUnknownAgent = errors.New("queue: unknown agent")
	ErrUnknownQueue = errors.New("queue: unknown queue")
	ErrDuplicate    = errors.New("queue: call id already in use")
	ErrState        = errors.New("queue: not possible in the current state")
	// ErrStale: a ring or dial report for an offer the Engine has already
	// withdrawn (it timed out, the caller left). The Runner must hang up
	// any leg it answered for it.
	ErrStale = errors.New("queue: stale report")
)

// NewCall is a caller handed to a queue (by the IVR).
type NewCall struct {
	ID     string // unique among live calls (the caller leg's id)
	Caller string // E.164 or "anonymous"; used for callbacks
	// Trunk is the trunk the call came in on (the dialling policy checks a
	// callback's number came in through one); the leg's when empty.
	Trunk    string
	Queue    string
	Priority int // caller priority from the IVR, added to the queue's
	Lang     string
	// PreferredAgent, if logged in, is the only agent who may take the call
	// during PreferFor.
	PreferredAgent string
	PreferFor      time.Duration
	IVRPath        []string          // nodes the caller went through
	Data           map[string]string // caller lookup, history, collected values
	// Resumed is when a call that was already waiting in Queue joined it,
	// for a call taken over after a restart (sip.CallInfo.Resumed): it keeps
	// its place (ordered by that time) and its wait counts from then; its
	// queue.joined says resumed=1 so that it is not offered twice. Zero for
	// a new call.
	Resumed time.Time
}

// Escalation describes a first-line hand-over to second line.
type Escalation struct {
	Queue  string // second-line queue; empty means the call's queue's EscalateTo
	Reason string // reason code
	Notes  string
	Mode   string // blind | api | code (Escalate); warm is set by ConsultComplete
}

// Disposition is an agent's verdict on a finished call.
type Disposition struct {
	CallID   string
	Agent    string
	Result   string // resolved | not_resolved | escalated
	Code     string
	Notes    string
	NoSurvey bool
}

type callState uint8

const (
	stWaiting   callState = iota // in its queue's tree
	stOffering                   // ringing one or more agents
	stConnected                  // bridged with c.agent (consult: agent answered)
	stDialing                    // callback: agent reserved and answered, dialling the caller
	stParked                     // callback: waiting for the next attempt
	stEnded
)

var callStateNames = [...]string{"waiting", "offering", "connected", "dialing", "callback-parked", "ended"}

type callKind uint8

const (
	kCall callKind = iota
	kConsult
)

type call struct {
	id       string
	caller   string
	lang     string
	kind     callKind
	state    callState
	q        *queue
	parent   *call // consult: the call being escalated
	consult  *call // call: the running consultation
	basePrio int
	prio     int   // basePrio + q's priority
	class    uint8 // 1 = escalated
	orderAt  int64 // when the caller first joined a queue (escalations keep it)
	seq      uint64
	joinedNs int64 // when the call joined q
	resumeNs int64 // NewCall.Resumed, for its first join
	resumed  bool  // this join resumes a wait from before a restart
	counted  bool  // counted in q.size
	ewt      int   // estimate given at join, seconds
	hops     int

	preferred   *agent
	preferUntil int64
	restricted  bool
	inTree      bool

	left, right  *call
	tprio        uint32
	tsize, tfree int32

	ringing    []*agent
	ringStart  int64
	maxWaitDue bool
	agent      *agent
	answeredNs int64

	callback  bool
	cbNumber  string
	cbAttempt int
	cbReqNs   int64  // when the callback was requested (its own wait starts)
	trunk     string // the inbound call's trunk
	cbSource  string // key | max-wait | full | no-agents | ivr | restored
	// cbAnswered: caller first, the caller answered the callback and waits
	// at their place for an agent (a normal offer follows).
	cbAnswered bool

	escalatedNs int64
	escMode     string
	ctx         CallContext
	gens        [nCallTimers]uint32
}

type agent struct {
	cfg       AgentConfig
	order     int
	state     AgentStatus
	reason    string
	sinceNs   int64
	idleSince int64
	call      *call
	slots     []*slot
	missed    int

	pendingPause  bool
	pendingReason string
	pendingLogout bool
	wrapGen       uint32
	wrapStart     int64
	// wrapCall and wrapQueue name the call the wrap-up follows, for the
	// agent.wrapup_ended event (reporting adds wrap-up to that call's AHT).
	wrapCall, wrapQueue string

	preferred []*call // restricted calls waiting for this agent
}

type queue struct {
	cfg    QueueConfig
	order  int
	root   *call
	avail  availHeap
	slots  []*slot
	logged int // serving agents not logged out
	ready  int // serving agents neither logged out nor paused
	size   int
	evict  bool

	ewmaWait, ewmaAHT float64 // seconds
	nWait, nAHT       int
	st                QueueStats
}

// QueueStats counts since the Engine started (reporting does the real
// bookkeeping from events; these serve the live API).
type QueueStats struct {
	Joined, Answered, AnsweredInSL, Abandoned, ShortAbandoned, Overflowed, TimedOut int
}

// Engine is the ACD state machine. It is not safe for concurrent use: the
// Runner serializes inputs (one goroutine or a mutex).
type Engine struct {
	clock Clock
	pub   eventlog.Publisher
	ids   *eventlog.IDs

	agents    map[string]*agent
	agentList []*agent
	queues    map[string]*queue
	queueList []*queue
	calls     map[string]*call

	timers   timerHeap
	timerSeq uint64
	wakeSet  bool
	wakeAt   int64

	now      time.Time
	nowNs    int64
	seq      uint64
	offerSeq uint64
	rng      uint64
	acts     []Action
	evicting []*queue

	finished map[string]int
}

// New builds an Engine from cfg (validated, defaults applied). pub may be
// nil. All agents start logged out.
func New(cfg Config, clock Clock, pub eventlog.Publisher) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = SystemClock{}
	}
	e := &Engine{
		clock:    clock,
		pub:      pub,
		ids:      cfg.IDs,
		agents:   make(map[string]*agent, len(cfg.Agents)),
		queues:   make(map[string]*queue, len(cfg.Queues)),
		calls:    map[string]*call{},
		rng:      0x9E3779B97F4A7C15,
		finished: map[string]int{},
	}
	e.now = clock.Now()
	e.nowNs = e.now.UnixNano()
	if e.ids == nil {
		prefix := cfg.EventIDPrefix
		if prefix == "" {
			prefix = eventlog.DefaultPrefix(e.now)
		}
		e.ids = eventlog.NewIDs(prefix)
	}
	for i, qc := range cfg.Queues {
		qc.applyDefaults()
		q := &queue{cfg: qc, order: i, avail: availHeap{strategy: qc.Strategy}}
		e.queues[qc.Name] = q
		e.queueList = append(e.queueList, q)
	}
	for i, ac := range cfg.Agents {
		ac.applyDefaults()
		skills := make(map[string]int, len(ac.Skills))
		for k, v := range ac.Skills {
			skills[k] = v
		}
		ac.Skills = skills
		a := &agent{cfg: ac, order: i}
		e.agents[ac.ID] = a
		e.agentList = append(e.agentList, a)
		for _, q := range e.queueList {
			if q.cfg.Line != 0 && q.cfg.Line != ac.Line {
				continue
			}
			lvl := 0
			if q.cfg.Skill != "" {
				lvl = ac.Skills[q.cfg.Skill]
				if lvl < q.cfg.MinLevel {
					continue
				}
			}
			s := &slot{a: a, q: q, level: lvl, hidx: -1}
			a.slots = append(a.slots, s)
			q.slots = append(q.slots, s)
		}
	}
	return e, nil
}

// ---- input plumbing ----

func (e *Engine) begin() {
	e.now = e.clock.Now()
	e.nowNs = e.now.UnixNano()
	e.acts = nil
}

func (e *Engine) end() []Action {
	for len(e.evicting) > 0 {
		q := e.evicting[0]
		e.evicting = e.evicting[1:]
		q.evict = false
		e.evictQueue(q)
	}
	e.evicting = nil
	if n := len(e.timers); n > 1024 && n > 2*(4*len(e.calls)+len(e.agentList)+64) {
		e.timers.compact()
	}
	// Drop a bounded number of cancelled timers from the top so that one
	// input never pays for many; a cancelled top only causes an early Tick.
	for i := 0; i < 16 && len(e.timers) > 0 && !e.timers[0].live(); i++ {
		e.timers.pop()
	}
	if len(e.timers) == 0 {
		if e.wakeSet {
			e.wakeSet = false
			e.act(SetTimer{})
		}
	} else if at := e.timers[0].at; !e.wakeSet || at != e.wakeAt {
		e.wakeSet, e.wakeAt = true, at
		e.act(SetTimer{At: time.Unix(0, at)})
	}
	a := e.acts
	e.acts = nil
	return a
}

func (e *Engine) act(a Action) { e.acts = append(e.acts, a) }

func (e *Engine) emit(ev eventlog.Event) {
	if e.pub == nil {
		return
	}
	ev.ID = e.ids.Next()
	ev.At = e.now.UTC()
	e.pub.Publish(ev)
}

func (e *Engine) rand32() uint32 {
	e.rng ^= e.rng << 13
	e.rng ^= e.rng >> 7
	e.rng ^= e.rng << 17
	return uint32(e.rng >> 32)
}

func (e *Engine) addTimer(kind int, c *call, a *agent, at int64) {
	e.timerSeq++
	t := timer{at: at, seq: e.timerSeq, kind: uint8(kind), c: c, a: a}
	if kind == tWrap {
		a.wrapGen++
		t.gen = a.wrapGen
	} else {
		c.gens[kind]++
		t.gen = c.gens[kind]
	}
	e.timers.push(t)
}

func (e *Engine) cancel(c *call, kinds ...int) {
	for _, k := range kinds {
		c.gens[k]++
	}
}

func dur(d int64) float64 { return float64(d) / 1e9 }

// noWait is finish's wait for a call whose wait is recorded elsewhere (an
// answered call's queue.answered).
const noWait time.Duration = -1

// NextWake returns when Tick must be called next; ok is false when no timer
// is pending.
func (e *Engine) NextWake() (at time.Time, ok bool) {
	for len(e.timers) > 0 && !e.timers[0].live() {
		e.timers.pop()
	}
	if len(e.timers) == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, e.timers[0].at), true
}

// Tick fires every timer due at the clock's current time (ring timeouts,
// max waits, announcements, end of preferred-agent windows, wrap-ups,
// callback retries).
func (e *Engine) Tick() []Action {
	e.begin()
	for len(e.timers) > 0 && e.timers[0].at <= e.nowNs {
		t := e.timers.pop()
		if t.live() {
			e.fire(t)
		}
	}
	return e.end()
}

func (e *Engine) fire(t timer) {
	c, a := t.c, t.a
	switch t.kind {
	case tWrap:
		e.emitWrapupEnded(a)
		e.makeAvailable(a)
	case tRing:
		if c.state == stOffering {
			for _, r := range slices.Clone(c.ringing) {
				e.ringFailed(c, r, "timeout", true)
			}
		}
	case tMaxWait:
		switch {
		case c.inTree:
			e.removeFromTree(c)
			e.exitCall(c, c.q.cfg.OnMaxWait, "max-wait")
		case c.state == stOffering:
			c.maxWaitDue = true
		}
	case tAnnounce:
		if c.callback || c.state == stConnected || c.state == stDialing {
			return
		}
		if c.inTree {
			e.announce(c)
			if c.q.cfg.CallbackOffer.WithAnnouncements {
				e.offerCallback(c)
			}
		}
		e.addTimer(tAnnounce, c, nil, e.nowNs+int64(c.q.cfg.AnnounceInterval))
	case tOffer:
		if !c.callback && c.inTree {
			e.offerCallback(c)
		}
	case tPrefer:
		if c.restricted {
			e.unrestrict(c)
			if c.inTree {
				e.dispatchCall(c.q)
			}
		}
	case tRetry:
		if c.state == stParked {
			e.insertTree(c)
			e.dispatchCall(c.q)
		}
	}
}

// ---- agent state ----

func loggedIn(s AgentStatus) bool { return s != LoggedOut }
func ready(s AgentStatus) bool    { return s != LoggedOut && s != Paused }

func emptyUnder(q *queue, p NoAgentsPolicy) bool {
	switch p {
	case NoneLoggedIn:
		return q.logged == 0
	case NoneReady:
		return q.ready == 0
	}
	return false
}

func (e *Engine) setState(a *agent, to AgentStatus, reason string) {
	e.setStateWith(a, to, reason, nil)
}

// setStateWith is setState whose agent.state event more completes.
func (e *Engine) setStateWith(a *agent, to AgentStatus, reason string, more func(eventlog.Event) eventlog.Event) {
	from := a.state
	if from == Available && to != Available {
		for _, s := range a.slots {
			s.q.avail.remove(s)
		}
	}
	dl := b2i(loggedIn(to)) - b2i(loggedIn(from))
	dr := b2i(ready(to)) - b2i(ready(from))
	if dl != 0 || dr != 0 {
		for _, s := range a.slots {
			q := s.q
			q.logged += dl
			q.ready += dr
			if (dl < 0 || dr < 0) && !q.evict && q.size > 0 && emptyUnder(q, q.cfg.LeaveWhenNoAgents) {
				q.evict = true
				e.evicting = append(e.evicting, q)
			}
		}
	}
	a.state, a.reason, a.sinceNs = to, reason, e.nowNs
	ev := eventlog.Event{Type: eventlog.AgentState, Agent: a.cfg.ID, Reason: reason}.WithString(eventlog.KeyFrom, from.String()).WithString(eventlog.KeyTo, to.String())
	if more != nil {
		ev = more(ev)
	}
	e.emit(ev)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// makeAvailable ends whatever the agent did: a pending logout or pause
// takes effect, otherwise the agent becomes available and takes the best
// waiting call, if any.
func (e *Engine) makeAvailable(a *agent) {
	switch {
	case a.pendingLogout:
		a.pendingLogout, a.pendingPause = false, false
		e.setState(a, LoggedOut, "")
		e.releasePreferred(a)
	case a.pendingPause:
		a.pendingPause = false
		e.setState(a, Paused, a.pendingReason)
	default:
		a.idleSince = e.nowNs
		e.setState(a, Available, "")
		e.dispatchAgent(a)
	}
}

func (a *agent) slotFor(q *queue) *slot {
	for _, s := range a.slots {
		if s.q == q {
			return s
		}
	}
	return nil
}

// ---- routing ----

// better is the cross-queue order: priority, then SL risk (wait in the
// queue relative to its SL threshold), then arrival. Within one queue it
// is the queue's own order, so no caller is overtaken inside a queue.
func (e *Engine) better(x, y *call) bool {
	if x.q == y.q {
		return callLess(x, y)
	}
	if x.prio != y.prio {
		return x.prio > y.prio
	}
	rx := float64(e.nowNs-x.joinedNs) / float64(x.q.cfg.ServiceLevel)
	ry := float64(e.nowNs-y.joinedNs) / float64(y.q.cfg.ServiceLevel)
	if rx != ry {
		return rx > ry
	}
	if x.orderAt != y.orderAt {
		return x.orderAt < y.orderAt
	}
	return x.seq < y.seq
}

// bestFor returns the call agent a should take now, or nil.
func (e *Engine) bestFor(a *agent) *call {
	var best *call
	for _, s := range a.slots {
		if c := treapFirstFree(s.q.root); c != nil && (best == nil || e.better(c, best)) {
			best = c
		}
	}
	for _, c := range a.preferred {
		if c.inTree && (best == nil || e.better(c, best)) {
			best = c
		}
	}
	return best
}

// dispatchAgent gives the newly available agent a its best call, or parks
// it in the available heaps of its queues.
func (e *Engine) dispatchAgent(a *agent) {
	for c := e.bestFor(a); c != nil; c = e.bestFor(a) {
		if e.offer(c, a) {
			return
		}
		// A caller-first callback was dialled without reserving a: next.
	}
	for _, s := range a.slots {
		s.q.avail.push(s)
	}
}

// dispatchCall matches q's waiting calls with its available agents. Only
// the first unrestricted call can match: available agents have no other
// candidates (an invariant kept by every input).
func (e *Engine) dispatchCall(q *queue) {
	for {
		c := treapFirstFree(q.root)
		if c == nil || len(q.avail.s) == 0 {
			break
		}
		if q.cfg.Strategy == RingAll {
			as := make([]*agent, len(q.avail.s))
			for i, s := range q.avail.s {
				as[i] = s.a
			}
			e.offer(c, as...)
		} else {
			e.offer(c, q.avail.top().a)
		}
	}
}

// placeCall puts c (out of the tree, state waiting) into its queue and
// offers it if someone can take it.
func (e *Engine) placeCall(c *call) {
	e.insertTree(c)
	if c.restricted {
		if p := c.preferred; p.state == Available && e.bestFor(p) == c {
			e.offer(c, p)
		}
		return
	}
	e.dispatchCall(c.q)
}

func (e *Engine) insertTree(c *call) {
	c.state = stWaiting
	c.q.root = treapInsert(c.q.root, c)
	c.inTree = true
}

func (e *Engine) removeFromTree(c *call) {
	if c.inTree {
		c.q.root = treapRemove(c.q.root, c)
		c.inTree = false
	}
}

// offer rings as for c and reports true; a caller-first callback (not
// answered yet) is dialled instead, reserving nobody (false).
func (e *Engine) offer(c *call, as ...*agent) bool {
	e.removeFromTree(c)
	if c.callback && !c.cbAnswered && c.q.cfg.Callback.CallerFirst {
		c.state = stDialing
		e.act(DialCallback{CallID: c.id, Number: c.cbNumber, Trunk: c.trunk, Attempt: c.cbAttempt + 1, Timeout: c.q.cfg.Callback.DialTimeout})
		return false
	}
	c.state = stOffering
	c.ringing = append(c.ringing[:0], as...)
	c.ringStart = e.nowNs
	purpose := ForCall
	switch {
	case c.kind == kConsult:
		purpose = ForConsult
	case c.callback && !c.cbAnswered:
		purpose = ForCallback
	}
	e.offerSeq++
	for _, a := range as {
		a.call = c
		if s := a.slotFor(c.q); s != nil {
			s.lastOffered = e.offerSeq
		}
		e.emit(eventlog.Event{Type: eventlog.AgentOffered, CallID: c.id, Queue: c.q.cfg.Name, Agent: a.cfg.ID, Caller: c.caller,
			Priority: c.prio}.WithString(eventlog.KeyPurpose, purpose.String()))
		e.setState(a, Ringing, "")
		e.act(RingAgent{CallID: c.id, Agent: a.cfg.ID, Queue: c.q.cfg.Name, Caller: c.caller, Purpose: purpose, Timeout: c.q.cfg.RingTimeout})
	}
	e.addTimer(tRing, c, nil, e.nowNs+int64(c.q.cfg.RingTimeout))
	return true
}

// stopOffer withdraws every ring of c; the agents are returned for
// makeAvailable once c's new state is settled.
func (e *Engine) stopOffer(c *call) []*agent {
	as := c.ringing
	c.ringing = nil
	e.cancel(c, tRing)
	for _, a := range as {
		a.call = nil
		e.act(StopRinging{CallID: c.id, Agent: a.cfg.ID})
	}
	return as
}

func (e *Engine) ringFailed(c *call, a *agent, reason string, byTimer bool) {
	i := slices.Index(c.ringing, a)
	if i < 0 {
		return
	}
	c.ringing = slices.Delete(c.ringing, i, i+1)
	e.emit(eventlog.Event{Type: eventlog.AgentRingNoAnswer, CallID: c.id, Queue: c.q.cfg.Name, Agent: a.cfg.ID, Reason: reason}.
		WithDuration(eventlog.KeyRing, time.Duration(e.nowNs-c.ringStart)))
	if byTimer {
		e.act(StopRinging{CallID: c.id, Agent: a.cfg.ID})
	}
	a.call = nil
	a.missed++
	if len(c.ringing) == 0 {
		e.cancel(c, tRing)
		e.requeue(c)
	}
	if a.cfg.MaxMissed > 0 && a.missed >= a.cfg.MaxMissed {
		e.setState(a, Paused, "missed calls")
		return
	}
	e.makeAvailable(a)
}

// requeue returns c to its place after an unsuccessful offer.
func (e *Engine) requeue(c *call) {
	if c.maxWaitDue {
		c.maxWaitDue = false
		c.state = stWaiting
		e.exitCall(c, c.q.cfg.OnMaxWait, "max-wait")
		return
	}
	e.placeCall(c)
}

func (e *Engine) announce(c *call) {
	pos := treapRank(c.q.root, c) + 1
	ewt := e.ewt(c.q, pos)
	e.act(Announce{CallID: c.id, Queue: c.q.cfg.Name, Position: pos, EWT: ewt, Lang: c.lang})
	e.emit(eventlog.Event{Type: eventlog.QueueAnnounced, CallID: c.id, Queue: c.q.cfg.Name}.
		WithInt(eventlog.KeyPosition, pos).WithDuration(eventlog.KeyEWT, time.Duration(ewt)*time.Second))
}

// ewt estimates the wait of the caller at pos: pos × recent average
// handle time / ready agents; without handle-time data, the recent average
// answered wait; without any data, 0 (unknown).
func (e *Engine) ewt(q *queue, pos int) int {
	if q.nAHT > 0 && q.ready > 0 {
		return int(math.Ceil(float64(pos) * q.ewmaAHT / float64(q.ready)))
	}
	if q.nWait > 0 {
		return int(math.Round(q.ewmaWait))
	}
	return 0
}

const ewmaAlpha = 0.2

func ewma(avg *float64, n *int, v float64) {
	if *n == 0 {
		*avg = v
	} else {
		*avg += ewmaAlpha * (v - *avg)
	}
	*n++
}

// ---- calls ----

func (e *Engine) lookupCall(id string) (*call, error) {
	c := e.calls[id]
	if c == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownCall, id)
	}
	return c, nil
}

func (e *Engine) lookupAgent(id string) (*agent, error) {
	a := e.agents[id]
	if a == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownAgent, id)
	}
	return a, nil
}

// Enqueue hands a caller to a queue. The call may be rejected at once
// (queue full, no agents) with the queue's exit action.
func (e *Engine) Enqueue(nc NewCall) ([]Action, error) {
	if nc.ID == "" {
		return nil, fmt.Errorf("%w: empty call id", ErrUnknownCall)
	}
	if e.calls[nc.ID] != nil {
		return nil, fmt.Errorf("%w: %q", ErrDuplicate, nc.ID)
	}
	q := e.queues[nc.Queue]
	if q == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownQueue, nc.Queue)
	}
	var pref *agent
	if nc.PreferredAgent != "" {
		var err error
		if pref, err = e.lookupAgent(nc.PreferredAgent); err != nil {
			return nil, err
		}
	}
	e.begin()
	lang := nc.Lang
	if lang == "" {
		lang = q.cfg.Lang
	}
	c := &call{id: nc.ID, caller: nc.Caller, trunk: nc.Trunk, lang: lang, basePrio: nc.Priority, tprio: e.rand32(), orderAt: e.nowNs}
	c.ctx = CallContext{IVRPath: slices.Clone(nc.IVRPath), Data: nc.Data, Lang: lang, Arrived: e.now}
	if r := nc.Resumed.UnixNano(); !nc.Resumed.IsZero() && r < e.nowNs {
		c.orderAt, c.resumeNs, c.ctx.Arrived = r, r, nc.Resumed
	}
	if pref != nil && nc.PreferFor > 0 {
		c.preferred, c.preferUntil = pref, e.nowNs+int64(nc.PreferFor)
	}
	e.calls[c.id] = c
	e.join(c, q)
	return e.end(), nil
}

// join puts c into q, or applies q's exit when q does not admit it.
func (e *Engine) join(c *call, q *queue) {
	c.q = q
	c.prio = c.basePrio + q.cfg.Priority
	c.joinedNs = e.nowNs
	c.resumed = c.resumeNs != 0
	if c.resumed {
		c.joinedNs, c.resumeNs = c.resumeNs, 0
	}
	c.counted = false
	if !c.callback {
		if emptyUnder(q, q.cfg.JoinWhenNoAgents) {
			e.exitCall(c, q.cfg.OnNoAgents, "no-agents")
			return
		}
		if q.cfg.MaxLen > 0 && q.size >= q.cfg.MaxLen {
			e.exitCall(c, q.cfg.OnFull, "full")
			return
		}
	}
	e.admit(c)
}

func (e *Engine) admit(c *call) {
	q := c.q
	c.counted = true
	q.size++
	q.st.Joined++
	e.seq++
	c.seq = e.seq
	if c.preferred != nil && c.preferUntil > e.nowNs && c.preferred.state != LoggedOut && !c.restricted {
		c.restricted = true
		c.preferred.preferred = append(c.preferred.preferred, c)
		e.addTimer(tPrefer, c, nil, c.preferUntil)
	}
	e.insertTree(c)
	pos := treapRank(q.root, c) + 1
	c.ewt = e.ewt(q, pos)
	ev := eventlog.Event{Type: eventlog.QueueJoined, CallID: c.id, Queue: q.cfg.Name, Caller: c.caller, Priority: c.prio}.
		WithInt(eventlog.KeyPosition, pos).WithDuration(eventlog.KeyEWT, time.Duration(c.ewt)*time.Second)
	if c.class > 0 && len(c.ctx.Escalations) > 0 {
		ev = ev.WithString(eventlog.KeyEscalatedFrom, c.ctx.Escalations[len(c.ctx.Escalations)-1].FromQueue).
			WithTime(eventlog.KeyOriginalAt, time.Unix(0, c.orderAt))
	}
	ev = ev.WithFlag(eventlog.KeyCallback, c.callback)
	if c.resumed {
		ev = ev.WithFlag(eventlog.KeyResumed, true).WithTime(eventlog.KeyJoinedAt, time.Unix(0, c.joinedNs))
		c.resumed = false
	}
	e.emit(ev)
	if !c.callback {
		e.act(StartMOH{CallID: c.id, Class: q.cfg.MOHClass})
		if q.cfg.AnnounceOnJoin {
			e.announce(c)
		}
		if q.cfg.CallbackOffer.OnJoin {
			e.offerCallback(c)
		}
		if d := q.cfg.CallbackOffer.After; d > 0 && c.kind == kCall {
			e.addTimer(tOffer, c, nil, c.joinedNs+int64(d))
		}
		if q.cfg.AnnounceInterval > 0 {
			e.addTimer(tAnnounce, c, nil, e.nowNs+int64(q.cfg.AnnounceInterval))
		}
		if q.cfg.MaxWait > 0 {
			e.addTimer(tMaxWait, c, nil, c.joinedNs+int64(q.cfg.MaxWait))
		}
	}
	e.removeFromTree(c)
	e.placeCall(c)
}

// unrestrict ends c's preferred-agent window.
func (e *Engine) unrestrict(c *call) {
	if !c.restricted {
		return
	}
	p := c.preferred
	if i := slices.Index(p.preferred, c); i >= 0 {
		p.preferred = slices.Delete(p.preferred, i, i+1)
	}
	e.cancel(c, tPrefer)
	if c.inTree {
		e.removeFromTree(c)
		c.restricted = false
		e.insertTree(c)
	} else {
		c.restricted = false
	}
}

// releasePreferred opens the calls waiting for a (who logged out).
func (e *Engine) releasePreferred(a *agent) {
	for _, c := range slices.Clone(a.preferred) {
		e.unrestrict(c)
		if c.inTree {
			e.dispatchCall(c.q)
		}
	}
}

// leaveQueue uncounts c from its queue and stops its waiting timers.
func (e *Engine) leaveQueue(c *call) {
	if c.counted {
		c.counted = false
		c.q.size--
	}
	e.unrestrict(c)
	e.cancel(c, tMaxWait, tAnnounce, tRetry, tOffer)
	c.maxWaitDue = false
}

// exitCall applies exit x to c, which is out of the tree and not offered.
func (e *Engine) exitCall(c *call, x Exit, reason string) {
	q := c.q
	wait := time.Duration(e.nowNs - c.joinedNs)
	kind := x.Kind
	if kind == ExitCallback && (c.caller == "" || c.caller == "anonymous") {
		kind = ExitHangup
	}
	if kind == ExitOverflow && (c.hops >= maxHops || e.queues[x.Queue] == nil) {
		kind, reason = ExitHangup, "hops"
	}
	switch kind {
	case ExitOverflow:
		if c.counted {
			q.st.Overflowed++
		}
		e.leaveQueue(c)
		c.hops++
		e.emit(eventlog.Event{Type: eventlog.QueueOverflowed, CallID: c.id, Queue: q.cfg.Name, Reason: reason}.
			WithString(eventlog.KeyToQueue, x.Queue).WithDuration(eventlog.KeyWait, wait))
		e.act(Overflow{CallID: c.id, From: q.cfg.Name, To: x.Queue, Reason: reason})
		e.join(c, e.queues[x.Queue])
	case ExitCallback:
		e.cancel(c, tMaxWait, tAnnounce, tOffer)
		c.callback, c.cbNumber, c.cbReqNs, c.cbSource = true, c.caller, e.nowNs, reason
		e.emit(eventlog.Event{Type: eventlog.CallbackRequested, CallID: c.id, Queue: q.cfg.Name, Caller: c.caller, Reason: reason}.WithDuration(eventlog.KeyWait, wait))
		e.act(HangupCaller{CallID: c.id, Prompt: q.cfg.Callback.Prompt, Lang: c.lang, Reason: "callback", Callback: e.callbackOf(c)})
		if c.counted {
			e.placeCall(c)
		} else {
			e.admit(c)
		}
	default:
		if c.counted {
			q.st.TimedOut++
		}
		e.leaveQueue(c)
		e.emit(eventlog.Event{Type: eventlog.QueueTimeout, CallID: c.id, Queue: q.cfg.Name, Reason: reason}.WithDuration(eventlog.KeyWait, wait))
		e.act(HangupCaller{CallID: c.id, Prompt: x.Message, Lang: c.lang, Reason: reason})
		outcome := "timeout"
		if reason != "max-wait" {
			outcome = "rejected"
		}
		e.finish(c, outcome, wait)
	}
}

func (e *Engine) evictQueue(q *queue) {
	if !emptyUnder(q, q.cfg.LeaveWhenNoAgents) {
		return
	}
	var out []*call
	treapWalk(q.root, func(c *call) bool {
		if !c.callback && c.kind == kCall {
			out = append(out, c)
		}
		return true
	})
	for _, c := range out {
		e.removeFromTree(c)
		e.exitCall(c, q.cfg.OnNoAgents, "no-agents")
	}
}

func (e *Engine) finish(c *call, outcome string, wait time.Duration) {
	e.leaveQueue(c)
	e.cancel(c, tRing)
	c.state = stEnded
	delete(e.calls, c.id)
	e.finished[outcome]++
	ev := eventlog.Event{Type: eventlog.CallFinished, CallID: c.id, Queue: c.q.cfg.Name, Reason: outcome}
	if wait != noWait {
		ev = ev.WithDuration(eventlog.KeyWait, wait)
	}
	e.emit(ev)
}

// connect bridges c with a (who answered) and records the answer.
func (e *Engine) connect(c *call, a *agent, moh bool) {
	q := c.q
	c.state, c.agent, c.answeredNs = stConnected, a, e.nowNs
	wait := e.nowNs - c.joinedNs
	inSL := wait <= int64(q.cfg.ServiceLevel)
	q.st.Answered++
	if inSL {
		q.st.AnsweredInSL++
	}
	ewma(&q.ewmaWait, &q.nWait, dur(wait))
	e.leaveQueue(c)
	e.emit(eventlog.Event{Type: eventlog.QueueAnswered, CallID: c.id, Queue: q.cfg.Name, Agent: a.cfg.ID, Caller: c.caller, Priority: c.prio}.
		WithDuration(eventlog.KeyWait, time.Duration(wait)).WithDuration(eventlog.KeyEWT, time.Duration(c.ewt)*time.Second).
		WithFlag(eventlog.KeyWithinSL, inSL))
	if c.escalatedNs != 0 {
		e.emitEscalationAnswered(c, a, e.nowNs-c.escalatedNs)
		c.escalatedNs = 0
	}
	if c.ctx.FirstAgent == "" {
		c.ctx.FirstAgent = a.cfg.ID
	}
	c.ctx.Agents = append(c.ctx.Agents, a.cfg.ID)
	if moh {
		e.act(StopMOH{CallID: c.id})
	}
	e.act(Bridge{CallID: c.id, Agent: a.cfg.ID})
}

func (e *Engine) emitEscalationAnswered(c *call, a *agent, reach int64) {
	ev := eventlog.Event{Type: eventlog.EscalationAnswered, CallID: c.id, Queue: c.q.cfg.Name, Agent: a.cfg.ID}.
		WithDuration(eventlog.KeyReach, time.Duration(reach)).WithString(eventlog.KeyMode, c.escMode)
	if n := len(c.ctx.Escalations); n > 0 {
		ev = ev.WithString(eventlog.KeyFromQueue, c.ctx.Escalations[n-1].FromQueue).
			WithString(eventlog.KeyFromAgent, c.ctx.Escalations[n-1].FromAgent)
	}
	e.emit(ev)
}

// RingAnswered: agentID answered the offer of callID.
func (e *Engine) RingAnswered(callID, agentID string) ([]Action, error) {
	a, err := e.lookupAgent(agentID)
	if err != nil {
		return nil, err
	}
	c := a.call
	if a.state != Ringing || c == nil || c.id != callID || c.state != stOffering {
		return nil, fmt.Errorf("%w: agent %q is not ringing for call %q", ErrStale, agentID, callID)
	}
	e.begin()
	others := slices.DeleteFunc(slices.Clone(c.ringing), func(x *agent) bool { return x == a })
	c.ringing = nil
	e.cancel(c, tRing, tMaxWait, tAnnounce, tOffer)
	c.maxWaitDue = false
	for _, o := range others {
		o.call = nil
		e.act(StopRinging{CallID: c.id, Agent: o.cfg.ID})
	}
	a.missed = 0
	e.unrestrict(c)
	switch {
	case c.kind == kConsult:
		c.state, c.agent, c.answeredNs = stConnected, a, e.nowNs
		e.setState(a, OnCall, "consult")
		e.emit(eventlog.Event{Type: eventlog.ConsultAnswered, CallID: c.id, Queue: c.q.cfg.Name, Agent: a.cfg.ID}.
			WithDuration(eventlog.KeyWait, time.Duration(e.nowNs-c.joinedNs)))
		e.act(ConsultBridge{CallID: c.id, Agent: c.parent.agent.cfg.ID, Consultant: a.cfg.ID})
	case c.callback && c.cbAnswered:
		// Caller first: the caller is on the line and now gets the agent.
		e.setState(a, OnCall, "")
		e.emitCallbackConnected(c, a)
		e.connect(c, a, true)
	case c.callback:
		c.state, c.agent = stDialing, a
		e.setState(a, OnCall, "callback")
		e.act(DialCallback{CallID: c.id, Number: c.cbNumber, Trunk: c.trunk, Agent: a.cfg.ID, Attempt: c.cbAttempt + 1, Timeout: c.q.cfg.Callback.DialTimeout})
	default:
		e.setState(a, OnCall, "")
		e.connect(c, a, true)
	}
	for _, o := range others {
		e.makeAvailable(o)
	}
	return e.end(), nil
}

// RingFailed: agentID's phone did not answer the offer of callID (reason:
// no-answer, busy, rejected, unreachable, ...). The call goes back to its
// place and the next agent is tried; the agent counts a missed ring.
func (e *Engine) RingFailed(callID, agentID, reason string) ([]Action, error) {
	a, err := e.lookupAgent(agentID)
	if err != nil {
		return nil, err
	}
	c := a.call
	if a.state != Ringing || c == nil || c.id != callID || c.state != stOffering {
		return nil, fmt.Errorf("%w: agent %q is not ringing for call %q", ErrStale, agentID, callID)
	}
	e.begin()
	e.ringFailed(c, a, reason, false)
	return e.end(), nil
}

// Hangup: the caller (ByCaller) or the agent (ByAgent) of callID hung up.
// A waiting or offered caller abandons; a bridged call completes and the
// agent goes to wrap-up. Hanging up a queued callback cancels it.
func (e *Engine) Hangup(callID string, by Party) ([]Action, error) {
	c, err := e.lookupCall(callID)
	if err != nil {
		return nil, err
	}
	if c.state == stDialing {
		return nil, fmt.Errorf("%w: call %q is being dialled back; report CallbackFailed", ErrState, callID)
	}
	e.begin()
	wait := time.Duration(e.nowNs - c.joinedNs)
	switch c.state {
	case stWaiting, stOffering, stParked:
		if c.callback {
			e.removeFromTree(c)
			as := e.stopOffer(c)
			if c.cbAnswered {
				// Caller first: they answered the callback and hung up
				// while waiting for an agent.
				e.emit(eventlog.Event{Type: eventlog.CallbackResult, CallID: c.id, Queue: c.q.cfg.Name, Reason: "abandoned"}.
					WithInt(eventlog.KeyAttempt, c.cbAttempt).WithFlag(eventlog.KeyFinal, true))
				e.finish(c, "callback-failed", wait)
			} else {
				e.finish(c, "callback-cancelled", wait)
			}
			for _, a := range as {
				e.makeAvailable(a)
			}
			break
		}
		pos := 0
		if c.inTree {
			pos = treapRank(c.q.root, c) + 1
		}
		e.removeFromTree(c)
		as := e.stopOffer(c)
		q := c.q
		q.st.Abandoned++
		short := e.nowNs-c.joinedNs < int64(q.cfg.ShortAbandon)
		if short {
			q.st.ShortAbandoned++
		}
		e.emit(eventlog.Event{Type: eventlog.QueueAbandoned, CallID: c.id, Queue: q.cfg.Name, Caller: c.caller, Priority: c.prio}.
			WithDuration(eventlog.KeyWait, wait).WithInt(eventlog.KeyPosition, pos).WithFlag(eventlog.KeyShort, short))
		e.finish(c, "abandoned", wait)
		for _, a := range as {
			e.makeAvailable(a)
		}
	case stConnected:
		if k := c.consult; k != nil && by == ByAgent {
			// The first agent hung up during a warm escalation: an answered
			// consultation completes; otherwise the call escalates blind.
			if k.state == stConnected {
				e.completeConsult(c)
				break
			}
			x := k.ctx.Escalations[0]
			e.endConsult(c, "agent-left")
			e.escalateBlind(c, k.q, Escalation{Reason: x.Reason, Notes: x.Notes, Mode: "warm"})
			break
		}
		if c.consult != nil {
			e.endConsult(c, "caller-hangup")
		}
		e.complete(c, string(by))
		e.finish(c, "answered", noWait)
	}
	return e.end(), nil
}

// complete ends c's talk with its agent, who goes to wrap-up.
func (e *Engine) complete(c *call, by string) {
	a := c.agent
	talk := e.nowNs - c.answeredNs
	e.emit(eventlog.Event{Type: eventlog.CallCompleted, CallID: c.id, Queue: c.q.cfg.Name, Agent: a.cfg.ID}.
		WithDuration(eventlog.KeyTalk, time.Duration(talk)).WithString(eventlog.KeyBy, by))
	c.agent, a.call = nil, nil
	w := e.wrapFor(a, c.q)
	ewma(&c.q.ewmaAHT, &c.q.nAHT, dur(talk+int64(w)))
	a.wrapCall, a.wrapQueue = c.id, c.q.cfg.Name
	e.wrapUp(a, w)
}

// emitWrapupEnded reports the end of a's wrap-up, with the call and queue
// it followed.
func (e *Engine) emitWrapupEnded(a *agent) {
	e.emit(eventlog.Event{Type: eventlog.WrapupEnded, Agent: a.cfg.ID, CallID: a.wrapCall, Queue: a.wrapQueue}.
		WithDuration(eventlog.KeyWrapup, time.Duration(e.nowNs-a.wrapStart)))
}

func (e *Engine) wrapFor(a *agent, q *queue) time.Duration {
	if q.cfg.WrapUp > 0 {
		return q.cfg.WrapUp
	}
	return a.cfg.WrapUp
}

func (e *Engine) wrapUp(a *agent, w time.Duration) {
	if w <= 0 {
		e.makeAvailable(a)
		return
	}
	a.wrapStart = e.nowNs
	// The event carries the wrap-up's length, call and queue: a node that
	// takes over after a crash resumes the rest of it (ResumeWrapUp).
	e.setStateWith(a, WrapUp, "", func(ev eventlog.Event) eventlog.Event {
		return ev.WithDuration(eventlog.KeyWrapup, w).WithString(eventlog.KeyOfCall, a.wrapCall).WithString(eventlog.KeyQueue, a.wrapQueue)
	})
	e.addTimer(tWrap, nil, a, e.nowNs+int64(w))
}

// ResumeWrapUp puts an agent who has just logged in back into wrap-up
// for what is left of one cut short by a crash (left), after the call
// and queue it follows (for agent.wrapup_ended). The agent must be
// available.
func (e *Engine) ResumeWrapUp(agentID string, left time.Duration, callID, queue string) ([]Action, error) {
	a, err := e.lookupAgent(agentID)
	if err != nil {
		return nil, err
	}
	if a.state != Available {
		return nil, fmt.Errorf("%w: agent %q is %v, not available", ErrState, agentID, a.state)
	}
	e.begin()
	a.wrapCall, a.wrapQueue = callID, queue
	e.wrapUp(a, left)
	return e.end(), nil
}

// ---- agents ----

// Login logs the agent in; it becomes available. Logging in twice is a no-op.
func (e *Engine) Login(agentID string) ([]Action, error) {
	a, err := e.lookupAgent(agentID)
	if err != nil {
		return nil, err
	}
	e.begin()
	if a.state == LoggedOut {
		a.pendingLogout, a.pendingPause, a.missed = false, false, 0
		e.makeAvailable(a)
	} else {
		a.pendingLogout = false
	}
	return e.end(), nil
}

// Logout logs the agent out: at once when idle, paused, ringing (the call
// goes back to its place) or in wrap-up (which ends); after the call when
// on a call.
func (e *Engine) Logout(agentID string) ([]Action, error) {
	a, err := e.lookupAgent(agentID)
	if err != nil {
		return nil, err
	}
	e.begin()
	switch a.state {
	case Available, Paused:
		e.setState(a, LoggedOut, "")
		e.releasePreferred(a)
	case Ringing:
		e.withdraw(a)
		e.setState(a, LoggedOut, "")
		e.releasePreferred(a)
	case WrapUp:
		a.wrapGen++
		e.emitWrapupEnded(a)
		e.setState(a, LoggedOut, "")
		e.releasePreferred(a)
	case OnCall:
		a.pendingLogout = true
	}
	return e.end(), nil
}

// withdraw stops ringing agent a (leaving) without counting a miss; the
// call goes back to its place if nobody else rings.
func (e *Engine) withdraw(a *agent) {
	c := a.call
	if i := slices.Index(c.ringing, a); i >= 0 {
		c.ringing = slices.Delete(c.ringing, i, i+1)
	}
	a.call = nil
	e.act(StopRinging{CallID: c.id, Agent: a.cfg.ID})
	if len(c.ringing) == 0 {
		e.cancel(c, tRing)
		e.requeue(c)
	}
}

// Pause pauses the agent with reason (default "pause"): at once when
// available or ringing (the call goes back to its place); after wrap-up
// when on a call or in wrap-up. Pausing a paused agent changes the reason.
func (e *Engine) Pause(agentID, reason string) ([]Action, error) {
	a, err := e.lookupAgent(agentID)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		reason = "pause"
	}
	if a.state == LoggedOut {
		return nil, fmt.Errorf("%w: agent %q is logged out", ErrState, agentID)
	}
	e.begin()
	switch a.state {
	case Available, Paused:
		e.setState(a, Paused, reason)
	case Ringing:
		// The pause comes first so that the call is not offered back to a.
		c := a.call
		if i := slices.Index(c.ringing, a); i >= 0 {
			c.ringing = slices.Delete(c.ringing, i, i+1)
		}
		a.call = nil
		e.act(StopRinging{CallID: c.id, Agent: a.cfg.ID})
		e.setState(a, Paused, reason)
		if len(c.ringing) == 0 {
			e.cancel(c, tRing)
			e.requeue(c)
		}
	case OnCall, WrapUp:
		a.pendingPause, a.pendingReason = true, reason
	}
	return e.end(), nil
}

// Ready makes a paused agent available, or ends wrap-up early (the agent's
// own choice). It cancels a pending pause or logout. A logged-out agent
// must Login first.
func (e *Engine) Ready(agentID string) ([]Action, error) {
	a, err := e.lookupAgent(agentID)
	if err != nil {
		return nil, err
	}
	if a.state == LoggedOut {
		return nil, fmt.Errorf("%w: agent %q is logged out", ErrState, agentID)
	}
	e.begin()
	a.pendingPause, a.pendingLogout = false, false
	switch a.state {
	case Paused:
		a.missed = 0
		e.makeAvailable(a)
	case WrapUp:
		a.wrapGen++
		e.emitWrapupEnded(a)
		e.makeAvailable(a)
	}
	return e.end(), nil
}

// ---- callbacks ----

// RequestCallback: the waiting caller asked to be called back on number
// (empty: the caller's own number). The caller keeps their place; the
// Engine hangs up on them (HangupCaller) and, when their turn comes,
// reserves an agent (RingAgent with ForCallback), then dials them
// (DialCallback).
func (e *Engine) RequestCallback(callID, number string) ([]Action, error) {
	c, err := e.lookupCall(callID)
	if err != nil {
		return nil, err
	}
	if number == "" {
		number = c.caller
	}
	if c.callback || (c.state != stWaiting && c.state != stOffering) || c.kind != kCall {
		return nil, fmt.Errorf("%w: call %q is not waiting", ErrState, callID)
	}
	if number == "" || number == "anonymous" {
		return nil, fmt.Errorf("%w: call %q has no number to call back", ErrState, callID)
	}
	e.begin()
	as := e.stopOffer(c)
	e.cancel(c, tMaxWait, tAnnounce, tOffer)
	c.maxWaitDue = false
	c.callback, c.cbNumber, c.cbReqNs, c.cbSource = true, number, e.nowNs, "key"
	e.emit(eventlog.Event{Type: eventlog.CallbackRequested, CallID: c.id, Queue: c.q.cfg.Name, Caller: c.caller, Reason: "key"}.
		WithDuration(eventlog.KeyWait, time.Duration(e.nowNs-c.joinedNs)))
	e.act(HangupCaller{CallID: c.id, Prompt: c.q.cfg.Callback.Prompt, Lang: c.lang, Reason: "callback", Callback: e.callbackOf(c)})
	if !c.inTree {
		e.placeCall(c)
	}
	for _, a := range as {
		e.makeAvailable(a)
	}
	return e.end(), nil
}

// CallbackAnswered: the caller answered the DialCallback; they are bridged
// with the reserved agent.
func (e *Engine) CallbackAnswered(callID string) ([]Action, error) {
	c, err := e.lookupCall(callID)
	if err != nil {
		return nil, err
	}
	if c.state != stDialing {
		return nil, fmt.Errorf("%w: call %q is not being dialled back", ErrStale, callID)
	}
	e.begin()
	if c.agent == nil {
		// Caller first: back at their place in line, with music, until an
		// agent answers (then callback.result connected).
		c.cbAnswered = true
		c.cbAttempt++
		e.act(StartMOH{CallID: c.id, Class: c.q.cfg.MOHClass})
		e.placeCall(c)
		return e.end(), nil
	}
	e.emitCallbackConnected(c, c.agent)
	e.connect(c, c.agent, false)
	return e.end(), nil
}

// emitCallbackConnected: the callback's caller is connected to agent a.
func (e *Engine) emitCallbackConnected(c *call, a *agent) {
	n := c.cbAttempt
	if !c.cbAnswered {
		n++ // agent first: this dial
	}
	e.emit(eventlog.Event{Type: eventlog.CallbackResult, CallID: c.id, Queue: c.q.cfg.Name, Agent: a.cfg.ID, Reason: "connected"}.
		WithInt(eventlog.KeyAttempt, n).WithFlag(eventlog.KeyFinal, true).
		WithDuration(eventlog.KeyWait, time.Duration(e.nowNs-c.cbReqNs)))
}

// CallbackFailed: the DialCallback did not reach the caller (reason:
// no-answer, busy, failed; refused: the dialling policy refused the
// number, which ends the callback; deferred: a limit of the policy holds
// it back for now, which is not an attempt). The agent is released; the call retries after
// the queue's spacing, keeping its place, until the attempts run out.
func (e *Engine) CallbackFailed(callID, reason string) ([]Action, error) {
	c, err := e.lookupCall(callID)
	if err != nil {
		return nil, err
	}
	if c.state != stDialing {
		return nil, fmt.Errorf("%w: call %q is not being dialled back", ErrStale, callID)
	}
	e.begin()
	a := c.agent // nil caller first: nobody was reserved
	c.agent = nil
	if a != nil {
		a.call = nil
	}
	agentID := ""
	if a != nil {
		agentID = a.cfg.ID
	}
	// A refused dial (the dialling policy) is not tried again; a deferred
	// one (a limit of the policy for now) is not an attempt.
	n := c.cbAttempt
	if reason != "deferred" {
		c.cbAttempt++
		n = c.cbAttempt
	}
	final := c.cbAttempt >= c.q.cfg.Callback.Attempts && reason != "deferred" || reason == "refused"
	e.emit(eventlog.Event{Type: eventlog.CallbackResult, CallID: c.id, Queue: c.q.cfg.Name, Agent: agentID, Reason: reason}.
		WithInt(eventlog.KeyAttempt, n).WithFlag(eventlog.KeyFinal, final))
	switch {
	case final:
		e.finish(c, "callback-failed", time.Duration(e.nowNs-c.joinedNs))
	case c.q.cfg.Callback.Durable:
		// The callback job schedules the next attempt (spacing, calling
		// hours) and hands the callback back at its place.
		e.finish(c, "callback-retry", time.Duration(e.nowNs-c.joinedNs))
	default:
		c.state = stParked
		e.addTimer(tRetry, c, nil, e.nowNs+int64(c.q.cfg.Callback.Spacing))
	}
	if a != nil {
		e.makeAvailable(a)
	}
	return e.end(), nil
}

// ---- escalation ----

func (e *Engine) escalationTarget(c *call, x Escalation) (*queue, error) {
	name := x.Queue
	if name == "" {
		name = c.q.cfg.EscalateTo
	}
	if name == "" {
		return nil, fmt.Errorf("%w: queue %q has no escalation queue and none was given", ErrUnknownQueue, c.q.cfg.Name)
	}
	q := e.queues[name]
	if q == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownQueue, name)
	}
	return q, nil
}

func (e *Engine) connectedCall(callID string) (*call, error) {
	c, err := e.lookupCall(callID)
	if err != nil {
		return nil, err
	}
	if c.state != stConnected {
		return nil, fmt.Errorf("%w: call %q is not connected to an agent", ErrState, callID)
	}
	return c, nil
}

func (e *Engine) record(c *call, from *queue, a *agent, to *queue, x Escalation) {
	c.ctx.Escalations = append(c.ctx.Escalations, EscalationRecord{At: e.now, FromQueue: from.cfg.Name, FromAgent: a.cfg.ID,
		ToQueue: to.cfg.Name, Reason: x.Reason, Notes: x.Notes, Mode: x.Mode})
	ev := eventlog.Event{Type: eventlog.CallEscalated, CallID: c.id, Queue: from.cfg.Name, Agent: a.cfg.ID, Caller: c.caller, Reason: x.Reason}.
		WithString(eventlog.KeyToQueue, to.cfg.Name).WithString(eventlog.KeyMode, x.Mode)
	if x.Notes != "" {
		ev = ev.WithString(eventlog.KeyNotes, x.Notes)
	}
	e.emit(ev)
}

// Escalate hands the connected call to second line (blind): the first
// agent leaves (ReleaseAgent) and goes to wrap-up; the caller hears music
// and joins the second-line queue ahead of fresh calls of the same
// priority, ordered by original arrival. Mode defaults to "api".
func (e *Engine) Escalate(callID string, x Escalation) ([]Action, error) {
	c, err := e.connectedCall(callID)
	if err != nil {
		return nil, err
	}
	if c.consult != nil {
		return nil, fmt.Errorf("%w: call %q has a consultation running", ErrState, callID)
	}
	to, err := e.escalationTarget(c, x)
	if err != nil {
		return nil, err
	}
	if x.Mode == "" {
		x.Mode = "api"
	}
	e.begin()
	e.escalateBlind(c, to, x)
	return e.end(), nil
}

func (e *Engine) escalateBlind(c *call, to *queue, x Escalation) {
	from, a := c.q, c.agent
	e.act(ReleaseAgent{CallID: c.id, Agent: a.cfg.ID})
	e.complete(c, "transfer")
	e.record(c, from, a, to, x)
	c.class, c.escalatedNs, c.escMode, c.hops = 1, e.nowNs, x.Mode, 0
	e.join(c, to)
}

// ConsultStart begins a warm escalation: the caller hears music on hold
// while the first agent is offered to a second-line agent (RingAgent with
// ForConsult, then ConsultBridge). The consultation waits in the
// second-line queue like an escalated call. Finish with ConsultComplete or
// ConsultCancel.
func (e *Engine) ConsultStart(callID string, x Escalation) ([]Action, error) {
	c, err := e.connectedCall(callID)
	if err != nil {
		return nil, err
	}
	if c.consult != nil || c.kind != kCall {
		return nil, fmt.Errorf("%w: call %q already has a consultation", ErrState, callID)
	}
	to, err := e.escalationTarget(c, x)
	if err != nil {
		return nil, err
	}
	e.begin()
	x.Mode = "warm"
	k := &call{id: c.id, caller: c.caller, lang: c.lang, kind: kConsult, parent: c, basePrio: c.basePrio, class: 1,
		orderAt: c.orderAt, tprio: e.rand32(), q: to}
	k.ctx.Escalations = []EscalationRecord{{At: e.now, FromQueue: c.q.cfg.Name, FromAgent: c.agent.cfg.ID, ToQueue: to.cfg.Name,
		Reason: x.Reason, Notes: x.Notes, Mode: x.Mode}}
	c.consult = k
	started := eventlog.Event{Type: eventlog.ConsultStarted, CallID: c.id, Queue: c.q.cfg.Name, Agent: c.agent.cfg.ID, Reason: x.Reason}.
		WithString(eventlog.KeyToQueue, to.cfg.Name)
	if x.Notes != "" {
		started = started.WithString(eventlog.KeyNotes, x.Notes)
	}
	e.emit(started)
	e.act(StartMOH{CallID: c.id, Class: c.q.cfg.MOHClass})
	k.prio = k.basePrio + to.cfg.Priority
	k.joinedNs = e.nowNs
	e.seq++
	k.seq = e.seq
	e.placeCall(k)
	return e.end(), nil
}

// ConsultComplete completes a warm escalation whose consultant answered:
// the first agent leaves (ReleaseAgent, wrap-up) and the caller is bridged
// with the consultant, now in the second-line queue.
func (e *Engine) ConsultComplete(callID string) ([]Action, error) {
	c, err := e.connectedCall(callID)
	if err != nil {
		return nil, err
	}
	k := c.consult
	if k == nil || k.state != stConnected {
		return nil, fmt.Errorf("%w: call %q has no answered consultation", ErrState, callID)
	}
	e.begin()
	e.completeConsult(c)
	return e.end(), nil
}

func (e *Engine) completeConsult(c *call) {
	k := c.consult
	from, a1, a2 := c.q, c.agent, k.agent
	x := k.ctx.Escalations[0]
	e.act(ReleaseAgent{CallID: c.id, Agent: a1.cfg.ID})
	e.complete(c, "transfer")
	e.record(c, from, a1, k.q, Escalation{Reason: x.Reason, Notes: x.Notes, Mode: "warm"})
	e.emit(eventlog.Event{Type: eventlog.ConsultEnded, CallID: c.id, Queue: k.q.cfg.Name, Agent: a2.cfg.ID, Reason: "completed"})
	c.consult = nil
	k.state = stEnded
	c.q, c.prio, c.class, c.escMode = k.q, k.prio, 1, "warm"
	c.state, c.agent, c.answeredNs = stConnected, a2, e.nowNs
	a2.call = c
	e.emitEscalationAnswered(c, a2, e.nowNs-k.joinedNs)
	c.ctx.Agents = append(c.ctx.Agents, a2.cfg.ID)
	e.act(StopMOH{CallID: c.id})
	e.act(Bridge{CallID: c.id, Agent: a2.cfg.ID})
}

// ConsultCancel ends the consultation (waiting, ringing or answered) and
// bridges the caller back with the first agent.
func (e *Engine) ConsultCancel(callID string) ([]Action, error) {
	c, err := e.connectedCall(callID)
	if err != nil {
		return nil, err
	}
	if c.consult == nil {
		return nil, fmt.Errorf("%w: call %q has no consultation", ErrState, callID)
	}
	e.begin()
	e.endConsult(c, "returned")
	e.act(StopMOH{CallID: c.id})
	e.act(Bridge{CallID: c.id, Agent: c.agent.cfg.ID})
	return e.end(), nil
}

func (e *Engine) endConsult(c *call, reason string) {
	k := c.consult
	c.consult = nil
	e.removeFromTree(k)
	as := e.stopOffer(k)
	if k.state == stConnected {
		a := k.agent
		k.agent, a.call = nil, nil
		e.act(ReleaseAgent{CallID: c.id, Agent: a.cfg.ID})
		as = append(as, a)
	}
	k.state = stEnded
	e.emit(eventlog.Event{Type: eventlog.ConsultEnded, CallID: c.id, Queue: k.q.cfg.Name, Reason: reason})
	for _, a := range as {
		e.makeAvailable(a)
	}
}

// Dispose publishes an agent's disposition of a call (live or finished).
func (e *Engine) Dispose(d Disposition) error {
	if _, err := e.lookupAgent(d.Agent); err != nil {
		return err
	}
	switch d.Result {
	case "resolved", "not_resolved", "escalated":
	default:
		return fmt.Errorf("queue: disposition %q: want resolved, not_resolved or escalated", d.Result)
	}
	if d.CallID == "" {
		return fmt.Errorf("%w: empty call id", ErrUnknownCall)
	}
	e.begin()
	e.emit(eventlog.Event{Type: eventlog.CallDisposition, CallID: d.CallID, Agent: d.Agent, Reason: d.Result}.
		WithString(eventlog.KeyCode, d.Code).WithString(eventlog.KeyNotes, d.Notes).WithFlag(eventlog.KeyNoSurvey, d.NoSurvey))
	e.end()
	return nil
}
