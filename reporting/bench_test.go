package reporting

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// BenchmarkInsertEvents measures events written per second into PostgreSQL
// through InsertEvents (COPY into a staging table, INSERT … ON CONFLICT DO
// NOTHING) in batches of 5000, the Writer's default batch.
func BenchmarkInsertEvents(b *testing.B) { benchInsert(b, false) }

// BenchmarkInsertEventsWithCallers is BenchmarkInsertEvents with what real
// traffic carries: every call's events name its caller (one number per
// call, a number calling again now and then), so the callers' numbers are
// pseudonymized on the way in (personal_data).
func BenchmarkInsertEventsWithCallers(b *testing.B) { benchInsert(b, true) }

// benchInsert writes batches of 5,000 events, eight per call.
func benchInsert(b *testing.B, withCallers bool) {
	s := newStore(b, nil)
	ctx := context.Background()
	const batch = 5000
	base := time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)
	evs := make([]eventlog.Event, batch)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		for j := range evs {
			n++
			call := n / 8
			evs[j] = eventlog.Event{ID: fmt.Sprintf("ev-%012d", n), At: base.Add(time.Duration(n) * time.Millisecond),
				Type: eventlog.QueueAnswered, CallID: fmt.Sprintf("call-%d", call), Queue: "support", Agent: "a17",
				Data: map[string]string{"wait_ms": "12345"}}
			if withCallers {
				evs[j].Caller = fmt.Sprintf("+7912%07d", call%20000)
			}
		}
		if err := s.InsertEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// monthOfRollups fills rollup_queue with a month of 15-minute rows for 200
// queues: 31 days × 96 buckets × 200 queues = 595,200 rows, ~17 calls per
// row ≈ 10.1 million calls.
func monthOfRollups(b *testing.B) (*Store, time.Time, time.Time) {
	s := newStore(b, nil)
	ctx := context.Background()
	from := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	_, err := s.pool.Exec(ctx, `INSERT INTO rollup_queue
		SELECT b, 'q' || q, 17, 14, 11, 3, 1, 2, 0, 0, 0, 1, 14*15000, 3*20000, 90000, 14*180000, 14*30000
		FROM generate_series($1::timestamptz, $2::timestamptz - interval '15 minutes', interval '15 minutes') b,
		     generate_series(1, 200) q`, from, to)
	if err != nil {
		b.Fatal(err)
	}
	// The projector keeps the daily rollups current; here they are derived
	// from the rows loaded directly.
	if err := s.RefreshDayRollups(ctx, from, to); err != nil {
		b.Fatal(err)
	}
	for _, tbl := range []string{"rollup_queue", "rollup_queue_day"} {
		if _, err := s.pool.Exec(ctx, `VACUUM ANALYZE `+tbl); err != nil {
			b.Fatal(err)
		}
	}
	return s, from, to
}

// BenchmarkIntervalReportQueueHourly: one queue, 60-minute intervals, a month.
func BenchmarkIntervalReportQueueHourly(b *testing.B) {
	s, from, to := monthOfRollups(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows, err := s.IntervalReport(context.Background(), from, to, time.Hour, []string{"q7"})
		if err != nil || len(rows) != 31*24 {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
	}
}

// BenchmarkIntervalReportAllQueuesDaily: all 200 queues, Moscow days, a month.
func BenchmarkIntervalReportAllQueuesDaily(b *testing.B) {
	s, from, to := monthOfRollups(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows, err := s.IntervalReport(context.Background(), from, to, Day, nil)
		if err != nil || len(rows) != 32*200 { // Moscow days: the UTC month starts at 03:00 MSK
			b.Fatalf("%d rows, %v", len(rows), err)
		}
	}
}

// BenchmarkProject measures the projector: events → calls, visits, rollups.
func BenchmarkProject(b *testing.B) {
	s := newStore(b, nil)
	ctx := context.Background()
	start := time.Date(2024, 3, 10, 6, 0, 0, 0, time.UTC)
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evs := synth(uint64(i), 2000, start, 10*time.Hour)
		for j := range evs {
			evs[j].ID = fmt.Sprintf("%d-%s", i, evs[j].ID)
			evs[j].CallID = fmt.Sprintf("%d-%s", i, evs[j].CallID)
		}
		if err := s.InsertEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
		total += len(evs)
		b.StartTimer()
		if _, err := s.Project(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
}
