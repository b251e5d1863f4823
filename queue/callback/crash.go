package callback

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
)

// Crash recovery of callback dials (issue 17, item 6). The queue dials a
// callback's caller through the Runner's switch; TrackDials wraps that
// switch so that every callback dial is written to its row before it
// starts (dial_attempt, dial_started_at) and when the caller answers
// (dial_answered_at); the attempt's callback.result clears it. A dial
// still open when the service starts was cut by a crash, and Start
// settles it before it restores the line (settleDials):
//
//   - The attempt counts (attempts = dial_attempt) and is published as a
//     callback.result interrupted.
//   - Not answered: the normal retry rule — the next attempt the queue's
//     spacing after the cut dial started, in calling hours, before the
//     deadline (else expired); after the last attempt the callback ends as
//     no_answer (outcome interrupted).
//   - Answered: the caller picked up and was waiting for an agent when the
//     line went dead. A real centre calls them back at once rather than
//     after the spacing: the callback keeps its place in line (state
//     queued, handed back at once) and is dialled once more when an agent
//     is free for it, even if that dial is beyond the attempts. Only one
//     such re-dial per callback (crash_redials): an answered dial cut by a
//     second crash ends the callback (failed, interrupted).
//
// Never two dials at once: the settling happens before the service's jobs
// run and before the line is restored, and the dead process's dial died
// with it. This holds on one node, and with two nodes because the
// callback service starts only on the holder of the line's lease
// (internal/server/line.go), after the previous holder died or drained. A
// scheduled callback whose job River still has running gets a new job the
// same way (replaceStranded).

// Headers the queue puts on a callback dial (queue.Runner.dialCallback).
const (
	headerPurpose = "X-Hotline-Purpose"
	headerCall    = "X-Hotline-Call"
)

// TrackDials wraps the switch the queue dials callbacks through: dials
// with X-Hotline-Purpose callback are recorded in their row through
// svc() (nil: not running yet, the dial goes on unrecorded). Other dials
// pass through. A failure to record is logged and the dial goes on: the
// caller waits for the callback; only a crash during that dial would then
// dial them again.
func TrackDials(sw sip.Switch, svc func() *Service) sip.Switch {
	return trackingSwitch{Switch: sw, svc: svc}
}

type trackingSwitch struct {
	sip.Switch
	svc func() *Service
}

func (t trackingSwitch) Dial(ctx context.Context, tg sip.Target) (sip.Leg, error) {
	callID := tg.Headers[headerCall]
	s := t.svc()
	if s == nil || callID == "" || tg.Headers[headerPurpose] != "callback" {
		return t.Switch.Dial(ctx, tg)
	}
	s.markDial(ctx, callID, false)
	leg, err := t.Switch.Dial(ctx, tg)
	if err == nil {
		s.markDial(ctx, callID, true)
	}
	return leg, err
}

// markDial records the start of a dial (answered false) or its answer.
func (s *Service) markDial(ctx context.Context, callID string, answered bool) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := s.clock.Now().UTC()
	q := `UPDATE callback SET dial_attempt = attempts + 1, dial_started_at = $2, dial_answered_at = NULL, updated_at = now()
		WHERE call_id = $1 AND state IN ('scheduled', 'queued')`
	if answered {
		q = `UPDATE callback SET dial_answered_at = $2, updated_at = now() WHERE call_id = $1 AND dial_started_at IS NOT NULL`
	}
	if _, err := s.deps.Pool.Exec(mctx, q, callID, now); err != nil {
		s.log.Warn("callback dial not recorded (a crash during it would dial the caller again)", "call", callID, "answered", answered, "error", err)
	}
}

// settleDials settles the dials a dead process left open (see above),
// before the line is restored. It returns how many.
func (s *Service) settleDials(ctx context.Context) (int, error) {
	rows, err := s.deps.Pool.Query(ctx, `SELECT call_id FROM callback WHERE state IN ('scheduled', 'queued') AND dial_started_at IS NOT NULL ORDER BY joined_at`)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.settleDial(ctx, id); err != nil {
			return 0, fmt.Errorf("callback %s: %w", id, err)
		}
	}
	return len(ids), nil
}

func (s *Service) settleDial(ctx context.Context, callID string) error {
	now := s.clock.Now()
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var r cbRow
	var dialN *int
	var started, answered *time.Time
	var redials int
	err = tx.QueryRow(ctx, `SELECT id, call_id, queue, attempts, deadline, state, dial_attempt, dial_started_at, dial_answered_at, crash_redials
		FROM callback WHERE call_id = $1 FOR UPDATE`, callID).Scan(&r.id, &r.callID, &r.queue, &r.attempts, &r.deadline, &r.state,
		&dialN, &started, &answered, &redials)
	if err != nil {
		return err
	}
	if (r.state != "scheduled" && r.state != "queued") || started == nil {
		return nil
	}
	n := r.attempts + 1
	if dialN != nil {
		n = *dialN
	}
	r.attempts = max(r.attempts, n)
	log := s.log.With("call", r.callID, "attempt", n, "answered", answered != nil)
	result := func(final bool) eventlog.Event {
		return eventlog.Event{Type: eventlog.CallbackResult, CallID: r.callID, Queue: r.queue, Reason: OutcomeInterrupted}.
			WithInt(eventlog.KeyAttempt, n).WithFlag(eventlog.KeyFinal, final)
	}
	end := func(state string) error {
		if _, err := tx.Exec(ctx, `UPDATE callback SET state = $2, outcome = $3, attempts = $4, number = '', next_at = NULL, ended_at = $5,
			dial_attempt = NULL, dial_started_at = NULL, dial_answered_at = NULL, updated_at = now() WHERE id = $1`,
			r.id, state, OutcomeInterrupted, r.attempts, now.UTC()); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		log.Warn("callback dial cut by a crash: callback ended", "state", state)
		s.emit(result(true))
		return nil
	}
	qc, ok := s.queueCfg(r.queue)
	switch {
	case !ok:
		return end("failed")
	case answered != nil && redials > 0:
		return end("failed")
	case answered != nil:
		// Back at its place at once (Start's restore gives it a job).
		if _, err := tx.Exec(ctx, `UPDATE callback SET state = 'queued', outcome = $2, attempts = $3, crash_redials = crash_redials + 1,
			next_at = NULL, dial_attempt = NULL, dial_started_at = NULL, dial_answered_at = NULL, updated_at = now() WHERE id = $1`,
			r.id, OutcomeInterrupted, r.attempts); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		log.Warn("callback answered, then cut by a crash: back at its place for one more dial")
		s.emit(result(false))
		return nil
	case r.attempts >= qc.Attempts:
		return end("no_answer")
	}
	next := qc.Hours.Next(later(started.Add(qc.Spacing), now), s.cfg.Zone)
	if !next.Before(r.deadline) {
		s.emit(result(false)) // the attempt, then the end
		if _, err := tx.Exec(ctx, `UPDATE callback SET state = 'expired', outcome = 'expired', attempts = $2, number = '', next_at = NULL,
			ended_at = $3, dial_attempt = NULL, dial_started_at = NULL, dial_answered_at = NULL, updated_at = now() WHERE id = $1`,
			r.id, r.attempts, now.UTC()); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		s.emit(eventlog.Event{Type: eventlog.CallbackResult, CallID: r.callID, Queue: r.queue, Reason: "expired"}.
			WithInt(eventlog.KeyAttempt, r.attempts).WithFlag(eventlog.KeyFinal, true))
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE callback SET state = 'scheduled', outcome = $2, attempts = $3, next_at = $4,
		dial_attempt = NULL, dial_started_at = NULL, dial_answered_at = NULL, updated_at = now() WHERE id = $1`,
		r.id, OutcomeInterrupted, r.attempts, next.UTC()); err != nil {
		return err
	}
	if _, err := s.river.InsertTx(ctx, tx, jobArgs{CallID: r.callID, Attempt: r.attempts}, &river.InsertOpts{Queue: QueueName, ScheduledAt: next}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	log.Warn("callback dial cut by a crash: next attempt scheduled", "at", next.UTC())
	s.emit(result(false))
	return nil
}

// OutcomeInterrupted is the callback.result reason (and the row's
// outcome) of a dial cut by a crash.
const OutcomeInterrupted = "interrupted"

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
