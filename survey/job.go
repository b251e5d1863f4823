package survey

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hotline-cc/hotline/dialpolicy"
	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// row is the part of a survey row the job and the events need.
type row struct {
	ID       int64
	CallID   string
	Number   string
	State    string
	Attempts int
	Zone     string
	Trunk    string
	Deadline time.Time
	CallAt   time.Time
	Queue    string
	Agent    string
	Line     int
	Visits   []Visit
	JobID    *int64 // the River job that owns the survey
}

type jobWorker struct {
	river.WorkerDefaults[jobArgs]
	s *Service
}

// Work runs one survey job: at most one dial attempt, then either done or
// snoozed until the next attempt.
func (w *jobWorker) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	return w.s.runJob(ctx, job.Args.CallID, job.ID)
}

// Outcomes of an attempt (survey.attempt Reason).
const (
	OutcomeAnswered    = "answered"
	OutcomeOptOut      = "optout"
	OutcomeHangup      = "hangup"   // answered, hung up without any input
	OutcomeNoInput     = "no-input" // answered, listened, pressed nothing (answering machine?)
	OutcomeInterrupted = "interrupted"
)

func retryable(outcome string) bool { return outcome != OutcomeAnswered && outcome != OutcomeOptOut }

var errStop = errors.New("stop")

// pacingBusy is how long a job waits (plus up to as much again) when
// another job holds the pacing lock.
const pacingBusy = 200 * time.Millisecond

// runJob is the job body (jobID: the River job running it). The number
// dialled is the survey row's, written from the call.arrived event of the
// inbound call.
func (s *Service) runJob(ctx context.Context, callID string, jobID int64) error {
	now := s.clock.Now()
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	r, err := lockRow(ctx, tx, callID)
	if errors.Is(err, pgx.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("survey for call %s not found", callID))
	}
	if err != nil {
		return err
	}
	if r.JobID != nil && jobID != 0 && *r.JobID != jobID {
		// Crash recovery gave the survey a new job (recoverInterrupted):
		// this one is the dead process's, rescued by River. It must not
		// dial; the survey's own job does what is left.
		s.log.Info("survey job superseded after a crash: nothing to do", "call", r.CallID, "job", jobID, "current_job", *r.JobID)
		return nil
	}
	// Every zone the number could be in (one when it is known).
	locs := ParseZones(r.Zone, s.cfg.ServiceZone)
	switch r.State {
	case "scheduled", "retry":
	case "in_progress":
		// The process died during an attempt and nothing settled it at
		// the next start (another node's job, see recoverInterrupted):
		// settle it here by the same rule, then wait for the next attempt.
		next, err := s.settleInterrupted(ctx, tx, r, locs, now)
		if err != nil || next.IsZero() {
			return err // ended (committed) or failed
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		return river.JobSnooze(max(next.Sub(now), 0))
	default:
		return nil // completed, failed, cancelled, opted out: nothing to do (exactly once)
	}
	var optedOut bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM survey_optout WHERE number_hash = survey_number_hash($1))`, r.Number).Scan(&optedOut); err != nil {
		return err
	}
	if optedOut {
		return s.finishTx(ctx, tx, r, "cancelled", SkipOptedOut, eventlog.SurveySkipped, SkipOptedOut)
	}
	if r.Attempts >= s.cfg.Attempts {
		return s.finishTx(ctx, tx, r, "failed", "attempts", eventlog.SurveyFailed, "attempts")
	}
	if !now.Before(r.Deadline) {
		return s.finishTx(ctx, tx, r, "failed", "expired", eventlog.SurveyFailed, "expired")
	}
	if !s.planner.InWindowAll(now, locs) {
		next, ok := s.planner.NextAllowedAll(now, locs, r.Deadline)
		if !ok {
			return s.finishTx(ctx, tx, r, "failed", "expired", eventlog.SurveyFailed, "expired")
		}
		return s.snoozeTx(ctx, tx, r, next, now)
	}
	// Pacing across processes: one transaction at a time looks at the
	// attempts of the last minute and of the day. A job that finds the
	// lock taken gives its connection back and comes again shortly: the
	// holder needs a second connection (the dialling ledger), and jobs
	// waiting on the lock with theirs would empty the pool and block it
	// for ever — as a take-over that finds many surveys due at once did.
	var paced bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('hotline.survey.pacing'))`).Scan(&paced); err != nil {
		return err
	}
	if !paced {
		return river.JobSnooze(pacingBusy + time.Duration(fraction(r.CallID, now.String())*float64(pacingBusy)))
	}
	var lastMinute int
	var oldest *time.Time
	if err := tx.QueryRow(ctx, `SELECT count(*), min(started_at) FROM survey_attempt WHERE started_at > $1`,
		now.Add(-time.Minute)).Scan(&lastMinute, &oldest); err != nil {
		return err
	}
	if lastMinute >= s.cfg.PerMinute && oldest != nil {
		wait := oldest.Add(time.Minute).Sub(now) + time.Duration(fraction(r.CallID, strconv.Itoa(lastMinute))*float64(5*time.Second))
		return s.snoozeTx(ctx, tx, r, now.Add(wait), now)
	}
	var today int
	day := midnight(now, s.cfg.ServiceZone)
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM survey_attempt WHERE started_at >= $1`, day).Scan(&today); err != nil {
		return err
	}
	if today >= s.cfg.DailyCap {
		next, ok := s.planner.NextAllowedAll(addDays(day, 1), locs, r.Deadline)
		if !ok {
			return s.finishTx(ctx, tx, r, "failed", "daily-cap", eventlog.SurveyFailed, "daily-cap")
		}
		s.log.Warn("survey daily cap reached", "cap", s.cfg.DailyCap)
		return s.snoozeTx(ctx, tx, r, next, now)
	}
	// The dialling policy shared with callbacks: the number, where it came
	// from, the per-number limit and the daily cap of both.
	if s.deps.Dialling != nil {
		err := s.deps.Dialling.Permit(ctx, dialpolicy.Request{
			Purpose: dialpolicy.PurposeSurvey, Number: r.Number, CallID: r.CallID, Trunk: r.Trunk,
		})
		if ref, refused := dialpolicy.AsRefusal(err); refused {
			if ref.Reason.Permanent() {
				return s.finishTx(ctx, tx, r, "failed", SkipDialRefused, eventlog.SurveyFailed, SkipDialRefused)
			}
			next, ok := s.planner.NextAllowedAll(later(ref.RetryAt, now), locs, r.Deadline)
			if !ok {
				return s.finishTx(ctx, tx, r, "failed", string(ref.Reason), eventlog.SurveyFailed, string(ref.Reason))
			}
			return s.snoozeTx(ctx, tx, r, next, now)
		} else if err != nil {
			return err
		}
	}
	n := r.Attempts + 1
	if _, err := tx.Exec(ctx, `INSERT INTO survey_attempt (survey_id, n, started_at) VALUES ($1, $2, $3)`, r.ID, n, now); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE survey SET state = 'in_progress', attempts = $2, next_at = NULL, updated_at = now() WHERE id = $1`, r.ID, n); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	r.Attempts = n

	s.log.Info("survey call", "call", r.CallID, "number", sip.MaskNumber(r.Number), "attempt", n)
	outcome, ans, answered := s.call(ctx, r)
	s.log.Info("survey call ended", "call", r.CallID, "attempt", n, "outcome", outcome, "rating", ans.Rating, "solved", ans.Solved)
	// Book the result even when ctx was cancelled by a shutdown.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return s.book(bctx, r, locs, outcome, ans, answered)
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// book records an attempt's outcome and decides what follows. answered:
// the customer picked up (an interrupted answered attempt ends the survey:
// they were reached and are not called twice).
func (s *Service) book(ctx context.Context, r row, locs []*time.Location, outcome string, ans Answers, answered bool) error {
	now := s.clock.Now()
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE survey_attempt SET outcome = $3, ended_at = $4 WHERE survey_id = $1 AND n = $2`,
		r.ID, r.Attempts, outcome, now); err != nil {
		return err
	}
	attempt := s.event(r, eventlog.SurveyAttempt, outcome).WithInt(eventlog.KeyAttempt, r.Attempts)
	var rating *int
	var solved *string
	if ans.Rating > 0 {
		rating = &ans.Rating
	}
	if ans.Solved != "" {
		solved = &ans.Solved
	}
	result := s.event(r, eventlog.SurveyCompleted, "")
	if ans.Rating > 0 {
		result = result.WithInt(eventlog.KeyRating, ans.Rating)
	}
	if ans.Solved != "" {
		result = result.WithString(eventlog.KeySolved, ans.Solved)
	}
	switch {
	case outcome == OutcomeOptOut:
		if _, err := tx.Exec(ctx, `INSERT INTO survey_optout (number_hash, at, call_id) VALUES (survey_number_hash($1), $2, $3) ON CONFLICT (number_hash) DO NOTHING`,
			r.Number, now, r.CallID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE survey SET state = 'optout', reason = 'optout', rating = $2, solved = $3, updated_at = now() WHERE id = $1`,
			r.ID, rating, solved); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		s.emit(attempt)
		if ans.Rating > 0 || ans.Solved != "" {
			s.emit(result)
		}
		s.emit(s.event(r, eventlog.SurveyOptOut, ""))
		return nil
	case outcome == OutcomeAnswered:
		if _, err := tx.Exec(ctx, `UPDATE survey SET state = 'completed', reason = '', rating = $2, solved = $3, updated_at = now() WHERE id = $1`,
			r.ID, rating, solved); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		s.emit(attempt)
		s.emit(result)
		return nil
	}
	// Not reached: retry or give up.
	s.emit(attempt) // published even if the booking below fails: it happened
	if r.Attempts >= s.cfg.Attempts || outcome == OutcomeInterrupted && answered {
		return s.finishTx(ctx, tx, r, "failed", outcome, eventlog.SurveyFailed, outcome)
	}
	next, ok := s.planner.NextRetryAll(now, locs, r.Deadline)
	if !ok {
		return s.finishTx(ctx, tx, r, "failed", "expired", eventlog.SurveyFailed, "expired")
	}
	if _, err := tx.Exec(ctx, `UPDATE survey SET state = 'retry', reason = $2, next_at = $3, updated_at = now() WHERE id = $1`,
		r.ID, outcome, next); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	return river.JobSnooze(max(next.Sub(now), 0))
}

// finishTx ends a survey without a further attempt and publishes t.
func (s *Service) finishTx(ctx context.Context, tx pgx.Tx, r row, state, reason string, t eventlog.Type, evReason string) error {
	if _, err := tx.Exec(ctx, `UPDATE survey SET state = $2, reason = $3, next_at = NULL, updated_at = now() WHERE id = $1`,
		r.ID, state, reason); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.log.Info("survey ended", "call", r.CallID, "state", state, "reason", reason)
	s.emit(s.event(r, t, evReason).WithInt(eventlog.KeyAttempts, r.Attempts))
	return nil
}

// snoozeTx keeps the survey waiting until next.
func (s *Service) snoozeTx(ctx context.Context, tx pgx.Tx, r row, next, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE survey SET state = CASE WHEN state = 'in_progress' THEN 'retry' ELSE state END,
		next_at = $2, updated_at = now() WHERE id = $1`, r.ID, next); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	return river.JobSnooze(max(next.Sub(now), 0))
}

// call dials the customer and runs the script; answered reports whether
// the customer picked up (recorded in survey_attempt.answered_at before
// the script starts, for crash recovery).
func (s *Service) call(ctx context.Context, r row) (outcome string, ans Answers, answered bool) {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.RingTimeout+10*time.Second)
	leg, err := s.deps.Switch.Dial(dctx, sip.Target{
		Number: r.Number, Trunk: s.cfg.Trunk, CallerID: s.cfg.CallerID, RingTimeout: s.cfg.RingTimeout,
		Headers: map[string]string{"X-Hotline-Purpose": "survey"},
	})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return OutcomeInterrupted, Answers{}, false
		}
		return sip.CauseOf(err).String(), Answers{}, false
	}
	defer leg.Hangup(sip.CauseNormal)
	s.markAnswered(ctx, r)
	ans = s.runScript(ctx, leg, r.CallAt)
	switch {
	case ans.OptOut:
		return OutcomeOptOut, ans, true
	case ans.Rating > 0 || ans.Solved != "":
		return OutcomeAnswered, ans, true
	case ctx.Err() != nil:
		return OutcomeInterrupted, ans, true
	case ans.HungUp:
		return OutcomeHangup, ans, true
	default:
		return OutcomeNoInput, ans, true
	}
}

// markAnswered records that the customer answered the current attempt. A
// failure is logged and the call goes on: the customer is on the line;
// only a crash during this call would then dial them once more.
func (s *Service) markAnswered(ctx context.Context, r row) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.deps.Pool.Exec(mctx, `UPDATE survey_attempt SET answered_at = $3 WHERE survey_id = $1 AND n = $2`,
		r.ID, r.Attempts, s.clock.Now()); err != nil {
		s.log.Warn("survey: answer not recorded (a crash during this call would dial the customer again)", "call", r.CallID, "err", err)
	}
}
