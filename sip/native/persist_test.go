package native

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRegistrarRestore: saved bindings come back unless expired, a
// contact registered since the restart wins, and a contact that does not
// parse is reported.
func TestRegistrarRestore(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	r := newRegistrar(time.Minute, time.Hour, func() time.Time { return now })
	src := netip.MustParseAddrPort("192.0.2.7:5062")
	n, err := r.restore([]Binding{
		{User: "a1", Contact: "sip:a1@192.0.2.7:5062", Source: src, Transport: "UDP", CallID: "c1", CSeq: 3, Expires: now.Add(time.Minute)},
		{User: "a1", Contact: "sip:a1@192.0.2.8:5062", Source: src, Transport: "UDP", Expires: now.Add(-time.Second)},
		{User: "a2", Contact: "sip:a2@192.0.2.9", Source: src, Transport: "TCP", Expires: now.Add(time.Hour)},
		{User: "a3", Contact: "not a uri", Source: src, Expires: now.Add(time.Hour)},
	})
	if n != 2 || err == nil || !strings.Contains(err.Error(), `"a3"`) {
		t.Fatalf("restore = %d, %v; want 2 and an error naming a3", n, err)
	}
	if got := r.contacts("a1"); len(got) != 1 || got[0].CallID != "c1" || got[0].CSeq != 3 || got[0].Source != src {
		t.Fatalf("a1's bindings = %+v", got)
	}
	if got := r.contacts("a2"); len(got) != 1 || got[0].Transport != "TCP" {
		t.Fatalf("a2's bindings = %+v", got)
	}
	// Restoring again adds nothing: each contact is bound already.
	if n, _ := r.restore([]Binding{{User: "a1", Contact: "sip:a1@192.0.2.7:5062", Source: src, Expires: now.Add(time.Hour)}}); n != 0 {
		t.Fatalf("second restore added %d", n)
	}
}

type memBindings struct {
	mu    sync.Mutex
	saved map[string][]Binding
	fail  bool
	saves chan string
}

func (m *memBindings) SaveBindings(_ context.Context, user string, bs []Binding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("database down")
	}
	m.saved[user] = bs
	m.saves <- user
	return nil
}

func (m *memBindings) LoadBindings(context.Context) ([]Binding, error) { return nil, nil }

// TestPersisterSavesAndRetries: a change is saved; a failed save is kept
// and saved with the next change once the store works again.
func TestPersisterSavesAndRetries(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	r := newRegistrar(time.Minute, time.Hour, func() time.Time { return now })
	src := netip.MustParseAddrPort("192.0.2.7:5062")
	if _, err := r.restore([]Binding{{User: "a1", Contact: "sip:a1@192.0.2.7:5062", Source: src, Expires: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	store := &memBindings{saved: map[string][]Binding{}, saves: make(chan string, 8), fail: true}
	p := newPersister(store, r, slog.New(slog.NewTextHandler(io.Discard, nil)))
	failing := false
	p.mark("a1")
	p.flush(context.Background(), &failing)
	if !failing || !p.dirty["a1"] {
		t.Fatalf("after a failed save: failing=%v dirty=%v", failing, p.dirty)
	}
	store.mu.Lock()
	store.fail = false
	store.mu.Unlock()
	p.mark("a2") // a2 has no binding: saved as none
	p.flush(context.Background(), &failing)
	if failing || len(p.dirty) != 0 {
		t.Fatalf("after a good save: failing=%v dirty=%v", failing, p.dirty)
	}
	if got := store.saved["a1"]; len(got) != 1 || got[0].Contact != "sip:a1@192.0.2.7:5062" {
		t.Fatalf("saved a1 = %+v", got)
	}
	if got, ok := store.saved["a2"]; !ok || len(got) != 0 {
		t.Fatalf("saved a2 = %+v, %v; want an empty save", got, ok)
	}
}
