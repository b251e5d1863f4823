package queue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
)

// recordingStore is a CallbackStore that records what it was given and
// whether the caller had heard the confirmation by then.
type recordingStore struct {
	mu     sync.Mutex
	stored []CallbackCall
	heard  []bool
	leg    *fakeLeg
}

func (s *recordingStore) StoreCallback(_ context.Context, cb CallbackCall) error {
	_, played := s.leg.snapshot()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stored = append(s.stored, cb)
	s.heard = append(s.heard, slices.Contains(played, "hotline/callback-confirm"))
	return nil
}

type gateFunc func(ctx context.Context, callID, number, trunk string) error

func (f gateFunc) AllowCallback(ctx context.Context, callID, number, trunk string) error {
	return f(ctx, callID, number, trunk)
}

// The Runner plays the offer on join, stores the callback before the
// confirmation, and asks the gate before dialling: a refusal ends the
// callback without a dial.
func TestRunnerDurableCallback(t *testing.T) {
	store := &recordingStore{}
	var asked []string
	var mu sync.Mutex
	h := newRunnerHarness(t, func(c *RunnerConfig) {
		c.Queue.Queues[0].CallbackOffer = CallbackOffer{OnJoin: true}
		c.Queue.Queues[0].Callback = CallbackConfig{Prompt: "hotline/callback-confirm", Durable: true}
		c.Callbacks = store
		c.CallbackGate = gateFunc(func(_ context.Context, callID, number, trunk string) error {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, callID+" "+number+" "+trunk)
			return errors.New("denied: premium rate")
		})
	})
	c := newFakeLeg("c1", "+79123456789", "88001234567", "", sip.Inbound)
	c.info.Trunk = "provider"
	store.leg = c
	if err := h.r.Enqueue(context.Background(), c, NewCall{Queue: "support"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the offer played", func() bool {
		_, played := c.snapshot()
		return slices.Contains(played, "hotline/callback-offer")
	})
	c.events <- sip.DigitEvent{Digit: '5', At: time.Now()}
	eventually(t, "caller hung up after the confirmation", func() bool { return c.endedBy() == "local" })
	store.mu.Lock()
	if len(store.stored) != 1 || store.heard[0] {
		t.Fatalf("stored %+v (confirmation heard first: %v), want one, before the confirmation", store.stored, store.heard)
	}
	if cb := store.stored[0]; cb.ID != "c1" || cb.Number != "+79123456789" || cb.Trunk != "provider" || cb.Source != "key" {
		t.Fatalf("stored %+v", cb)
	}
	store.mu.Unlock()
	h.login("f1")
	h.agentLeg("f1", 0)
	eventually(t, "the refusal", func() bool { return h.log.count(eventlog.CallbackResult, "c1") == 1 })
	if e, _ := h.log.find(eventlog.CallbackResult, "c1"); e.Reason != "refused" || !e.Flag(eventlog.KeyFinal) {
		t.Fatalf("callback.result %+v", e)
	}
	if n := h.sw.dialCount("+79123456789"); n != 0 {
		t.Fatalf("refused number dialled %d times", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(asked, []string{"c1 +79123456789 provider"}) {
		t.Fatalf("gate asked %v", asked)
	}
	eventually(t, "the agent is free again", func() bool { return h.agentState("f1") == Available })
}

// CancelCallback withdraws a callback waiting in line (an erased number).
func TestRunnerCancelCallback(t *testing.T) {
	h := newRunnerHarness(t, nil)
	if err := h.r.EnqueueCallback(CallbackCall{ID: "cb", Number: "+79123456789", Queue: "support"}); err != nil {
		t.Fatal(err)
	}
	if err := h.r.CancelCallback("cb"); err != nil {
		t.Fatal(err)
	}
	if e, ok := h.log.find(eventlog.CallFinished, "cb"); !ok || e.Reason != "callback-cancelled" {
		t.Fatalf("call.finished %+v", e)
	}
	if err := h.r.CancelCallback("cb"); !errors.Is(err, ErrUnknownCall) {
		t.Fatalf("second cancel: %v", err)
	}
}
