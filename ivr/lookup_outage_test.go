package ivr

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
)

// levelCounter counts log records by level and message.
type levelCounter struct {
	mu  sync.Mutex
	got map[string]int
}

func (c *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *levelCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[r.Level.String()+" "+r.Message]++
	return nil
}
func (c *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *levelCounter) WithGroup(string) slog.Handler      { return c }

// TestLookupOutageLoggedOnce: while the caller history fails every call
// goes on without it and carries the error in its event, but the outage
// is logged as a warning once, and its end once.
func TestLookupOutageLoggedOnce(t *testing.T) {
	flows := mustParse(t, lookupYAML)
	hist := &fakeHistory{err: errors.New("db down")}
	logs := &levelCounter{got: map[string]int{}}
	ev := &events{}
	ex := mustExecutor(t, ExecutorConfig{Flows: flows, Publisher: ev, History: hist, Callbacks: &fakeCallbacks{},
		Clock: &fakeClock{monday10}, Logger: slog.New(logs)})
	call := func() {
		t.Helper()
		res, err := ex.Run(context.Background(), newFakeLeg("+79123456789", script(press("1"))), &Call{Flow: "main"})
		if err != nil || res.Outcome != OutcomeQueue || res.Queue != "first-line" {
			t.Fatalf("got %+v, %v; want the caller queued on first-line", res, err)
		}
	}
	const down = "WARN caller history unavailable: calls go on without it (logged once until it answers again)"
	const back = "INFO caller history answers again"
	for _, step := range []struct {
		err        error
		calls      int
		warn, info int
	}{
		{errors.New("db down"), 3, 1, 0},
		{nil, 2, 1, 1},
		{errors.New("db down again"), 4, 2, 1},
	} {
		hist.err = step.err
		for range step.calls {
			call()
		}
		if logs.got[down] != step.warn || logs.got[back] != step.info {
			t.Fatalf("after %d calls with error %v: logs %v; want %d warnings and %d recoveries", step.calls, step.err, logs.got, step.warn, step.info)
		}
	}
}
