package reporting

import (
	"context"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsAgents checks hotline_agents{queue,state} from agent.state
// events with the Engine's state names, zeros for idle queues and for
// configured agents that never logged in.
func TestMetricsAgents(t *testing.T) {
	now := time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	member := map[string][]string{"a1": {"sales", "support"}, "a2": {"sales"}, "a3": {"support"}, "b1": {"l2"}}
	m, err := NewMetrics(reg, MetricsOptions{
		Now:      func() time.Time { return now },
		Queues:   []string{"sales", "support", "l2", "empty"},
		Agents:   []string{"a1", "a2", "a3", "b1"},
		QueuesOf: func(a string) []string { return member[a] },
	})
	if err != nil {
		t.Fatal(err)
	}
	g := &gen{}
	st := func(agent, from, to string) {
		m.Publish(g.ev(now, eventlog.AgentState, "", "", agent, map[string]string{"from": from, "to": to}))
	}
	st("a1", "logged-out", "available")
	st("a2", "logged-out", "available")
	st("a2", "available", "ringing")
	st("a2", "ringing", "on-call")
	st("a3", "logged-out", "paused")
	st("a3", "paused", "available")
	st("a3", "available", "ringing")
	st("a3", "ringing", "on-call")
	st("a3", "on-call", "wrap-up")
	st("b1", "logged-out", "mystery")

	cases := []struct {
		queue, state string
		want         float64
	}{
		{"sales", AgentAvailable, 1}, {"sales", AgentOnCall, 1}, {"sales", AgentLoggedOut, 0}, {"sales", AgentPaused, 0},
		{"support", AgentAvailable, 1}, {"support", AgentWrapup, 1}, {"support", AgentOnCall, 0},
		{"l2", AgentOther, 1}, {"l2", AgentLoggedOut, 0},
		{"empty", AgentAvailable, 0}, {"empty", AgentLoggedOut, 0},
	}
	for _, c := range cases {
		got, ok := gaugeValue(t, reg, "hotline_agents", map[string]string{"queue": c.queue, "state": c.state})
		if !ok || got != c.want {
			t.Errorf("hotline_agents{queue=%q,state=%q} = %v (present %v), want %v", c.queue, c.state, got, ok, c.want)
		}
	}
	if _, ok := gaugeValue(t, reg, "hotline_agents", map[string]string{"queue": "sales", "state": AgentOther}); ok {
		t.Error(`hotline_agents{queue="sales",state="other"} exported with 0; want absent`)
	}
	for _, q := range []string{"sales", "empty"} {
		if v, ok := gaugeValue(t, reg, "hotline_calls_waiting", map[string]string{"queue": q}); !ok || v != 0 {
			t.Errorf("hotline_calls_waiting{queue=%q} = %v (present %v), want 0", q, v, ok)
		}
		if v, ok := gaugeValue(t, reg, "hotline_queue_longest_wait_seconds", map[string]string{"queue": q}); !ok || v != 0 {
			t.Errorf("longest wait{queue=%q} = %v (present %v), want 0", q, v, ok)
		}
	}
	// A waiting call, then its end: back to 0, not absent.
	m.Publish(g.ev(now, eventlog.QueueJoined, "c1", "sales", "", nil))
	now = now.Add(30 * time.Second)
	if v, _ := gaugeValue(t, reg, "hotline_queue_longest_wait_seconds", map[string]string{"queue": "sales"}); v != 30 {
		t.Errorf("longest wait = %v, want 30", v)
	}
	m.Publish(g.ev(now, eventlog.CallEnded, "c1", "", "", nil))
	if v, ok := gaugeValue(t, reg, "hotline_calls_waiting", map[string]string{"queue": "sales"}); !ok || v != 0 {
		t.Errorf("after hang-up waiting = %v (present %v), want 0", v, ok)
	}
}

func TestCanonicalState(t *testing.T) {
	for in, want := range map[string]string{
		"logged-out": AgentLoggedOut, "": AgentLoggedOut, "available": AgentAvailable, "ready": AgentAvailable,
		"ringing": AgentRinging, "on-call": AgentOnCall, "on_call": AgentOnCall, "wrap-up": AgentWrapup,
		"wrapup": AgentWrapup, "paused": AgentPaused, "lunch": AgentOther,
	} {
		if got := CanonicalState(in); got != want {
			t.Errorf("CanonicalState(%q) = %q, want %q", in, got, want)
		}
	}
	if ClassifyState("logged-out") != StateLoggedOut {
		t.Error(`ClassifyState("logged-out") is not logged out (the Engine's name)`)
	}
}

// TestMetricsSweep checks that line marks expire after lineTTL whatever the
// second of the minute, that a re-answered call keeps its newer mark, and
// that stale waiting visits are dropped.
func TestMetricsSweep(t *testing.T) {
	base := time.Date(2024, 3, 10, 9, 0, 17, 0, time.UTC)
	now := base
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{Now: func() time.Time { return now }, StaleWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	g := &gen{}
	for i, call := range []string{"c1", "c2", "c3"} {
		at := base.Add(time.Duration(i) * time.Minute)
		m.Publish(g.ev(at, eventlog.QueueJoined, call, "sales", "", nil))
		m.Publish(g.ev(at.Add(time.Second), eventlog.QueueAnswered, call, "sales", "a1", nil))
	}
	// c1 answered again a day later (a callback): its mark is renewed.
	m.Publish(g.ev(base.Add(24*time.Hour), eventlog.QueueJoined, "c1", "sales", "", nil))
	m.Publish(g.ev(base.Add(24*time.Hour+time.Second), eventlog.QueueAnswered, "c1", "sales", "a1", nil))
	m.Publish(g.ev(base.Add(24*time.Hour+2*time.Second), eventlog.QueueJoined, "lost", "sales", "", nil))
	if len(m.lines) != 3 {
		t.Fatalf("lines = %d, want 3", len(m.lines))
	}
	// 72 h after c2's answer (at second 18 of a minute, not 0).
	m.Publish(g.ev(base.Add(lineTTL+time.Minute+2*time.Second), eventlog.SurveySkipped, "x", "", "", nil))
	if _, ok := m.lines["c2"]; ok {
		t.Error("c2's line mark survived its TTL")
	}
	if _, ok := m.lines["c3"]; !ok {
		t.Error("c3's line mark dropped early")
	}
	if _, ok := m.lines["c1"]; !ok {
		t.Error("c1's renewed mark dropped")
	}
	now = base.Add(26 * time.Hour)
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.calls["lost"]; ok {
		t.Error("stale waiting visit not swept")
	}
}

// TestReportFCRGauges checks hotline_fcr_report_ratio from the database.
func TestReportFCRGauges(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	s := newStore(t, &Config{RepeatWindow: 24 * time.Hour})
	ctx := context.Background()
	day := time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)
	g := &gen{}
	var evs []eventlog.Event
	evs = append(evs, g.answered("c1", "+79001112233", "sales", day, sec(5), "a1", sec(60), 0)...)
	evs = append(evs, g.answered("c2", "+79004445566", "sales", day.Add(time.Hour), sec(5), "a1", sec(60), 0)...)
	evs = append(evs, g.abandoned("c3", "sales", day.Add(2*time.Hour), sec(30))...) // repeat of c1
	evs[len(evs)-4].Caller = "+79001112233"
	if err := s.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Project(ctx); err != nil {
		t.Fatal(err)
	}
	now := day.Add(36 * time.Hour)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RefreshFCR(ctx, s); err != nil {
		t.Fatal(err)
	}
	if v, ok := gaugeValue(t, reg, "hotline_fcr_report_ratio", map[string]string{"line": "all", "source": FCRRepeat}); !ok || v != 0.5 {
		t.Errorf("repeat FCR = %v (%v), want 0.5", v, ok)
	}
	if v, ok := gaugeValue(t, reg, "hotline_fcr_report_coverage_ratio", map[string]string{"line": "first", "source": FCRCombined}); !ok || v != 1 {
		t.Errorf("combined coverage = %v (%v), want 1", v, ok)
	}
}
