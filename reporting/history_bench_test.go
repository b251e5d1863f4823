package reporting

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkCallerHistory measures the IVR lookup (Store.CallerHistory, a
// 30-day window) on a year of call records: 10 million calls (or
// HOTLINE_HISTORY_CALLS) from a million callers, 1% of the calls from 100
// heavy callers (about 80 calls each in any 30 days). The rows are made by
// one INSERT … SELECT generate_series per table in the shared throwaway
// cluster, then VACUUM ANALYZE. Each sub-benchmark reports the latency
// percentiles of its b.N lookups; the plan is logged with -v. A benchmark,
// so `make test` never builds the 10 million rows. Results and command:
// docs/benchmarks.md.
func BenchmarkCallerHistory(b *testing.B) {
	calls := 10_000_000
	if v := os.Getenv("HOTLINE_HISTORY_CALLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100_000 {
			b.Fatalf("HOTLINE_HISTORY_CALLS=%q: want a whole number ≥ 100000", v)
		}
		calls = n
	}
	const callers = 1_000_000
	s := newStore(b, nil)
	ctx := context.Background()
	to := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	from := to.AddDate(-1, 0, 0)
	step := to.Sub(from) / time.Duration(calls)
	start := time.Now()
	if _, err := s.pool.Exec(ctx, `INSERT INTO personal_data (ref, kind, value, number_norm, created_at, last_seen)
		SELECT 'p-' || lpad(to_hex(k), 16, '0'), 'caller', n, n, $1, $2
		FROM generate_series(1, $3::int) k, LATERAL (SELECT '+7912' || lpad(k::text, 7, '0') AS n) num`,
		from, to, callers); err != nil {
		b.Fatal(err)
	}
	// Call i arrives at from + i·step; every 100th call is from one of the
	// 100 heavy callers, the others from a random one of the rest. 85%
	// answered (a disposition on most), 15% abandoned; 5% escalated to
	// second line, a third of those resolved there; 30% with a survey
	// rating.
	if _, err := s.pool.Exec(ctx, `INSERT INTO calls (call_id, arrived_at, caller_norm, first_queue, queue, joined_at,
		outcome, answered_at, agent, ended_at, end_reason, disposition, line, first_line, escalated_to, escalated_at, survey_rating)
		SELECT 'call-' || i, t, 'p-' || lpad(to_hex(k), 16, '0'), 'first-line', CASE WHEN esc THEN 'second-line' ELSE 'first-line' END, t,
			CASE WHEN ans THEN 'answered' ELSE 'abandoned' END, CASE WHEN ans THEN t + interval '20 s' END,
			CASE WHEN ans THEN 'a' || (i % 300) ELSE '' END, t + interval '5 min', 'caller',
			CASE WHEN esc AND r < 0.02 THEN 'resolved' WHEN esc THEN 'not_resolved' WHEN ans AND r < 0.6 THEN 'resolved' WHEN ans AND r < 0.7 THEN 'not_resolved' ELSE '' END,
			'first', 'first', CASE WHEN esc THEN 'second-line' ELSE '' END, CASE WHEN esc THEN t + interval '2 min' END,
			CASE WHEN ans AND r < 0.3 THEN 1 + i % 5 END
		FROM (SELECT i, $1::timestamptz + i * $2::interval AS t,
				CASE WHEN i % 100 = 0 THEN 1 + (i / 100) % 100 ELSE 101 + floor(random() * ($3::int - 100))::int END AS k,
				random() AS r
			FROM generate_series(1, $4::int) i) g,
			LATERAL (SELECT r < 0.85 AS ans) a, LATERAL (SELECT ans AND r < 0.05 AS esc) e`,
		from, step, callers, calls); err != nil {
		b.Fatal(err)
	}
	for _, tbl := range []string{"calls", "personal_data"} {
		if _, err := s.pool.Exec(ctx, `VACUUM ANALYZE `+tbl); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d calls from %d callers loaded in %v", calls, callers, time.Since(start).Round(time.Second))
	since := to.AddDate(0, 0, -30)
	number := func(k int) string { return fmt.Sprintf("+7912%07d", k) }
	// Before: the query without its caller_norm <> '' term, which the
	// partial index calls_caller_idx needs (50 lookups of typical callers).
	before := strings.Replace(callerHistorySQL, "AND caller_norm <> '' ", "", 1)
	if before == callerHistorySQL {
		b.Fatal("the caller_norm <> '' term is gone from callerHistorySQL: update the before measurement")
	}
	r0 := rand.New(rand.NewPCG(3, 4))
	var old []time.Duration
	for range 50 {
		t0 := time.Now()
		rows, err := s.pool.Query(ctx, before, number(101+r0.IntN(callers-100)), since)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			if _, err := rows.Values(); err != nil {
				b.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		old = append(old, time.Since(t0))
	}
	slices.Sort(old)
	b.Logf("before (no caller_norm <> '' term): 50 typical lookups p50 %v p99 %v", old[25], old[49])
	for _, bc := range []struct {
		name   string
		caller func(r *rand.Rand) int
	}{
		{"typical", func(r *rand.Rand) int { return 101 + r.IntN(callers-100) }},
		{"heavy", func(r *rand.Rand) int { return 1 + r.IntN(100) }},
		{"unknown", func(r *rand.Rand) int { return callers + 1 + r.IntN(callers) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			var plan []string
			rows, err := s.pool.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+callerHistorySQL, number(bc.caller(r)), since)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					b.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			if b.N == 1 {
				b.Logf("plan:\n%s", strings.Join(plan, "\n"))
			}
			lat := make([]time.Duration, 0, b.N)
			found := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				h, err := s.CallerHistory(ctx, number(bc.caller(r)), since)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				found += h.Calls
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50_ms")
			b.ReportMetric(pct(0.99), "p99_ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max_ms")
			b.ReportMetric(float64(found)/float64(b.N), "calls/lookup")
		})
	}
}
