package callback

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/queue"
)

func TestMain(m *testing.M) {
	if os.Getenv(killHelperEnv) != "" {
		killHelperMain()
		return
	}
	pgtest.Main(m)
}

// fakeLine records the hand-overs.
type fakeLine struct{ got chan queue.CallbackCall }

func (l *fakeLine) EnqueueCallback(cb queue.CallbackCall) error {
	l.got <- cb
	return nil
}

func (l *fakeLine) WithdrawCallback(string) error { return queue.ErrUnknownCall }

// events collects what the service publishes.
type events struct {
	mu  sync.Mutex
	evs []eventlog.Event
	ch  chan eventlog.Event
}

func (e *events) Publish(ev eventlog.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
	e.ch <- ev
}

func wait[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func start(t *testing.T, db *pgtest.DB, cfg Config, clock Clock) (*Service, *fakeLine, *events) {
	t.Helper()
	line := &fakeLine{got: make(chan queue.CallbackCall, 16)}
	ev := &events{ch: make(chan eventlog.Event, 16)}
	s, err := New(cfg, Deps{Pool: db.Pool, Line: line, Publisher: ev, Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s, line, ev
}

func state(t *testing.T, db *pgtest.DB, callID string) (st string, attempts int, number string) {
	t.Helper()
	if err := db.Pool.QueryRow(context.Background(), `SELECT state, attempts, number FROM callback WHERE call_id = $1`, callID).
		Scan(&st, &attempts, &number); err != nil {
		t.Fatal(err)
	}
	return
}

func result(callID, reason, agent string, attempt int, final bool) eventlog.Event {
	return eventlog.Event{Type: eventlog.CallbackResult, CallID: callID, Queue: "q", Agent: agent, Reason: reason}.
		WithInt(eventlog.KeyAttempt, attempt).WithFlag(eventlog.KeyFinal, final)
}

// A stored callback is handed to the queue at its place; a failed attempt
// brings it back for the next; connected ends it (number blanked); a
// callback left in line by a process that died returns at the next start.
func TestCallbackLifecycle(t *testing.T) {
	db := pgtest.New(t)
	if err := Migrate(context.Background(), db.Pool); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Queues: map[string]QueueConfig{"q": {Attempts: 3, Expire: time.Hour}}}
	s, line, ev := start(t, db, cfg, nil)
	joined := time.Now().Add(-5 * time.Minute).UTC().Truncate(time.Microsecond)
	cb := queue.CallbackCall{ID: "c1", Number: "+79001112233", Queue: "q", Priority: 1, Joined: joined, Requested: joined.Add(time.Minute), Source: "key"}
	ctx := context.Background()
	if err := s.StoreCallback(ctx, cb); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreCallback(ctx, cb); err != nil { // idempotent
		t.Fatal(err)
	}
	got := wait(t, "the first hand-over", line.got)
	if got.ID != "c1" || !got.Joined.Equal(joined) || got.Attempts != 0 || got.Number != cb.Number {
		t.Fatalf("handed over %+v, want the caller's place %v", got, joined)
	}
	s.Publish(result("c1", "no-answer", "a1", 1, false))
	got = wait(t, "the second hand-over", line.got)
	if got.Attempts != 1 || !got.Joined.Equal(joined) {
		t.Fatalf("second hand-over %+v", got)
	}
	s.Publish(result("c1", "connected", "a1", 2, true))
	if st, n, num := state(t, db, "c1"); st != "connected" || n != 2 || num != "" {
		t.Fatalf("after connection: %s, %d attempts, number %q", st, n, num)
	}

	// c2 is in line when the process stops (as if killed: its row says
	// queued); the next start hands it over again.
	if err := s.StoreCallback(ctx, queue.CallbackCall{ID: "c2", Number: "+79001112244", Trunk: "provider", Queue: "q", Joined: joined, Source: "max-wait"}); err != nil {
		t.Fatal(err)
	}
	wait(t, "c2's hand-over", line.got)
	s.Stop(ctx)
	if st, _, _ := state(t, db, "c2"); st != "queued" {
		t.Fatalf("c2 %s, want queued", st)
	}
	_, line2, _ := start(t, db, cfg, nil)
	got = wait(t, "c2 restored", line2.got)
	if got.ID != "c2" || !got.Joined.Equal(joined) || got.Trunk != "provider" {
		t.Fatalf("restored %+v", got)
	}
	if len(ev.evs) != 0 {
		t.Fatalf("events published for queue callbacks: %+v", ev.evs)
	}
}

// The attempts run out (no_answer), a callback past its deadline expires,
// and one asked for outside calling hours waits for them.
func TestCallbackEnds(t *testing.T) {
	db := pgtest.New(t)
	if err := Migrate(context.Background(), db.Pool); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	// Calling hours that open two hours from now (UTC, whole minutes).
	mid := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	open := now.Add(2 * time.Hour).Truncate(time.Minute)
	from := open.Sub(mid) % (24 * time.Hour)
	hours := Hours{From: from, To: (from + time.Hour) % (24 * time.Hour)}
	if hours.To < hours.From {
		hours = Hours{From: from, To: 24 * time.Hour}
	}
	late := now
	cfg := Config{Queues: map[string]QueueConfig{"q": {Attempts: 2, Expire: time.Hour}, "night": {Attempts: 1, Expire: 48 * time.Hour, Hours: hours}}}
	s, line, ev := start(t, db, cfg, nil)

	if err := s.StoreCallback(ctx, queue.CallbackCall{ID: "n1", Number: "+79001112233", Queue: "q", Requested: late}); err != nil {
		t.Fatal(err)
	}
	wait(t, "n1 handed over", line.got)
	s.Publish(result("n1", "no-answer", "a1", 1, false))
	wait(t, "n1 again", line.got)
	s.Publish(result("n1", "busy", "a1", 2, true))
	if st, n, _ := state(t, db, "n1"); st != "no_answer" || n != 2 {
		t.Fatalf("n1 %s after %d attempts, want no_answer after 2", st, n)
	}

	// Asked for two hours ago with an hour to live: expired, published.
	if err := s.StoreCallback(ctx, queue.CallbackCall{ID: "x1", Number: "+79001112233", Queue: "q", Requested: late.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	e := wait(t, "x1 expired", ev.ch)
	if e.Type != eventlog.CallbackResult || e.Reason != "expired" || !e.Flag(eventlog.KeyFinal) || e.CallID != "x1" {
		t.Fatalf("event %+v", e)
	}

	// Outside the calling hours: waits until they open.
	if err := s.StoreCallback(ctx, queue.CallbackCall{ID: "h1", Number: "+79001112233", Queue: "night", Requested: late}); err != nil {
		t.Fatal(err)
	}
	want := open
	for {
		var next *time.Time
		if err := db.Pool.QueryRow(ctx, `SELECT next_at FROM callback WHERE call_id = 'h1'`).Scan(&next); err != nil {
			t.Fatal(err)
		}
		if next != nil {
			if !next.Equal(want) {
				t.Fatalf("h1 next at %v, want %v", next, want)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case cb := <-line.got:
		t.Fatalf("handed over outside calling hours: %+v", cb)
	default:
	}
}

func TestHours(t *testing.T) {
	msk, _ := time.LoadLocation("Europe/Moscow")
	h := Hours{From: 9 * time.Hour, To: 21 * time.Hour}
	day := func(hh, mm int) time.Time { return time.Date(2026, 3, 2, hh, mm, 0, 0, msk) }
	for _, tc := range []struct {
		at   time.Time
		in   bool
		next time.Time
	}{
		{day(8, 59), false, day(9, 0)},
		{day(9, 0), true, day(9, 0)},
		{day(20, 59), true, day(20, 59)},
		{day(21, 0), false, time.Date(2026, 3, 3, 9, 0, 0, 0, msk)},
	} {
		if got := h.In(tc.at, msk); got != tc.in {
			t.Errorf("In(%v) = %v", tc.at, got)
		}
		if got := h.Next(tc.at, msk); !got.Equal(tc.next) {
			t.Errorf("Next(%v) = %v, want %v", tc.at, got, tc.next)
		}
	}
	if !(Hours{}).In(day(3, 0), msk) {
		t.Error("zero hours must mean always")
	}
}

// Erasing a number cancels its open callbacks and blanks the number.
func TestEraseNumber(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	if err := Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	s, line, _ := start(t, db, Config{Queues: map[string]QueueConfig{"q": {Attempts: 1, Expire: time.Hour}}}, nil)
	if err := s.StoreCallback(ctx, queue.CallbackCall{ID: "e1", Number: "+79001112233", Queue: "q", Source: "key"}); err != nil {
		t.Fatal(err)
	}
	wait(t, "e1 handed over", line.got)
	ids, n, err := EraseNumber(ctx, db.Pool, "+79001112233")
	if err != nil || n != 1 || len(ids) != 1 || ids[0] != "e1" {
		t.Fatalf("EraseNumber = %v, %d, %v", ids, n, err)
	}
	if st, _, num := state(t, db, "e1"); st != "cancelled" || num != "" {
		t.Fatalf("e1 %s, number %q", st, num)
	}
}
