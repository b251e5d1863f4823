package reporting

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/promtest"
)

// TestEveryRuleAndPanelHasEveryQueue starts the metrics for a config of
// three queues, lets a real Prometheus scrape them before any call (every
// counter and histogram series a rule or panel reads must already be
// there, at 0), then sends the simplest traffic — one answered call per
// queue, no overflow, no escalation, no wrap-up, one abandon in sales —
// and evaluates every recording rule, alert expression and dashboard
// panel query: each must succeed, and each query with a queue (or agent)
// label must give a series for every configured queue (agent). The
// ratios whose numerator and denominator move in the same scrape are
// exact (Prometheus extrapolates both alike): abandonment sales 1/2,
// support and l2 0; counter SL "answered" 1 everywhere, "offered" sales
// 1/2; AHT 60 s.
func TestEveryRuleAndPanelHasEveryQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	queues := []string{"sales", "support", "l2"}
	agents := []string{"a1", "a2", "b1"}
	member := map[string][]string{"a1": {"sales"}, "a2": {"support"}, "b1": {"l2"}}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{
		Config:   &Config{Queues: map[string]QueueConfig{"l2": {Line: LineSecond}}},
		Queues:   queues,
		Agents:   agents,
		QueuesOf: func(a string) []string { return member[a] },
		Writer:   fixedStats{},
	})
	if err != nil {
		t.Fatal(err)
	}
	required := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hotline_agents_required", Help: "Agents needed now (Erlang)."}, []string{"queue"})
	reg.MustRegister(required)
	for _, q := range queues {
		required.WithLabelValues(q).Set(1)
	}

	// Scrapes wait while a batch of events is published, so every counter
	// of one call moves between the same two scrapes.
	var gate sync.RWMutex
	var scrapes atomic.Int64
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gate.RLock()
		h.ServeHTTP(w, r)
		gate.RUnlock()
		scrapes.Add(1)
	}))
	defer srv.Close()
	rulesPath, err := filepath.Abs(filepath.Join("..", "deploy", "prometheus", "rules", "hotline.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	prom := promtest.Start(t, rulesPath, strings.TrimPrefix(srv.URL, "http://"))
	prom.WaitFor(t, "two scrapes", func() bool { return prom.Scrapes() >= 2 })

	// Before any call: the zero series.
	perQueue := []string{
		"hotline_calls_offered_total", "hotline_calls_answered_total", "hotline_calls_answered_within_threshold_total",
		"hotline_calls_abandoned_total", "hotline_calls_short_abandoned_total", "hotline_talk_seconds_total", "hotline_wrapup_seconds_total",
	}
	for _, o := range WaitOutcomes {
		perQueue = append(perQueue, fmt.Sprintf(`hotline_queue_wait_seconds_count{outcome=%q}`, o))
	}
	for _, name := range perQueue {
		res, err := prom.QueryVector(name)
		if err != nil {
			t.Fatal(err)
		}
		requireEvery(t, "fresh "+name, res, "queue", queues, 0)
	}
	for _, name := range []string{"hotline_agent_answered_total", "hotline_agent_missed_total", "hotline_agent_escalations_total",
		"hotline_agent_talk_seconds_total", "hotline_agent_wrapup_seconds_total", "hotline_agent_ring_seconds_total"} {
		res, err := prom.QueryVector(name)
		if err != nil {
			t.Fatal(err)
		}
		requireEvery(t, "fresh "+name, res, "agent", agents, 0)
	}
	res, err := prom.QueryVector("hotline_survey_calls_total")
	if err != nil {
		t.Fatal(err)
	}
	requireEvery(t, "fresh hotline_survey_calls_total", res, "result", SurveyResults[:], 0)

	// The simplest traffic.
	g := &gen{}
	now := time.Now().UTC()
	var evs []eventlog.Event
	for _, a := range agents {
		evs = append(evs, g.ev(now.Add(-5*time.Minute), eventlog.AgentState, "", "", a, map[string]string{"from": "logged-out", "to": "available"}))
	}
	for i, q := range queues {
		call := "c-" + q
		evs = append(evs, g.answered(call, fmt.Sprintf("+7900000000%d", i), q, now.Add(-3*time.Minute), sec(5), agents[i], sec(60), 0)...)
	}
	evs = append(evs, g.abandoned("ab-sales", "sales", now.Add(-2*time.Minute), sec(30))...)
	evs = append(evs,
		g.ev(now.Add(-time.Minute), eventlog.CallDisposition, "c-sales", "sales", "a1", nil),
		g.ev(now.Add(-time.Minute), eventlog.SurveyCompleted, "c-sales", "", "", map[string]string{"rating": "5", "solved": "yes"}))
	evs[len(evs)-2].Reason = "resolved"
	for i := range evs {
		if evs[i].Type == eventlog.QueueJoined {
			evs[i] = evs[i].WithDuration(eventlog.KeyEWT, 10*time.Second)
		}
	}
	SortEvents(evs)
	gate.Lock()
	for _, e := range evs {
		m.Publish(e)
	}
	calls, _ := visitsOf(evs, nil)
	m.SetReportFCR(ComputeFCR(calls, calls, DefaultRepeatWindow, now.Add(8*24*time.Hour)))
	gate.Unlock()
	after := int(scrapes.Load())
	prom.WaitFor(t, "two scrapes after the traffic", func() bool { return int(scrapes.Load()) >= after+2 })
	prom.WaitFor(t, "their ingestion", func() bool { return prom.Scrapes() >= after+2 })
	prom.WaitFor(t, "the recording rules on them", func() bool {
		res, err := prom.QueryVector(`queue:hotline_service_level_offered:ratio15m{queue="sales"}`)
		return err == nil && len(res) == 1 && res[0].Value == 0.5
	})

	for _, r := range promtest.Rules(t, rulesPath) {
		q := r.Expr
		if r.Record != "" {
			q = r.Record
		}
		res, err := prom.QueryVector(q)
		if err != nil {
			t.Errorf("rule %s: %v", r.Name(), err)
			continue
		}
		if strings.HasPrefix(r.Record, "queue:") {
			requireEvery(t, "rule "+r.Name(), res, "queue", queues, -1)
		}
	}
	for name, q := range promtest.DashboardQueries(t, filepath.Join("..", "deploy", "grafana", "dashboards", "hotline.json")) {
		res, err := prom.QueryVector(q)
		if err != nil {
			t.Errorf("%s: %s: %v", name, q, err)
			continue
		}
		if len(res) == 0 {
			t.Errorf("%s: %s: no series", name, q)
			continue
		}
		for _, l := range []string{"queue", "from_queue"} {
			if _, ok := res[0].Labels[l]; ok {
				requireEvery(t, name, res, l, queues, -1)
			}
		}
		if _, ok := res[0].Labels["agent"]; ok {
			requireEvery(t, name, res, "agent", agents, -1)
		}
	}

	exact := map[string]map[string]float64{
		`sum by (queue) (increase(hotline_calls_abandoned_total[1h])) / sum by (queue) (increase(hotline_calls_offered_total[1h]))`: {"sales": 0.5, "support": 0, "l2": 0},
		`queue:hotline_service_level_answered:ratio15m`: {"sales": 1, "support": 1, "l2": 1},
		`queue:hotline_service_level_offered:ratio15m`:  {"sales": 0.5, "support": 1, "l2": 1},
		`(sum by (queue) (increase(hotline_talk_seconds_total[1h])) + sum by (queue) (increase(hotline_wrapup_seconds_total[1h]))) / sum by (queue) (increase(hotline_calls_answered_total[1h]))`: {"sales": 60, "support": 60, "l2": 60},
		`queue:hotline_calls_lost:increase15m`: {"sales": 0, "support": 0, "l2": 0},
	}
	for q, want := range exact {
		res, err := prom.QueryVector(q)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, s := range res {
			got[s.Labels["queue"]] = s.Value
		}
		for queue, w := range want {
			if v, ok := got[queue]; !ok || math.Abs(v-w) > 1e-9 {
				t.Errorf("%s {queue=%q} = %v (present %v), want %v", q, queue, v, ok, w)
			}
		}
	}
}

// requireEvery fails unless res has a series for every value of label;
// with want >= 0 every one of them must equal want.
func requireEvery(t *testing.T, what string, res []promtest.Sample, label string, values []string, want float64) {
	t.Helper()
	got := map[string]float64{}
	for _, s := range res {
		got[s.Labels[label]] = s.Value
	}
	for _, v := range values {
		x, ok := got[v]
		switch {
		case !ok:
			t.Errorf("%s: no series for %s=%q (got %v)", what, label, v, got)
		case want >= 0 && x != want:
			t.Errorf("%s{%s=%q} = %v, want %v", what, label, v, x, want)
		}
	}
}
