package reporting

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func migrated(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if err := Migrate(ctx, conn.Conn()); err != nil {
		t.Fatal(err)
	}
}

func newStore(t testing.TB, cfg *Config) *Store {
	t.Helper()
	db := pgtest.New(t)
	migrated(t, db.Pool)
	return NewStore(db.Pool, cfg, nil)
}

// synth generates a deterministic, varied day of traffic: calls answered,
// abandoned (short and long), overflowed, escalated, surveyed, with agent
// state changes. Events come out sorted by time.
func synth(seed uint64, calls int, start time.Time, span time.Duration) []eventlog.Event {
	r := rand.New(rand.NewPCG(seed, 7))
	g := &gen{}
	var evs []eventlog.Event
	agents := []string{"a1", "a2", "a3", "b1"}
	for _, a := range agents {
		evs = append(evs, g.ev(start, eventlog.AgentState, "", "", a, map[string]string{"from": "logged_out", "to": "ready"}))
		p := start.Add(time.Duration(r.Int64N(int64(span / 2))))
		evs = append(evs, g.ev(p, eventlog.AgentState, "", "", a, map[string]string{"from": "ready", "to": "paused"}))
		evs = append(evs, g.ev(p.Add(7*time.Minute), eventlog.AgentState, "", "", a, map[string]string{"from": "paused", "to": "ready"}))
		evs = append(evs, g.ev(start.Add(span+time.Hour), eventlog.AgentState, "", "", a, map[string]string{"from": "ready", "to": "logged_out"}))
	}
	for i := 0; i < calls; i++ {
		id := fmt.Sprintf("call-%06d", i)
		t := start.Add(time.Duration(r.Int64N(int64(span))))
		q := []string{"sales", "support"}[r.IntN(2)]
		wait := time.Duration(r.Int64N(60000)) * time.Millisecond
		caller := fmt.Sprintf("+7900%07d", r.IntN(50))
		if r.IntN(10) == 0 {
			caller = "anonymous"
		}
		agent := agents[r.IntN(3)]
		switch k := r.IntN(10); {
		case k < 6:
			ce := g.answered(id, caller, q, t, wait, agent, time.Duration(30+r.IntN(300))*time.Second, time.Duration(r.IntN(60))*time.Second)
			evs = append(evs, ce...)
			end := ce[len(ce)-1].At
			d := g.ev(end, eventlog.CallDisposition, id, q, agent, nil)
			d.Reason = []string{"resolved", "not_resolved"}[r.IntN(2)]
			evs = append(evs, d)
			if r.IntN(3) == 0 {
				evs = append(evs, g.ev(end.Add(20*time.Hour), eventlog.SurveyCompleted, id, "", "",
					map[string]string{"rating": fmt.Sprint(1 + r.IntN(5)), "solved": []string{"yes", "no"}[r.IntN(2)]}))
			}
			if r.IntN(5) == 0 {
				evs = append(evs, g.ev(t.Add(wait-5*time.Second), eventlog.AgentRingNoAnswer, id, q, agents[(r.IntN(3)+1)%3], map[string]string{"ring_ms": "5000"}))
			}
		case k < 8:
			ab := g.abandoned(id, q, t, wait/4)
			ab[0].Caller = caller
			evs = append(evs, ab...)
		case k < 9: // overflow to backup, answered there
			ans := t.Add(wait + 10*time.Second)
			evs = append(evs,
				g.ev(t, eventlog.CallArrived, id, "", "", nil),
				g.ev(t, eventlog.QueueJoined, id, q, "", nil),
				g.ev(t.Add(wait), eventlog.QueueOverflowed, id, q, "", map[string]string{"wait_ms": msStr(wait), "to_queue": "backup"}),
				g.ev(t.Add(wait), eventlog.QueueJoined, id, "backup", "", nil),
				g.ev(ans, eventlog.QueueAnswered, id, "backup", agent, map[string]string{"wait_ms": "10000"}),
				g.ev(ans.Add(time.Minute), eventlog.CallCompleted, id, "backup", agent, map[string]string{"talk_ms": "60000"}),
				g.ev(ans.Add(time.Minute), eventlog.CallEnded, id, "", "", nil),
			)
		default: // escalated to second line
			ans := t.Add(wait)
			esc := ans.Add(2 * time.Minute)
			evs = append(evs,
				g.ev(t, eventlog.CallArrived, id, "", "", nil),
				g.ev(t, eventlog.QueueJoined, id, q, "", nil),
				g.ev(ans, eventlog.QueueAnswered, id, q, agent, map[string]string{"wait_ms": msStr(wait)}),
				g.ev(esc, eventlog.CallEscalated, id, q, agent, map[string]string{"to_queue": "l2", "mode": "warm"}),
				g.ev(esc, eventlog.CallCompleted, id, q, agent, map[string]string{"talk_ms": "120000"}),
				g.ev(esc, eventlog.QueueJoined, id, "l2", "", map[string]string{"escalated_from": q}),
				g.ev(esc.Add(40*time.Second), eventlog.QueueAnswered, id, "l2", "b1", map[string]string{"wait_ms": "40000"}),
				g.ev(esc.Add(5*time.Minute), eventlog.CallCompleted, id, "l2", "b1", map[string]string{"talk_ms": "260000"}),
				g.ev(esc.Add(5*time.Minute), eventlog.CallEnded, id, "", "", nil),
			)
		}
	}
	SortEvents(evs)
	return evs
}

func dump(t *testing.T, pool *pgxpool.Pool, sql string) [][]any {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrateTwice(t *testing.T) {
	db := pgtest.New(t)
	migrated(t, db.Pool)
	migrated(t, db.Pool) // idempotent
	if _, err := db.Pool.Exec(context.Background(), `INSERT INTO events (id, at, type) VALUES ('x', now(), 't')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(context.Background(), `DELETE FROM events`); err == nil {
		t.Fatal("events must be append-only")
	}
}

// TestProjectAndRebuild writes a day of events in shuffled chunks (so the
// projector sees calls in pieces and out of order), checks the projected
// figures against the pure Go computation over the same events, then wipes
// the derived tables, rebuilds from the log and expects the same rows.
func TestProjectAndRebuild(t *testing.T) {
	ctx := context.Background()
	cfg := &Config{Queues: map[string]QueueConfig{"l2": {Threshold: 60 * time.Second, Line: LineSecond}}}
	s := newStore(t, cfg)
	start := time.Date(2024, 3, 10, 6, 0, 0, 0, time.UTC)
	evs := synth(1, 600, start, 10*time.Hour)

	r := rand.New(rand.NewPCG(2, 2))
	chunks := [][]eventlog.Event{}
	for i := 0; i < len(evs); {
		n := 1 + r.IntN(400)
		chunks = append(chunks, evs[i:min(i+n, len(evs))])
		i += n
	}
	// Swap neighbouring chunks now and then: a replayed journal may land late.
	for i := 0; i+1 < len(chunks); i += 3 {
		chunks[i], chunks[i+1] = chunks[i+1], chunks[i]
	}
	for i, c := range chunks {
		if err := s.InsertEvents(ctx, c); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := s.Project(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Duplicates are ignored.
	if err := s.InsertEvents(ctx, evs[:500]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Project(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil || n != len(evs) {
		t.Fatalf("events = %d (%v), want %d", n, err, len(evs))
	}

	// Projected figures equal the pure computation.
	from, to := start.Add(-time.Hour), start.Add(48*time.Hour)
	_, visits := visitsOf(evs, cfg)
	want := ComputeQueues(visits)
	got, err := s.QueueReport(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("QueueReport differs from ComputeQueues:\n got %+v\nwant %+v", got, want)
	}
	// The interval report over the whole day equals the same counters.
	rows, err := s.IntervalReport(ctx, from, to, Day, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := map[string]Counts{}
	for _, r := range rows {
		c := sum[r.Queue]
		c.Add(r.Counts)
		sum[r.Queue] = c
	}
	for _, w := range want {
		if sum[w.Queue] != w.Counts {
			t.Errorf("interval sums for %s = %+v, want %+v", w.Queue, sum[w.Queue], w.Counts)
		}
	}
	// Whole Moscow days (read from rollup_queue_day) give the same rows as
	// the 15-minute rollups summed per day.
	d0, _ := Today(start, nil)
	aligned, err := s.IntervalReport(ctx, d0.AddDate(0, 0, -1), d0.AddDate(0, 0, 3), Day, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(aligned, rows) {
		t.Errorf("day report on midnights differs from the one on partial days:\n got %+v\nwant %+v", aligned, rows)
	}
	var dayRows int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM rollup_queue_day WHERE zone = 'Europe/Moscow'`).Scan(&dayRows); err != nil || dayRows == 0 {
		t.Errorf("rollup_queue_day rows = %d (%v)", dayRows, err)
	}
	for _, step := range []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour} {
		rs, err := s.IntervalReport(ctx, from, to, step, []string{"sales"})
		if err != nil {
			t.Fatal(err)
		}
		var c Counts
		for _, r := range rs {
			if r.Queue != "sales" || r.Start.UnixNano()%int64(step) != 0 {
				t.Fatalf("row %+v for step %v", r, step)
			}
			c.Add(r.Counts)
		}
		if c != sum["sales"] {
			t.Errorf("step %v sums differ", step)
		}
	}

	const qRows = `SELECT * FROM rollup_queue ORDER BY bucket, queue`
	const aRows = `SELECT * FROM rollup_agent ORDER BY bucket, agent`
	const cRows = `SELECT * FROM calls ORDER BY call_id`
	const vRows = `SELECT * FROM queue_visits ORDER BY call_id, n`
	const dRows = `SELECT * FROM rollup_queue_day ORDER BY zone, day, queue`
	before := [][][]any{dump(t, s.pool, qRows), dump(t, s.pool, aRows), dump(t, s.pool, cRows), dump(t, s.pool, vRows), dump(t, s.pool, dRows)}
	if len(before[0]) == 0 || len(before[1]) == 0 {
		t.Fatal("no rollups")
	}
	for _, tbl := range []string{"rollup_queue", "rollup_agent", "calls", "queue_visits", "agent_states", "rollup_queue_day"} {
		if _, err := s.pool.Exec(ctx, "DELETE FROM "+tbl); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RebuildRollups(ctx, start.Add(-24*time.Hour), start.Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	after := [][][]any{dump(t, s.pool, qRows), dump(t, s.pool, aRows), dump(t, s.pool, cRows), dump(t, s.pool, vRows), dump(t, s.pool, dRows)}
	for i, name := range []string{"rollup_queue", "rollup_agent", "calls", "queue_visits", "rollup_queue_day"} {
		if !reflect.DeepEqual(before[i], after[i]) {
			t.Errorf("%s after rebuild differs (%d rows before, %d after)", name, len(before[i]), len(after[i]))
		}
	}

	// The other reports run and agree with the pure functions.
	esc, err := s.EscalationReport(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if wantEsc := ComputeEscalations(visits); esc.Escalated != wantEsc.Escalated || esc.Rate != wantEsc.Rate || esc.Escalated == 0 {
		t.Errorf("escalations = %+v, want %+v", esc, wantEsc)
	}
	agents, teams, err := s.AgentReport(ctx, from, to, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(agents) != 4 || len(teams) != 1 {
		t.Errorf("agents = %d, teams = %d", len(agents), len(teams))
	}
	for _, a := range agents {
		if a.Agent != "b1" && (a.Available <= 0 || a.Paused != 7*time.Minute) {
			t.Errorf("agent %+v", a)
		}
	}
	fcr, err := s.FCRReport(ctx, from, to, to.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	calls, _ := visitsOf(evs, cfg)
	if wantF := ComputeFCR(calls, calls, DefaultRepeatWindow, to.Add(30*24*time.Hour)); !reflect.DeepEqual(fcr, wantF) {
		t.Errorf("FCR = %+v\nwant %+v", fcr, wantF)
	}
	for _, by := range []string{ByLine, ByQueue, ByAgent} {
		csi, err := s.CSIReport(ctx, from, to, by)
		if err != nil || len(csi) == 0 {
			t.Errorf("CSI by %s: %v %v", by, csi, err)
		}
	}
}
