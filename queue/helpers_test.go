package queue

import (
	"fmt"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// harness drives an Engine with a fake clock and records everything.
type harness struct {
	t      testing.TB
	clk    *fakeClock
	e      *Engine
	events []eventlog.Event
	last   []Action
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, clk: &fakeClock{t: t0}}
	if cfg.EventIDPrefix == "" {
		cfg.EventIDPrefix = "t"
	}
	e, err := New(cfg, h.clk, eventlog.PublisherFunc(func(ev eventlog.Event) { h.events = append(h.events, ev) }))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.e = e
	return h
}

func (h *harness) ok(acts []Action, err error) []Action {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("unexpected error: %v", err)
	}
	h.last = acts
	return acts
}

func (h *harness) advance(d time.Duration) []Action {
	h.t.Helper()
	h.clk.t = h.clk.t.Add(d)
	return h.ok(h.e.Tick(), nil)
}

func (h *harness) login(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		h.ok(h.e.Login(id))
	}
}

func (h *harness) enqueue(id, q string, prio int) []Action {
	h.t.Helper()
	return h.ok(h.e.Enqueue(NewCall{ID: id, Caller: "+7900" + id, Queue: q, Priority: prio}))
}

func (h *harness) state(id string) AgentStatus {
	h.t.Helper()
	a, err := h.e.Agent(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return a.State
}

func (h *harness) wantState(id string, want AgentStatus) {
	h.t.Helper()
	if got := h.state(id); got != want {
		h.t.Fatalf("agent %s: state %s, want %s", id, got, want)
	}
}

// rings lists "call>agent" for every RingAgent in acts.
func rings(acts []Action) []string {
	var out []string
	for _, a := range acts {
		if r, ok := a.(RingAgent); ok {
			out = append(out, r.CallID+">"+r.Agent)
		}
	}
	return out
}

func find[T Action](acts []Action) (T, bool) {
	for _, a := range acts {
		if x, ok := a.(T); ok {
			return x, true
		}
	}
	var zero T
	return zero, false
}

func (h *harness) eventsOf(typ eventlog.Type) []eventlog.Event {
	var out []eventlog.Event
	for _, ev := range h.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func eq(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// agents builds n agents a1..an with the given skills.
func agents(n int, skills map[string]int) []AgentConfig {
	out := make([]AgentConfig, n)
	for i := range out {
		out[i] = AgentConfig{ID: fmt.Sprintf("a%d", i+1), Skills: skills}
	}
	return out
}
