package survey

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-cc/hotline/dialpolicy"
	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgmigrate"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/sip"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// VersionTable is the table tern records the survey schema version in.
const VersionTable = "survey_schema_version"

// QueueName is the River queue survey jobs run in.
const QueueName = "survey"

// Clock tells the time; tests pass a fake.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Deps are the service's collaborators.
type Deps struct {
	Pool *pgxpool.Pool
	// Switch dials the survey calls.
	Switch sip.Switch
	// Publisher receives survey.* events (reporting); nil drops them.
	Publisher eventlog.Publisher
	// Holidays is consulted when Config.SkipHolidays is set; nil: none.
	Holidays Holidays
	// Logger; nil uses slog.Default().
	Logger *slog.Logger
	// Clock; nil uses the system clock.
	Clock Clock
	// IDs stamps the events (the bus's generator in serve); nil: a
	// generator of the service's own.
	IDs *eventlog.IDs
	// Plan is the numbering plan the customers' zones come from (see
	// ZonesFor); nil: hotline's prefix table and libphonenumber only.
	Plan NumberingPlan
	// Dialling is the dialling policy shared with callbacks: screened when
	// a survey is scheduled, asked before every dial; nil: no policy
	// (tests; serve always wires one).
	Dialling DialGate
	// Recordings says which rated calls have a recording, for the review
	// list's links (the recording service in serve); nil: no links.
	Recordings Recordings
}

// Recordings reports which of callIDs have a recording to play.
type Recordings interface {
	Playable(ctx context.Context, callIDs []string) (map[string]bool, error)
}

// DialGate is the dialling policy as the survey uses it (a
// *dialpolicy.Policy in serve). A refusal is a *dialpolicy.Refusal; any
// other error means "do not dial now".
type DialGate interface {
	Screen(ctx context.Context, r dialpolicy.Request) error
	Permit(ctx context.Context, r dialpolicy.Request) error
}

// Migrate brings the survey schema and River's schema up to date. Both
// migrators take locks, so concurrent runs are safe.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pgmigrate.River(ctx, pool); err != nil {
		return fmt.Errorf("survey: %w", err)
	}
	if err := pgmigrate.Pool(ctx, pool, VersionTable, migrationFS, "migrations"); err != nil {
		return fmt.Errorf("survey: %w", err)
	}
	return nil
}

// Service is the survey bot.
type Service struct {
	cfg     Config
	deps    Deps
	planner *Planner
	log     *slog.Logger
	clock   Clock
	river   *river.Client[pgx.Tx]

	mu      sync.Mutex
	calls   map[string]*tracked
	nEvents int

	work    chan workItem
	dropped atomic.Int64
	ids     *eventlog.IDs

	stopIntake context.CancelFunc
	intakeDone chan struct{}
}

type workItem struct {
	call *callState
	disp *eventlog.Event
}

// New builds the service. It does not touch the database until Start or
// Publish.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Pool == nil {
		return nil, errors.New("survey: Deps.Pool is required")
	}
	cfg = cfg.withDefaults()
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Clock == nil {
		deps.Clock = realClock{}
	}
	if deps.IDs == nil {
		deps.IDs = eventlog.NewIDs("")
	}
	s := &Service{
		cfg: cfg, deps: deps, planner: NewPlanner(cfg, deps.Holidays),
		log: deps.Logger.With("component", "survey"), clock: deps.Clock,
		calls: map[string]*tracked{}, work: make(chan workItem, 4096),
		ids: deps.IDs,
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &jobWorker{s: s})
	jobTimeout := cfg.RingTimeout + 10*time.Minute
	rc, err := river.NewClient(riverpgxv5.New(deps.Pool), &river.Config{
		Queues:               map[string]river.QueueConfig{QueueName: {MaxWorkers: cfg.MaxConcurrent}},
		Workers:              workers,
		JobTimeout:           jobTimeout,
		RescueStuckJobsAfter: jobTimeout + 10*time.Minute,
		MaxAttempts:          25, // infrastructure errors only; dial attempts are counted in the survey row
		Logger:               deps.Logger.With("component", "survey.river"),
	})
	if err != nil {
		return nil, fmt.Errorf("survey: river client: %w", err)
	}
	s.river = rc
	return s, nil
}

// Start starts the job workers and the event intake. Run Migrate first.
func (s *Service) Start(ctx context.Context) error {
	if s.deps.Switch == nil {
		return errors.New("survey: Deps.Switch is required to work jobs")
	}
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopIntake = cancel
	s.intakeDone = make(chan struct{})
	// Single node: a survey in_progress now was left by a dead process;
	// settle it before River runs (recover.go).
	n, err := s.recoverInterrupted(ctx)
	if err != nil {
		cancel()
		return fmt.Errorf("survey: settle attempts interrupted by a crash: %w", err)
	}
	if n > 0 {
		s.log.Warn("survey attempts interrupted by a crash settled", "count", n)
	}
	go s.intake(ictx)
	if err := s.river.Start(ctx); err != nil {
		cancel()
		return fmt.Errorf("survey: start river: %w", err)
	}
	return nil
}

// Stop stops taking events and waits for running survey calls to end;
// when ctx expires first, running calls are cancelled and booked as
// interrupted (an answered one ends the survey, an unanswered one is
// retried after retry_delay).
func (s *Service) Stop(ctx context.Context) error {
	if s.stopIntake != nil {
		s.stopIntake()
		<-s.intakeDone
	}
	err := s.river.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s.river.StopAndCancel(cctx)
	}
	return err
}

// Publish consumes an event of the call path. It never blocks: the
// database work happens on the intake goroutine; when its backlog (4096
// finished calls) is full the call is dropped and logged.
func (s *Service) Publish(e eventlog.Event) {
	done, late := s.track(e)
	var it workItem
	switch {
	case done != nil:
		it.call = done
	case late != nil:
		it.disp = late
	default:
		return
	}
	select {
	case s.work <- it:
	default:
		s.dropped.Add(1)
		s.log.Error("survey backlog full, call not considered", "call", e.CallID)
	}
}

func (s *Service) intake(ctx context.Context) {
	defer close(s.intakeDone)
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-s.work:
			var err error
			for try := 0; try < 5; try++ {
				if it.call != nil {
					err = s.consider(ctx, it.call)
				} else {
					err = s.applyDisposition(ctx, *it.disp)
				}
				if err == nil || ctx.Err() != nil {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(try+1) * time.Second):
				}
			}
			if err != nil {
				s.log.Error("survey intake", "call", callOf(it), "err", err)
			}
		}
	}
}

func callOf(it workItem) string {
	if it.call != nil {
		return it.call.CallID
	}
	return it.disp.CallID
}

// jobArgs is the River job of one survey; unique by call id.
type jobArgs struct {
	CallID string `json:"call_id" river:"unique"`
	// Resume is the attempts made when crash recovery gave the survey a
	// new job (recover.go); 0 for the job inserted with the survey.
	Resume int `json:"resume,omitempty" river:"unique"`
	// Replaces is the dead process's job that a survey's new job stands
	// in for when it died with that job running before the attempt
	// started (recover.go, recoverStranded); 0 otherwise.
	Replaces int64 `json:"replaces,omitempty" river:"unique"`
}

// Kind names the River job kind.
func (jobArgs) Kind() string { return "hotline.survey" }

// consider decides the survey of a finished answered call and stores it:
// a skipped row with its reason, or a scheduled row and its River job in
// the same transaction. It is idempotent by call id.
func (s *Service) consider(ctx context.Context, c *callState) error {
	last := c.last()
	cand := Candidate{CallID: c.CallID, Caller: c.Caller, Queue: last.Queue, NoSurvey: c.NoSurvey, Ended: c.EndedAt}
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var hist History
	if n := ivr.NormalizeCaller(c.Caller, s.cfg.Region); !n.Anonymous {
		var last *time.Time
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM survey_optout WHERE number_hash = survey_number_hash($1)),
			(SELECT max(ended_at) FROM survey WHERE number = $1 AND state NOT IN ('skipped', 'cancelled') AND call_id <> $2)`,
			n.E164, c.CallID).Scan(&hist.OptedOut, &last)
		if err != nil {
			return fmt.Errorf("history: %w", err)
		}
		if last != nil {
			hist.LastSurvey = *last
		}
	}
	number, reason := Decide(s.cfg, cand, hist)
	var at, deadline time.Time
	var zones Zones
	if reason == "" && s.deps.Dialling != nil {
		err := s.deps.Dialling.Screen(ctx, dialpolicy.Request{
			Purpose: dialpolicy.PurposeSurvey, Number: number, CallID: c.CallID, Trunk: c.Trunk,
		})
		if _, refused := dialpolicy.AsRefusal(err); refused {
			reason = SkipDialRefused
		} else if err != nil {
			return err
		}
	}
	if reason == "" {
		zones = ZonesFor(number, s.cfg.Region, s.deps.Plan, s.cfg.ServiceZone)
		if zones.Status != ZoneKnown && s.cfg.UnknownZone == UnknownZoneSkip {
			reason = SkipZoneUnknown
		}
	}
	if reason == "" {
		deadline = s.planner.DeadlineAll(c.EndedAt, zones.Locs)
		var ok bool
		if at, ok = s.planner.FirstAll(c.CallID, c.EndedAt, zones.Locs); !ok {
			reason = SkipNoWindow
		}
	}
	zone := zones.String()
	state := "scheduled"
	if reason != "" {
		state = "skipped"
	}
	visits, _ := json.Marshal(c.Visits)
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO survey (call_id, number, state, reason, call_at, ended_at, zone, next_at, deadline,
			queue, agent, team, line, visits, escalated, escalated_to, escalation_reason, disposition, disposition_code, notes,
			zone_status, trunk)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22)
		ON CONFLICT (call_id) DO NOTHING RETURNING id`,
		c.CallID, number, state, reason, c.CallAt, c.EndedAt, zone, nullTime(at), nullTime(deadline),
		last.Queue, last.Agent, last.Team, max(last.Line, 1), visits, c.Escalated, c.EscalatedTo, c.EscReason,
		c.Disposition, c.Code, c.Notes, zones.Status, c.Trunk).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // already decided (re-processing)
	}
	if err != nil {
		return fmt.Errorf("insert survey: %w", err)
	}
	if reason == "" {
		res, err := s.river.InsertTx(ctx, tx, jobArgs{CallID: c.CallID}, &river.InsertOpts{
			Queue: QueueName, ScheduledAt: at, UniqueOpts: river.UniqueOpts{ByArgs: true},
		})
		if err != nil {
			return fmt.Errorf("insert job: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE survey SET job_id = $2 WHERE id = $1`, id, res.Job.ID); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	r := row{ID: id, CallID: c.CallID, Queue: last.Queue, Agent: last.Agent, Line: max(last.Line, 1), Visits: c.Visits}
	if reason != "" {
		s.log.Info("survey skipped", "call", c.CallID, "number", sip.MaskNumber(number), "reason", reason)
		s.emit(s.event(r, eventlog.SurveySkipped, reason))
		return nil
	}
	s.log.Info("survey scheduled", "call", c.CallID, "number", sip.MaskNumber(number), "at", at.UTC(), "zone", zone,
		"zone_status", zones.Status, "zone_source", zones.Source)
	s.emit(s.event(r, eventlog.SurveyScheduled, "").WithTime(eventlog.KeyAt, at.Truncate(time.Second)))
	return nil
}

// applyDisposition stores a disposition that came after the call was
// decided; "no_survey" cancels a survey that has not been dialled yet.
func (s *Service) applyDisposition(ctx context.Context, e eventlog.Event) error {
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var r row
	var jobID *int64
	err = tx.QueryRow(ctx, `UPDATE survey SET disposition = $2, disposition_code = $3, notes = $4, updated_at = now()
		WHERE call_id = $1 RETURNING id, state, job_id, queue, agent, line, visits`,
		e.CallID, e.Reason, e.String(eventlog.KeyCode), e.String(eventlog.KeyNotes)).Scan(&r.ID, &r.State, &jobID, &r.Queue, &r.Agent, &r.Line, &r.Visits)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // not a survey candidate
	}
	if err != nil {
		return err
	}
	cancel := e.Flag(eventlog.KeyNoSurvey) && (r.State == "scheduled" || r.State == "retry")
	if cancel {
		if _, err := tx.Exec(ctx, `UPDATE survey SET state = 'cancelled', reason = $2, next_at = NULL WHERE id = $1`, r.ID, SkipNoSurvey); err != nil {
			return err
		}
		if jobID != nil {
			if _, err := s.river.JobCancelTx(ctx, tx, *jobID); err != nil && !errors.Is(err, river.ErrNotFound) {
				return err
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if cancel {
		r.CallID = e.CallID
		s.emit(s.event(r, eventlog.SurveySkipped, SkipNoSurvey))
	}
	return nil
}

// event is a survey event linked to the original call: the survey, the
// line surveyed and the last agent and queue of each line.
func (s *Service) event(r row, t eventlog.Type, reason string) eventlog.Event {
	e := eventlog.Event{Type: t, CallID: r.CallID, Queue: r.Queue, Agent: r.Agent, Reason: reason}.
		WithInt(eventlog.KeySurveyID, int(r.ID)).WithInt(eventlog.KeyLine, max(r.Line, 1))
	for _, v := range r.Visits {
		e = e.WithString(eventlog.KeyLineAgent(v.Line), v.Agent).WithString(eventlog.KeyLineQueue(v.Line), v.Queue)
	}
	return e
}

// emit publishes a survey event.
func (s *Service) emit(e eventlog.Event) {
	if s.deps.Publisher == nil {
		return
	}
	e.ID, e.At = s.ids.Next(), s.clock.Now().UTC()
	s.deps.Publisher.Publish(e)
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
