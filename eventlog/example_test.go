package eventlog_test

import (
	"fmt"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// Producers publish events on the bus; each consumer gets them in order on
// its own goroutine. Payloads are written and read through typed keys.
func ExampleBus() {
	bus := eventlog.NewBus(eventlog.NewIDs("node1"))
	bus.Subscribe(eventlog.PublisherFunc(func(e eventlog.Event) {
		wait, _ := e.Duration(eventlog.KeyWait)
		fmt.Println(e.ID, e.Type, e.CallID, wait)
	}))
	bus.Publish(eventlog.Event{Type: eventlog.QueueAnswered, CallID: "c1", Queue: "support", Agent: "a1"}.
		WithDuration(eventlog.KeyWait, 12345*time.Millisecond))
	bus.Close() // delivers what is queued
	// Output:
	// node1-000000000001 queue.answered c1 12.345s
}

// A call's events folded into what happened to it: its queue visits, who
// answered, how long they waited and talked.
func ExampleFoldCall() {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	c := eventlog.FoldCall([]eventlog.Event{
		{At: at(0), Type: eventlog.CallArrived, CallID: "c1", Caller: "+79123456789"},
		{At: at(5), Type: eventlog.QueueJoined, CallID: "c1", Queue: "first-line"},
		{At: at(50), Type: eventlog.QueueOverflowed, CallID: "c1", Queue: "first-line"},
		{At: at(50), Type: eventlog.QueueJoined, CallID: "c1", Queue: "billing"},
		{At: at(58), Type: eventlog.QueueAnswered, CallID: "c1", Queue: "billing", Agent: "a7"},
		{At: at(178), Type: eventlog.CallCompleted, CallID: "c1", Queue: "billing", Agent: "a7"},
	})
	for _, v := range c.Visits {
		fmt.Printf("%s: %s after %s", v.Queue, v.Outcome, v.Wait)
		if v.Agent != "" {
			fmt.Printf(" by %s, talk %s", v.Agent, v.Talk)
		}
		fmt.Println()
	}
	// Output:
	// first-line: overflowed after 45s
	// billing: answered after 8s by a7, talk 2m0s
}
