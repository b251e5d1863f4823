package server

import (
	"context"
	"errors"
	"testing"

	"github.com/hotline-cc/hotline/dialpolicy"
	"github.com/hotline-cc/hotline/queue"
)

// The callbacks' gate on the shared dialling policy: a permanent refusal
// ends the callback, a limit defers it, an inbound Russian number is dialled.
func TestCallbackGate(t *testing.T) {
	p, err := dialpolicy.New(dialpolicy.Config{PerNumber: 1, Trunks: []string{"provider"}}, dialpolicy.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	g := callbackGate{&Server{dialPolicy: p}}
	ctx := context.Background()
	for _, tc := range []struct {
		name, number, trunk string
		refused, deferred   bool
	}{
		{"inbound mobile", "+79123456789", "provider", false, false},
		{"the same number again: per-number limit", "+79123456789", "provider", true, true},
		{"premium rate", "+78091234567", "provider", true, false},
		{"not from a trunk", "+79123456780", "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := g.AllowCallback(ctx, "c-"+tc.name, tc.number, tc.trunk)
			if (err != nil) != tc.refused || errors.Is(err, queue.ErrDialDeferred) != tc.deferred {
				t.Fatalf("AllowCallback = %v; want refused %v, deferred %v", err, tc.refused, tc.deferred)
			}
		})
	}
}
