package reporting

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// BenchmarkInsertEventsWithCallers is BenchmarkInsertEvents with what real
// traffic carries: every call's events name its caller (one number per
// call, a number calling again now and then), so the callers' numbers are
// pseudonymized on the way in (personal_data).
func BenchmarkInsertEventsWithCallers(b *testing.B) {
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
				Caller: fmt.Sprintf("+7912%07d", call%20000), Data: map[string]string{"wait_ms": "12345"}}
		}
		if err := s.InsertEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}
