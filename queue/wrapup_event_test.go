package queue

import (
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// agent.wrapup_ended names the call and queue it follows, so reporting can
// add the wrap-up to that call's handle time and the queue's AHT.
func TestWrapupEndedNamesCallAndQueue(t *testing.T) {
	h := newRunnerHarness(t, func(c *RunnerConfig) { c.Queue.Queues[0].WrapUp = 50 * time.Millisecond })
	c := h.caller("c1", "+79123456789", "support")
	h.login("f1")
	a := h.agentLeg("f1", 0)
	h.bridged(c, a)
	c.remoteHangup()
	eventually(t, "wrap-up ended", func() bool { return h.log.count(eventlog.WrapupEnded, "c1") == 1 })
	e, _ := h.log.find(eventlog.WrapupEnded, "c1")
	if e.Queue != "support" || e.Agent != "f1" || e.Data["wrapup_ms"] == "" {
		t.Fatalf("wrapup_ended = %+v", e)
	}
}
