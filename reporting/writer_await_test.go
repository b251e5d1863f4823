package reporting

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
)

// TestWriterAwait: the writer's timer is an hour, so only Await and Urgent
// can make it write. An awaited event is in PostgreSQL when its channel
// closes; an urgent one is written without waiting for the timer, the
// others it carries along; with the database down an awaited event is
// released once it is fsync'd to the spool, and reaches the database
// when it is back.
func TestWriterAwait(t *testing.T) {
	db := pgtest.New(t)
	migrated(t, db.Pool)
	store := NewStore(db.Pool, nil, nil)
	w, err := NewWriter(store, WriterOptions{JournalPath: filepath.Join(t.TempDir(), "journal"), FlushEvery: time.Hour,
		RetryEvery: time.Hour, Urgent: func(e eventlog.Event) bool { return e.Type == eventlog.CallEnded }})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	stored := func(id string) bool {
		var n int
		if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	ev := func(id string, typ eventlog.Type) eventlog.Event {
		return eventlog.Event{ID: id, At: at, Type: typ, CallID: "c-" + id}
	}

	w.Publish(ev("a-plain", eventlog.QueueAnnounced)) // waits for the timer (an hour)
	durable, forget := w.Await("b-arrived")
	defer forget()
	w.Publish(ev("b-arrived", eventlog.CallArrived))
	select {
	case <-durable:
	case <-time.After(time.Minute): // a hang guard, not a speed check
		t.Fatal("the awaited event was never released")
	}
	for _, id := range []string{"a-plain", "b-arrived"} {
		if !stored(id) {
			t.Fatalf("%s not in the database when the awaited event was released", id)
		}
	}

	w.Publish(ev("c-plain", eventlog.QueueAnnounced))
	w.Publish(ev("d-ended", eventlog.CallEnded)) // urgent
	waitFor(t, "the urgent event written without the timer", func() bool { return stored("d-ended") && stored("c-plain") })

	// An event awaited after the writer closed is released at once.
	w2, err := NewWriter(&flakySink{down: true, seen: map[string]int{}}, WriterOptions{
		JournalPath: filepath.Join(t.TempDir(), "j2"), FlushEvery: time.Hour, RetryEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	w2.Start()
	spooled, forget2 := w2.Await("e-arrived")
	defer forget2()
	w2.Publish(ev("e-arrived", eventlog.CallArrived)) // the sink fails: head file, fsync'd
	select {
	case <-spooled:
	case <-time.After(time.Minute):
		t.Fatal("the awaited event was not released once spooled")
	}
	if s := w2.Stats(); s.SpoolEvents != 1 || s.Written != 0 {
		t.Fatalf("after the failed write: %+v, want 1 spooled, 0 written", s)
	}
	spooled2, forget3 := w2.Await("f-arrived")
	defer forget3()
	w2.Publish(ev("f-arrived", eventlog.CallArrived)) // spooling: the journal, fsync'd at once
	select {
	case <-spooled2:
	case <-time.After(time.Minute):
		t.Fatal("the awaited event was not released once journaled")
	}
	if s := w2.Stats(); s.SpoolEvents != 2 {
		t.Fatalf("after the second event: %+v, want 2 spooled", s)
	}
	if err := w2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	late, _ := w2.Await("g")
	select {
	case <-late:
	default:
		t.Fatal("Await after Close must not wait")
	}
}
