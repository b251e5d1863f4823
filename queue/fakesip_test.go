package queue

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
)

// fakeLeg is an in-memory sip.Leg that records what was done to it.
type fakeLeg struct {
	info   sip.CallInfo
	done   chan struct{}
	events chan sip.Event

	mu      sync.Mutex
	ended   bool
	end     sip.End
	moh     []string // StartMOH classes, in order
	played  []string // prompt names, in order
	bridged *fakeLeg
	bridges int
}

func newFakeLeg(id, from, to, agent string, dir sip.Direction) *fakeLeg {
	return &fakeLeg{info: sip.CallInfo{ID: id, From: from, To: to, Agent: agent, Direction: dir, Created: time.Now()},
		done: make(chan struct{}), events: make(chan sip.Event, 16)}
}

func (l *fakeLeg) Info() sip.CallInfo           { return l.info }
func (l *fakeLeg) Answer(context.Context) error { return l.err() }
func (l *fakeLeg) FlushDigits()                 {}
func (l *fakeLeg) Done() <-chan struct{}        { return l.done }
func (l *fakeLeg) Events() <-chan sip.Event     { return l.events }
func (l *fakeLeg) StopMOH() error               { return nil }
func (l *fakeLeg) ReadDigits(context.Context, sip.DigitOptions) (string, error) {
	return "", l.err()
}

func (l *fakeLeg) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return sip.ErrHangup
	}
	return nil
}

func (l *fakeLeg) Play(ctx context.Context, o sip.PlayOptions) (rune, error) {
	if err := l.err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	for _, p := range o.Prompts {
		l.played = append(l.played, p.Name)
	}
	l.mu.Unlock()
	return 0, nil
}

func (l *fakeLeg) StartMOH(class string) error {
	if class == "no-such-class" {
		return sip.ErrUnknownMOH
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.moh = append(l.moh, class)
	return nil
}

func (l *fakeLeg) Bridge(ctx context.Context, other sip.Leg) error {
	o := other.(*fakeLeg)
	l.mu.Lock()
	if l.bridged != nil {
		l.mu.Unlock()
		return sip.ErrAlreadyBridged
	}
	l.bridged = o
	l.bridges++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.bridged = nil
		l.mu.Unlock()
	}()
	select {
	case <-l.done:
		return sip.ErrHangup
	case <-o.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *fakeLeg) Hangup(c sip.Cause) error { l.finish(c, sip.SideLocal); return nil }

// remoteHangup is the peer hanging up.
func (l *fakeLeg) remoteHangup() { l.finish(sip.CauseNormal, sip.SideRemote) }

func (l *fakeLeg) finish(c sip.Cause, s sip.Side) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return
	}
	l.ended, l.end = true, sip.End{Cause: c, Side: s, At: time.Now()}
	close(l.done)
}

func (l *fakeLeg) Ended() (sip.End, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.end, l.ended
}

func (l *fakeLeg) endedBy() string {
	e, ok := l.Ended()
	if !ok {
		return "up"
	}
	return e.Side.String()
}

func (l *fakeLeg) bridgedTo() *fakeLeg {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bridged
}

func (l *fakeLeg) snapshot() (moh, played []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.moh...), append([]string(nil), l.played...)
}

// fakeSwitch answers, refuses or holds dials per target.
type fakeSwitch struct {
	mu     sync.Mutex
	behave map[string]string // target → answer (default) | busy | hold | late
	legs   map[string][]*fakeLeg
	dials  map[string]int
	seq    int
}

func newFakeSwitch() *fakeSwitch {
	return &fakeSwitch{behave: map[string]string{}, legs: map[string][]*fakeLeg{}, dials: map[string]int{}}
}

func (s *fakeSwitch) Incoming() <-chan sip.Leg { return nil }

func (s *fakeSwitch) set(target, b string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behave[target] = b
}

func (s *fakeSwitch) Dial(ctx context.Context, t sip.Target) (sip.Leg, error) {
	key := t.Agent + t.Number
	s.mu.Lock()
	b := s.behave[key]
	s.dials[key]++
	s.seq++
	leg := newFakeLeg(fmt.Sprintf("out-%d", s.seq), "hotline", key, t.Agent, sip.Outbound)
	s.mu.Unlock()
	switch b {
	case "busy":
		return nil, &sip.DialError{Target: t, Cause: sip.CauseBusy}
	case "hold":
		<-ctx.Done()
		return nil, &sip.DialError{Target: t, Cause: sip.CauseCancelled}
	case "late": // the phone answers just as the ringing is cancelled
		<-ctx.Done()
	}
	s.mu.Lock()
	s.legs[key] = append(s.legs[key], leg)
	s.mu.Unlock()
	return leg, nil
}

// leg returns the n-th answered leg to target (0-based), or nil.
func (s *fakeSwitch) leg(target string, n int) *fakeLeg {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < len(s.legs[target]) {
		return s.legs[target][n]
	}
	return nil
}

func (s *fakeSwitch) dialCount(target string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dials[target]
}

// eventLog collects published events.
type eventLog struct {
	mu  sync.Mutex
	evs []eventlog.Event
}

func (l *eventLog) Publish(e eventlog.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
}

func (l *eventLog) count(t eventlog.Type, callID string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.evs {
		if e.Type == t && (callID == "" || e.CallID == callID) {
			n++
		}
	}
	return n
}

func (l *eventLog) find(t eventlog.Type, callID string) (eventlog.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.evs {
		if e.Type == t && (callID == "" || e.CallID == callID) {
			return e, true
		}
	}
	return eventlog.Event{}, false
}

// eventually polls cond until it holds; the deadline only guards against
// hangs.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runnerHarness is a Runner over a fake switch, running.
type runnerHarness struct {
	t    *testing.T
	r    *Runner
	sw   *fakeSwitch
	log  *eventLog
	stop func()
}

func testQueueConfig() Config {
	return Config{
		Agents: []AgentConfig{
			{ID: "f1", Line: 1}, {ID: "f2", Line: 1},
			{ID: "s1", Line: 2},
		},
		Queues: []QueueConfig{
			{Name: "support", Line: 1, EscalateTo: "second", RingTimeout: time.Minute, MOHClass: "jazz"},
			{Name: "second", Line: 2, RingTimeout: time.Minute},
		},
	}
}

func newRunnerHarness(t *testing.T, mutate func(*RunnerConfig)) *runnerHarness {
	t.Helper()
	h := &runnerHarness{t: t, sw: newFakeSwitch(), log: &eventLog{}}
	cfg := RunnerConfig{Queue: testQueueConfig(), Switch: h.sw, Publisher: h.log, EscalationNumber: "7000",
		CallbackKeys: map[string]rune{"support": '5'}}
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	h.stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel: a goroutine is stuck")
		}
	}
	t.Cleanup(h.stop)
	return h
}

func (h *runnerHarness) caller(id, number, q string) *fakeLeg {
	h.t.Helper()
	leg := newFakeLeg(id, number, "88001234567", "", sip.Inbound)
	if err := h.r.Enqueue(context.Background(), leg, NewCall{Queue: q, IVRPath: []string{"main", "support"},
		Data: map[string]string{"history": "2 calls this week"}}); err != nil {
		h.t.Fatalf("Enqueue %s: %v", id, err)
	}
	return leg
}

func (h *runnerHarness) do(f func() ([]Action, error)) {
	h.t.Helper()
	if err := h.r.input("", f); err != nil {
		h.t.Fatal(err)
	}
}

func (h *runnerHarness) login(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		h.do(func() ([]Action, error) { return h.r.eng.Login(id) })
	}
}

func (h *runnerHarness) agentState(id string) AgentStatus {
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	a, _ := h.r.eng.Agent(id)
	return a.State
}

func (h *runnerHarness) callState(id string) string {
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	c, err := h.r.eng.Call(id)
	if err != nil {
		return "gone"
	}
	return c.Queue + "/" + c.State
}

// agentLeg waits for the n-th answered leg of agent.
func (h *runnerHarness) agentLeg(agent string, n int) *fakeLeg {
	h.t.Helper()
	var l *fakeLeg
	eventually(h.t, "agent "+agent+" answers", func() bool { l = h.sw.leg(agent, n); return l != nil })
	return l
}

// bridged waits until caller and agent legs are bridged.
func (h *runnerHarness) bridged(caller, agent *fakeLeg) {
	h.t.Helper()
	eventually(h.t, "bridge "+caller.info.ID+"↔"+agent.info.ID, func() bool { return caller.bridgedTo() == agent })
}
