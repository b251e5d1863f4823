package reporting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Interval is the rollup granularity.
const Interval = 15 * time.Minute

// Store is reporting's PostgreSQL side: event log, projector, rollups and
// report queries. It is safe for concurrent use; run one projector per
// database (Project takes a row lock, so concurrent calls serialize).
type Store struct {
	pool *pgxpool.Pool
	cfg  *Config
	log  *slog.Logger
}

// NewStore returns a Store. cfg may be nil (defaults).
func NewStore(pool *pgxpool.Pool, cfg *Config, log *slog.Logger) *Store {
	if cfg == nil {
		cfg = &Config{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{pool: pool, cfg: cfg, log: log}
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

const stageDDL = `CREATE TEMP TABLE IF NOT EXISTS events_stage (
	ord int, id text, at timestamptz, type text, call_id text, queue text, agent text,
	caller text, priority int, reason text, data jsonb) ON COMMIT DELETE ROWS`

var stageCols = []string{"ord", "id", "at", "type", "call_id", "queue", "agent", "caller", "priority", "reason", "data"}

// InsertEvents appends events to the log, skipping IDs already stored
// (COPY into a temporary table, then INSERT … ON CONFLICT DO NOTHING in
// the given order). It is the one way into the log: in the same
// transaction it moves personal values out of the events (the caller's
// number, collected digits, notes) into personal_data and stores refs in
// their place (see privacy.go); evs themselves are left as they are.
func (s *Store) InsertEvents(ctx context.Context, evs []eventlog.Event) error {
	if len(evs) == 0 {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(`+personalLock+`)`); err != nil {
		return err
	}
	// Events already stored (a replay) are skipped before their values
	// are stored again under new refs.
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	rows, err := tx.Query(ctx, `SELECT id FROM events WHERE id = ANY($1)`, ids)
	if err != nil {
		return err
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(stored) > 0 || hasDuplicates(ids) {
		skip := make(map[string]bool, len(stored))
		for _, id := range stored {
			skip[id] = true
		}
		fresh := make([]eventlog.Event, 0, len(evs))
		for _, e := range evs {
			if !skip[e.ID] {
				skip[e.ID] = true
				fresh = append(fresh, e)
			}
		}
		evs = fresh
		if len(evs) == 0 {
			return tx.Commit(ctx)
		}
	}
	if evs, err = pseudonymize(ctx, tx, evs); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, stageDDL); err != nil {
		return err
	}
	i := 0
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"events_stage"}, stageCols, pgx.CopyFromFunc(func() ([]any, error) {
		if i >= len(evs) {
			return nil, nil
		}
		e := evs[i]
		i++
		var data any
		if len(e.Data) > 0 {
			data = e.Data
		}
		return []any{i, e.ID, e.At, string(e.Type), e.CallID, e.Queue, e.Agent, e.Caller, e.Priority, e.Reason, data}, nil
	}))
	if err != nil {
		return fmt.Errorf("copy events: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO events (id, at, type, call_id, queue, agent, caller, priority, reason, data)
		SELECT id, at, type, call_id, queue, agent, caller, priority, reason, data FROM events_stage ORDER BY ord
		ON CONFLICT (id) DO NOTHING`); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return tx.Commit(ctx)
}

func hasDuplicates(ids []string) bool {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return true
		}
		seen[id] = true
	}
	return false
}

const eventCols = `id, at, type, call_id, queue, agent, caller, priority, reason, data`

func scanEvents(rows pgx.Rows) ([]eventlog.Event, error) {
	defer rows.Close()
	var out []eventlog.Event
	for rows.Next() {
		var e eventlog.Event
		var typ string
		var data []byte
		if err := rows.Scan(&e.ID, &e.At, &typ, &e.CallID, &e.Queue, &e.Agent, &e.Caller, &e.Priority, &e.Reason, &data); err != nil {
			return nil, err
		}
		e.Type = eventlog.Type(typ)
		e.At = e.At.UTC()
		if len(data) > 0 && string(data) != "null" {
			if err := json.Unmarshal(data, &e.Data); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Events returns the stored events with at in [from, to), by time then
// ID, as a person reads them: each Caller is the number its ref maps to,
// "anonymous" once erased or expired (as ExportQueueLog shows them).
// Collected digits and notes stay refs.
func (s *Store) Events(ctx context.Context, from, to time.Time) ([]eventlog.Event, error) {
	var out []eventlog.Event
	err := s.shownEvents(ctx, from, to, func(e eventlog.Event) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// shownEvents streams the events with at in [from, to) with their
// callers resolved (see Events).
func (s *Store) shownEvents(ctx context.Context, from, to time.Time, f func(eventlog.Event) error) error {
	rows, err := s.pool.Query(ctx, `SELECT e.id, e.at, e.type, e.call_id, e.queue, e.agent, e.caller, e.priority, e.reason, e.data, p.value
		FROM events e LEFT JOIN personal_data p ON p.ref = e.caller AND p.kind = 'caller'
		WHERE e.at >= $1 AND e.at < $2 ORDER BY e.at, e.id`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e eventlog.Event
		var typ string
		var data []byte
		var number *string
		if err := rows.Scan(&e.ID, &e.At, &typ, &e.CallID, &e.Queue, &e.Agent, &e.Caller, &e.Priority, &e.Reason, &data, &number); err != nil {
			return err
		}
		e.Type = eventlog.Type(typ)
		e.At = e.At.UTC()
		e.Caller = shownCaller(e.Caller, number)
		if len(data) > 0 && string(data) != "null" {
			if err := json.Unmarshal(data, &e.Data); err != nil {
				return fmt.Errorf("event %s: %w", e.ID, err)
			}
		}
		if err := f(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CallEvents returns every stored event of one call, in order.
func (s *Store) CallEvents(ctx context.Context, callID string) ([]eventlog.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE call_id = $1 ORDER BY at, id`, callID)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// span collects the earliest and latest instants a change touched.
type span struct{ lo, hi time.Time }

func (sp *span) add(t time.Time) {
	if t.IsZero() {
		return
	}
	if sp.lo.IsZero() || t.Before(sp.lo) {
		sp.lo = t
	}
	if sp.hi.IsZero() || t.After(sp.hi) {
		sp.hi = t
	}
}

func floorInterval(t time.Time) time.Time { return t.UTC().Truncate(Interval) }

func ceilInterval(t time.Time) time.Time {
	f := floorInterval(t)
	if f.Equal(t) {
		return f
	}
	return f.Add(Interval)
}

// Project brings calls, queue visits, agent states and rollups up to date
// with the event log (events stored since the last call). It returns the
// number of events processed. Run it after writes (Writer's OnWritten) or
// periodically; it is idempotent.
func (s *Store) Project(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.projectChunk(ctx, 20000)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

func (s *Store) projectChunk(ctx context.Context, limit int) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.Background())
	var mark int64
	if err := tx.QueryRow(ctx, `SELECT seq FROM projector_state WHERE name = 'main' FOR UPDATE`).Scan(&mark); err != nil {
		return 0, fmt.Errorf("projector watermark: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT seq, at, type, call_id FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`, mark, limit)
	if err != nil {
		return 0, err
	}
	var sp span
	callSet := map[string]bool{}
	var calls []string
	n, top, states := 0, mark, false
	for rows.Next() {
		var seq int64
		var at time.Time
		var typ, callID string
		if err := rows.Scan(&seq, &at, &typ, &callID); err != nil {
			rows.Close()
			return 0, err
		}
		n++
		top = seq
		if callID != "" && !callSet[callID] {
			callSet[callID] = true
			calls = append(calls, callID)
		}
		switch eventlog.Type(typ) {
		case eventlog.AgentState:
			states = true
			sp.add(at)
		case eventlog.AgentRingNoAnswer:
			sp.add(at)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, tx.Commit(ctx)
	}
	if err := s.reprojectCalls(ctx, tx, calls, &sp); err != nil {
		return 0, err
	}
	if states {
		if err := projectStates(ctx, tx, `e.seq > $1 AND e.seq <= $2`, []any{mark, top}, &sp); err != nil {
			return 0, err
		}
	}
	if !sp.lo.IsZero() {
		if err := s.recomputeRollups(ctx, tx, floorInterval(sp.lo), ceilInterval(sp.hi.Add(time.Nanosecond))); err != nil {
			return 0, err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE projector_state SET seq = $1 WHERE name = 'main'`, top); err != nil {
		return 0, err
	}
	return n, tx.Commit(ctx)
}

// projectStates copies agent.state events matching cond into agent_states
// and widens sp to every state interval they open or close.
func projectStates(ctx context.Context, tx pgx.Tx, cond string, args []any, sp *span) error {
	rows, err := tx.Query(ctx, `INSERT INTO agent_states (event_id, agent, at, from_state, to_state, reason)
		SELECT e.id, e.agent, e.at, coalesce(e.data->>'from', ''), coalesce(e.data->>'to', ''), e.reason
		FROM events e WHERE e.type = 'agent.state' AND `+cond+`
		ON CONFLICT (event_id) DO NOTHING RETURNING agent, at`, args...)
	if err != nil {
		return err
	}
	var agents []string
	var ats []time.Time
	for rows.Next() {
		var a string
		var t time.Time
		if err := rows.Scan(&a, &t); err != nil {
			rows.Close()
			return err
		}
		agents, ats = append(agents, a), append(ats, t)
		sp.add(t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(agents) == 0 {
		return nil
	}
	var lo, hi *time.Time
	err = tx.QueryRow(ctx, `SELECT min(p.at), max(nx.at)
		FROM unnest($1::text[], $2::timestamptz[]) AS n(agent, at)
		LEFT JOIN LATERAL (SELECT at FROM agent_states s WHERE s.agent = n.agent AND s.at < n.at ORDER BY at DESC LIMIT 1) p ON true
		LEFT JOIN LATERAL (SELECT at FROM agent_states s WHERE s.agent = n.agent AND s.at > n.at ORDER BY at LIMIT 1) nx ON true`,
		agents, ats).Scan(&lo, &hi)
	if err != nil {
		return err
	}
	if lo != nil {
		sp.add(*lo)
	}
	if hi != nil {
		sp.add(*hi)
	}
	return nil
}

// reprojectCalls rebuilds the calls and queue_visits rows of the given
// calls from all their events, widening sp by every bucket old or new
// visits fall in.
func (s *Store) reprojectCalls(ctx context.Context, tx pgx.Tx, ids []string, sp *span) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 5000)]
		ids = ids[len(chunk):]
		var lo, hi1, hi2 *time.Time
		if err := tx.QueryRow(ctx, `SELECT min(joined_at), max(joined_at), max(answered_at) FROM queue_visits WHERE call_id = ANY($1)`,
			chunk).Scan(&lo, &hi1, &hi2); err != nil {
			return err
		}
		for _, t := range []*time.Time{lo, hi1, hi2} {
			if t != nil {
				sp.add(*t)
			}
		}
		rows, err := tx.Query(ctx, `SELECT `+eventCols+` FROM events WHERE call_id = ANY($1)`, chunk)
		if err != nil {
			return err
		}
		evs, err := scanEvents(rows)
		if err != nil {
			return err
		}
		by := map[string][]eventlog.Event{}
		for _, e := range evs {
			by[e.CallID] = append(by[e.CallID], e)
		}
		var cs []Call
		var vs []Visit
		for _, id := range chunk {
			c, v := BuildCall(by[id], s.cfg)
			c.CallID = id
			cs = append(cs, c)
			vs = append(vs, v...)
			for _, x := range v {
				sp.add(x.JoinedAt)
				sp.add(x.AnsweredAt)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM queue_visits WHERE call_id = ANY($1)`, chunk); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM calls WHERE call_id = ANY($1)`, chunk); err != nil {
			return err
		}
		if err := copyCalls(ctx, tx, cs); err != nil {
			return err
		}
		if err := copyVisits(ctx, tx, vs); err != nil {
			return err
		}
	}
	return nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

var callCols = []string{"call_id", "arrived_at", "caller", "caller_norm", "dialed", "trunk", "ivr_path", "language",
	"first_queue", "queue", "joined_at", "wait_ms", "outcome", "answered_at", "agent", "talk_ms", "wrapup_ms",
	"ended_at", "end_reason", "disposition", "disposition_code", "no_survey", "line", "first_line",
	"escalated_to", "escalated_at", "second_line_answered_at", "survey_status", "survey_rating", "survey_solved"}

func copyCalls(ctx context.Context, tx pgx.Tx, cs []Call) error {
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"calls"}, callCols, pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) {
		c := cs[i]
		var wait, rating any
		if !c.JoinedAt.IsZero() && c.Outcome != OutcomeWaiting {
			wait = ms(c.Wait)
		}
		if c.SurveyRating > 0 {
			rating = int16(c.SurveyRating)
		}
		path := c.IVRPath
		if path == nil {
			path = []string{}
		}
		return []any{c.CallID, nullTime(c.ArrivedAt), c.Caller, c.CallerNorm, c.Dialed, c.Trunk, path, c.Language,
			c.FirstQueue, c.Queue, nullTime(c.JoinedAt), wait, string(c.Outcome), nullTime(c.AnsweredAt), c.Agent,
			ms(c.Talk), ms(c.Wrapup), nullTime(c.EndedAt), c.EndReason, c.Disposition, c.DispositionCode, c.NoSurvey,
			c.Line, c.FirstLine, c.EscalatedTo, nullTime(c.EscalatedAt), nullTime(c.SecondLineAnsweredAt),
			c.SurveyStatus, rating, c.SurveySolved}, nil
	}))
	return err
}

var visitCols = []string{"call_id", "n", "queue", "line", "joined_at", "priority", "outcome", "left_at", "wait_ms",
	"agent", "answered_at", "ring_ms", "talk_ms", "wrapup_ms", "ring_noanswer", "escalated_from", "escalated_to",
	"escalated_at", "overflow_to", "within_t", "short_abandon", "abandon_within_t"}

func copyVisits(ctx context.Context, tx pgx.Tx, vs []Visit) error {
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"queue_visits"}, visitCols, pgx.CopyFromSlice(len(vs), func(i int) ([]any, error) {
		v := vs[i]
		var wait, ring any
		if v.Outcome != OutcomeWaiting {
			wait = ms(v.Wait)
		}
		if v.Outcome == OutcomeAnswered {
			ring = ms(v.Ring)
		}
		return []any{v.CallID, v.N, v.Queue, v.Line, v.JoinedAt, v.Priority, string(v.Outcome), nullTime(v.LeftAt), wait,
			v.Agent, nullTime(v.AnsweredAt), ring, ms(v.Talk), ms(v.Wrapup), v.RingNoAnswer, v.EscalatedFrom,
			v.EscalatedTo, nullTime(v.EscalatedAt), v.OverflowTo, v.WithinT, v.ShortAbandon, v.AbandonWithinT}, nil
	}))
	return err
}

// recomputeRollups rewrites rollup rows for buckets in [lo, hi) (aligned).
func (s *Store) recomputeRollups(ctx context.Context, tx pgx.Tx, lo, hi time.Time) error {
	stmts := []string{
		`DELETE FROM rollup_queue WHERE bucket >= $1 AND bucket < $2`,
		`INSERT INTO rollup_queue
		SELECT date_bin('15 minutes', joined_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), queue,
			count(*),
			count(*) FILTER (WHERE outcome = 'answered'),
			count(*) FILTER (WHERE within_t),
			count(*) FILTER (WHERE outcome = 'abandoned'),
			count(*) FILTER (WHERE short_abandon),
			count(*) FILTER (WHERE abandon_within_t),
			count(*) FILTER (WHERE outcome = 'overflowed'),
			count(*) FILTER (WHERE outcome = 'timeout'),
			count(*) FILTER (WHERE outcome = 'callback'),
			count(*) FILTER (WHERE outcome = 'answered' AND escalated_to <> ''),
			coalesce(sum(wait_ms) FILTER (WHERE outcome = 'answered'), 0),
			coalesce(sum(wait_ms) FILTER (WHERE outcome = 'abandoned'), 0),
			coalesce(max(wait_ms), 0),
			coalesce(sum(talk_ms) FILTER (WHERE outcome = 'answered'), 0),
			coalesce(sum(wrapup_ms) FILTER (WHERE outcome = 'answered'), 0)
		FROM queue_visits WHERE joined_at >= $1 AND joined_at < $2 GROUP BY 1, 2`,
		`DELETE FROM rollup_agent WHERE bucket >= $1 AND bucket < $2`,
		`INSERT INTO rollup_agent (bucket, agent, answered, escalations, ring_ms, talk_ms, wrapup_ms)
		SELECT date_bin('15 minutes', answered_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), agent,
			count(*), count(*) FILTER (WHERE escalated_to <> ''), coalesce(sum(ring_ms), 0), sum(talk_ms), sum(wrapup_ms)
		FROM queue_visits WHERE outcome = 'answered' AND answered_at >= $1 AND answered_at < $2 GROUP BY 1, 2`,
		`INSERT INTO rollup_agent (bucket, agent, missed)
		SELECT date_bin('15 minutes', at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), agent, count(*)
		FROM events WHERE type = 'agent.ring_noanswer' AND agent <> '' AND at >= $1 AND at < $2 GROUP BY 1, 2
		ON CONFLICT (bucket, agent) DO UPDATE SET missed = EXCLUDED.missed`,
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q, lo, hi); err != nil {
			return fmt.Errorf("rollups: %w", err)
		}
	}
	if err := s.refreshDayRollups(ctx, tx, lo, hi); err != nil {
		return err
	}
	// State time: the states inside the range plus, per agent, the one
	// before and the one after it.
	rows, err := tx.Query(ctx, `
		SELECT event_id, agent, at, to_state FROM agent_states WHERE at >= $1 AND at < $2
		UNION ALL
		SELECT * FROM (SELECT DISTINCT ON (agent) event_id, agent, at, to_state FROM agent_states
			WHERE at < $1 ORDER BY agent, at DESC, event_id DESC) b
		UNION ALL
		SELECT * FROM (SELECT DISTINCT ON (agent) event_id, agent, at, to_state FROM agent_states
			WHERE at >= $2 ORDER BY agent, at, event_id) a`, lo, hi)
	if err != nil {
		return err
	}
	var states []AgentState
	for rows.Next() {
		var st AgentState
		if err := rows.Scan(&st.EventID, &st.Agent, &st.At, &st.To); err != nil {
			rows.Close()
			return err
		}
		states = append(states, st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	cells := stateBuckets(states, lo, hi)
	if len(cells) == 0 {
		return nil
	}
	var bs []time.Time
	var as []string
	var li, pa []int64
	for k, v := range cells {
		bs, as, li, pa = append(bs, k.bucket), append(as, k.agent), append(li, ms(v[0])), append(pa, ms(v[1]))
	}
	_, err = tx.Exec(ctx, `INSERT INTO rollup_agent (bucket, agent, logged_in_ms, paused_ms)
		SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::bigint[], $4::bigint[])
		ON CONFLICT (bucket, agent) DO UPDATE SET logged_in_ms = EXCLUDED.logged_in_ms, paused_ms = EXCLUDED.paused_ms`,
		bs, as, li, pa)
	return err
}

// dayStart returns local midnight of the day containing t in loc.
func dayStart(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// refreshDayRollups rewrites the rollup_queue_day rows (in the service's
// zone) of every day that [lo, hi) touches, from rollup_queue.
func (s *Store) refreshDayRollups(ctx context.Context, tx pgx.Tx, lo, hi time.Time) error {
	loc := s.cfg.location()
	d0 := dayStart(lo, loc)
	d1 := dayStart(hi.Add(-time.Nanosecond), loc).AddDate(0, 0, 1)
	zone := loc.String()
	if _, err := tx.Exec(ctx, `DELETE FROM rollup_queue_day WHERE zone = $1 AND day >= $2 AND day < $3`, zone, d0, d1); err != nil {
		return fmt.Errorf("day rollups: %w", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO rollup_queue_day
		SELECT $1::text, date_trunc('day', bucket AT TIME ZONE $1::text) AT TIME ZONE $1::text, queue,
			sum(offered), sum(answered), sum(answered_within_t), sum(abandoned), sum(short_abandoned),
			sum(abandoned_within_t), sum(overflowed), sum(timed_out), sum(callbacks), sum(escalated),
			sum(wait_answered_ms), sum(wait_abandoned_ms), max(max_wait_ms), sum(talk_ms), sum(wrapup_ms)
		FROM rollup_queue WHERE bucket >= $2 AND bucket < $3 GROUP BY 2, 3`, zone, d0, d1)
	if err != nil {
		return fmt.Errorf("day rollups: %w", err)
	}
	return nil
}

// RefreshDayRollups rewrites the daily queue rollups of the days that
// [from, to) touches from the 15-minute rollups (in the service's zone).
// The projector and RebuildRollups keep them current; call this after
// loading rollup_queue by other means or after changing the zone.
func (s *Store) RefreshDayRollups(ctx context.Context, from, to time.Time) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if err := s.refreshDayRollups(ctx, tx, floorInterval(from), ceilInterval(to)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Location returns the service's zone for days and "today".
func (s *Store) Location() *time.Location { return s.cfg.location() }

// Config returns the formulas' configuration.
func (s *Store) Config() *Config { return s.cfg }

type cellKey struct {
	bucket time.Time
	agent  string
}

// stateBuckets splits closed state intervals (state → the agent's next
// state) into 15-minute buckets within [lo, hi): [available, paused].
func stateBuckets(states []AgentState, lo, hi time.Time) map[cellKey][2]time.Duration {
	out := map[cellKey][2]time.Duration{}
	by := map[string][]AgentState{}
	for _, s := range states {
		by[s.Agent] = append(by[s.Agent], s)
	}
	for agent, ss := range by {
		sortStates(ss)
		for i := 0; i+1 < len(ss); i++ {
			cls := ClassifyState(ss[i].To)
			if cls == StateLoggedOut {
				continue
			}
			a, b := ss[i].At, ss[i+1].At
			if a.Before(lo) {
				a = lo
			}
			if b.After(hi) {
				b = hi
			}
			for t := floorInterval(a); t.Before(b); t = t.Add(Interval) {
				d := overlap(a, b, t, t.Add(Interval))
				if d <= 0 {
					continue
				}
				k := cellKey{t, agent}
				v := out[k]
				if cls == StateLoggedIn {
					v[0] += d
				} else {
					v[1] += d
				}
				out[k] = v
			}
		}
	}
	return out
}

// RebuildRollups recomputes, from the event log, the call records and
// visits of every call with an event in [from, to), the agent state log
// in that range, and the rollup rows of the 15-minute buckets in [from, to)
// (from rounded down, to rounded up). The result equals what the projector
// produced incrementally.
func (s *Store) RebuildRollups(ctx context.Context, from, to time.Time) error {
	if !from.Before(to) {
		return errors.New("reporting: RebuildRollups: from must be before to")
	}
	lo, hi := floorInterval(from), ceilInterval(to)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	// Serialize with the projector.
	if _, err := tx.Exec(ctx, `SELECT seq FROM projector_state WHERE name = 'main' FOR UPDATE`); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT call_id FROM events WHERE at >= $1 AND at < $2 AND call_id <> ''`, lo, hi)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	var sp span
	if err := s.reprojectCalls(ctx, tx, ids, &sp); err != nil {
		return err
	}
	if err := projectStates(ctx, tx, `e.at >= $1 AND e.at < $2`, []any{lo, hi}, &sp); err != nil {
		return err
	}
	if err := s.recomputeRollups(ctx, tx, lo, hi); err != nil {
		return err
	}
	s.log.Info("reporting: rollups rebuilt", "from", lo, "to", hi, "calls", len(ids))
	return tx.Commit(ctx)
}
