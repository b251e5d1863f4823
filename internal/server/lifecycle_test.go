package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// fake records its starts and stops in a shared journal.
type fake struct {
	name     string
	journal  *[]string
	startErr error
	stopErr  error
	// stopCtx receives the context Stop was given.
	stopCtx func(ctx context.Context)
}

func (f *fake) Start(ctx context.Context) error {
	*f.journal = append(*f.journal, "start "+f.name)
	return f.startErr
}

func (f *fake) Stop(ctx context.Context) error {
	*f.journal = append(*f.journal, "stop "+f.name)
	if f.stopCtx != nil {
		f.stopCtx(ctx)
	}
	return f.stopErr
}

func newFakes(journal *[]string, names ...string) (*lifecycle, map[string]*fake) {
	l := &lifecycle{grace: time.Second}
	fakes := map[string]*fake{}
	for _, n := range names {
		f := &fake{name: n, journal: journal}
		fakes[n] = f
		l.add(n, f)
	}
	return l, fakes
}

func TestLifecycleOrder(t *testing.T) {
	var journal []string
	l, _ := newFakes(&journal, "database", "writer", "bus", "runner", "intake")
	if err := l.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"start database", "start writer", "start bus", "start runner", "start intake",
		"stop intake", "stop runner", "stop bus", "stop writer", "stop database",
	}
	if !slices.Equal(journal, want) {
		t.Fatalf("journal:\n%s\nwant:\n%s", strings.Join(journal, "\n"), strings.Join(want, "\n"))
	}
	// Stopped services are not stopped again; a stopped lifecycle does not
	// start again.
	journal = nil
	if err := l.stop(context.Background()); err != nil || len(journal) != 0 {
		t.Fatalf("second stop: %v, journal %v", err, journal)
	}
	if err := l.start(context.Background()); err == nil || len(journal) != 0 {
		t.Fatalf("second start: %v, journal %v; want an error and nothing started", err, journal)
	}
}

func TestLifecycleRollback(t *testing.T) {
	var journal []string
	l, fakes := newFakes(&journal, "database", "writer", "bus", "switch", "http")
	boom := errors.New("address in use")
	fakes["switch"].startErr = boom
	fakes["writer"].stopErr = errors.New("spool left")
	err := l.start(context.Background())
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "switch: address in use") {
		t.Fatalf("start error %q; want it to name the switch", err)
	}
	if !strings.Contains(err.Error(), "writer: spool left") {
		t.Fatalf("start error %q; want the rollback's stop error too", err)
	}
	want := []string{
		"start database", "start writer", "start bus", "start switch",
		"stop bus", "stop writer", "stop database",
	}
	if !slices.Equal(journal, want) {
		t.Fatalf("journal:\n%s\nwant:\n%s", strings.Join(journal, "\n"), strings.Join(want, "\n"))
	}
	// Shutdown after a failed start stops nothing twice.
	journal = nil
	if err := l.stop(context.Background()); err != nil || len(journal) != 0 {
		t.Fatalf("stop after a failed start: %v, journal %v", err, journal)
	}
}

func TestLifecycleStopNeverStarted(t *testing.T) {
	var journal []string
	l, _ := newFakes(&journal, "a", "b")
	if err := l.stop(context.Background()); err != nil || len(journal) != 0 {
		t.Fatalf("stop: %v, journal %v", err, journal)
	}
	if err := l.start(context.Background()); err == nil {
		t.Fatal("start after stop: want an error")
	}
}

// TestLifecycleStopErrors: every service is stopped even when some fail;
// the error names each that failed.
func TestLifecycleStopErrors(t *testing.T) {
	var journal []string
	l, fakes := newFakes(&journal, "a", "b", "c")
	fakes["c"].stopErr = errors.New("c failed")
	fakes["a"].stopErr = errors.New("a failed")
	if err := l.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := l.stop(context.Background())
	if err == nil || !strings.Contains(err.Error(), "c: c failed") || !strings.Contains(err.Error(), "a: a failed") {
		t.Fatalf("stop error %v", err)
	}
	if want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}; !slices.Equal(journal, want) {
		t.Fatalf("journal %v, want %v", journal, want)
	}
}

// TestLifecycleGrace: services reached after the stop's context has ended
// get a fresh allowance; before that they get the stop's context.
func TestLifecycleGrace(t *testing.T) {
	var journal []string
	l, fakes := newFakes(&journal, "writer", "intake")
	ctx, cancel := context.WithCancel(context.Background())
	fakes["intake"].stopCtx = func(sctx context.Context) {
		if sctx.Err() != nil {
			t.Error("intake: its stop context had ended before it stopped")
		}
		cancel() // the drain used all of it
	}
	fakes["writer"].stopCtx = func(sctx context.Context) {
		if sctx.Err() != nil {
			t.Error("writer: no grace after the drain used the stop's context")
		}
		if d, ok := sctx.Deadline(); !ok || time.Until(d) > time.Second {
			t.Errorf("writer: deadline %v (set %v); want within the grace", d, ok)
		}
	}
	if err := l.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLoop: a loop's goroutine gets a context of its own (not the start's)
// and Stop waits for it.
func TestLoop(t *testing.T) {
	startCtx, cancelStart := context.WithCancel(context.Background())
	ended := make(chan struct{})
	running := make(chan struct{})
	l := &loop{run: func(ctx context.Context) {
		close(running)
		<-ctx.Done()
		close(ended)
	}}
	if err := l.Start(startCtx); err != nil {
		t.Fatal(err)
	}
	<-running
	cancelStart()
	select {
	case <-ended:
		t.Fatal("the loop ended with the start's context")
	case <-time.After(50 * time.Millisecond):
	}
	if err := l.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	default:
		t.Fatal("Stop returned before the loop ended")
	}
}
