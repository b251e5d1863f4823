package reporting

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Day as an interval step means calendar days in Config.Location.
const Day = 24 * time.Hour

// IntervalRow is one queue's figures over one interval.
type IntervalRow struct {
	Start time.Time `json:"start"`
	Queue string    `json:"queue"`
	Figures
}

// IntervalReport sums the 15-minute queue rollups into intervals of step
// (15, 30 or 60 minutes, or Day = calendar days in the service's zone) for
// [from, to). Queues empty means all. Rows are ordered by start, queue. A
// visit counts in the interval it joined the queue. Percentiles are not
// additive and are not here (QueueReport has them).
func (s *Store) IntervalReport(ctx context.Context, from, to time.Time, step time.Duration, queues []string) ([]IntervalRow, error) {
	lo, hi := floorInterval(from), ceilInterval(to)
	const sums = `sum(offered), sum(answered), sum(answered_within_t), sum(abandoned), sum(short_abandoned),
		sum(abandoned_within_t), sum(overflowed), sum(timed_out), sum(callbacks), sum(escalated),
		sum(wait_answered_ms), sum(wait_abandoned_ms), max(max_wait_ms), sum(talk_ms), sum(wrapup_ms)`
	const queueCond = `(cardinality($3::text[]) IS NULL OR cardinality($3::text[]) = 0 OR queue = ANY($3))`
	var query string
	args := []any{lo, hi, queues}
	switch {
	case step == Day:
		// Whole days come from rollup_queue_day; the partial days at either
		// end (a range not on local midnights) from the 15-minute rows.
		loc := s.cfg.location()
		d0 := dayStart(lo, loc)
		if d0.Before(lo) {
			d0 = d0.AddDate(0, 0, 1)
		}
		d1 := dayStart(hi, loc)
		if !d0.Before(d1) {
			d0, d1 = hi, hi // no whole day: everything from the 15-minute rows
		}
		args = append(args, loc.String(), d0, d1)
		query = `SELECT start, queue, ` + sums + ` FROM (
			SELECT day AS start, queue, offered, answered, answered_within_t, abandoned, short_abandoned,
				abandoned_within_t, overflowed, timed_out, callbacks, escalated, wait_answered_ms,
				wait_abandoned_ms, max_wait_ms, talk_ms, wrapup_ms
			FROM rollup_queue_day WHERE zone = $4 AND day >= $5 AND day < $6 AND ` + queueCond + `
			UNION ALL
			SELECT date_trunc('day', bucket AT TIME ZONE $4) AT TIME ZONE $4, queue, offered, answered,
				answered_within_t, abandoned, short_abandoned, abandoned_within_t, overflowed, timed_out,
				callbacks, escalated, wait_answered_ms, wait_abandoned_ms, max_wait_ms, talk_ms, wrapup_ms
			FROM rollup_queue WHERE ((bucket >= $1 AND bucket < $5) OR (bucket >= $6 AND bucket < $2)) AND ` + queueCond + `
		) u GROUP BY 1, 2 ORDER BY 1, 2`
	case step >= Interval && step%Interval == 0 && step < Day:
		args = append(args, fmt.Sprintf("%d seconds", int(step.Seconds())))
		query = `SELECT date_bin($4::interval, bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS start, queue, ` + sums + `
		FROM rollup_queue WHERE bucket >= $1 AND bucket < $2 AND ` + queueCond + `
		GROUP BY 1, 2 ORDER BY 1, 2`
	default:
		return nil, fmt.Errorf("reporting: interval step %v: want a multiple of 15 minutes below a day, or Day", step)
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []IntervalRow
	for rows.Next() {
		var r IntervalRow
		var c Counts
		var wa, wb, mw, tk, wr int64
		if err := rows.Scan(&r.Start, &r.Queue, &c.Offered, &c.Answered, &c.AnsweredWithinT, &c.Abandoned, &c.ShortAbandoned,
			&c.AbandonedWithinT, &c.Overflowed, &c.TimedOut, &c.Callbacks, &c.Escalated, &wa, &wb, &mw, &tk, &wr); err != nil {
			return nil, err
		}
		c.WaitAnswered, c.WaitAbandoned, c.MaxWait = msDur(wa), msDur(wb), msDur(mw)
		c.Talk, c.Wrapup = msDur(tk), msDur(wr)
		r.Start = r.Start.UTC()
		r.Figures = c.Figures()
		out = append(out, r)
	}
	return out, rows.Err()
}

func msDur(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

const visitSelect = `SELECT call_id, n, queue, line, joined_at, priority, outcome, left_at, wait_ms, agent, answered_at,
	ring_ms, talk_ms, wrapup_ms, ring_noanswer, escalated_from, escalated_to, escalated_at, overflow_to,
	within_t, short_abandon, abandon_within_t FROM queue_visits `

func (s *Store) visits(ctx context.Context, where string, args ...any) ([]Visit, error) {
	rows, err := s.pool.Query(ctx, visitSelect+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Visit
	for rows.Next() {
		var v Visit
		var outcome string
		var left, ans, esc *time.Time
		var wait, ring *int64
		var talk, wrap int64
		if err := rows.Scan(&v.CallID, &v.N, &v.Queue, &v.Line, &v.JoinedAt, &v.Priority, &outcome, &left, &wait, &v.Agent,
			&ans, &ring, &talk, &wrap, &v.RingNoAnswer, &v.EscalatedFrom, &v.EscalatedTo, &esc, &v.OverflowTo,
			&v.WithinT, &v.ShortAbandon, &v.AbandonWithinT); err != nil {
			return nil, err
		}
		v.Outcome = Outcome(outcome)
		v.JoinedAt = v.JoinedAt.UTC()
		v.LeftAt, v.AnsweredAt, v.EscalatedAt = derefT(left), derefT(ans), derefT(esc)
		v.Wait, v.Ring = derefD(wait), derefD(ring)
		v.Talk, v.Wrapup = msDur(talk), msDur(wrap)
		out = append(out, v)
	}
	return out, rows.Err()
}

func derefT(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func derefD(v *int64) time.Duration {
	if v == nil {
		return 0
	}
	return msDur(*v)
}

// QueueReport computes per-queue figures (with exact wait percentiles) for
// visits that joined a queue in [from, to).
func (s *Store) QueueReport(ctx context.Context, from, to time.Time) ([]QueueFigures, error) {
	vs, err := s.visits(ctx, `WHERE joined_at >= $1 AND joined_at < $2`, from, to)
	if err != nil {
		return nil, err
	}
	return ComputeQueues(vs), nil
}

// AgentReport computes per-agent and per-team figures for [from, to). A
// state still open at the end counts up to min(asOf, to) (pass time.Now()
// for a live report, the zero time for closed facts only).
func (s *Store) AgentReport(ctx context.Context, from, to, asOf time.Time) (agents, teams []AgentFigures, err error) {
	vs, err := s.visits(ctx, `WHERE outcome = 'answered' AND answered_at >= $1 AND answered_at < $2`, from, to)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT agent, at FROM events WHERE type = 'agent.ring_noanswer' AND agent <> '' AND at >= $1 AND at < $2`, from, to)
	if err != nil {
		return nil, nil, err
	}
	missed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MissedRing, error) {
		var m MissedRing
		err := r.Scan(&m.Agent, &m.At)
		return m, err
	})
	if err != nil {
		return nil, nil, err
	}
	rows, err = s.pool.Query(ctx, `
		SELECT event_id, agent, at, to_state, reason FROM agent_states WHERE at >= $1 AND at < $2
		UNION ALL
		SELECT * FROM (SELECT DISTINCT ON (agent) event_id, agent, at, to_state, reason FROM agent_states
			WHERE at < $1 ORDER BY agent, at DESC, event_id DESC) b
		UNION ALL
		SELECT * FROM (SELECT DISTINCT ON (agent) event_id, agent, at, to_state, reason FROM agent_states
			WHERE at >= $2 ORDER BY agent, at, event_id) a`, from, to)
	if err != nil {
		return nil, nil, err
	}
	states, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgentState, error) {
		var st AgentState
		err := r.Scan(&st.EventID, &st.Agent, &st.At, &st.To, &st.Reason)
		return st, err
	})
	if err != nil {
		return nil, nil, err
	}
	open := asOf
	if open.After(to) {
		open = to
	}
	agents = ComputeAgents(vs, missed, states, from, to, open, s.cfg)
	return agents, ComputeTeams(agents), nil
}

const callSelect = `SELECT call_id, arrived_at, caller, caller_norm, queue, first_queue, joined_at, outcome, answered_at,
	agent, disposition, line, first_line, escalated_to, survey_rating, survey_solved FROM calls `

func (s *Store) calls(ctx context.Context, where string, args ...any) ([]Call, error) {
	rows, err := s.pool.Query(ctx, callSelect+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Call
	for rows.Next() {
		var c Call
		var arr, joined, ans *time.Time
		var outcome string
		var rating *int16
		if err := rows.Scan(&c.CallID, &arr, &c.Caller, &c.CallerNorm, &c.Queue, &c.FirstQueue, &joined, &outcome, &ans,
			&c.Agent, &c.Disposition, &c.Line, &c.FirstLine, &c.EscalatedTo, &rating, &c.SurveySolved); err != nil {
			return nil, err
		}
		c.ArrivedAt, c.JoinedAt, c.AnsweredAt = derefT(arr), derefT(joined), derefT(ans)
		c.Outcome = Outcome(outcome)
		if rating != nil {
			c.SurveyRating = int(*rating)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// FCRReport computes FCR for calls that arrived in [from, to), per line and
// overall; repeat calls are looked for up to the repeat window after to.
func (s *Store) FCRReport(ctx context.Context, from, to, asOf time.Time) ([]FCRFigures, error) {
	w := s.cfg.repeatWindow()
	hist, err := s.calls(ctx, `WHERE coalesce(arrived_at, joined_at) >= $1 AND coalesce(arrived_at, joined_at) < $2`, from, to.Add(w))
	if err != nil {
		return nil, err
	}
	var pop []Call
	for _, c := range hist {
		if t := callTime(c); !t.Before(from) && t.Before(to) {
			pop = append(pop, c)
		}
	}
	return ComputeFCR(pop, hist, w, asOf), nil
}

// CSI groupings.
const (
	ByLine  = "line"
	ByQueue = "queue"
	ByAgent = "agent"
)

// CSIReport computes CSI for rated calls that arrived in [from, to),
// grouped by ByLine, ByQueue or ByAgent (of the last answered visit).
func (s *Store) CSIReport(ctx context.Context, from, to time.Time, by string) ([]CSIFigures, error) {
	key, err := csiKey(by)
	if err != nil {
		return nil, err
	}
	cs, err := s.calls(ctx, `WHERE survey_rating IS NOT NULL AND coalesce(arrived_at, joined_at) >= $1 AND coalesce(arrived_at, joined_at) < $2`, from, to)
	if err != nil {
		return nil, err
	}
	return ComputeCSI(cs, key), nil
}

// CSISurveyedReport is CSIReport over the calls whose survey was completed
// in [from, to) (survey.completed events), whenever they arrived: the
// feedback received in the period. The desk's "my figures today" shows it
// by agent (docs/metrics.md, CSI).
func (s *Store) CSISurveyedReport(ctx context.Context, from, to time.Time, by string) ([]CSIFigures, error) {
	key, err := csiKey(by)
	if err != nil {
		return nil, err
	}
	cs, err := s.calls(ctx, `WHERE survey_rating IS NOT NULL AND call_id IN
		(SELECT call_id FROM events WHERE type = 'survey.completed' AND at >= $1 AND at < $2)`, from, to)
	if err != nil {
		return nil, err
	}
	return ComputeCSI(cs, key), nil
}

func csiKey(by string) (func(Call) string, error) {
	switch by {
	case ByLine:
		return func(c Call) string { return c.Line }, nil
	case ByQueue:
		return func(c Call) string { return c.Queue }, nil
	case ByAgent:
		return func(c Call) string { return c.Agent }, nil
	}
	return nil, fmt.Errorf("reporting: CSI grouping %q: want line, queue or agent", by)
}

// EscalationReport computes escalation figures over the calls with a queue
// visit that joined in [from, to) (all visits of those calls).
func (s *Store) EscalationReport(ctx context.Context, from, to time.Time) (EscalationFigures, error) {
	vs, err := s.visits(ctx, `WHERE call_id IN (SELECT DISTINCT call_id FROM queue_visits WHERE joined_at >= $1 AND joined_at < $2)`, from, to)
	if err != nil {
		return EscalationFigures{}, err
	}
	return ComputeEscalations(vs), nil
}
