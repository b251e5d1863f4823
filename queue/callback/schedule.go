package callback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
)

// ErrInvalid is a scheduling request the service refuses (no number, a
// queue without callbacks, a due time in the past).
var ErrInvalid = errors.New("callback: invalid request")

// Scheduled is a callback an agent scheduled for a caller (from the
// desk): at Due the callback joins Queue's line (inside its calling
// hours) and is dialled like any queued callback, with the queue's
// attempts, spacing and expiry counted from Due.
type Scheduled struct {
	CallID string // the callback's own call id (set by Schedule)
	OfCall string // the call it was scheduled from
	Number string // E.164 to dial
	Trunk  string // the trunk the caller's call came in on
	Queue  string
	Lang   string
	Agent  string // who scheduled it
	Notes  string // the agent's note (in the event only: personal data, docs/privacy.md)
	Due    time.Time
	// State, Outcome and Attempts are the row's (OfAgent).
	State, Outcome string
	Attempts       int
}

// Schedule stores a callback due at sc.Due with a River job scheduled for
// then, and publishes callback.requested (source agent, Data[of_call],
// Data[due], Data[notes], Agent = who scheduled it). It returns the
// callback's call id.
func (s *Service) Schedule(ctx context.Context, sc Scheduled) (string, error) {
	qc, ok := s.queueCfg(sc.Queue)
	if !ok {
		return "", fmt.Errorf("%w: queue %q takes no callbacks", ErrInvalid, sc.Queue)
	}
	if sc.Number == "" || sc.Number == "anonymous" {
		return "", fmt.Errorf("%w: the call has no number to call back", ErrInvalid)
	}
	now := s.clock.Now().UTC()
	if sc.Due.Before(now.Add(-time.Minute)) {
		return "", fmt.Errorf("%w: due %s is in the past", ErrInvalid, sc.Due.UTC().Format(time.RFC3339))
	}
	if sc.Due.Before(now) {
		sc.Due = now
	}
	sc.Due = sc.Due.UTC()
	sc.CallID = s.ids.Next()
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("callback: schedule: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `INSERT INTO callback (call_id, number, trunk, queue, lang, source, joined_at, requested_at, deadline, state,
		next_at, agent, of_call, due_at) VALUES ($1,$2,$3,$4,$5,'agent',$6,$6,$7,'scheduled',$6,$8,$9,$6)`,
		sc.CallID, sc.Number, sc.Trunk, sc.Queue, sc.Lang, sc.Due, sc.Due.Add(qc.Expire), sc.Agent, sc.OfCall); err != nil {
		return "", fmt.Errorf("callback: schedule: %w", err)
	}
	if _, err := s.river.InsertTx(ctx, tx, jobArgs{CallID: sc.CallID}, &river.InsertOpts{Queue: QueueName, ScheduledAt: sc.Due}); err != nil {
		return "", fmt.Errorf("callback: schedule job: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("callback: schedule: %w", err)
	}
	s.log.Info("callback scheduled by an agent", "call", sc.CallID, "of_call", sc.OfCall, "agent", sc.Agent,
		"number", sip.MaskNumber(sc.Number), "queue", sc.Queue, "due", sc.Due)
	ev := eventlog.Event{Type: eventlog.CallbackRequested, CallID: sc.CallID, Queue: sc.Queue, Caller: sc.Number, Agent: sc.Agent,
		Reason: "agent"}.WithDuration(eventlog.KeyWait, 0).WithString(eventlog.KeyOfCall, sc.OfCall).WithTime(eventlog.KeyDue, sc.Due)
	if sc.Notes != "" {
		ev = ev.WithString(eventlog.KeyNotes, sc.Notes)
	}
	s.emit(ev)
	return sc.CallID, nil
}

// OfAgent lists the callbacks agent scheduled, the newest due first (at
// most limit); ended ones carry no number (it is blanked when a callback
// ends).
func (s *Service) OfAgent(ctx context.Context, agent string, limit int) ([]Scheduled, error) {
	rows, err := s.deps.Pool.Query(ctx, `SELECT call_id, of_call, number, trunk, queue, lang, agent, due_at, state, outcome, attempts
		FROM callback WHERE agent = $1 AND agent <> '' ORDER BY due_at DESC, id DESC LIMIT $2`, agent, limit)
	if err != nil {
		return nil, fmt.Errorf("callback: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Scheduled, error) {
		var sc Scheduled
		err := r.Scan(&sc.CallID, &sc.OfCall, &sc.Number, &sc.Trunk, &sc.Queue, &sc.Lang, &sc.Agent, &sc.Due, &sc.State, &sc.Outcome, &sc.Attempts)
		return sc, err
	})
	if err != nil {
		return nil, fmt.Errorf("callback: list: %w", err)
	}
	return out, nil
}
