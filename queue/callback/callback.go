package callback

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgmigrate"
	"github.com/hotline-cc/hotline/queue"
	"github.com/hotline-cc/hotline/sip"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// VersionTable is the table tern records the callback schema version in.
const VersionTable = "callback_schema_version"

// QueueName is the River queue callback jobs run in.
const QueueName = "callback"

// Migrate brings River's schema and the callback table up to date (both
// migrators take locks: concurrent runs are safe).
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pgmigrate.River(ctx, pool); err != nil {
		return fmt.Errorf("callback: %w", err)
	}
	if err := pgmigrate.Pool(ctx, pool, VersionTable, migrationFS, "migrations"); err != nil {
		return fmt.Errorf("callback: %w", err)
	}
	return nil
}

// Hours are calling hours, as offsets from midnight in Config.Zone: a
// callback is handed to the queue (dialled) only when From <= time of day
// < To. From == To means at any time.
type Hours struct{ From, To time.Duration }

func (h Hours) always() bool { return h.From == h.To }

// In says whether t is inside the hours in loc.
func (h Hours) In(t time.Time, loc *time.Location) bool {
	if h.always() {
		return true
	}
	t = t.In(loc)
	mid := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	d := t.Sub(mid)
	if h.From < h.To {
		return d >= h.From && d < h.To
	}
	return d >= h.From || d < h.To // across midnight
}

// Next returns the first instant >= t inside the hours.
func (h Hours) Next(t time.Time, loc *time.Location) time.Time {
	if h.In(t, loc) {
		return t
	}
	lt := t.In(loc)
	for i := 0; i < 3; i++ {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()+i, 0, 0, 0, 0, loc)
		// Add the offset as a wall-clock time (DST-safe).
		open := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc).Add(h.From)
		if !open.Before(t) {
			return open
		}
	}
	return t
}

// QueueConfig is one queue's callback policy.
type QueueConfig struct {
	// Attempts is how many dials a callback gets (>= 1).
	Attempts int
	// Spacing is the pause between a failed attempt and the next.
	Spacing time.Duration
	// Hours are the calling hours.
	Hours Hours
	// Expire: a callback not connected this long after the request ends
	// as expired.
	Expire time.Duration
}

// Config configures the service.
type Config struct {
	Queues map[string]QueueConfig
	// Zone is where calling hours are read (the service's zone); nil: UTC.
	Zone *time.Location
	// MaxWorkers bounds jobs running at once (hand-overs are quick); 0: 10.
	MaxWorkers int
}

// Line is the queue that takes callbacks back at their place
// (*queue.Runner).
type Line interface {
	EnqueueCallback(cb queue.CallbackCall) error
	// WithdrawCallback takes a callback the queue holds already (it asked
	// for it there) out of line until calling hours open.
	WithdrawCallback(callID string) error
}

// Clock tells the time; tests pass a fake.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Deps are the service's collaborators.
type Deps struct {
	Pool *pgxpool.Pool
	Line Line
	// Publisher receives the callback.requested (IVR) and the
	// callback.result events the service decides (expired, refused).
	Publisher eventlog.Publisher
	IDs       *eventlog.IDs
	Logger    *slog.Logger
	Clock     Clock
}

// Service keeps callbacks durable and hands them to the queue.
type Service struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	clock Clock
	ids   *eventlog.IDs
	river *river.Client[pgx.Tx]
}

// jobArgs is one hand-over of a callback to the queue. Attempt (the
// attempts made before it) keeps the jobs of successive attempts apart.
type jobArgs struct {
	CallID  string `json:"call_id"`
	Attempt int    `json:"attempt"`
}

// Kind names the River job kind.
func (jobArgs) Kind() string { return "hotline.callback" }

type worker struct {
	river.WorkerDefaults[jobArgs]
	s *Service
}

func (w *worker) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	return w.s.work(ctx, job.Args)
}

// New builds the service; it does not touch the database until Start.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Pool == nil || deps.Line == nil {
		return nil, errors.New("callback: Deps.Pool and Deps.Line are required")
	}
	for name, q := range cfg.Queues {
		if q.Attempts < 1 || q.Spacing < 0 || q.Expire <= 0 {
			return nil, fmt.Errorf("callback: queue %q: attempts %d, spacing %s, expire %s: want attempts >= 1, spacing >= 0, expire > 0",
				name, q.Attempts, q.Spacing, q.Expire)
		}
	}
	if cfg.Zone == nil {
		cfg.Zone = time.UTC
	}
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 10
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Clock == nil {
		deps.Clock = realClock{}
	}
	if deps.IDs == nil {
		deps.IDs = eventlog.NewIDs("")
	}
	s := &Service{cfg: cfg, deps: deps, log: deps.Logger.With("component", "callback"), clock: deps.Clock, ids: deps.IDs}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{s: s})
	rc, err := river.NewClient(riverpgxv5.New(deps.Pool), &river.Config{
		Queues:               map[string]river.QueueConfig{QueueName: {MaxWorkers: cfg.MaxWorkers}},
		Workers:              workers,
		JobTimeout:           time.Minute,
		RescueStuckJobsAfter: 5 * time.Minute,
		MaxAttempts:          25, // infrastructure errors only; dial attempts are counted in the row
		Logger:               deps.Logger.With("component", "callback.river"),
	})
	if err != nil {
		return nil, fmt.Errorf("callback: river client: %w", err)
	}
	s.river = rc
	return s, nil
}

// Start gives every callback that was in the line of a previous process
// (state queued) a job at once, so it returns to its place, and starts the
// workers. Run Migrate first.
func (s *Service) Start(ctx context.Context) error {
	// Dials cut by a crash first (crash.go): counted, and either spaced
	// or back in line for one prompt re-dial.
	settled, err := s.settleDials(ctx)
	if err != nil {
		return fmt.Errorf("callback: settle dials cut by a crash: %w", err)
	}
	if settled > 0 {
		s.log.Warn("callback dials cut by a crash settled", "count", settled)
	}
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("callback: restore: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, err := tx.Query(ctx, `SELECT call_id, attempts FROM callback WHERE state = 'queued' ORDER BY joined_at FOR UPDATE`)
	if err != nil {
		return fmt.Errorf("callback: restore: %w", err)
	}
	type open struct {
		id string
		n  int
	}
	var restore []open
	for rows.Next() {
		var o open
		if err := rows.Scan(&o.id, &o.n); err != nil {
			rows.Close()
			return fmt.Errorf("callback: restore: %w", err)
		}
		restore = append(restore, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("callback: restore: %w", err)
	}
	for _, o := range restore {
		if _, err := s.river.InsertTx(ctx, tx, jobArgs{CallID: o.id, Attempt: o.n}, &river.InsertOpts{Queue: QueueName}); err != nil {
			return fmt.Errorf("callback: restore %s: %w", o.id, err)
		}
	}
	stranded, err := s.replaceStranded(ctx, tx)
	if err != nil {
		return fmt.Errorf("callback: restore: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("callback: restore: %w", err)
	}
	if len(restore) > 0 {
		s.log.Info("callbacks restored to their place in line", "count", len(restore))
	}
	if stranded > 0 {
		s.log.Warn("callback jobs left running by a dead process replaced", "count", stranded)
	}
	if err := s.river.Start(ctx); err != nil {
		return fmt.Errorf("callback: start river: %w", err)
	}
	return nil
}

// replaceStranded gives a new job to every scheduled callback whose only
// open job River still has running: the process died between River
// fetching it and its commit (or after the commit, before River recorded
// the snooze). River would rescue it only after RescueStuckJobsAfter; the
// caller would wait those minutes more. The old job is marked for
// cancellation (River's rescuer cancels it); the new one runs when the
// callback is due (next_at, else due_at; never before now). Start calls it
// before River runs, on the one node that may dial (single node, or the
// holder of the line's lease), so every running job was left by a process
// that is gone.
func (s *Service) replaceStranded(ctx context.Context, tx pgx.Tx) (int, error) {
	rows, err := tx.Query(ctx, `SELECT c.call_id, c.attempts, j.id, greatest(coalesce(c.next_at, c.due_at, now()), now())
		FROM callback c JOIN river_job j ON j.queue = $1 AND j.args->>'call_id' = c.call_id AND j.state = 'running'
		WHERE c.state = 'scheduled' AND NOT EXISTS (SELECT 1 FROM river_job k WHERE k.queue = $1 AND k.args->>'call_id' = c.call_id
			AND k.state IN ('available', 'scheduled', 'retryable', 'pending'))
		ORDER BY c.joined_at FOR UPDATE OF c`, QueueName)
	if err != nil {
		return 0, err
	}
	type stranded struct {
		id       string
		attempts int
		job      int64
		due      time.Time
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (stranded, error) {
		var st stranded
		return st, r.Scan(&st.id, &st.attempts, &st.job, &st.due)
	})
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, st := range list {
		if _, err := s.river.JobCancelTx(ctx, tx, st.job); err != nil && !errors.Is(err, river.ErrNotFound) {
			return 0, err
		}
		if seen[st.id] {
			continue // a second running job of the same callback: one new job is enough
		}
		seen[st.id] = true
		if _, err := s.river.InsertTx(ctx, tx, jobArgs{CallID: st.id, Attempt: st.attempts},
			&river.InsertOpts{Queue: QueueName, ScheduledAt: st.due}); err != nil {
			return 0, fmt.Errorf("%s: %w", st.id, err)
		}
	}
	return len(seen), nil
}

// Stop stops the workers (hand-overs are short; ctx bounds the wait).
func (s *Service) Stop(ctx context.Context) error {
	err := s.river.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return s.river.StopAndCancel(cctx)
	}
	return err
}

func (s *Service) queueCfg(name string) (QueueConfig, bool) {
	q, ok := s.cfg.Queues[name]
	return q, ok
}

// StoreCallback implements queue.CallbackStore: it records the callback
// (idempotent by call id) with a job that hands it to the queue at once
// (the queue usually holds it already: the hand-over then only marks it
// queued). A callback asked for in the IVR (Source ivr) is also published
// as callback.requested (the queue publishes its own).
func (s *Service) StoreCallback(ctx context.Context, cb queue.CallbackCall) error {
	qc, ok := s.queueCfg(cb.Queue)
	if !ok {
		return fmt.Errorf("callback: queue %q has no callback configuration", cb.Queue)
	}
	if cb.Number == "" || cb.Number == "anonymous" {
		return fmt.Errorf("callback: call %s has no number to call back", cb.ID)
	}
	now := s.clock.Now().UTC()
	if cb.Requested.IsZero() {
		cb.Requested = now
	}
	if cb.Joined.IsZero() || cb.Joined.After(cb.Requested) {
		cb.Joined = cb.Requested
	}
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("callback: store: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	tag, err := tx.Exec(ctx, `INSERT INTO callback (call_id, number, trunk, queue, priority, lang, source, joined_at, requested_at, deadline, state, attempts)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'scheduled',$11) ON CONFLICT (call_id) DO NOTHING`,
		cb.ID, cb.Number, cb.Trunk, cb.Queue, cb.Priority, cb.Lang, cb.Source, cb.Joined.UTC(), cb.Requested.UTC(),
		cb.Requested.Add(qc.Expire).UTC(), cb.Attempts)
	if err != nil {
		return fmt.Errorf("callback: store: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil // stored already
	}
	if _, err := s.river.InsertTx(ctx, tx, jobArgs{CallID: cb.ID, Attempt: cb.Attempts}, &river.InsertOpts{Queue: QueueName}); err != nil {
		return fmt.Errorf("callback: store job: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("callback: store: %w", err)
	}
	s.log.Info("callback stored", "call", cb.ID, "number", sip.MaskNumber(cb.Number), "queue", cb.Queue, "source", cb.Source)
	if cb.Source == "ivr" {
		s.emit(eventlog.Event{Type: eventlog.CallbackRequested, CallID: cb.ID, Queue: cb.Queue, Caller: cb.Number, Reason: "ivr"}.
			WithDuration(eventlog.KeyWait, 0))
	}
	return nil
}

func (s *Service) emit(ev eventlog.Event) {
	if s.deps.Publisher == nil {
		return
	}
	ev.ID = s.ids.Next()
	if ev.At.IsZero() {
		ev.At = s.clock.Now().UTC()
	}
	s.deps.Publisher.Publish(ev)
}

// cbRow is the part of a callback row a job needs.
type cbRow struct {
	id                  int64
	callID, number      string
	trunk               string
	queue, lang, source string
	priority, attempts  int
	joined, requested   time.Time
	deadline            time.Time
	state               string
}

// work is one job: hand the callback to the queue if it is due, or wait.
func (s *Service) work(ctx context.Context, args jobArgs) error {
	callID := args.CallID
	now := s.clock.Now()
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var r cbRow
	err = tx.QueryRow(ctx, `SELECT id, call_id, number, trunk, queue, lang, source, priority, attempts, joined_at, requested_at, deadline, state
		FROM callback WHERE call_id = $1 FOR UPDATE`, callID).Scan(&r.id, &r.callID, &r.number, &r.trunk, &r.queue, &r.lang, &r.source,
		&r.priority, &r.attempts, &r.joined, &r.requested, &r.deadline, &r.state)
	if errors.Is(err, pgx.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("callback for call %s not found", callID))
	}
	if err != nil {
		return err
	}
	if r.state != "scheduled" && r.state != "queued" {
		return nil // ended: nothing to do (exactly once)
	}
	if args.Attempt < r.attempts {
		return nil // a hand-over for an attempt made already; a later job has the next
	}
	qc, ok := s.queueCfg(r.queue)
	if !ok {
		return s.endTx(ctx, tx, r, "failed", "unknown-queue", now)
	}
	if !now.Before(r.deadline) {
		return s.endTx(ctx, tx, r, "expired", "expired", now)
	}
	if !qc.Hours.In(now, s.cfg.Zone) {
		// A callback asked for in the queue is in its line already: out
		// of it until the hours open (back at its place then).
		if err := s.deps.Line.WithdrawCallback(r.callID); err != nil && !errors.Is(err, queue.ErrUnknownCall) {
			s.log.Warn("callback outside calling hours could not be withdrawn from the line", "call", r.callID, "error", err)
		}
		next := qc.Hours.Next(now, s.cfg.Zone)
		if !next.Before(r.deadline) {
			return s.endTx(ctx, tx, r, "expired", "expired", now)
		}
		if _, err := tx.Exec(ctx, `UPDATE callback SET state = 'scheduled', next_at = $2, updated_at = now() WHERE id = $1`, r.id, next); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		s.log.Info("callback waits for calling hours", "call", r.callID, "at", next)
		return river.JobSnooze(max(next.Sub(now), time.Second))
	}
	err = s.deps.Line.EnqueueCallback(queue.CallbackCall{
		ID: r.callID, Number: r.number, Trunk: r.trunk, Queue: r.queue, Priority: r.priority, Lang: r.lang,
		Joined: r.joined, Requested: r.requested, Attempts: r.attempts, Source: r.source,
	})
	switch {
	case err == nil, errors.Is(err, queue.ErrDuplicate):
		// In the line (already, for a callback the queue stored itself).
	case errors.Is(err, queue.ErrClosed):
		return err // shutting down: River retries it in the next process
	default:
		s.log.Error("callback could not be queued", "call", r.callID, "error", err)
		return s.endTx(ctx, tx, r, "failed", "not-queued", now)
	}
	if _, err := tx.Exec(ctx, `UPDATE callback SET state = 'queued', next_at = NULL, updated_at = now() WHERE id = $1`, r.id); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// endTx ends a callback without a further attempt and publishes its
// callback.result (final).
func (s *Service) endTx(ctx context.Context, tx pgx.Tx, r cbRow, state, reason string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE callback SET state = $2, outcome = $3, number = '', next_at = NULL, ended_at = $4, updated_at = now()
		WHERE id = $1`, r.id, state, reason, now.UTC()); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.log.Info("callback ended", "call", r.callID, "state", state, "attempts", r.attempts)
	s.emit(eventlog.Event{Type: eventlog.CallbackResult, CallID: r.callID, Queue: r.queue, Reason: reason}.
		WithInt(eventlog.KeyAttempt, r.attempts).WithFlag(eventlog.KeyFinal, true))
	return nil
}

// Publish implements eventlog.Publisher (a consumer of the bus): the
// queue's callback.result events advance the rows; a cancelled callback
// (call.finished callback-cancelled) ends its row.
func (s *Service) Publish(ev eventlog.Event) {
	switch {
	case ev.Type == eventlog.CallbackResult:
		// An attempt the queue made; the results the service publishes
		// itself find their row ended already.
	case ev.Type == eventlog.CallFinished && ev.Reason == "callback-cancelled":
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.advance(ctx, ev); err != nil {
		s.log.Error("callback outcome not recorded", "call", ev.CallID, "event", ev.Type, "error", err)
	}
}

// advance records an attempt's outcome and decides what follows.
func (s *Service) advance(ctx context.Context, ev eventlog.Event) error {
	now := s.clock.Now()
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var r cbRow
	err = tx.QueryRow(ctx, `SELECT id, call_id, queue, attempts, deadline, state FROM callback WHERE call_id = $1 FOR UPDATE`, ev.CallID).
		Scan(&r.id, &r.callID, &r.queue, &r.attempts, &r.deadline, &r.state)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // not a stored callback (no database when it was asked for)
	}
	if err != nil {
		return err
	}
	if r.state != "scheduled" && r.state != "queued" {
		return nil // ended already
	}
	end := func(state, outcome string) error {
		if _, err := tx.Exec(ctx, `UPDATE callback SET state = $2, outcome = $3, attempts = $4, number = '', next_at = NULL, ended_at = $5,
			dial_attempt = NULL, dial_started_at = NULL, dial_answered_at = NULL, updated_at = now() WHERE id = $1`,
			r.id, state, outcome, r.attempts, now.UTC()); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		s.log.Info("callback ended", "call", r.callID, "state", state, "attempts", r.attempts)
		return nil
	}
	if ev.Type == eventlog.CallFinished {
		return end("cancelled", "cancelled")
	}
	if n, ok := ev.Int(eventlog.KeyAttempt); ok && n > r.attempts {
		r.attempts = n
	}
	qc, _ := s.queueCfg(r.queue)
	switch reason := ev.Reason; {
	case reason == "connected":
		return end("connected", "connected")
	case reason == "refused":
		return end("refused", "refused")
	case reason == "abandoned":
		return end("failed", "abandoned")
	case ev.Flag(eventlog.KeyFinal) || r.attempts >= qc.Attempts:
		if reason == "no-answer" || reason == "busy" {
			return end("no_answer", reason)
		}
		return end("failed", reason)
	}
	next := qc.Hours.Next(now.Add(qc.Spacing), s.cfg.Zone)
	if !next.Before(r.deadline) {
		if err := end("expired", "expired"); err != nil {
			return err
		}
		s.emit(eventlog.Event{Type: eventlog.CallbackResult, CallID: r.callID, Queue: r.queue, Reason: "expired"}.
			WithInt(eventlog.KeyAttempt, r.attempts).WithFlag(eventlog.KeyFinal, true))
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE callback SET state = 'scheduled', outcome = $2, attempts = $3, next_at = $4,
		dial_attempt = NULL, dial_started_at = NULL, dial_answered_at = NULL, updated_at = now() WHERE id = $1`,
		r.id, ev.Reason, r.attempts, next.UTC()); err != nil {
		return err
	}
	if _, err := s.river.InsertTx(ctx, tx, jobArgs{CallID: r.callID, Attempt: r.attempts}, &river.InsertOpts{Queue: QueueName, ScheduledAt: next}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.log.Info("callback attempt failed; next attempt scheduled", "call", r.callID, "attempts", r.attempts, "reason", ev.Reason, "at", next)
	return nil
}

// EraseNumber cancels the open callbacks of number (E.164; docs/privacy.md,
// erasure) and blanks it; ended callbacks hold no number already. It
// returns the call ids of the callbacks it cancelled (the queue may still
// hold them in line: the caller withdraws them) and the rows changed.
func EraseNumber(ctx context.Context, pool *pgxpool.Pool, number string) ([]string, int64, error) {
	if number == "" {
		return nil, 0, errors.New("callback: erase: empty number")
	}
	rows, err := pool.Query(ctx, `UPDATE callback SET state = 'cancelled', outcome = 'erased', number = '', next_at = NULL,
		ended_at = now(), updated_at = now() WHERE number = $1 RETURNING call_id`, number)
	if err != nil {
		return nil, 0, fmt.Errorf("callback: erase: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, 0, fmt.Errorf("callback: erase: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("callback: erase: %w", err)
	}
	return ids, int64(len(ids)), nil
}
