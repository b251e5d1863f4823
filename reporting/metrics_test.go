package reporting

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

type fixedStats WriterStats

func (f fixedStats) Stats() WriterStats { return WriterStats(f) }

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestMetrics feeds the hand-computed case of TestQueueFormulas and checks
// counters, rolling SL gauges (same values as the formulas), the Moscow
// "today" boundary and promtool's lint of the exposition.
func TestMetrics(t *testing.T) {
	// Day of the test: 2024-03-10; Moscow midnight is 21:00 UTC.
	base := time.Date(2024, 3, 10, 20, 50, 0, 0, time.UTC)
	now := base
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{Now: func() time.Time { return now },
		Config: &Config{Queues: map[string]QueueConfig{"l2": {Threshold: 45 * time.Second}}},
		Writer: fixedStats{Buffered: 3, SpoolEvents: 7, SpoolBytes: 700, Written: 10}})
	if err != nil {
		t.Fatal(err)
	}
	g := &gen{}
	var evs []eventlog.Event
	evs = append(evs, g.answered("c1", "+79000000001", "sales", base, sec(10), "a1", sec(100), sec(10))...)
	evs = append(evs, g.answered("c2", "+79000000002", "sales", base.Add(time.Minute), sec(20), "a1", sec(200), sec(20))...)
	evs = append(evs, g.answered("c3", "+79000000003", "sales", base.Add(2*time.Minute), sec(30), "a2", sec(300), sec(30))...)
	evs = append(evs, g.abandoned("c4", "sales", base.Add(3*time.Minute), sec(3))...)
	evs = append(evs, g.abandoned("c5", "sales", base.Add(4*time.Minute), sec(15))...)
	evs = append(evs, g.abandoned("c6", "sales", base.Add(5*time.Minute), sec(40))...)
	t7 := base.Add(6 * time.Minute)
	evs = append(evs,
		g.ev(t7, eventlog.QueueJoined, "c7", "sales", "", nil),
		g.ev(t7.Add(sec(25)), eventlog.QueueOverflowed, "c7", "sales", "", map[string]string{"wait_ms": "25000", "to_queue": "backup"}),
		g.ev(t7.Add(sec(25)), eventlog.QueueJoined, "c7", "backup", "", nil),
		g.ev(t7.Add(sec(30)), eventlog.QueueAnswered, "c7", "backup", "a3", map[string]string{"wait_ms": "5000"}),
		g.ev(t7.Add(sec(40)), eventlog.CallEscalated, "c7", "backup", "a3", map[string]string{"to_queue": "l2"}),
		g.ev(t7.Add(sec(40)), eventlog.QueueJoined, "c7", "l2", "", map[string]string{"escalated_from": "backup"}),
		g.ev(t7.Add(sec(80)), eventlog.QueueAnswered, "c7", "l2", "b1", map[string]string{"wait_ms": "40000"}),
		g.ev(t7.Add(sec(90)), eventlog.CallDisposition, "c7", "l2", "b1", nil),
		// Still waiting at scrape time.
		g.ev(base.Add(9*time.Minute), eventlog.QueueJoined, "c8", "sales", "", nil),
	)
	evs[len(evs)-2].Reason = "resolved"
	SortEvents(evs)
	for _, e := range evs {
		m.Publish(e)
	}
	// Survey results arrive the next day: the line is remembered.
	m.Publish(g.ev(base.Add(time.Minute), eventlog.SurveyCompleted, "c1", "", "", map[string]string{"rating": "4", "solved": "yes"}))
	m.Publish(g.ev(base.Add(time.Minute), eventlog.SurveyCompleted, "c7", "", "", map[string]string{"rating": "2", "solved": "no"}))
	now = base.Add(10 * time.Minute) // 21:00 UTC = 00:00 Moscow, 11 March

	for _, c := range []struct {
		vec  *prometheus.CounterVec
		q    string
		want float64
	}{
		{m.offered, "sales", 8}, {m.answered, "sales", 3}, {m.withinT, "sales", 2}, {m.abandoned, "sales", 3},
		{m.shortAb, "sales", 1}, {m.offered, "backup", 1}, {m.withinT, "l2", 1},
	} {
		if got := counterValue(t, c.vec.WithLabelValues(c.q)); got != c.want {
			t.Errorf("%v{%s} = %v, want %v", c.vec, c.q, got, c.want)
		}
	}
	if got := counterValue(t, m.escalations.WithLabelValues("backup", "l2")); got != 1 {
		t.Errorf("escalations = %v", got)
	}
	for _, c := range []struct {
		formula string
		want    float64
	}{{"answered", 2.0 / 4}, {"offered", 2.0 / 6}, {"removed", 4.0 / 7}} {
		for _, w := range []string{Window15m, Window1h} {
			got, ok := gaugeValue(t, reg, "hotline_service_level_ratio", map[string]string{"queue": "sales", "formula": c.formula, "window": w})
			if !ok || got != c.want {
				t.Errorf("SL %s %s = %v (%v), want %v", c.formula, w, got, ok, c.want)
			}
		}
	}
	// Moscow midnight has passed: "today" is empty, so the series is absent.
	if v, ok := gaugeValue(t, reg, "hotline_service_level_ratio", map[string]string{"queue": "sales", "formula": "answered", "window": WindowToday}); ok {
		t.Errorf("today after Moscow midnight = %v, want absent", v)
	}
	// A call answered just after midnight counts today.
	m.Publish(g.ev(now.Add(time.Second), eventlog.QueueJoined, "c9", "sales", "", nil))
	m.Publish(g.ev(now.Add(4*time.Second), eventlog.QueueAnswered, "c9", "sales", "a1", map[string]string{"wait_ms": "3000"}))
	now = now.Add(time.Minute)
	if v, ok := gaugeValue(t, reg, "hotline_service_level_ratio", map[string]string{"queue": "sales", "formula": "answered", "window": WindowToday}); !ok || v != 1 {
		t.Errorf("today = %v (%v), want 1", v, ok)
	}
	if v, _ := gaugeValue(t, reg, "hotline_csi_score", map[string]string{"line": LineFirst}); v != 75 {
		t.Errorf("CSI first = %v, want 75", v)
	}
	if v, _ := gaugeValue(t, reg, "hotline_csi_score", map[string]string{"line": LineSecond}); v != 25 {
		t.Errorf("CSI second = %v, want 25", v)
	}
	// FCR groups a call by the line of its FIRST answered visit
	// (docs/metrics.md, as the report does): c7 was first answered by
	// "backup", so its "resolved" is first line's, and second line has no
	// FCR population here. (This test expected second/disposition = 1, the
	// line of the last answer: issue 16 item 2.)
	if v, _ := gaugeValue(t, reg, "hotline_fcr_ratio", map[string]string{"line": LineFirst, "source": FCRDisposition}); v != 1 {
		t.Errorf("FCR first/disposition = %v, want 1", v)
	}
	if v, ok := gaugeValue(t, reg, "hotline_fcr_ratio", map[string]string{"line": LineSecond, "source": FCRDisposition}); ok {
		t.Errorf("FCR second/disposition = %v, want absent", v)
	}
	if v, _ := gaugeValue(t, reg, "hotline_fcr_ratio", map[string]string{"line": LineFirst, "source": FCRSurvey}); v != 0.5 {
		t.Errorf("FCR first/survey = %v, want 0.5 (c1 yes, c7 no)", v)
	}
	if v, _ := gaugeValue(t, reg, "hotline_calls_waiting", map[string]string{"queue": "sales"}); v != 1 {
		t.Errorf("waiting = %v, want 1", v)
	}
	if v, _ := gaugeValue(t, reg, "hotline_reporting_spool_events", nil); v != 7 {
		t.Errorf("spool events = %v", v)
	}

	// promtool lint of the exposition.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	text := buf.String()
	for _, bad := range []string{"+7900", "call_id", "c1\""} {
		if strings.Contains(text, bad) {
			t.Errorf("exposition contains %q", bad)
		}
	}
	if !strings.Contains(text, `hotline_queue_wait_seconds_bucket{outcome="answered",queue="sales",le="45"}`) ||
		!strings.Contains(text, `le="20"`) {
		t.Errorf("histogram buckets lack the thresholds:\n%s", text)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if testing.Short() {
			t.Skip("promtool not installed (Debian package prometheus)")
		}
		t.Fatal("promtool not installed: apt-get install prometheus")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsResumedWait: in a process restarted while a caller waited, the
// resumed queue.joined is not a new offer, and the answer measures the wait
// from the first join (joined_at): 25 s, over the 20 s threshold.
func TestMetricsResumedWait(t *testing.T) {
	base := time.Date(2024, 3, 10, 10, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{Now: func() time.Time { return base.Add(time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	g := &gen{}
	m.Publish(g.ev(base.Add(sec(15)), eventlog.QueueJoined, "c1", "sales", "",
		map[string]string{"resumed": "1", "joined_at": base.Format(time.RFC3339Nano)}))
	m.Publish(g.ev(base.Add(sec(25)), eventlog.QueueAnswered, "c1", "sales", "a1", nil))
	for _, c := range []struct {
		vec  *prometheus.CounterVec
		want float64
	}{{m.offered, 0}, {m.answered, 1}, {m.withinT, 0}} {
		if got := counterValue(t, c.vec.WithLabelValues("sales")); got != c.want {
			t.Errorf("%v = %v, want %v", c.vec, got, c.want)
		}
	}
}
