package reporting

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/eventlog"
)

// TestEWTAccuracy: announced waits against actual waits, computed by hand,
// agree in ComputeEWT, the store's EWTReport and /metrics.
//
//	EWT 30 s, wait 20 s → −10      EWT 10, wait 25 → +15
//	EWT 20, wait 20 → 0            EWT 60, wait 40 → −20
//	EWT only on queue.answered: 5, wait 5 → 0
//	abandoned (EWT 10) and answered without an estimate: not counted
//
// |error| = 10, 15, 0, 20, 0: MAE 45/5 = 9 s; p90 at rank 0.9·4 = 3.6 of
// 0, 0, 10, 15, 20 = 15 + 0.6·5 = 18 s; bias −15/5 = −3 s.
func TestEWTAccuracy(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	ev := func(at time.Time, typ eventlog.Type, call, agent string) eventlog.Event {
		n++
		return eventlog.Event{ID: fmt.Sprintf("e%06d", n), At: at, Type: typ, CallID: call, Queue: "sales", Agent: agent}
	}
	var evs []eventlog.Event
	for i, c := range []struct{ ewt, wait float64 }{{30, 20}, {10, 25}, {20, 20}, {60, 40}} {
		id := fmt.Sprintf("c%d", i)
		at := t0.Add(time.Duration(i) * time.Minute)
		evs = append(evs,
			ev(at, eventlog.QueueJoined, id, "").WithDuration(eventlog.KeyEWT, sec(c.ewt)),
			ev(at.Add(sec(c.wait)), eventlog.QueueAnswered, id, "a1").WithDuration(eventlog.KeyWait, sec(c.wait)).WithDuration(eventlog.KeyEWT, sec(c.ewt)),
			ev(at.Add(sec(c.wait+60)), eventlog.CallEnded, id, ""))
	}
	at := t0.Add(5 * time.Minute)
	evs = append(evs,
		ev(at, eventlog.QueueJoined, "c4", ""),
		ev(at.Add(sec(5)), eventlog.QueueAnswered, "c4", "a1").WithDuration(eventlog.KeyWait, sec(5)).WithDuration(eventlog.KeyEWT, sec(5)),
		ev(at, eventlog.QueueJoined, "c5", "").WithDuration(eventlog.KeyEWT, sec(10)),
		ev(at.Add(sec(30)), eventlog.QueueAbandoned, "c5", "").WithDuration(eventlog.KeyWait, sec(30)),
		ev(at, eventlog.QueueJoined, "c6", ""),
		ev(at.Add(sec(50)), eventlog.QueueAnswered, "c6", "a1").WithDuration(eventlog.KeyWait, sec(50)))
	SortEvents(evs)
	check := func(where string, f EWTFigures) {
		t.Helper()
		mae, _ := f.MAE.Value()
		bias, _ := f.Bias.Value()
		if f.Queue != "sales" || f.Checked != 5 || math.Abs(mae-9) > 1e-9 || f.P90 == nil || math.Abs(*f.P90-18) > 1e-9 || math.Abs(bias+3) > 1e-9 {
			t.Errorf("%s: %+v (p90 %v), want 5 checked, MAE 9, p90 18, bias −3", where, f, f.P90)
		}
	}
	_, vs := visitsOf(evs, nil)
	fs := ComputeEWT(vs)
	if len(fs) != 1 {
		t.Fatalf("ComputeEWT: %+v", fs)
	}
	check("ComputeEWT", fs[0])

	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{Now: func() time.Time { return t0.Add(time.Hour) }, Queues: []string{"sales", "idle"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		m.Publish(e)
	}
	for stat, want := range map[string]float64{"mae": 9, "p90": 18, "bias": -3} {
		if v, ok := gaugeValue(t, reg, "hotline_ewt_error_today_seconds", map[string]string{"queue": "sales", "stat": stat}); !ok || math.Abs(v-want) > 1e-9 {
			t.Errorf("hotline_ewt_error_today_seconds{stat=%s} = %v (%v), want %v", stat, v, ok, want)
		}
	}
	if v, ok := gaugeValue(t, reg, "hotline_ewt_error_today_seconds", map[string]string{"queue": "idle", "stat": "mae"}); ok {
		t.Errorf("idle queue EWT MAE = %v, want absent", v)
	}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hotline_ewt_abs_error_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			q := mt.GetLabel()[0].GetValue()
			got[`hotline_ewt_abs_error_seconds_sum{queue="`+q+`"}`] = mt.GetHistogram().GetSampleSum()
			got[`hotline_ewt_abs_error_seconds_count{queue="`+q+`"}`] = float64(mt.GetHistogram().GetSampleCount())
		}
	}
	if got[`hotline_ewt_abs_error_seconds_sum{queue="sales"}`] != 45 || got[`hotline_ewt_abs_error_seconds_count{queue="sales"}`] != 5 ||
		got[`hotline_ewt_abs_error_seconds_count{queue="idle"}`] != 0 {
		t.Errorf("EWT histogram: %v", got)
	}
	if _, ok := got[`hotline_ewt_abs_error_seconds_count{queue="idle"}`]; !ok {
		t.Error("EWT histogram of the idle queue not zero-initialised")
	}

	if testing.Short() {
		return
	}
	s := newStore(t, nil)
	ctx := context.Background()
	if err := s.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	rep, err := s.EWTReport(ctx, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep) != 1 {
		t.Fatalf("EWTReport: %+v", rep)
	}
	check("EWTReport", rep[0])
}
