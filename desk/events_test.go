package desk

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// sse reads one connection of the live stream: the IDs of the events it
// delivers, until n arrived.
func sse(t *testing.T, c *client, lastID string, n int, published func()) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/desk/api/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	var ids []string
	if published != nil {
		sc.Scan() // the stream is open (its first comment): publish now
		published()
	}
	for len(ids) < n && sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestEventsCatchUp: an agent's stream carries their own events and those
// of their calls only, never monitor.* (a supervisor listening is silent); after a drop, reconnecting with Last-Event-ID
// delivers exactly what was missed, once.
func TestEventsCatchUp(t *testing.T) {
	f := newFixture(t)
	a1 := f.client(t)
	a1.login("a1", "pw-a1")
	at := *f.now
	pub := func(id string, typ eventlog.Type, call, agent string) {
		f.d.Publish(eventlog.Event{ID: id, At: at, Type: typ, CallID: call, Agent: agent, Queue: "support"})
	}
	// Connection 1 sees the offer of c2 to a1 (not the other agent's c3).
	got := sse(t, a1, "", 1, func() {
		pub("f1", eventlog.CallArrived, "c3", "")
		pub("f2", eventlog.AgentOffered, "c3", "a2")
		pub("f2a", eventlog.MonitorStarted, "c2", "a1") // a supervisor listening is not the agent's to see
		pub("f3", eventlog.AgentOffered, "c2", "a1")
	})
	if strings.Join(got, ",") != "f3" {
		t.Fatalf("first connection: %v, want [f3]", got)
	}
	// Dropped; meanwhile c2 is answered and another call is offered.
	pub("f4", eventlog.QueueAnswered, "c2", "a1")
	pub("f5", eventlog.AgentOffered, "c3", "a2")
	pub("f6", eventlog.CallEnded, "c2", "")
	pub("f7", eventlog.AgentOffered, "c4", "a1")
	got = sse(t, a1, "f3", 3, nil)
	if strings.Join(got, ",") != "f4,f6,f7" {
		t.Fatalf("after reconnecting: %v, want [f4 f6 f7]: each missed event of a1's once", got)
	}
}
