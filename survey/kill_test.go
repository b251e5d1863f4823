package survey

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
	"github.com/jackc/pgx/v5/pgxpool"
)

// helperEnv makes the test binary run killHelperMain instead of the tests:
// a hotline-like process that schedules survey jobs and is then killed.
const helperEnv = "HOTLINE_SURVEY_KILL_HELPER_DSN"

const killCalls = 20

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
	cfg := demoConfig()
	cfg.Delay = 8 * time.Second // due after the kill
	s, err := New(cfg, Deps{Pool: pool, Switch: blockingSwitch{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fail(err)
	}
	if err := s.Start(ctx); err != nil {
		fail(err)
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

func TestKillWhileScheduled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a helper process; skipped with -short")
	}
	db := startDB(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+db.DSN)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if line := sc.Text(); line == "READY" {
			ready = true
			break
		} else if strings.HasPrefix(line, "ERROR") {
			t.Fatalf("helper: %s", line)
		}
	}
	if !ready {
		cmd.Process.Kill()
		t.Fatal("helper exited before scheduling")
	}
	if err := cmd.Process.Signal(os.Kill); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
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
