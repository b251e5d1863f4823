package eventlog

import (
	"fmt"
	"strings"
	"testing"
)

func TestBroadcasterDropsSlowSubscriber(t *testing.T) {
	b := NewBroadcaster(4)
	slow := b.Subscribe(2, "")
	for i := 0; i < 5; i++ {
		b.Publish(Event{ID: string(rune('a' + i)), Type: AgentState})
	}
	n := 0
	for range slow.C { // closed after the buffer filled: the client reconnects
		n++
	}
	if n != 2 {
		t.Fatalf("slow subscriber got %d events before being dropped, want its buffer (2)", n)
	}
	late := b.Subscribe(10, "b")
	b.Close()
	var ids []string
	for ev := range late.C {
		ids = append(ids, ev.ID)
	}
	if strings.Join(ids, "") != "cde" { // history holds the last 4: b..e; after b: c, d, e
		t.Fatalf("replay after b = %v", ids)
	}
}

// TestBroadcasterFilterAtPublish: a filtered subscriber's buffer holds only
// the events it sees (redacted as its filter returns them), so the events
// of others never make it fall behind; the replay is filtered too.
func TestBroadcasterFilterAtPublish(t *testing.T) {
	b := NewBroadcaster(16)
	mine := func(ev Event) (Event, bool) {
		ev.Caller = "" // redacted
		return ev, ev.Agent == "a1"
	}
	s := b.SubscribeFilter(2, "", mine)
	for i := range 300 {
		b.Publish(Event{ID: fmt.Sprintf("%03d", i), Type: AgentState, Agent: "a2", Caller: "+79990000000"})
	}
	b.Publish(Event{ID: "300", Type: AgentState, Agent: "a1", Caller: "+79990000000"})
	b.Publish(Event{ID: "301", Type: AgentState, Agent: "a2"})
	b.Publish(Event{ID: "302", Type: AgentState, Agent: "a1"})
	late := b.SubscribeFilter(10, "299", mine) // history: 287..302
	b.Close()
	for _, tc := range []struct {
		name string
		sub  *Subscription
	}{{"live", s}, {"replay", late}} {
		var got []string
		for ev := range tc.sub.C {
			if ev.Agent != "a1" || ev.Caller != "" {
				t.Errorf("%s: got %+v, want a1's events redacted", tc.name, ev)
			}
			got = append(got, ev.ID)
		}
		if strings.Join(got, ",") != "300,302" {
			t.Errorf("%s: got %v, want [300 302]", tc.name, got)
		}
	}
}
