package reporting

import (
	"fmt"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// BenchmarkMetricsScrape measures one /metrics scrape (promhttp handler,
// text format, no compression) of a large centre: 200 queues, 2,000 agents
// each in 3 queues, an hour of finished calls (~30 per queue) in the SL
// windows, 5 calls waiting per queue.
func BenchmarkMetricsScrape(b *testing.B) {
	const queues, agents = 200, 2000
	now := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	qname := func(i int) string { return fmt.Sprintf("q%03d", i%queues) }
	reg := prometheus.NewRegistry()
	var qs, as []string
	for i := 0; i < queues; i++ {
		qs = append(qs, qname(i))
	}
	for i := 0; i < agents; i++ {
		as = append(as, fmt.Sprintf("agent%04d", i))
	}
	m, err := NewMetrics(reg, MetricsOptions{
		Now: func() time.Time { return now }, Queues: qs, Agents: as,
		QueuesOf: func(a string) []string {
			var n int
			fmt.Sscanf(a, "agent%d", &n)
			return []string{qname(n), qname(n + 1), qname(n + 2)}
		},
		Writer: fixedStats{},
	})
	if err != nil {
		b.Fatal(err)
	}
	g := &gen{}
	states := []string{"available", "on-call", "wrap-up", "paused", "ringing"}
	for i, a := range as {
		m.Publish(g.ev(now.Add(-2*time.Hour), eventlog.AgentState, "", "", a, map[string]string{"from": "logged-out", "to": states[i%len(states)]}))
	}
	for i := 0; i < queues*30; i++ {
		q, agent := qname(i), as[i%agents]
		t := now.Add(-time.Duration(i%60) * time.Minute)
		for _, e := range g.answered(fmt.Sprintf("c%d", i), "+79000000000", q, t.Add(-3*time.Minute), sec(float64(i%40)), agent, sec(90), sec(10)) {
			m.Publish(e)
		}
	}
	for i := 0; i < queues*5; i++ {
		m.Publish(g.ev(now.Add(-time.Duration(i%90)*time.Second), eventlog.QueueJoined, fmt.Sprintf("w%d", i), qname(i), "", nil))
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{DisableCompression: true})
	req := httptest.NewRequest("GET", "/metrics", nil)
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		w.Body.Grow(4 << 20)
		h.ServeHTTP(w, req)
		size = w.Body.Len()
		io.Discard.Write(w.Body.Bytes())
	}
	b.ReportMetric(float64(size), "bytes/scrape")
	mfs, _ := reg.Gather()
	series := 0
	for _, mf := range mfs {
		series += len(mf.GetMetric())
	}
	b.ReportMetric(float64(series), "series")
}
