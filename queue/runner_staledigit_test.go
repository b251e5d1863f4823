package queue

import (
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
)

// The IVR's menu digit is still in the leg's event stream when the queue
// takes the call; pressing "1" for the menu must not also request a
// callback in a queue whose callback key is "1".
func TestRunnerIgnoresDigitsPressedBeforeTheQueue(t *testing.T) {
	h := newRunnerHarness(t, func(c *RunnerConfig) {
		c.Queue.Queues[0].Callback = CallbackConfig{Prompt: "hotline/callback-confirm"}
	})
	pressed := time.Now().Add(-2 * time.Second) // in the IVR menu
	c := h.caller("c1", "+79123456789", "support")
	c.events <- sip.DigitEvent{Digit: '5', At: pressed}
	// A fresh digit that is not the callback key, sent after the stale one:
	// once the event channel has drained, the stale one has been seen.
	c.events <- sip.DigitEvent{Digit: '7', At: time.Now()}
	eventually(t, "events read", func() bool { return len(c.events) == 0 })
	time.Sleep(50 * time.Millisecond) // let the watcher act on what it read
	if c.endedBy() != "up" || h.log.count(eventlog.CallbackRequested, "c1") != 0 {
		t.Fatalf("a digit pressed in the IVR requested a callback (caller ended by %q)", c.endedBy())
	}
	h.login("f1")
	a := h.agentLeg("f1", 0)
	h.bridged(c, a)
	if h.log.count(eventlog.CallbackRequested, "c1") != 0 {
		t.Fatal("a digit pressed in the IVR requested a callback")
	}
}
