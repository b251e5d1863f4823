package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/numbering"
	"github.com/hotline-cc/hotline/queue/callback"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/hotline-cc/hotline/survey"
)

// The adapters that make each piece a service. Each one that runs
// goroutines gives them a context of its own (never Start's) and ends them
// in Stop.

// openDatabase migrates and connects PostgreSQL.
func (s *Server) openDatabase(ctx context.Context) error {
	url := s.cfg.Database.URL
	if err := Migrate(ctx, url); err != nil {
		return err
	}
	pool, err := pgxpool.New(context.WithoutCancel(ctx), url)
	if err != nil {
		return fmt.Errorf("database: %w", RedactDSNError(err, url))
	}
	s.pool = pool
	s.store = reporting.NewStore(pool, s.rc, s.log.With("component", "reporting"))
	return nil
}

func (s *Server) closeDatabase(context.Context) error {
	s.pool.Close()
	return nil
}

// project keeps call records and rollups up to date after writes.
func (s *Server) project(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
		if _, err := s.store.Project(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reporting projection failed (retrying)", "error", err)
		}
		// The writer writes urgent events within 20 ms: project at most
		// every projectEvery, whatever it wrote meanwhile in one pass.
		select {
		case <-ctx.Done():
			return
		case <-time.After(projectEvery):
		}
	}
}

// projectEvery is the projector's shortest period.
const projectEvery = 200 * time.Millisecond

// startWriter starts the event writer (batched, spooled to disk while the
// database is down) as a consumer of the bus.
func (s *Server) startWriter(context.Context) error {
	if err := os.MkdirAll(s.cfg.Database.SpoolDir, 0o750); err != nil {
		return fmt.Errorf("spool dir: %w", err)
	}
	w, err := reporting.NewWriter(s.store, reporting.WriterOptions{
		JournalPath: JournalPath(s.cfg),
		Logger:      s.log.With("component", "writer"),
		Urgent:      func(e eventlog.Event) bool { return urgentEvents[e.Type] },
		Now:         func(e eventlog.Event) bool { return e.Type == eventlog.CallEnded },
		OnWritten: func(int) {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		return err
	}
	s.writer = w
	w.Start()
	s.bus.Subscribe(w)
	return nil
}

// urgentEvents are written at once rather than within the writer's 200 ms:
// the events a call's existence and outcome in the report depend on, and
// what a take-over rebuilds the ACD from (docs/scaling.md, "What a crash
// costs"). call.arrived is more: the call waits for it (publishDurable).
var urgentEvents = map[eventlog.Type]bool{
	eventlog.CallArrived: true, eventlog.CallEnded: true, eventlog.QueueAnswered: true, eventlog.QueueAbandoned: true,
	eventlog.CallbackRequested: true, eventlog.CallEscalated: true, eventlog.EscalationAnswered: true,
	eventlog.AgentState: true, eventlog.WrapupEnded: true,
	eventlog.SurveyScheduled: true, eventlog.SurveyAttempt: true, eventlog.SurveyCompleted: true, eventlog.SurveyFailed: true,
	eventlog.CallbackResult: true,
}

// durableWait bounds how long publishDurable holds a call for its event.
const durableWait = time.Second

// publishDurable publishes e and returns once the writer has it in the
// database (or fsync'd to its spool while the database is away), at most
// durableWait later: hotline answers a call only after its arrival is
// stored, so a kill -9 cannot take from the report a call the caller saw
// answered (the new node's crash recovery closes it). Without a database
// it is Publish.
func (s *Server) publishDurable(ctx context.Context, e eventlog.Event) {
	if s.writer == nil {
		s.bus.Publish(e)
		return
	}
	if e.ID == "" {
		e.ID = s.bus.IDs().Next()
	}
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	durable, forget := s.writer.Await(e.ID)
	defer forget()
	s.bus.Publish(e)
	t := time.NewTimer(durableWait)
	defer t.Stop()
	select {
	case <-durable:
	case <-ctx.Done():
	case <-t.C:
		s.log.Warn("event not stored in time: going on without it", "type", e.Type, "call", e.CallID, "waited", durableWait)
	}
}

func (s *Server) stopWriter(ctx context.Context) error {
	if err := s.writer.Close(ctx); err != nil {
		return fmt.Errorf("closed with events left in the spool (replayed at next start): %w", err)
	}
	return nil
}

// metricsService registers the Prometheus collectors fed by the bus and,
// with a database, refreshes the FCR gauges from it.
func (s *Server) metricsService() service {
	fcr := &loop{}
	return hooks{
		start: func(ctx context.Context) error {
			opts := reporting.MetricsOptions{Config: s.rc, QueuesOf: QueuesOf(s.cfg)}
			for _, q := range s.cfg.Queues {
				opts.Queues = append(opts.Queues, q.Name)
			}
			for _, a := range s.cfg.Agents {
				opts.Agents = append(opts.Agents, a.ID)
			}
			if s.writer != nil {
				opts.Writer = s.writer
			}
			m, err := reporting.NewMetrics(s.reg, opts)
			if err != nil {
				return err
			}
			if err := s.reg.Register(lineOpen{schedules: s.schedules, now: time.Now}); err != nil {
				return err
			}
			if s.store != nil {
				// The day's and the rolling windows' figures survive a
				// restart (docs/metrics.md): replay the stored events
				// into the gauges before the first new event.
				if err := m.Restore(ctx, s.store); err != nil {
					s.log.Warn("metrics: restoring today's figures from the database failed; they start from zero", "err", err)
				}
			}
			s.bus.Subscribe(m)
			if s.store == nil {
				return nil
			}
			log := s.log.With("component", "fcr")
			fcr.run = func(ctx context.Context) { m.RunFCRRefresh(ctx, s.store, 15*time.Minute, log) }
			return fcr.Start(ctx)
		},
		stop: func(ctx context.Context) error {
			if fcr.run == nil {
				return nil
			}
			return fcr.Stop(ctx)
		},
	}
}

// staffingService registers hotline_agents_required and refreshes it
// every minute.
func (s *Server) staffingService() service {
	l := &loop{}
	return hooks{
		start: func(ctx context.Context) error {
			g, err := newStaffingGauge(s.reg, s.store, s.cfg.Queues, s.log.With("component", "staffing"))
			if err != nil {
				return err
			}
			l.run = func(ctx context.Context) { g.run(ctx, time.Minute) }
			return l.Start(ctx)
		},
		stop: l.Stop,
	}
}

// startBus adds the live stream to the bus's consumers (the writer and the
// metrics are added by their services, before it).
func (s *Server) startBus(context.Context) error {
	s.bus.Subscribe(s.live)
	s.bus.Subscribe(s.desk)
	return nil
}

// stopBus delivers what is queued to every consumer (later events are
// delivered at once) and ends the live streams.
func (s *Server) stopBus(context.Context) error {
	s.bus.Close()
	s.live.Close()
	s.desk.Close()
	return nil
}

// runQueue fires the Runner's timers until ctx ends; then the Runner hangs
// up the legs it owns and publishes their last events.
func (s *Server) runQueue(ctx context.Context) {
	if err := s.runner.Run(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("queue runner stopped", "error", err)
	}
}

// switchService starts the switch: native listens for SIP, Asterisk
// connects to ARI. Stop closes it (the call intake has usually drained
// and closed it already).
func (s *Server) switchService() service {
	var cancel context.CancelFunc
	return hooks{
		start: func(ctx context.Context) error {
			var rctx context.Context
			rctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
			if err := s.sw.Start(rctx); err != nil {
				cancel()
				return err
			}
			return nil
		},
		stop: func(context.Context) error {
			s.sw.Close()
			cancel()
			return nil
		},
	}
}

// surveyService starts the next-day survey bot (its jobs are durable in
// the database) as a consumer of the bus.
func (s *Server) surveyService() service {
	var cancel context.CancelFunc
	return hooks{
		start: func(ctx context.Context) error {
			// The one calendar: the IVR's, built from the calendar
			// section, as the current flows have it (a reload's reaches
			// the survey at once).
			deps := survey.Deps{
				Pool: s.pool, Switch: s.sw, Publisher: s.bus, IDs: s.bus.IDs(), Holidays: currentCalendar{s},
				Logger: s.log.With("component", "survey"), Dialling: s.dialPolicy,
			}
			if s.rec != nil {
				deps.Recordings = s.rec // the review list links the recordings
			}
			if files := s.cfg.Numbering.Files; len(files) > 0 {
				plan, err := numbering.Load(files...)
				if err != nil {
					return err // names the file and line
				}
				if u := plan.Unrecognised(); len(u) > 0 {
					s.log.Warn("numbering plan: regions without a known time zone (their numbers could be anywhere in Russia)", "regions", u)
				}
				s.log.Info("numbering plan loaded", "ranges", plan.Len(), "files", len(files))
				deps.Plan = plan
			}
			svc, err := survey.New(surveyConfigOf(s.cfg), deps)
			if err != nil {
				return err
			}
			var rctx context.Context
			rctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
			if err := svc.Start(rctx); err != nil {
				cancel()
				return err
			}
			s.survey = svc
			s.surveyLive.Store(svc)
			s.bus.Subscribe(svc)
			if err := s.reg.Register(surveyBacklog{pool: s.pool, now: time.Now}); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return err
				}
			}
			return nil
		},
		stop: func(ctx context.Context) error {
			// Running survey calls get a few seconds; then they are
			// cancelled and their jobs run again after a restart.
			sctx, c := context.WithTimeout(ctx, stopGrace)
			defer c()
			err := s.survey.Stop(sctx)
			cancel()
			return err
		},
	}
}

// callbackService runs the durable callbacks (queue/callback): callbacks
// left in line by the previous process return to their place, the Runner
// and the IVR store new ones through s.callbacks, and the queue's
// callback.result events advance them (a consumer of the bus).
func (s *Server) callbackService() service {
	return hooks{
		start: func(ctx context.Context) error {
			svc, err := callback.New(callbackConfigOf(s.cfg), callback.Deps{
				Pool: s.pool, Line: s.runner, Publisher: s.bus, IDs: s.bus.IDs(), Logger: s.log,
			})
			if err != nil {
				return err
			}
			s.bus.Subscribe(svc)
			if err := svc.Start(context.WithoutCancel(ctx)); err != nil {
				return err
			}
			s.callbacks.svc.Store(svc)
			return nil
		},
		stop: func(ctx context.Context) error {
			svc := s.callbacks.svc.Load()
			if svc == nil {
				return nil
			}
			sctx, c := context.WithTimeout(ctx, stopGrace)
			defer c()
			return svc.Stop(sctx)
		},
	}
}

// httpService serves /metrics, /healthz, /readyz and /api/v1.
func (s *Server) httpService() service {
	var srv *http.Server
	return hooks{
		start: func(context.Context) error {
			ln, err := net.Listen("tcp", s.cfg.HTTP.Listen)
			if err != nil {
				return fmt.Errorf("http listen %s: %w", s.cfg.HTTP.Listen, err)
			}
			if s.httpCert != nil {
				// HTTPS only: a plain request on this port gets a TLS
				// alert, never the API.
				ln = tls.NewListener(ln, s.httpCert.serverConfig())
			}
			s.httpLn = ln
			srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					s.log.Error("http server stopped", "error", err)
				}
			}()
			return nil
		},
		stop: func(ctx context.Context) error {
			hctx, cancel := context.WithTimeout(ctx, stopGrace)
			defer cancel()
			err := srv.Shutdown(hctx)
			if err != nil && ctx.Err() == nil {
				// Only the wait for open event streams ran out: they end
				// when the live stream closes with the bus.
				return nil
			}
			return err
		},
	}
}

// intakeService takes the switch's inbound legs and marks the server
// ready. Stop is the drain: not ready, the switch stops taking calls
// (native: the active ones may finish until ctx is done, then they are
// hung up; Asterisk: the ARI connection closes and the calls stay in
// Asterisk), and it waits for every call's goroutine.
func (s *Server) intakeService() service {
	var (
		cancel context.CancelFunc
		done   chan struct{}
	)
	return hooks{
		start: func(ctx context.Context) error {
			var rctx context.Context
			rctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
			done = make(chan struct{})
			go func() {
				defer close(done)
				s.acceptCalls(rctx)
			}()
			s.ready.Store(true)
			return nil
		},
		stop: func(ctx context.Context) error {
			s.ready.Store(false)
			var err error
			if s.native != nil {
				if err = s.native.Shutdown(ctx); err != nil {
					err = fmt.Errorf("calls still active at the drain deadline were hung up: %w", err)
				}
			} else {
				// Calls stay in Asterisk; the queue hangs up the legs it
				// owns when it stops, and a restart re-adopts what is left.
				s.sw.Close()
			}
			<-done       // Incoming is closed: no call is added after this
			s.mon.stop() // monitor sessions end (monitor.go)
			s.calls.Wait()
			cancel()
			return err
		},
	}
}

// schedules returns the IVR schedules of the flows in use.
func (s *Server) schedules() map[string]*ivr.Schedule {
	if f := s.flows.Load(); f != nil {
		return f.schedules
	}
	return nil
}
