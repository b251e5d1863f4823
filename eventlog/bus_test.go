package eventlog

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a consumer that keeps what it receives.
type recorder struct {
	mu  sync.Mutex
	evs []Event
}

func (r *recorder) Publish(e Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.evs))
	for i, e := range r.evs {
		out[i] = e.ID
	}
	return out
}

func TestBusDeliversInOrderWithOneIDScheme(t *testing.T) {
	b := NewBus(NewIDs("p"))
	defer b.Close()
	a, c := &recorder{}, &recorder{}
	b.Subscribe(a)
	b.Subscribe(c)
	b.Publish(Event{Type: CallArrived, CallID: "c1"})
	b.Publish(Event{ID: "kept", Type: CallEnded, CallID: "c1", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	b.Publish(Event{Type: CallArrived, CallID: "c2"})
	b.Sync()
	want := []string{"p-000000000001", "kept", "p-000000000002"}
	for _, r := range []*recorder{a, c} {
		if got := r.ids(); !slices.Equal(got, want) {
			t.Fatalf("delivered %v, want %v", got, want)
		}
	}
	if a.evs[0].At.IsZero() || a.evs[0].At.Location() != time.UTC {
		t.Errorf("At not stamped in UTC: %v", a.evs[0].At)
	}
	if !a.evs[1].At.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("a set At was replaced: %v", a.evs[1].At)
	}
}

// TestBusSlowConsumer: a consumer that blocks holds up neither Publish nor
// the other consumers, and gets everything in order once it resumes.
func TestBusSlowConsumer(t *testing.T) {
	b := NewBus(NewIDs("p"))
	release := make(chan struct{})
	first := make(chan struct{})
	var once sync.Once
	slow := &recorder{}
	b.Subscribe(PublisherFunc(func(e Event) {
		once.Do(func() { close(first) })
		<-release
		slow.Publish(e)
	}))
	fast := &recorder{}
	b.Subscribe(fast)
	b.Publish(Event{Type: AgentState})
	<-first // the consumer is blocked in its first event
	for range 1000 {
		b.Publish(Event{Type: AgentState}) // returns: the bus queues
	}
	for len(fast.ids()) < 1001 { // the other consumer is not held up
		time.Sleep(time.Millisecond)
	}
	close(release)
	b.Close() // delivers everything queued
	if n := len(slow.ids()); n != 1001 {
		t.Fatalf("slow consumer got %d events, want 1001", n)
	}
	if got := slow.ids(); !slices.IsSorted(got) || !slices.Equal(got, fast.ids()) {
		t.Fatal("consumers saw different orders")
	}
	// After Close, Publish delivers at once.
	b.Publish(Event{Type: AgentState})
	if n := len(fast.ids()); n != 1002 {
		t.Fatalf("after Close: %d events, want 1002", n)
	}
}

func TestBusConcurrentPublishers(t *testing.T) {
	b := NewBus(NewIDs("p"))
	r := &recorder{}
	b.Subscribe(r)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				b.Publish(Event{Type: AgentState, Agent: fmt.Sprint(g, "-", i)})
			}
		}()
	}
	wg.Wait()
	b.Sync()
	ids := r.ids()
	if len(ids) != 1600 || !slices.IsSorted(ids) {
		t.Fatalf("%d events, sorted by ID %v: the log order must be the ID order", len(ids), slices.IsSorted(ids))
	}
	b.Close()
	b.Close() // idempotent
}

func TestIDs(t *testing.T) {
	g := NewIDs("")
	a, b := g.Next(), g.Next()
	if a >= b || !strings.HasSuffix(b, "-000000000002") {
		t.Fatalf("IDs %q, %q", a, b)
	}
	later := NewIDs(DefaultPrefix(time.Now().Add(time.Second))).Next()
	if later <= b {
		t.Fatalf("a later process's ID %q sorts before %q", later, b)
	}
}
