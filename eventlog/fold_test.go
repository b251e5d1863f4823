package eventlog

import (
	"testing"
	"time"
)

// TestFoldOutcomeOfAnotherQueue: an outcome event names its queue; when the
// call's next queue.joined was logged first (same moment), the outcome
// belongs to the visit that join closed, not to the new one.
func TestFoldOutcomeOfAnotherQueue(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for _, order := range []string{"overflow first", "join first"} {
		t.Run(order, func(t *testing.T) {
			of := Event{At: t0.Add(90 * time.Second), Type: QueueOverflowed, CallID: "c", Queue: "sales"}.
				WithString(KeyToQueue, "backup").WithDuration(KeyWait, 90*time.Second)
			jn := Event{At: t0.Add(90 * time.Second), Type: QueueJoined, CallID: "c", Queue: "backup"}
			evs := []Event{{At: t0, Type: QueueJoined, CallID: "c", Queue: "sales"}, of, jn}
			if order == "join first" {
				evs[1], evs[2] = jn, of
			}
			c := FoldCall(evs)
			if len(c.Visits) != 2 {
				t.Fatalf("%d visits", len(c.Visits))
			}
			s, b := c.Visits[0], c.Visits[1]
			if s.Outcome != OutcomeOverflowed || s.OverflowTo != "backup" || s.Wait != 90*time.Second {
				t.Errorf("sales visit %+v", s)
			}
			if b.Outcome != OutcomeWaiting || b.OverflowTo != "" {
				t.Errorf("backup visit %+v: closed by the other queue's outcome", b)
			}
		})
	}
}
