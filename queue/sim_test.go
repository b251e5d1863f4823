package queue

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// The simulation plays a random call centre against the Engine, acting as
// the Runner, and checks the invariants after every step:
//   - a call is only ever offered to an available agent;
//   - an agent never has two calls;
//   - no caller is overtaken by a later caller of equal priority in the same queue;
//   - no call is lost: each ends exactly once (answered, abandoned, timed
//     out, rejected, called back or not) and the Engine is empty at the end;
//   - the Engine's structures are consistent (trees, heaps, counters).

type simSize struct {
	agents, queues, skills, calls, checkEvery int
}

func TestSimulation(t *testing.T) {
	size := simSize{agents: 2000, queues: 40, skills: 12, calls: 20000, checkEvery: 20}
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		size = simSize{agents: 40, queues: 6, skills: 4, calls: 400, checkEvery: 1}
		seeds = []uint64{1, 2}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s := newSim(t, seed, size)
			s.run()
			t.Logf("steps %d, calls %d, finished %v, offers %d, events %v", s.steps, s.arrived, s.e.Finished(), s.offers, s.counts)
		})
	}
}

type ringKey struct{ call, agent string }

type sim struct {
	t     *testing.T
	rng   *rand.Rand
	clk   *fakeClock
	e     *Engine
	size  simSize
	steps int

	queues   []string
	line1    []string
	agentIDs []string

	arrived   int
	offers    int
	finished  map[string]int // call → CallFinished count
	agentSt   map[string]string
	rings     *set[ringKey]
	callerUp  *set[string]
	bridged   *set[string]
	dialing   *set[string]
	consult   *set[string]
	queueOf   map[string]string
	violation error
	counts    map[eventlog.Type]int
	// events keeps every event published, in order, when set (the
	// agreement test feeds them to reporting).
	events *[]eventlog.Event
}

func newSim(t *testing.T, seed uint64, size simSize) *sim {
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed*7919)), clk: &fakeClock{t: t0}, size: size,
		finished: map[string]int{}, agentSt: map[string]string{}, rings: newSet[ringKey](),
		callerUp: newSet[string](), bridged: newSet[string](), dialing: newSet[string](),
		consult: newSet[string](), queueOf: map[string]string{}, counts: map[eventlog.Type]int{}}
	var cfg Config
	strategies := []Strategy{LongestIdle, RoundRobin, SkillLevel, RingAll}
	n2 := size.queues / 4 // second-line queues
	for i := 0; i < size.queues; i++ {
		q := QueueConfig{Name: fmt.Sprintf("q%d", i), Skill: fmt.Sprintf("s%d", i%size.skills), MinLevel: 1 + i%3,
			Strategy: strategies[i%len(strategies)], Line: 1, Priority: i % 2,
			ServiceLevel: time.Duration(10+i%4*10) * time.Second, WrapUp: time.Duration(i%3) * 5 * time.Second,
			AnnounceInterval: time.Duration(i%3) * 20 * time.Second, AnnounceOnJoin: i%5 == 0,
			Callback: CallbackConfig{Attempts: 2, Spacing: 30 * time.Second}}
		if i < n2 {
			q.Line = 2
		} else {
			q.EscalateTo = fmt.Sprintf("q%d", i%n2)
			s.line1 = append(s.line1, q.Name)
		}
		switch i % 5 {
		case 1:
			q.MaxWait, q.OnMaxWait = 90*time.Second, Exit{Kind: ExitOverflow, Queue: fmt.Sprintf("q%d", (i+1)%size.queues)}
		case 2:
			q.MaxWait, q.OnMaxWait = 120*time.Second, Exit{Kind: ExitCallback}
		case 3:
			q.MaxWait, q.OnMaxWait, q.MaxLen = 150*time.Second, Exit{Message: "sorry"}, 30
			q.OnFull = Exit{Kind: ExitOverflow, Queue: fmt.Sprintf("q%d", (i+2)%size.queues)}
		case 4:
			q.JoinWhenNoAgents, q.LeaveWhenNoAgents = NoneLoggedIn, NoneReady
			q.OnNoAgents = Exit{Kind: ExitCallback}
		}
		cfg.Queues = append(cfg.Queues, q)
		s.queues = append(s.queues, q.Name)
	}
	for i := 0; i < size.agents; i++ {
		a := AgentConfig{ID: fmt.Sprintf("a%d", i), Line: 1 + b2i(s.rng.IntN(4) == 0), Skills: map[string]int{},
			WrapUp: time.Duration(s.rng.IntN(3)) * 3 * time.Second, MaxMissed: s.rng.IntN(3)}
		for k := 0; k < 1+s.rng.IntN(3); k++ {
			a.Skills[fmt.Sprintf("s%d", s.rng.IntN(size.skills))] = 1 + s.rng.IntN(5)
		}
		cfg.Agents = append(cfg.Agents, a)
		s.agentIDs = append(s.agentIDs, a.ID)
		s.agentSt[a.ID] = LoggedOut.String()
	}
	cfg.EventIDPrefix = "sim"
	e, err := New(cfg, s.clk, eventlog.PublisherFunc(s.onEvent))
	if err != nil {
		t.Fatal(err)
	}
	s.e = e
	return s
}

func (s *sim) fail(format string, args ...any) {
	if s.violation == nil {
		s.violation = fmt.Errorf("step %d: "+format, append([]any{s.steps}, args...)...)
	}
}

// onEvent checks the offer invariants at the moment of the decision.
func (s *sim) onEvent(ev eventlog.Event) {
	if s.events != nil {
		*s.events = append(*s.events, ev)
	}
	switch ev.Type {
	case eventlog.CallEscalated, eventlog.EscalationAnswered, eventlog.QueueOverflowed, eventlog.QueueTimeout, eventlog.CallbackRequested, eventlog.AgentRingNoAnswer, eventlog.ConsultStarted:
		s.counts[ev.Type]++
	}
	switch ev.Type {
	case eventlog.AgentState:
		if s.agentSt[ev.Agent] != ev.Data["from"] {
			s.fail("agent %s went %s→%s but was %s", ev.Agent, ev.Data["from"], ev.Data["to"], s.agentSt[ev.Agent])
		}
		s.agentSt[ev.Agent] = ev.Data["to"]
	case eventlog.AgentOffered:
		s.offers++
		if st := s.agentSt[ev.Agent]; st != Available.String() {
			s.fail("call %s offered to agent %s in state %s", ev.CallID, ev.Agent, st)
		}
		a := s.e.agents[ev.Agent]
		c := a.call
		if c == nil || c.id != ev.CallID || c.inTree {
			s.fail("offer of %s to %s: engine state inconsistent", ev.CallID, ev.Agent)
			return
		}
		for _, o := range s.e.agentList {
			if o != a && o.call == c && !slices.Contains(c.ringing, o) {
				s.fail("call %s held by two agents", c.id)
			}
		}
		// nobody of equal priority ahead in the same queue who a could take
		// (a preferred agent need not serve the queue of the call reserved for it)
		if f := treapFirstFree(c.q.root); a.slotFor(c.q) != nil && f != nil && f.prio == c.prio && callLess(f, c) {
			s.fail("call %s (prio %d) overtook %s in %s", c.id, c.prio, f.id, c.q.cfg.Name)
		}
		for _, p := range a.preferred {
			if p.inTree && p.q == c.q && p.prio == c.prio && callLess(p, c) {
				s.fail("call %s overtook %s reserved for %s", c.id, p.id, a.cfg.ID)
			}
		}
	case eventlog.CallFinished:
		s.finished[ev.CallID]++
		if s.finished[ev.CallID] > 1 {
			s.fail("call %s finished twice", ev.CallID)
		}
		s.callerUp.del(ev.CallID)
		s.bridged.del(ev.CallID)
		s.dialing.del(ev.CallID)
		s.consult.del(ev.CallID)
	case eventlog.ConsultEnded:
		s.consult.del(ev.CallID)
	}
}

func (s *sim) apply(acts []Action, err error) {
	// ErrUnknownQueue: the sim escalates second-line calls, which have nowhere to go.
	if err != nil && !errors.Is(err, ErrState) && !errors.Is(err, ErrStale) && !errors.Is(err, ErrUnknownQueue) {
		s.t.Fatalf("step %d: %v", s.steps, err)
	}
	for _, a := range acts {
		switch a := a.(type) {
		case RingAgent:
			k := ringKey{a.CallID, a.Agent}
			if s.rings.has(k) {
				s.fail("agent %s rung twice for %s", a.Agent, a.CallID)
			}
			s.rings.add(k)
		case StopRinging:
			s.rings.del(ringKey{a.CallID, a.Agent})
		case Bridge:
			s.bridged.add(a.CallID)
		case StartMOH:
			if !s.consult.has(a.CallID) {
				s.bridged.del(a.CallID)
			}
		case HangupCaller:
			s.callerUp.del(a.CallID)
			s.bridged.del(a.CallID)
		case DialCallback:
			s.dialing.add(a.CallID)
		}
	}
}

// set is an insertion-ordered set with O(1) random picks, so that runs
// are reproducible from the seed.
type set[K comparable] struct {
	idx map[K]int
	s   []K
}

func newSet[K comparable]() *set[K] { return &set[K]{idx: map[K]int{}} }

func (s *set[K]) has(k K) bool { _, ok := s.idx[k]; return ok }

func (s *set[K]) add(k K) {
	if !s.has(k) {
		s.idx[k] = len(s.s)
		s.s = append(s.s, k)
	}
}

func (s *set[K]) del(k K) {
	i, ok := s.idx[k]
	if !ok {
		return
	}
	last := s.s[len(s.s)-1]
	s.s[i] = last
	s.idx[last] = i
	s.s = s.s[:len(s.s)-1]
	delete(s.idx, k)
}

func (s *set[K]) pick(r *rand.Rand) (K, bool) {
	var zero K
	if len(s.s) == 0 {
		return zero, false
	}
	return s.s[r.IntN(len(s.s))], true
}

func (s *sim) step(arrivals bool) {
	s.steps++
	r := s.rng
	switch x := r.IntN(100); {
	case x < 14 && arrivals:
		s.arrived++
		id := fmt.Sprintf("c%d", s.arrived)
		nc := NewCall{ID: id, Caller: "+7" + id, Queue: s.queues[r.IntN(len(s.queues))], Priority: r.IntN(3), IVRPath: []string{"main"}}
		if r.IntN(10) == 0 {
			nc.PreferredAgent, nc.PreferFor = s.agentIDs[r.IntN(len(s.agentIDs))], time.Duration(r.IntN(30))*time.Second
		}
		if r.IntN(20) == 0 {
			nc.Caller = "anonymous"
		}
		s.callerUp.add(id)
		s.queueOf[id] = nc.Queue
		s.apply(s.e.Enqueue(nc))
	case x < 20:
		if id, ok := s.callerUp.pick(r); ok {
			s.apply(s.e.Hangup(id, ByCaller))
		}
	case x < 38:
		if k, ok := s.rings.pick(r); ok {
			s.rings.del(k)
			s.apply(s.e.RingAnswered(k.call, k.agent))
		}
	case x < 44:
		if k, ok := s.rings.pick(r); ok {
			s.rings.del(k)
			s.apply(s.e.RingFailed(k.call, k.agent, "no-answer"))
		}
	case x < 58:
		if id, ok := s.bridged.pick(r); ok {
			by := ByCaller
			if r.IntN(2) == 0 {
				by = ByAgent
			}
			s.apply(s.e.Hangup(id, by))
		}
	case x < 61:
		if id, ok := s.bridged.pick(r); ok {
			if r.IntN(2) == 0 {
				s.apply(s.e.Escalate(id, Escalation{Reason: "r", Mode: "code"}))
			} else {
				acts, err := s.e.ConsultStart(id, Escalation{Reason: "r"})
				if err == nil {
					s.consult.add(id)
				}
				s.apply(acts, err)
			}
		}
	case x < 64:
		if id, ok := s.consult.pick(r); ok {
			if r.IntN(2) == 0 {
				s.apply(s.e.ConsultComplete(id))
			} else {
				s.apply(s.e.ConsultCancel(id))
			}
		}
	case x < 66:
		if id, ok := s.callerUp.pick(r); ok && !s.bridged.has(id) && !s.consult.has(id) {
			s.apply(s.e.RequestCallback(id, ""))
		}
	case x < 72:
		if id, ok := s.dialing.pick(r); ok {
			s.dialing.del(id)
			if r.IntN(2) == 0 {
				s.apply(s.e.CallbackAnswered(id))
			} else {
				s.apply(s.e.CallbackFailed(id, "busy"))
			}
		}
	case x < 84:
		id := s.agentIDs[r.IntN(len(s.agentIDs))]
		switch st := s.agentSt[id]; {
		case st == LoggedOut.String():
			s.apply(s.e.Login(id))
		case r.IntN(10) == 0:
			s.apply(s.e.Logout(id))
		case st == Paused.String() || r.IntN(2) == 0:
			s.apply(s.e.Ready(id))
		default:
			s.apply(s.e.Pause(id, "break"))
		}
	default:
		s.clk.t = s.clk.t.Add(time.Duration(r.IntN(8000)) * time.Millisecond)
		s.apply(s.e.Tick(), nil)
	}
	if s.violation != nil {
		s.t.Fatal(s.violation)
	}
	if s.steps%s.size.checkEvery == 0 {
		if err := s.e.check(); err != nil {
			s.t.Fatalf("step %d: %v", s.steps, err)
		}
	}
}

func (s *sim) run() {
	for s.arrived < s.size.calls {
		s.step(true)
	}
	// Drain: everyone logs in and works until the Engine is empty.
	for _, id := range s.agentIDs {
		if s.agentSt[id] == LoggedOut.String() {
			s.apply(s.e.Login(id))
		} else {
			s.apply(s.e.Ready(id))
		}
	}
	for i := 0; len(s.e.calls) > 0; i++ {
		if i > 200*s.size.calls {
			s.t.Fatalf("not drained: %d calls left", len(s.e.calls))
		}
		s.step(false)
		if i%50 == 0 {
			for _, a := range s.e.agentList {
				if a.state == Paused {
					s.apply(s.e.Ready(a.cfg.ID))
				}
			}
		}
	}
	if err := s.e.check(); err != nil {
		s.t.Fatal(err)
	}
	for i := 1; i <= s.arrived; i++ {
		if id := fmt.Sprintf("c%d", i); s.finished[id] != 1 {
			s.t.Fatalf("call %s finished %d times", id, s.finished[id])
		}
	}
}

// check verifies the Engine's internal consistency.
func (e *Engine) check() error {
	holder := map[*agent]*call{}
	hold := func(a *agent, c *call) error {
		if h := holder[a]; h != nil && h != c {
			return fmt.Errorf("agent %s has calls %s and %s", a.cfg.ID, h.id, c.id)
		}
		holder[a] = c
		return nil
	}
	size := map[*queue]int{}
	var all []*call
	for _, c := range e.calls {
		all = append(all, c)
		if c.consult != nil {
			all = append(all, c.consult)
		}
	}
	for _, c := range all {
		if c.counted {
			size[c.q]++
		}
		for _, a := range c.ringing {
			if c.state != stOffering || a.state != Ringing || a.call != c {
				return fmt.Errorf("call %s rings %s inconsistently", c.id, a.cfg.ID)
			}
			if err := hold(a, c); err != nil {
				return err
			}
		}
		if c.agent != nil {
			if err := hold(c.agent, c); err != nil {
				return err
			}
		}
		if c.inTree != (c.state == stWaiting) {
			return fmt.Errorf("call %s: in tree %v, state %s", c.id, c.inTree, callStateNames[c.state])
		}
		if c.state == stOffering && len(c.ringing) == 0 {
			return fmt.Errorf("call %s offered to nobody", c.id)
		}
	}
	for _, q := range e.queueList {
		if q.size != size[q] {
			return fmt.Errorf("queue %s: size %d, counted %d", q.cfg.Name, q.size, size[q])
		}
		var prev *call
		var err error
		treapWalk(q.root, func(c *call) bool {
			want := tsize(c.left) + tsize(c.right) + 1
			free := tfree(c.left) + tfree(c.right) + int32(b2i(!c.restricted))
			switch {
			case !c.inTree || c.q != q:
				err = fmt.Errorf("queue %s: stray call %s", q.cfg.Name, c.id)
			case c.tsize != want || c.tfree != free:
				err = fmt.Errorf("queue %s: bad augmentation at %s", q.cfg.Name, c.id)
			case prev != nil && !callLess(prev, c):
				err = fmt.Errorf("queue %s: %s before %s out of order", q.cfg.Name, prev.id, c.id)
			}
			prev = c
			return err == nil
		})
		if err != nil {
			return err
		}
		for i, s := range q.avail.s {
			if s.hidx != i || s.a.state != Available {
				return fmt.Errorf("queue %s: heap holds %s (%s)", q.cfg.Name, s.a.cfg.ID, s.a.state)
			}
			if i > 0 && q.avail.less(i, (i-1)/2) {
				return fmt.Errorf("queue %s: heap order", q.cfg.Name)
			}
		}
		logged, rdy := 0, 0
		for _, s := range q.slots {
			logged += b2i(loggedIn(s.a.state))
			rdy += b2i(ready(s.a.state))
		}
		if logged != q.logged || rdy != q.ready {
			return fmt.Errorf("queue %s: counters %d/%d, want %d/%d", q.cfg.Name, q.logged, q.ready, logged, rdy)
		}
	}
	for _, a := range e.agentList {
		switch a.state {
		case Available:
			for _, s := range a.slots {
				if s.hidx < 0 {
					return fmt.Errorf("available agent %s missing from %s", a.cfg.ID, s.q.cfg.Name)
				}
			}
			if c := e.bestFor(a); c != nil {
				return fmt.Errorf("available agent %s idles while %s waits in %s", a.cfg.ID, c.id, c.q.cfg.Name)
			}
			fallthrough
		case WrapUp, Paused, LoggedOut:
			if a.call != nil {
				return fmt.Errorf("agent %s (%s) holds call %s", a.cfg.ID, a.state, a.call.id)
			}
		case Ringing, OnCall:
			if a.call == nil || holder[a] != a.call {
				return fmt.Errorf("agent %s (%s) without a consistent call", a.cfg.ID, a.state)
			}
		}
		if a.state != Available {
			for _, s := range a.slots {
				if s.hidx >= 0 {
					return fmt.Errorf("agent %s (%s) in the heap of %s", a.cfg.ID, a.state, s.q.cfg.Name)
				}
			}
		}
		for _, c := range a.preferred {
			if !c.restricted || c.preferred != a || c.state == stEnded {
				return fmt.Errorf("agent %s: stale preferred call %s", a.cfg.ID, c.id)
			}
		}
	}
	return nil
}
