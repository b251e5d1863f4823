package reporting

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// switchSink fails until ok, then records what it is given.
type switchSink struct {
	mu  sync.Mutex
	ok  bool
	got []eventlog.Event
}

func (s *switchSink) InsertEvents(_ context.Context, evs []eventlog.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ok {
		return errors.New("database down")
	}
	s.got = append(s.got, evs...)
	return nil
}

func spoolText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// TestWriterErasesFromSpool: a number's events spooled while the database
// is down (memory, head and journal) lose the number, its collected
// digits and notes; other callers' stay; the replay stores the scrubbed
// events. An offline scrub is refused while a writer holds the spool.
func TestWriterErasesFromSpool(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "events.journal")
	sink := &switchSink{}
	w, err := NewWriter(sink, WriterOptions{JournalPath: journal, Buffer: 4, Batch: 2, FlushEvery: 10 * time.Millisecond, RetryEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	g := &gen{}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	evs := g.answered("c1", "+79161234567", "sales", t0, time.Second, "a1", time.Minute, 0)
	evs = append(evs, g.ev(t0, eventlog.IVRCollect, "c1", "", "", nil).WithString(eventlog.KeyValue, "4455667788"))
	evs = append(evs, g.ev(t0.Add(2*time.Minute), eventlog.CallDisposition, "c1", "sales", "a1", nil).WithString(eventlog.KeyNotes, "secret notes"))
	evs = append(evs, g.ev(t0.Add(3*time.Minute), eventlog.CallDisposition, "c0", "sales", "a1", nil).WithString(eventlog.KeyNotes, "notes of an earlier call"))
	evs = append(evs, g.answered("c2", "+79990001122", "sales", t0, time.Second, "a2", time.Minute, 0)...)
	for _, e := range evs {
		w.Publish(e)
	}
	waitFor(t, "events spooled", func() bool { st := w.Stats(); return st.SpoolEvents > 0 && st.Failures > 0 })
	if _, err := EraseFromSpool(journal, "+79161234567", nil); !errors.Is(err, ErrSpoolInUse) {
		t.Errorf("offline scrub of a held spool: %v, want ErrSpoolInUse", err)
	}
	n, err := w.EraseNumber("89161234567", []string{"c0"}) // c0: a call of the number known from the database
	if err != nil || n == 0 {
		t.Fatalf("erase: %d %v", n, err)
	}
	text := spoolText(t, dir)
	for _, s := range []string{"9161234567", "4455667788", "secret notes", "earlier call"} {
		if strings.Contains(text, s) {
			t.Errorf("spool still holds %q", s)
		}
	}
	if !strings.Contains(text, "+79990001122") {
		t.Errorf("the other caller was scrubbed too")
	}
	if evs[0].Caller != "+79161234567" {
		t.Error("the publisher's event was modified")
	}
	// Publishing goes on after the rewrite, then the database comes back.
	w.Publish(g.ev(t0.Add(time.Hour), eventlog.QueueAnnounced, "c2", "sales", "", nil))
	sink.mu.Lock()
	sink.ok = true
	sink.mu.Unlock()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	w2, err := NewWriter(sink, WriterOptions{JournalPath: journal, FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w2.Start()
	waitFor(t, "replay", func() bool { st := w2.Stats(); return st.SpoolEvents == 0 && !st.Spooling })
	if err := w2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	ids := map[string]eventlog.Event{}
	for _, e := range sink.got {
		ids[e.ID] = e
	}
	if len(ids) != len(evs)+1 {
		t.Errorf("replayed %d distinct events, want %d", len(ids), len(evs)+1)
	}
	for _, e := range ids {
		if strings.Contains(e.Caller, "9161234567") || e.String(eventlog.KeyValue) == "4455667788" {
			t.Errorf("replayed %+v", e)
		}
		if e.CallID == "c1" && e.Type == eventlog.CallArrived && e.Caller != Erased {
			t.Errorf("caller = %q, want %q", e.Caller, Erased)
		}
	}
	// Offline now: PurgeSpool and EraseFromSpool work on a free spool.
	if _, err := EraseFromSpool(journal, "+79161234567", nil); err != nil {
		t.Errorf("offline erase: %v", err)
	}
}

// TestPurgeSpool: values past their period are replaced by "expired" in a
// spool no writer holds; the rest stays.
func TestPurgeSpool(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "events.journal")
	sink := &switchSink{}
	w, err := NewWriter(sink, WriterOptions{JournalPath: journal, Buffer: 1, Batch: 1, FlushEvery: 10 * time.Millisecond, RetryEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	g := &gen{}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	old := g.answered("old", "+79160000001", "sales", now.Add(-400*day), time.Second, "a1", time.Minute, 0)
	old = append(old, g.ev(now.Add(-100*day), eventlog.IVRCollect, "mid", "", "", nil).WithString(eventlog.KeyValue, "digits-100-days"))
	recent := g.answered("new", "+79160000002", "sales", now.Add(-day), time.Second, "a1", time.Minute, 0)
	for _, e := range append(old, recent...) {
		w.Publish(e)
	}
	waitFor(t, "events spooled", func() bool { return w.Stats().Failures > 0 })
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, err := PurgeSpool(journal, now, Retention{CallerNumbers: 365 * day, Collected: 90 * day, Notes: 365 * day})
	if err != nil || n != 2 {
		t.Errorf("purged %d (%v), want 2 events", n, err)
	}
	text := spoolText(t, dir)
	if strings.Contains(text, "+79160000001") || strings.Contains(text, "digits-100-days") || !strings.Contains(text, "+79160000002") {
		t.Errorf("spool after purge:\n%s", text)
	}
}
