package survey

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Crash recovery (issue 17, item 6). A process that dies during a survey
// call leaves the survey in_progress, its attempt without an outcome and
// its River job "running". River would rescue that job blind, about 20
// minutes later (RescueStuckJobsAfter), and dial again — even a customer
// who had answered. Instead the attempt is settled when the next process
// starts (recoverInterrupted), before River starts:
//
//   - the attempt counts, with outcome interrupted (survey.attempt);
//   - answered (survey_attempt.answered_at, written as soon as the dial
//     was answered): the customer was reached; the survey ends
//     (failed, interrupted) and they are not called again;
//   - not answered: the normal retry rule — the next attempt retry_delay
//     after the interrupted one started (in the window, before the
//     deadline; never before now), or failed when the attempts are used.
//
// The dead process's job is cancelled (JobCancelTx: River marks a running
// job for cancellation, and its rescuer then cancels it instead of
// retrying it) and a retry gets a new job (jobArgs.Resume keeps it apart
// from the old one for River's uniqueness); the survey row names its job
// (job_id) and runJob ignores any other, so the old job cannot dial even if
// it ran. A job River still has running while its survey waits (the
// process died before the attempt began) gets a new job the same way,
// without counting an attempt (recoverStranded). All of this assumes that
// every survey in_progress and every running survey job at Start was left
// by a dead process: true on a single node, and with two nodes because the
// survey service starts only on the holder of the line's lease
// (internal/server/line.go), after the previous holder died or drained.

// lockRow reads and locks the survey of callID.
func lockRow(ctx context.Context, tx pgx.Tx, callID string) (row, error) {
	var r row
	var deadline *time.Time
	err := tx.QueryRow(ctx, `SELECT id, call_id, number, state, attempts, zone, trunk, deadline, call_at, queue, agent, line, visits, job_id
		FROM survey WHERE call_id = $1 FOR UPDATE`, callID).Scan(&r.ID, &r.CallID, &r.Number, &r.State, &r.Attempts,
		&r.Zone, &r.Trunk, &deadline, &r.CallAt, &r.Queue, &r.Agent, &r.Line, &r.Visits, &r.JobID)
	if err != nil {
		return row{}, err
	}
	if deadline != nil {
		r.Deadline = *deadline
	}
	return r, nil
}

// settleInterrupted settles attempt r.Attempts of a survey a dead process
// left in_progress (see above). It returns the time of the next attempt,
// with the row in state retry and tx still open (the caller schedules the
// job and commits), or the zero time when the survey ended (tx committed,
// events published).
func (s *Service) settleInterrupted(ctx context.Context, tx pgx.Tx, r row, locs []*time.Location, now time.Time) (time.Time, error) {
	started, answered := now, false
	var answeredAt *time.Time
	err := tx.QueryRow(ctx, `UPDATE survey_attempt SET outcome = $3, ended_at = $4
		WHERE survey_id = $1 AND n = $2 AND outcome = '' RETURNING started_at, answered_at`,
		r.ID, r.Attempts, OutcomeInterrupted, now).Scan(&started, &answeredAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// No open attempt row (cannot happen: the row and the state are
		// written together); count it from now, as not answered.
	case err != nil:
		return time.Time{}, err
	default:
		answered = answeredAt != nil
	}
	s.log.Warn("survey attempt was interrupted by a crash", "call", r.CallID, "attempt", r.Attempts, "answered", answered)
	s.emit(s.event(r, eventlog.SurveyAttempt, OutcomeInterrupted).WithInt(eventlog.KeyAttempt, r.Attempts))
	if answered || r.Attempts >= s.cfg.Attempts {
		return time.Time{}, s.finishTx(ctx, tx, r, "failed", OutcomeInterrupted, eventlog.SurveyFailed, OutcomeInterrupted)
	}
	next, ok := s.planner.NextRetryAll(started, locs, r.Deadline)
	if ok && next.Before(now) {
		next, ok = s.planner.NextAllowedAll(now, locs, r.Deadline)
	}
	if !ok {
		return time.Time{}, s.finishTx(ctx, tx, r, "failed", "expired", eventlog.SurveyFailed, "expired")
	}
	if _, err := tx.Exec(ctx, `UPDATE survey SET state = 'retry', reason = $2, next_at = $3, updated_at = now() WHERE id = $1`,
		r.ID, OutcomeInterrupted, next); err != nil {
		return time.Time{}, err
	}
	return next, nil
}

// recoverInterrupted settles every survey left in_progress by a dead
// process and gives a new job to every survey whose job died running
// before its attempt started (recoverStranded). Call it before River
// starts, on the one node that may dial (single node, or the holder of the
// line's lease). It returns how many surveys it settled or rescheduled.
func (s *Service) recoverInterrupted(ctx context.Context) (int, error) {
	rows, err := s.deps.Pool.Query(ctx, `SELECT call_id FROM survey WHERE state = 'in_progress' ORDER BY id`)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.recoverOne(ctx, id); err != nil {
			return 0, fmt.Errorf("survey %s: %w", id, err)
		}
	}
	// A job River had marked running when the process died, whose survey
	// is still waiting (scheduled or retry): the process died between
	// River fetching the job and the attempt's commit, or after a job
	// booked its outcome but before River recorded the snooze. River would
	// rescue it only after RescueStuckJobsAfter (20 minutes and more);
	// a take-over found such a survey waiting that long (issue 21).
	rows, err = s.deps.Pool.Query(ctx, `SELECT s.call_id FROM survey s JOIN river_job j ON j.id = s.job_id
		WHERE s.state IN ('scheduled', 'retry') AND j.state = 'running' ORDER BY s.id`)
	if err != nil {
		return 0, err
	}
	stranded, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	for _, id := range stranded {
		if err := s.recoverStranded(ctx, id); err != nil {
			return 0, fmt.Errorf("survey %s: %w", id, err)
		}
	}
	return len(ids) + len(stranded), nil
}

// recoverStranded gives the waiting survey of callID a new job in place of
// the dead process's running one: the old job is marked for cancellation
// (River's rescuer cancels it; were it run, runJob would see it is not the
// survey's job and do nothing), the new one runs when the survey is due
// (next_at, else call_at; never before now). No attempt was made by the
// dead job, so none is counted.
func (s *Service) recoverStranded(ctx context.Context, callID string) error {
	now := s.clock.Now()
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	r, err := lockRow(ctx, tx, callID)
	if err != nil {
		return err
	}
	if (r.State != "scheduled" && r.State != "retry") || r.JobID == nil {
		return nil
	}
	var due time.Time
	if err := tx.QueryRow(ctx, `SELECT coalesce(next_at, call_at) FROM survey WHERE id = $1`, r.ID).Scan(&due); err != nil {
		return err
	}
	old := *r.JobID
	if _, err := s.river.JobCancelTx(ctx, tx, old); err != nil && !errors.Is(err, river.ErrNotFound) {
		return err
	}
	res, err := s.river.InsertTx(ctx, tx, jobArgs{CallID: r.CallID, Resume: r.Attempts, Replaces: old}, &river.InsertOpts{
		Queue: QueueName, ScheduledAt: later(due, now), UniqueOpts: river.UniqueOpts{ByArgs: true},
	})
	if err != nil {
		return fmt.Errorf("insert job: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE survey SET job_id = $2 WHERE id = $1`, r.ID, res.Job.ID); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.log.Warn("survey job left running by a dead process replaced", "call", r.CallID, "old_job", old, "job", res.Job.ID, "at", later(due, now).UTC())
	return nil
}

func (s *Service) recoverOne(ctx context.Context, callID string) error {
	now := s.clock.Now()
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	r, err := lockRow(ctx, tx, callID)
	if err != nil {
		return err
	}
	if r.State != "in_progress" {
		return nil
	}
	if r.JobID != nil {
		// The dead process's job: River's rescuer cancels it instead of
		// running it again.
		if _, err := s.river.JobCancelTx(ctx, tx, *r.JobID); err != nil && !errors.Is(err, river.ErrNotFound) {
			return err
		}
	}
	next, err := s.settleInterrupted(ctx, tx, r, ParseZones(r.Zone, s.cfg.ServiceZone), now)
	if err != nil || next.IsZero() {
		return err
	}
	res, err := s.river.InsertTx(ctx, tx, jobArgs{CallID: r.CallID, Resume: r.Attempts}, &river.InsertOpts{
		Queue: QueueName, ScheduledAt: next, UniqueOpts: river.UniqueOpts{ByArgs: true},
	})
	if err != nil {
		return fmt.Errorf("insert job: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE survey SET job_id = $2 WHERE id = $1`, r.ID, res.Job.ID); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.log.Info("survey retry after an interrupted attempt", "call", r.CallID, "attempt", r.Attempts+1, "at", next.UTC())
	return nil
}
