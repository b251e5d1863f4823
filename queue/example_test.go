package queue_test

import (
	"fmt"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/queue"
)

// clock is a hand-moved clock: the Engine reads time only from it.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// show prints the actions the caller of the Engine must carry out.
func show(acts []queue.Action, err error) {
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, a := range acts {
		switch a := a.(type) {
		case queue.RingAgent:
			fmt.Printf("ring %s for %s\n", a.Agent, a.CallID)
		case queue.Bridge:
			fmt.Printf("bridge %s with %s\n", a.CallID, a.Agent)
		case queue.StartMOH:
			fmt.Printf("music on hold for %s\n", a.CallID)
		case queue.StopMOH:
			fmt.Printf("stop music for %s\n", a.CallID)
		case queue.SetTimer:
			if a.At.IsZero() {
				fmt.Println("no timer")
			} else {
				fmt.Printf("wake me at +%s\n", a.At.Sub(start))
			}
		default:
			fmt.Printf("%T\n", a)
		}
	}
}

var start = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

// The Engine decides; whoever drives it (the Runner, on SIP legs) carries
// out the actions it returns. Every state change is an eventlog.Event.
func ExampleEngine() {
	clk := &clock{t: start}
	cfg := queue.Config{
		Agents: []queue.AgentConfig{{ID: "a1", Skills: map[string]int{"general": 3}}},
		Queues: []queue.QueueConfig{{Name: "support", Skill: "general", RingTimeout: 15 * time.Second}},
	}
	var log []eventlog.Event
	e, err := queue.New(cfg, clk, eventlog.PublisherFunc(func(ev eventlog.Event) { log = append(log, ev) }))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("-- a caller joins; nobody is logged in")
	show(e.Enqueue(queue.NewCall{ID: "c1", Caller: "+79123456789", Queue: "support"}))
	clk.t = clk.t.Add(8 * time.Second)
	fmt.Println("-- a1 logs in")
	show(e.Login("a1"))
	clk.t = clk.t.Add(3 * time.Second)
	fmt.Println("-- a1 answers")
	show(e.RingAnswered("c1", "a1"))
	for _, ev := range log {
		if ev.Type == eventlog.QueueAnswered {
			wait, _ := ev.Duration(eventlog.KeyWait)
			fmt.Println("answered by", ev.Agent, "after", wait, "within SL:", ev.Flag(eventlog.KeyWithinSL))
		}
	}
	// Output:
	// -- a caller joins; nobody is logged in
	// music on hold for c1
	// -- a1 logs in
	// ring a1 for c1
	// wake me at +23s
	// -- a1 answers
	// stop music for c1
	// bridge c1 with a1
	// no timer
	// answered by a1 after 11s within SL: true
}
