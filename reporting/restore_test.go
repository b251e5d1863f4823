package reporting

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/eventlog"
)

// TestRestoreAfterRestart: traffic, a restart (a new Metrics restored
// from PostgreSQL), more traffic; the restarted process's SL (every
// window and formula of the report), CSI and FCR gauges equal those of a
// process that never restarted and today's report. Clock injected.
func TestRestoreAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	cfg := &Config{Queues: map[string]QueueConfig{"l2": {Threshold: 60 * time.Second, Line: LineSecond}}}
	s := newStore(t, cfg)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC) // 12:00 Moscow
	clock := func() time.Time { return now }
	store := func(evs []eventlog.Event) {
		t.Helper()
		if err := s.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		for {
			n, err := s.Project(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
		}
	}
	opts := MetricsOptions{Config: cfg, Now: clock, Queues: []string{"sales", "support", "l2"}}
	regA := prometheus.NewRegistry() // never restarts
	mA, err := NewMetrics(regA, opts)
	if err != nil {
		t.Fatal(err)
	}
	regB := prometheus.NewRegistry() // the process before the restart
	mB, err := NewMetrics(regB, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := &gen{}
	// Round 1 differs from round 2 (same shape): two more long abandons
	// in sales, a late answer in support rated 1, not solved.
	first := lineTraffic(g, 1, now)
	first = append(first, g.abandoned("r1-extra-ab1", "sales", now.Add(-8*time.Minute), sec(45))...)
	first = append(first, g.abandoned("r1-extra-ab2", "sales", now.Add(-7*time.Minute), sec(30))...)
	late := g.answered("r1-extra-late", "+79005550000", "support", now.Add(-6*time.Minute), sec(50), "a2", sec(60), sec(10))
	disp := g.ev(now.Add(-4*time.Minute), eventlog.CallDisposition, "r1-extra-late", "support", "a2", nil)
	disp.Reason = "not_resolved"
	late = append(late, disp, g.ev(now.Add(-3*time.Minute), eventlog.SurveyCompleted, "r1-extra-late", "", "", map[string]string{"rating": "1", "solved": "no"}))
	first = append(first, late...)
	SortEvents(first)
	for _, e := range first {
		mA.Publish(e)
		mB.Publish(e)
	}
	store(first)

	// Restart five minutes later.
	now = now.Add(5 * time.Minute)
	regC := prometheus.NewRegistry()
	mC, err := NewMetrics(regC, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := mC.Restore(ctx, s); err != nil {
		t.Fatal(err)
	}
	if v, _ := gaugeValue(t, regC, "hotline_calls_offered_total", map[string]string{"queue": "sales"}); v != 0 {
		t.Errorf("restored counter offered{sales} = %v, want 0 (the old process exported them)", v)
	}
	if v, _ := gaugeValue(t, regC, "hotline_calls_waiting", map[string]string{"queue": "support"}); v != 0 {
		t.Errorf("restored waiting{support} = %v, want 0", v)
	}

	now = now.Add(25 * time.Minute)
	second := lineTraffic(g, 2, now)
	for _, e := range second {
		mA.Publish(e)
		mC.Publish(e)
	}
	store(second)

	dayStart, _ := Today(now, cfg.location())
	qs, err := s.QueueReport(ctx, dayStart, now)
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, q := range qs {
		for f, r := range map[string]Ratio{"answered": q.SL.Answered, "offered": q.SL.Offered, "removed": q.SL.Removed} {
			want, wok := r.Value()
			for _, w := range []string{WindowToday, Window1h, Window15m} {
				l := map[string]string{"queue": q.Queue, "formula": f, "window": w}
				gotC, cok := gaugeValue(t, regC, "hotline_service_level_ratio", l)
				gotA, aok := gaugeValue(t, regA, "hotline_service_level_ratio", l)
				if cok != aok || math.Abs(gotC-gotA) > 1e-12 {
					t.Errorf("SL %v: restarted %v (%v), never restarted %v (%v)", l, gotC, cok, gotA, aok)
				}
				if w == WindowToday && (cok != wok || math.Abs(gotC-want) > 1e-12) {
					t.Errorf("SL %v: restarted %v (%v), report %v (%v)", l, gotC, cok, want, wok)
				}
				compared++
			}
		}
	}
	if compared < 27 {
		t.Fatalf("compared %d SL series", compared)
	}
	csi, err := s.CSIReport(ctx, dayStart, now, ByLine)
	if err != nil {
		t.Fatal(err)
	}
	if len(csi) == 0 {
		t.Fatal("no CSI in the report")
	}
	for _, c := range csi {
		want, _ := c.Score.Value()
		got, ok := gaugeValue(t, regC, "hotline_csi_score", map[string]string{"line": c.Key})
		gotA, _ := gaugeValue(t, regA, "hotline_csi_score", map[string]string{"line": c.Key})
		if !ok || math.Abs(got-want) > 1e-9 || got != gotA {
			t.Errorf("CSI %s: restarted %v (%v), never restarted %v, report %v", c.Key, got, ok, gotA, want)
		}
	}
	fcr, err := s.FCRReport(ctx, dayStart, now, now)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fcr {
		if f.Line == "" {
			continue
		}
		for src, sig := range map[string]FCRSignal{FCRDisposition: f.Disposition, FCRSurvey: f.Survey} {
			want, wok := sig.Ratio.Value()
			l := map[string]string{"line": f.Line, "source": src}
			got, ok := gaugeValue(t, regC, "hotline_fcr_ratio", l)
			gotA, _ := gaugeValue(t, regA, "hotline_fcr_ratio", l)
			if ok != wok || math.Abs(got-want) > 1e-9 || got != gotA {
				t.Errorf("FCR %v: restarted %v (%v), never restarted %v, report %v (%v)", l, got, ok, gotA, want, wok)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no FCR in the report")
	}
}
