package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// service is the one lifecycle shape of everything a Server runs. Start
// brings the service up; ctx bounds the starting only (a service that runs
// goroutines gives them a context of its own, cancelled by Stop). Stop
// brings it down and waits for what it started, until ctx is done.
type service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// hooks makes a service of two functions (nil: nothing to do).
type hooks struct {
	start func(ctx context.Context) error
	stop  func(ctx context.Context) error
}

func (h hooks) Start(ctx context.Context) error {
	if h.start == nil {
		return nil
	}
	return h.start(ctx)
}

func (h hooks) Stop(ctx context.Context) error {
	if h.stop == nil {
		return nil
	}
	return h.stop(ctx)
}

// loop is a service that is one goroutine: run until its context ends.
// Stop cancels that context and waits for run to return.
type loop struct {
	run    func(ctx context.Context)
	cancel context.CancelFunc
	done   chan struct{}
}

func (l *loop) Start(ctx context.Context) error {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		l.run(rctx)
	}()
	return nil
}

func (l *loop) Stop(ctx context.Context) error {
	l.cancel()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("still running: %w", ctx.Err())
	}
}

// unit is a named service in a lifecycle.
type unit struct {
	name string
	svc  service
}

// lifecycle runs services in dependency order: a service is listed after
// everything it needs, so start walks the list forward and stop walks it
// backward. It runs once: started, then stopped.
type lifecycle struct {
	// grace is what a service gets to stop when the stop's context has
	// already ended (and what a rollback after a failed start gets).
	grace time.Duration

	mu      sync.Mutex
	units   []unit
	started int  // units[:started] are running
	ran     bool // start was called: the lifecycle does not run again
}

// add appends a service; it starts after those added before it.
func (l *lifecycle) add(name string, svc service) {
	l.units = append(l.units, unit{name, svc})
}

// names lists the services in start order.
func (l *lifecycle) names() []string {
	out := make([]string, len(l.units))
	for i, u := range l.units {
		out[i] = u.name
	}
	return out
}

// start starts every service in order. When one fails, those already
// started are stopped (in reverse) and the error names the one that failed.
func (l *lifecycle) start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ran {
		return errors.New("already started (a server runs once)")
	}
	l.ran = true
	for _, u := range l.units {
		if err := u.svc.Start(ctx); err != nil {
			err = fmt.Errorf("%s: %w", u.name, err)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.grace)
			if serr := l.stopStarted(rctx); serr != nil {
				err = errors.Join(err, fmt.Errorf("stopping what had started: %w", serr))
			}
			cancel()
			return err
		}
		l.started++
	}
	return nil
}

// stop stops the running services in reverse order, each once, and joins
// their errors. ctx bounds the whole stop, except that a service reached
// after ctx has ended still gets grace of its own: a drain of calls that
// used all of ctx must not cost the events the bus still delivers to the
// writer.
func (l *lifecycle) stop(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ran = true // a lifecycle stopped before it started never starts
	return l.stopStarted(ctx)
}

func (l *lifecycle) stopStarted(ctx context.Context) error {
	var errs []error
	for ; l.started > 0; l.started-- {
		u := l.units[l.started-1]
		sctx, cancel := ctx, context.CancelFunc(func() {})
		if ctx.Err() != nil {
			sctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), l.grace)
		}
		if err := u.svc.Stop(sctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.name, err))
		}
		cancel()
	}
	return errors.Join(errs...)
}
