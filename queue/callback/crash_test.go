package callback

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/proctest"
	"github.com/hotline-cc/hotline/queue"
	"github.com/hotline-cc/hotline/sip"
)

// dialSwitch is the trunk as a callback dial sees it: answered reports
// an answer at once (the leg itself is not used here); otherwise the dial
// rings until its context ends.
type dialSwitch struct{ answered bool }

func (dialSwitch) Incoming() <-chan sip.Leg { return nil }
func (d dialSwitch) Dial(ctx context.Context, t sip.Target) (sip.Leg, error) {
	if d.answered {
		return nil, nil
	}
	<-ctx.Done()
	return nil, &sip.DialError{Target: t, Cause: sip.CauseCancelled}
}

// crashDuringDial dials callID as the queue's Runner does, through the
// switch TrackDials wraps, and returns once the row shows the dial
// (answered or ringing); then it stops s without any outcome reaching it,
// as a process killed during the dial leaves the database.
func crashDuringDial(t *testing.T, db *pgtest.DB, s *Service, callID string, answered bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sw := TrackDials(dialSwitch{answered: answered}, func() *Service { return s })
	done := make(chan struct{})
	go func() {
		defer close(done)
		sw.Dial(ctx, sip.Target{Number: "+79001112233", Headers: map[string]string{headerPurpose: "callback", headerCall: callID}})
	}()
	if answered {
		<-done
	}
	for {
		var started, ans *time.Time
		if err := db.Pool.QueryRow(ctx, `SELECT dial_started_at, dial_answered_at FROM callback WHERE call_id = $1`, callID).
			Scan(&started, &ans); err != nil {
			t.Fatal(err)
		}
		if started != nil && (ans != nil) == answered {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Stop(context.Background())
	cancel()
	<-done
}

// A dial cut by a crash is counted and settled at the next start: not
// answered, the next attempt comes after the spacing; answered, the
// callback goes back to its place for one prompt re-dial, and a second
// crash after an answer ends it; an unanswered last attempt ends it.
func TestDialCutByCrash(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	if err := Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	const spacing = 2 * time.Second
	cfg := Config{Queues: map[string]QueueConfig{
		"q":    {Attempts: 2, Spacing: spacing, Expire: time.Hour},
		"once": {Attempts: 1, Expire: time.Hour},
	}}
	joined := time.Now().Add(-5 * time.Minute).UTC().Truncate(time.Microsecond)
	s, line, _ := start(t, db, cfg, nil)
	for _, cb := range []queue.CallbackCall{
		{ID: "ring", Number: "+79001112233", Queue: "q", Joined: joined, Source: "key"},
		{ID: "answer", Number: "+79001112233", Queue: "q", Joined: joined, Source: "key"},
		{ID: "last", Number: "+79001112233", Queue: "once", Joined: joined, Source: "key"},
	} {
		if err := s.StoreCallback(ctx, cb); err != nil {
			t.Fatal(err)
		}
		wait(t, cb.ID+" handed over", line.got)
	}

	// The first crash: answer was answered and waits for an agent.
	crashDuringDial(t, db, s, "answer", true)
	s2, line2, ev2 := start(t, db, cfg, nil)
	handed := map[string]queue.CallbackCall{}
	for range 3 { // answer back at its place; ring and last, still queued, as before
		got := wait(t, "hand-overs after the restart", line2.got)
		handed[got.ID] = got
	}
	if got := handed["answer"]; got.Attempts != 1 || !got.Joined.Equal(joined) {
		t.Fatalf("handed back %+v, want answer after 1 attempt at %v", got, joined)
	}
	if st, n, _ := state(t, db, "answer"); st != "queued" || n != 1 {
		t.Fatalf("answer: %s after %d attempts, want queued after 1", st, n)
	}
	e := wait(t, "callback.result interrupted", ev2.ch)
	if e.CallID != "answer" || e.Reason != OutcomeInterrupted || e.Flag(eventlog.KeyFinal) || e.Data["attempt"] != "1" {
		t.Fatalf("event %+v", e)
	}

	// The second crash: ring and last ringing, answer answered again.
	crashDuringDial(t, db, s2, "answer", true)
	s3, _, ev3 := start(t, db, cfg, nil)
	crashDuringDial(t, db, s3, "ring", false)
	crashDuringDial(t, db, s3, "last", false)
	var ringStarted time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT dial_started_at FROM callback WHERE call_id = 'ring'`).Scan(&ringStarted); err != nil {
		t.Fatal(err)
	}
	_, line4, ev4 := start(t, db, cfg, nil)

	// answer: ended at the second crash after an answer.
	e = wait(t, "answer ends", ev3.ch)
	if e.CallID != "answer" || e.Reason != OutcomeInterrupted || !e.Flag(eventlog.KeyFinal) || e.Data["attempt"] != "2" {
		t.Fatalf("event %+v", e)
	}
	if st, n, num := state(t, db, "answer"); st != "failed" || n != 2 || num != "" {
		t.Fatalf("answer: %s after %d attempts, number %q", st, n, num)
	}
	// last: its only attempt cut: no_answer, final.
	// ring: counted, the next attempt after the spacing.
	byCall := map[string]eventlog.Event{}
	for range 2 {
		e := wait(t, "ring and last settled", ev4.ch)
		byCall[e.CallID] = e
	}
	if e := byCall["last"]; e.Reason != OutcomeInterrupted || !e.Flag(eventlog.KeyFinal) || e.Data["attempt"] != "1" {
		t.Fatalf("last: %+v", e)
	}
	if st, n, _ := state(t, db, "last"); st != "no_answer" || n != 1 {
		t.Fatalf("last: %s after %d attempts", st, n)
	}
	if e := byCall["ring"]; e.Reason != OutcomeInterrupted || e.Flag(eventlog.KeyFinal) || e.Data["attempt"] != "1" {
		t.Fatalf("ring: %+v", e)
	}
	var next time.Time
	var st string
	if err := db.Pool.QueryRow(ctx, `SELECT state, next_at FROM callback WHERE call_id = 'ring'`).Scan(&st, &next); err != nil {
		t.Fatal(err)
	}
	if st != "scheduled" || !next.Equal(ringStarted.Add(spacing)) {
		t.Fatalf("ring: %s, next at %v, want scheduled at %v (spacing after the cut dial)", st, next, ringStarted.Add(spacing))
	}
	got := wait(t, "ring's next attempt", line4.got)
	if got.ID != "ring" || got.Attempts != 1 {
		t.Fatalf("handed over %+v, want ring after 1 attempt", got)
	}
	select {
	case cb := <-line4.got:
		t.Fatalf("handed over again: %+v", cb)
	default:
	}
}

// killHelperEnv makes the test binary run killHelperMain instead of the
// tests: a process with two callback dials open (k-ring ringing, k-answer
// answered), then killed.
const killHelperEnv = "HOTLINE_CALLBACK_KILL_HELPER_DSN"

const killSpacing = 2 * time.Second

func killConfig() Config {
	return Config{Queues: map[string]QueueConfig{"q": {Attempts: 3, Spacing: killSpacing, Expire: time.Hour}}}
}

func killHelperMain() {
	ctx := context.Background()
	fail := func(err error) { fmt.Println("ERROR", err); os.Exit(2) }
	pool, err := pgxpool.New(ctx, os.Getenv(killHelperEnv))
	if err != nil {
		fail(err)
	}
	line := &fakeLine{got: make(chan queue.CallbackCall, 16)}
	s, err := New(killConfig(), Deps{Pool: pool, Line: line, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fail(err)
	}
	if err := s.Start(ctx); err != nil {
		fail(err)
	}
	for _, id := range []string{"k-ring", "k-answer"} {
		if err := s.StoreCallback(ctx, queue.CallbackCall{ID: id, Number: "+79001112233", Queue: "q", Source: "key"}); err != nil {
			fail(err)
		}
		<-line.got
		sw := TrackDials(dialSwitch{answered: id == "k-answer"}, func() *Service { return s })
		go sw.Dial(ctx, sip.Target{Number: "+79001112233", Headers: map[string]string{headerPurpose: "callback", headerCall: id}})
	}
	for {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM callback WHERE dial_started_at IS NOT NULL
			AND (call_id = 'k-ring' OR dial_answered_at IS NOT NULL)`).Scan(&n); err != nil {
			fail(err)
		}
		if n == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("READY")
	select {} // wait for SIGKILL
}

// TestDialCutBySIGKILL kills (SIGKILL) a process with two callback dials
// open and starts the service again on the same database: the ringing one
// counts and comes back after the spacing; the answered one is back at its
// place at once, counted.
func TestDialCutBySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a helper process; skipped with -short")
	}
	db := pgtest.New(t)
	ctx := context.Background()
	if err := Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	proctest.KillWhenReady(t, "its dials", killHelperEnv+"="+db.DSN)
	var ringStarted time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT dial_started_at FROM callback WHERE call_id = 'k-ring'`).Scan(&ringStarted); err != nil {
		t.Fatal(err)
	}

	_, line, ev := start(t, db, killConfig(), nil)
	byCall := map[string]eventlog.Event{}
	for range 2 {
		e := wait(t, "the cut dials settled", ev.ch)
		byCall[e.CallID] = e
	}
	for _, id := range []string{"k-ring", "k-answer"} {
		if e := byCall[id]; e.Reason != OutcomeInterrupted || e.Flag(eventlog.KeyFinal) || e.Data["attempt"] != "1" {
			t.Fatalf("%s: %+v", id, e)
		}
	}
	got := wait(t, "k-answer back at its place", line.got)
	if got.ID != "k-answer" || got.Attempts != 1 {
		t.Fatalf("handed over %+v first, want k-answer after 1 attempt", got)
	}
	var next time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT next_at FROM callback WHERE call_id = 'k-ring' AND state = 'scheduled' AND attempts = 1`).
		Scan(&next); err != nil {
		t.Fatal(err)
	}
	if !next.Equal(ringStarted.Add(killSpacing)) {
		t.Fatalf("k-ring next at %v, want %v", next, ringStarted.Add(killSpacing))
	}
	got = wait(t, "k-ring's next attempt", line.got)
	if got.ID != "k-ring" || got.Attempts != 1 {
		t.Fatalf("handed over %+v, want k-ring after 1 attempt", got)
	}
	if st, n, _ := state(t, db, "k-answer"); st != "queued" || n != 1 {
		t.Fatalf("k-answer %s after %d attempts, want queued after 1", st, n)
	}
}

// TestJobLeftRunning: the process died while River had a scheduled
// callback's job running (fetched, not yet committed). The next start gives
// the callback a new job at once, instead of the caller waiting for River's
// rescuer (RescueStuckJobsAfter, 5 minutes), and marks the dead job for
// cancellation.
func TestJobLeftRunning(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	if err := Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Queues: map[string]QueueConfig{"q": {Attempts: 2, Expire: 24 * time.Hour}}}
	s, _, _ := start(t, db, cfg, nil)
	id, err := s.Schedule(ctx, Scheduled{OfCall: "call-1", Number: "+79001112233", Trunk: "provider", Queue: "q", Agent: "a1",
		Due: time.Now().Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	s.Stop(ctx)
	// What a kill leaves: the callback due now, its job running for a
	// process that is gone.
	var old int64
	if err := db.Pool.QueryRow(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
		attempted_by = ARRAY['dead-process'], scheduled_at = now() WHERE args->>'call_id' = $1 RETURNING id`, id).Scan(&old); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE callback SET due_at = now(), next_at = now() WHERE call_id = $1`, id); err != nil {
		t.Fatal(err)
	}

	s2, line, _ := start(t, db, cfg, nil)
	if got := wait(t, "the hand-over after the restart", line.got); got.ID != id || got.Attempts != 0 {
		t.Fatalf("handed over %+v, want %s at attempt 0", got, id)
	}
	job, err := s2.river.JobGet(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(job.Metadata), "cancel_attempted_at") {
		t.Fatalf("the dead process's job %d (%s) is not marked for cancellation: %s", old, job.State, job.Metadata)
	}
}
