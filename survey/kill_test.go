package survey

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/proctest"
	"github.com/hotline-cc/hotline/sip"
	"github.com/jackc/pgx/v5/pgxpool"
)

// helperEnv makes the test binary run killHelperMain instead of the tests:
// a hotline-like process that schedules survey jobs and is then killed.
const helperEnv = "HOTLINE_SURVEY_KILL_HELPER_DSN"

const killCalls = 20

// helperModeEnv picks what the helper does before it is killed: "" (jobs
// scheduled, not due), "ringing" (a survey call dialled, never answered) or
// "answered" (a survey call answered, the script under way).
const helperModeEnv = "HOTLINE_SURVEY_KILL_HELPER_MODE"

// The survey the ringing and answered helpers are killed during.
const (
	crashCall   = "crash-1"
	crashNumber = "+79123456800"
)

// answeringSwitch answers every dial with a leg whose prompts never end:
// the customer is on the line when the helper is killed.
type answeringSwitch struct{}

func (answeringSwitch) Incoming() <-chan sip.Leg { return nil }
func (answeringSwitch) Dial(ctx context.Context, t sip.Target) (sip.Leg, error) {
	return &stuckLeg{fakeLeg: &fakeLeg{hangupAfter: -1, done: make(chan struct{})}}, nil
}

// stuckLeg is an answered leg whose prompts play until ctx ends.
type stuckLeg struct{ *fakeLeg }

func (l *stuckLeg) Play(ctx context.Context, o sip.PlayOptions) (rune, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

// blockingSwitch never answers: a job that started in the helper would stay
// in progress and show up in the test.
type blockingSwitch struct{}

func (blockingSwitch) Incoming() <-chan sip.Leg { return nil }
func (blockingSwitch) Dial(ctx context.Context, t sip.Target) (sip.Leg, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func killHelperMain() {
	ctx := context.Background()
	fail := func(err error) { fmt.Println("ERROR", err); os.Exit(2) }
	pool, err := pgxpool.New(ctx, os.Getenv(helperEnv))
	if err != nil {
		fail(err)
	}
	mode := os.Getenv(helperModeEnv)
	cfg := demoConfig()
	var sw sip.Switch = blockingSwitch{}
	switch mode {
	case "":
		cfg.Delay = 8 * time.Second // due after the kill
	case "ringing":
	case "answered":
		sw = answeringSwitch{}
	default:
		fail(fmt.Errorf("unknown helper mode %q", mode))
	}
	s, err := New(cfg, Deps{Pool: pool, Switch: sw, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fail(err)
	}
	if err := s.Start(ctx); err != nil {
		fail(err)
	}
	if mode != "" {
		// One survey call, killed while it rings or while the customer
		// listens: wait until the database says so.
		answeredCall(s, crashCall, crashNumber, "sales", "a1")
		q := `SELECT count(*) FROM survey s JOIN survey_attempt a ON a.survey_id = s.id
			WHERE s.state = 'in_progress' AND a.outcome = '' AND a.answered_at IS NULL`
		if mode == "answered" {
			q = `SELECT count(*) FROM survey_attempt WHERE outcome = '' AND answered_at IS NOT NULL`
		}
		for {
			var n int
			if err := pool.QueryRow(ctx, q).Scan(&n); err != nil {
				fail(err)
			}
			if n == 1 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Println("READY")
		select {} // wait for SIGKILL
	}
	for i := range killCalls {
		answeredCall(s, fmt.Sprintf("kill-%02d", i), fmt.Sprintf("+791234567%02d", i), "sales", "a1")
	}
	for {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM survey WHERE state = 'scheduled'`).Scan(&n); err != nil {
			fail(err)
		}
		if n == killCalls {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("READY")
	select {} // wait for SIGKILL
}

// killHelper runs the helper process in mode on db until it says READY,
// then kills it with SIGKILL.
func killHelper(t *testing.T, db *pgtest.DB, mode string) {
	t.Helper()
	proctest.KillWhenReady(t, "scheduling", helperEnv+"="+db.DSN, helperModeEnv+"="+mode)
}

func TestKillWhileScheduled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a helper process; skipped with -short")
	}
	db := startDB(t)
	killHelper(t, db, "")
	var running int
	db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM survey WHERE state <> 'scheduled'`).Scan(&running)
	if running != 0 {
		t.Fatalf("%d surveys were not waiting when the helper was killed", running)
	}

	// Restart: a new process (here a new service) on the same database.
	sw := newFakeSwitch()
	for i := range killCalls {
		sw.script(fmt.Sprintf("+791234567%02d", i), answer("5", "1"))
	}
	ev := newCollector()
	s, err := New(demoConfig(), Deps{Pool: db.Pool, Switch: sw, Publisher: ev, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	for i := range killCalls {
		ev.waitFor(t, eventlog.SurveyCompleted, fmt.Sprintf("kill-%02d", i))
	}
	rows, err := db.Pool.Query(context.Background(), `SELECT s.call_id, s.state, count(a.n) FROM survey s
		LEFT JOIN survey_attempt a ON a.survey_id = s.id GROUP BY s.call_id, s.state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, state string
		var attempts int
		rows.Scan(&id, &state, &attempts)
		if state != "completed" || attempts != 1 {
			t.Errorf("%s: state %s after %d attempts, want completed after exactly 1", id, state, attempts)
		}
		n++
	}
	if n != killCalls {
		t.Fatalf("%d surveys, want %d", n, killCalls)
	}
	for i := range killCalls {
		if d := sw.dialCount(fmt.Sprintf("+791234567%02d", i)); d != 1 {
			t.Errorf("number %d dialled %d times", i, d)
		}
	}
}

// TestKillDuringSurveyCall kills a process (SIGKILL) during a survey call
// and restarts on the same database. Answered: the customer was reached;
// the survey ends (failed, interrupted) at once and nobody dials again.
// Ringing: the attempt counts; exactly one more dial, retry_delay after the
// interrupted one started, and the customer answers it. Either way the dead
// process's River job is marked for cancellation and, run as River's
// rescue would run it, does nothing.
func TestKillDuringSurveyCall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a helper process; skipped with -short")
	}
	for _, tc := range []struct {
		mode     string
		wantEnd  eventlog.Type
		attempts []string // n:outcome
		dials    int
	}{
		{"answered", eventlog.SurveyFailed, []string{"1:interrupted"}, 0},
		{"ringing", eventlog.SurveyCompleted, []string{"1:interrupted", "2:answered"}, 1},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			db := startDB(t)
			killHelper(t, db, tc.mode)
			ctx := context.Background()
			var oldJob int64
			if err := db.Pool.QueryRow(ctx, `SELECT job_id FROM survey WHERE call_id = $1 AND state = 'in_progress'`, crashCall).
				Scan(&oldJob); err != nil {
				t.Fatalf("the survey was not in progress at the kill: %v", err)
			}

			sw := newFakeSwitch()
			sw.script(crashNumber, answer("5", "1"))
			ev := newCollector()
			cfg := demoConfig()
			cfg.RetryDelay = 3 * time.Second
			s, err := New(cfg, Deps{Pool: db.Pool, Switch: sw, Publisher: ev, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				s.Stop(sctx)
			})
			end := ev.waitFor(t, tc.wantEnd, crashCall)
			if tc.wantEnd == eventlog.SurveyFailed && end.Reason != OutcomeInterrupted {
				t.Fatalf("survey.failed reason %q, want interrupted", end.Reason)
			}
			var got []string
			for _, a := range ev.of(eventlog.SurveyAttempt, crashCall) {
				got = append(got, a.Data["attempt"]+":"+a.Reason)
			}
			if strings.Join(got, ",") != strings.Join(tc.attempts, ",") {
				t.Fatalf("survey.attempt events %v, want %v", got, tc.attempts)
			}
			if d := sw.dialCount(crashNumber); d != tc.dials {
				t.Fatalf("dialled %d times after the restart, want %d", d, tc.dials)
			}
			type attempt struct {
				n        int
				outcome  string
				started  time.Time
				answered *time.Time
			}
			rows, err := db.Pool.Query(ctx, `SELECT a.n, a.outcome, a.started_at, a.answered_at FROM survey_attempt a
				JOIN survey s ON s.id = a.survey_id WHERE s.call_id = $1 ORDER BY a.n`, crashCall)
			if err != nil {
				t.Fatal(err)
			}
			var as []attempt
			for rows.Next() {
				var a attempt
				if err := rows.Scan(&a.n, &a.outcome, &a.started, &a.answered); err != nil {
					t.Fatal(err)
				}
				as = append(as, a)
			}
			rows.Close()
			if len(as) != len(tc.attempts) || as[0].outcome != OutcomeInterrupted || (as[0].answered != nil) != (tc.mode == "answered") {
				t.Fatalf("attempts %+v", as)
			}
			if len(as) == 2 && as[1].started.Before(as[0].started.Add(cfg.RetryDelay)) {
				t.Fatalf("retry at %v, less than retry_delay %v after the interrupted attempt at %v", as[1].started, cfg.RetryDelay, as[0].started)
			}
			var state, reason string
			if err := db.Pool.QueryRow(ctx, `SELECT state, reason FROM survey WHERE call_id = $1`, crashCall).Scan(&state, &reason); err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"answered": "failed/interrupted", "ringing": "completed/"}[tc.mode]; state+"/"+reason != want {
				t.Fatalf("survey %s/%s, want %s", state, reason, want)
			}

			// The dead process's job: River's rescuer cancels a running job
			// marked for cancellation instead of retrying it; and were it
			// run, it would not dial.
			job, err := s.river.JobGet(ctx, oldJob)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(job.Metadata), "cancel_attempted_at") {
				t.Fatalf("the dead process's job %d (%s) is not marked for cancellation: %s", oldJob, job.State, job.Metadata)
			}
			if err := s.runJob(ctx, crashCall, oldJob); err != nil {
				t.Fatal(err)
			}
			if d := sw.dialCount(crashNumber); d != tc.dials {
				t.Fatalf("the rescued job dialled: %d dials, want %d", d, tc.dials)
			}
			if n := len(ev.of(eventlog.SurveyAttempt, crashCall)); n != len(tc.attempts) {
				t.Fatalf("%d attempts after the rescued job ran, want %d", n, len(tc.attempts))
			}
		})
	}
}

// A stop that cannot wait cancels a survey call the customer answered: the
// attempt is booked interrupted and the survey ends (no second call), as
// after a crash.
func TestStopDuringAnsweredSurveyCall(t *testing.T) {
	ev := newCollector()
	s, db := startService(t, demoConfig(), answeringSwitch{}, ev)
	answeredCall(s, crashCall, crashNumber, "sales", "a1")
	ctx := context.Background()
	for {
		var n int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM survey_attempt WHERE answered_at IS NOT NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	expired, cancel := context.WithCancel(ctx)
	cancel() // no grace: the running call is cancelled
	s.Stop(expired)
	if f := ev.waitFor(t, eventlog.SurveyFailed, crashCall); f.Reason != OutcomeInterrupted {
		t.Fatalf("survey.failed %+v, want interrupted", f)
	}
	var state string
	var attempts int
	if err := db.Pool.QueryRow(ctx, `SELECT state, attempts FROM survey WHERE call_id = $1`, crashCall).Scan(&state, &attempts); err != nil {
		t.Fatal(err)
	}
	if state != "failed" || attempts != 1 {
		t.Fatalf("survey %s after %d attempts, want failed after 1", state, attempts)
	}
}

// TestKillWithJobRunning: the process died after River fetched a survey's
// job (state running) and before the attempt began, so the survey still
// waits. The next process gives it a new job at once instead of waiting
// for River's rescuer (20 minutes and more): one dial, one attempt, and
// the dead job marked for cancellation does nothing if run.
func TestKillWithJobRunning(t *testing.T) {
	ctx := context.Background()
	db := startDB(t)
	cfg := demoConfig()
	cfg.Delay = time.Hour // not due while the first process lives
	scheduled := newCollector()
	first, err := New(cfg, Deps{Pool: db.Pool, Switch: blockingSwitch{}, Publisher: scheduled, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	answeredCall(first, crashCall, crashNumber, "sales", "a1")
	scheduled.waitFor(t, eventlog.SurveyScheduled, crashCall) // published after the row and its job commit
	var oldJob int64
	if err := db.Pool.QueryRow(ctx, `SELECT job_id FROM survey WHERE call_id = $1 AND state = 'scheduled'`, crashCall).Scan(&oldJob); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := first.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	// What a kill leaves: the survey due now, its job running for a
	// process that is gone.
	if _, err := db.Pool.Exec(ctx, `UPDATE survey SET call_at = now(), next_at = now() WHERE call_id = $1`, crashCall); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
		attempted_by = ARRAY['dead-process'], scheduled_at = now() WHERE id = $1`, oldJob); err != nil {
		t.Fatal(err)
	}

	sw := newFakeSwitch()
	sw.script(crashNumber, answer("5", "1"))
	ev := newCollector()
	s, err := New(demoConfig(), Deps{Pool: db.Pool, Switch: sw, Publisher: ev, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.Stop(sctx)
	})
	ev.waitFor(t, eventlog.SurveyCompleted, crashCall)
	if d := sw.dialCount(crashNumber); d != 1 {
		t.Fatalf("dialled %d times, want 1", d)
	}
	if n := len(ev.of(eventlog.SurveyAttempt, crashCall)); n != 1 {
		t.Fatalf("%d survey.attempt events, want 1", n)
	}
	job, err := s.river.JobGet(ctx, oldJob)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(job.Metadata), "cancel_attempted_at") {
		t.Fatalf("the dead process's job %d (%s) is not marked for cancellation: %s", oldJob, job.State, job.Metadata)
	}
	if err := s.runJob(ctx, crashCall, oldJob); err != nil {
		t.Fatal(err)
	}
	if d := sw.dialCount(crashNumber); d != 1 {
		t.Fatalf("the dead process's job dialled: %d dials, want 1", d)
	}
}
