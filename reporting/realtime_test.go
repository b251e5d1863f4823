package reporting

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/eventlog"
)

// TestRealTimeServiceLevel: with T = 20 s a caller becomes a miss of the
// "realtime" SL the moment their wait passes 20 s, while the other
// formulas still have nothing (or 100 %) until a call ends. Clock
// injected, no sleeps.
func TestRealTimeServiceLevel(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC) // 12:00 Moscow
	now := t0
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{Now: func() time.Time { return now }, Queues: []string{"sales", "idle"}})
	if err != nil {
		t.Fatal(err)
	}
	g := &gen{}
	sl := func(formula string) (float64, bool) {
		return gaugeValue(t, reg, "hotline_service_level_ratio", map[string]string{"queue": "sales", "formula": formula, "window": Window15m})
	}
	over := func(q string) float64 {
		v, ok := gaugeValue(t, reg, "hotline_calls_waiting_over_threshold", map[string]string{"queue": q})
		if !ok {
			t.Fatalf("hotline_calls_waiting_over_threshold{queue=%q} absent", q)
		}
		return v
	}
	// c1 answered in 5 s (a hit); c2..c5 join and wait.
	m.Publish(g.ev(t0, eventlog.QueueJoined, "c1", "sales", "", nil))
	m.Publish(g.ev(t0.Add(5*time.Second), eventlog.QueueAnswered, "c1", "sales", "a1", map[string]string{"wait_ms": "5000"}))
	for _, c := range []string{"c2", "c3", "c4", "c5"} {
		m.Publish(g.ev(t0.Add(10*time.Second), eventlog.QueueJoined, c, "sales", "", nil))
	}
	// At 30 s every waiting caller has waited exactly 20 s: within T.
	now = t0.Add(30 * time.Second)
	if v, ok := sl(FormulaRealTime); !ok || v != 1 || over("sales") != 0 {
		t.Errorf("at 30 s: realtime %v (%v), over T %v; want 1, 0", v, ok, over("sales"))
	}
	// At 30.001 s all four have passed T: 1 hit / (1 + 4 misses).
	now = t0.Add(30*time.Second + time.Millisecond)
	if v, ok := sl(FormulaRealTime); !ok || v != 0.2 {
		t.Errorf("realtime = %v (%v), want 0.2", v, ok)
	}
	if got := over("sales"); got != 4 {
		t.Errorf("waiting over T = %v, want 4", got)
	}
	if got := over("idle"); got != 0 {
		t.Errorf("idle waiting over T = %v, want 0", got)
	}
	for _, f := range []string{"answered", "offered", "removed"} {
		if v, ok := sl(f); !ok || v != 1 {
			t.Errorf("%s = %v (%v), want still 1: only the realtime SL sees the waiting callers", f, v, ok)
		}
	}
	// c2 answered at 40 s (a miss either way), c3 abandons at 45 s (a miss:
	// its wait passed T), c4 overflows (lost: a miss), c5 still waits.
	now = t0.Add(50 * time.Second)
	m.Publish(g.ev(t0.Add(40*time.Second), eventlog.QueueAnswered, "c2", "sales", "a1", map[string]string{"wait_ms": "30000"}))
	m.Publish(g.ev(t0.Add(45*time.Second), eventlog.QueueAbandoned, "c3", "sales", "", map[string]string{"wait_ms": "35000"}))
	m.Publish(g.ev(t0.Add(46*time.Second), eventlog.QueueOverflowed, "c4", "sales", "", map[string]string{"wait_ms": "36000"}))
	if v, ok := sl(FormulaRealTime); !ok || v != 0.2 || over("sales") != 1 {
		t.Errorf("after the outcomes: realtime %v (%v), over T %v; want 0.2, 1", v, ok, over("sales"))
	}
	// A short abandon within T is neither hit nor miss.
	m.Publish(g.ev(t0.Add(50*time.Second), eventlog.QueueJoined, "c6", "sales", "", nil))
	m.Publish(g.ev(t0.Add(53*time.Second), eventlog.QueueAbandoned, "c6", "sales", "", map[string]string{"wait_ms": "3000"}))
	now = t0.Add(55 * time.Second)
	if v, ok := sl(FormulaRealTime); !ok || v != 0.2 {
		t.Errorf("after a short abandon: realtime %v (%v), want 0.2", v, ok)
	}
	// Only waiting past T, nothing finished: realtime 0 %, others absent.
	now2 := t0.Add(2 * time.Hour)
	now = now2
	m.Publish(g.ev(now2.Add(-25*time.Second), eventlog.QueueJoined, "c7", "idle", "", nil))
	if v, ok := gaugeValue(t, reg, "hotline_service_level_ratio", map[string]string{"queue": "idle", "formula": FormulaRealTime, "window": Window15m}); !ok || v != 0 {
		t.Errorf("idle realtime = %v (%v), want 0", v, ok)
	}
	if v, ok := gaugeValue(t, reg, "hotline_service_level_ratio", map[string]string{"queue": "idle", "formula": "answered", "window": Window15m}); ok {
		t.Errorf("idle answered = %v, want absent", v)
	}
	// RealTimeSL on finished visits only, as a report would compute it.
	r := RealTimeSL(Counts{Answered: 2, AnsweredWithinT: 1, Abandoned: 2, AbandonedWithinT: 1, Overflowed: 1}, 1)
	if r.Num != 1 || r.Den != 5 {
		t.Errorf("RealTimeSL = %v/%v, want 1/5", r.Num, r.Den)
	}
}
