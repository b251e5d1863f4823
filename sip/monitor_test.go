package sip

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// setMon is a Monitor the set's tests watch: Stop closes Done once.
type setMon struct {
	once sync.Once
	done chan struct{}
}

func newSetMon() *setMon { return &setMon{done: make(chan struct{})} }

func (m *setMon) Mode() MonitorMode              { return MonitorListen }
func (m *setMon) SetMode(mode MonitorMode) error { return nil }
func (m *setMon) Stop() error                    { m.once.Do(func() { close(m.done) }); return nil }
func (m *setMon) Done() <-chan struct{}          { return m.done }

func stopped(t *testing.T, m *setMon, what string) {
	t.Helper()
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the monitor did not stop", what)
	}
}

// TestMonitorSetWatch: Watch refuses a bridge that is gone and stops a
// monitor on the first end — the bridge's, the agent's leg's, the
// supervisor's leg's.
func TestMonitorSetWatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(ms *MonitorSet[string, *setMon], target, sup chan struct{})
	}{
		{"the bridge ends", func(ms *MonitorSet[string, *setMon], _, _ chan struct{}) { ms.BridgeEnded("caller", "agent") }},
		{"the agent's leg ends", func(_ *MonitorSet[string, *setMon], target, _ chan struct{}) { close(target) }},
		{"the supervisor's leg ends", func(_ *MonitorSet[string, *setMon], _, sup chan struct{}) { close(sup) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ms MonitorSet[string, *setMon]
			m := newSetMon()
			target, sup := make(chan struct{}), make(chan struct{})
			if err := ms.Watch("agent", m, func() bool { return true }, target, sup); err != nil {
				t.Fatal(err)
			}
			if !ms.Any(func(x *setMon) bool { return x == m }) {
				t.Fatal("the monitor is not in the set")
			}
			tc.end(&ms, target, sup)
			stopped(t, m, tc.name)
		})
	}
	t.Run("the bridge already gone", func(t *testing.T) {
		var ms MonitorSet[string, *setMon]
		m := newSetMon()
		if err := ms.Watch("agent", m, func() bool { return false }, nil, nil); !errors.Is(err, ErrNotBridged) {
			t.Fatalf("Watch = %v, want ErrNotBridged", err)
		}
		stopped(t, m, "refused")
	})
}

// TestMonitorSetWaitBridged: WaitBridged returns at once for a leg whose
// bridge is up, wakes when one comes up, and gives up when the leg or ctx
// ends; a bridge's end makes the next wait wait again.
func TestMonitorSetWaitBridged(t *testing.T) {
	var ms MonitorSet[string, *setMon]
	ctx := context.Background()
	ms.BridgeStarted("caller", "a1")
	if err := ms.WaitBridged(ctx, "a1", nil); err != nil {
		t.Fatalf("a bridged leg: %v", err)
	}
	ms.BridgeEnded("caller", "a1")

	got := make(chan error, 1)
	go func() { got <- ms.WaitBridged(ctx, "a2", nil) }()
	// The waiter is registered before BridgeStarted or after it; either way
	// it returns nil.
	ms.BridgeStarted("caller", "a2")
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("woken by the bridge: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitBridged was not woken by BridgeStarted")
	}

	ended := make(chan struct{})
	close(ended)
	if err := ms.WaitBridged(ctx, "a1", ended); !errors.Is(err, ErrHangup) {
		t.Fatalf("an ended leg: %v, want ErrHangup", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := ms.WaitBridged(cctx, "a1", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v, want context.Canceled", err)
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if len(ms.waits) != 0 {
		t.Errorf("waiters left behind: %v", ms.waits)
	}
}
