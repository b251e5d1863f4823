package eventlog

import (
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
