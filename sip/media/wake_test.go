package media

import (
	"testing"
	"time"
)

// TestWaiter: the pacer's waiter returns true once the due time has passed
// and false when stopped first, and the pacer does not wake before its due
// time (the timerfd kick comes after the Go timer, never instead of it).
func TestWaiter(t *testing.T) {
	for _, tc := range []struct {
		name string
		new  func() waiter
	}{
		{"platform", newWaiter},
		{"go timer", func() waiter { return newTimerWaiter() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.new()
			defer w.close()
			never := make(chan struct{})
			for i := range 5 {
				due := time.Now().Add(time.Duration(i) * 300 * time.Microsecond)
				if !w.wait(due, never) {
					t.Fatalf("wait %d returned false without a stop", i)
				}
				if now := time.Now(); now.Before(due) {
					t.Fatalf("wait %d returned %v before its due time", i, due.Sub(now))
				}
			}
			stop := make(chan struct{})
			close(stop)
			if w.wait(time.Now().Add(time.Hour), stop) {
				t.Fatal("wait returned true after stop")
			}
		})
	}
}
