package reporting

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/eventlog"
)

// Hand-computed callback figures: three requests in q (key, max-wait,
// ivr); c1 connected on the second attempt 10 min after its request,
// c2 connected after 40 min (over T = 30 min), c3 expired after one
// no-answer; a cancelled one counts nowhere but requested.
func TestComputeCallbacks(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	res := func(id, reason string, attempt int, final bool, wait time.Duration) eventlog.Event {
		e := eventlog.Event{Type: eventlog.CallbackResult, CallID: id, Queue: "q", Reason: reason, At: at}.
			WithInt(eventlog.KeyAttempt, attempt).WithFlag(eventlog.KeyFinal, final)
		if reason == "connected" {
			e = e.WithDuration(eventlog.KeyWait, wait)
		}
		return e
	}
	evs := []eventlog.Event{
		{Type: eventlog.CallbackRequested, CallID: "c1", Queue: "q", Reason: "key", At: at},
		{Type: eventlog.CallbackRequested, CallID: "c2", Queue: "q", Reason: "max-wait", At: at},
		{Type: eventlog.CallbackRequested, CallID: "c3", Queue: "q", Reason: "ivr", At: at},
		{Type: eventlog.CallbackRequested, CallID: "c4", Queue: "q", Reason: "key", At: at},
		res("c1", "no-answer", 1, false, 0),
		res("c1", "connected", 2, true, 10*time.Minute),
		res("c2", "connected", 1, true, 40*time.Minute),
		res("c3", "no-answer", 1, false, 0),
		res("c3", "expired", 1, true, 0),
		res("c4", "interrupted", 1, false, 0), // a dial cut by a crash: an attempt
		res("c4", "interrupted", 2, true, 0),  // and the last one
	}
	cfg := &Config{Queues: map[string]QueueConfig{"q": {CallbackThreshold: 30 * time.Minute}}}
	fs := ComputeCallbacks(evs, cfg)
	if len(fs) != 1 {
		t.Fatalf("%d queues", len(fs))
	}
	f := fs[0]
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"requested", f.Requested, 4}, {"attempted", f.Attempted, 6}, {"connected", f.Connected, 2},
		{"within T", f.ConnectedWithinT, 1}, {"failed", f.Failed, 2}, {"failed expired", f.FailedBy["expired"], 1},
		{"failed interrupted", f.FailedBy["interrupted"], 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if v, _ := f.SL.Value(); v != 1.0/4 {
		t.Errorf("SL %v, want 1/4", f.SL)
	}
	if *f.WaitAvg != 1500 || *f.WaitMax != 2400 {
		t.Errorf("wait avg %v max %v, want 1500 and 2400", *f.WaitAvg, *f.WaitMax)
	}

	// /metrics counts the same stream the same way.
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{Config: cfg, Queues: []string{"q"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		m.Publish(e)
	}
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"connected", counterValue(t, m.cb.connected.WithLabelValues("q")), 2},
		{"within T", counterValue(t, m.cb.withinT.WithLabelValues("q")), 1},
		{"failed expired", counterValue(t, m.cb.failed.WithLabelValues("q", "expired")), 1},
	} {
		if c.got != c.want {
			t.Errorf("/metrics %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if n := counterValue(t, m.cb.requested.WithLabelValues("q", "key")); n != 2 {
		t.Errorf("requested by key %v, want 2", n)
	}
	if n := counterValue(t, m.cb.attempts.WithLabelValues("q", "no-answer")); n != 2 {
		t.Errorf("no-answer attempts %v, want 2", n)
	}
	if n := counterValue(t, m.cb.attempts.WithLabelValues("q", "interrupted")); n != 2 {
		t.Errorf("interrupted attempts %v, want 2", n)
	}
}
