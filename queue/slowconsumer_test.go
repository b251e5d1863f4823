package queue

import (
	"sync"
	"testing"

	"github.com/hotline-cc/hotline/eventlog"
)

// TestSlowConsumerDoesNotStallRouting: with the Runner publishing on an
// eventlog.Bus, as serve wires it, a consumer stuck in its first event
// (a database writer that hangs, say) does not hold up routing: callers
// still reach agents, and the consumer gets every event once it resumes.
func TestSlowConsumerDoesNotStallRouting(t *testing.T) {
	bus := eventlog.NewBus(eventlog.NewIDs("t"))
	release := make(chan struct{})
	var once sync.Once
	stuck := make(chan struct{})
	got := &eventLog{}
	h := newRunnerHarness(t, func(c *RunnerConfig) {
		bus.Subscribe(c.Publisher) // the harness's log
		bus.Subscribe(eventlog.PublisherFunc(func(e eventlog.Event) {
			once.Do(func() { close(stuck) })
			<-release
			got.Publish(e)
		}))
		c.Publisher = bus
		c.IDs = bus.IDs()
	})
	h.login("f1")
	<-stuck // the slow consumer holds its first event (f1's login)
	c := h.caller("c1", "+79123456789", "support")
	a := h.agentLeg("f1", 0)
	h.bridged(c, a)
	eventually(t, "the other consumers get the answer", func() bool { return h.log.count(eventlog.QueueAnswered, "c1") == 1 })
	if n := got.count(eventlog.QueueAnswered, "c1"); n != 0 {
		t.Fatalf("the stuck consumer got %d events while stuck", n)
	}
	close(release)
	c.remoteHangup()
	eventually(t, "call finished", func() bool { return h.log.count(eventlog.CallFinished, "c1") == 1 })
	h.stop()
	bus.Close()
	if got.count(eventlog.QueueAnswered, "c1") != 1 || got.count(eventlog.CallFinished, "c1") != 1 {
		t.Fatal("the slow consumer lost events")
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	for i := 1; i < len(got.evs); i++ {
		if got.evs[i].ID <= got.evs[i-1].ID {
			t.Fatalf("event %d (%s) out of order after %s", i, got.evs[i].ID, got.evs[i-1].ID)
		}
	}
}
