package reporting

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/promtest"
)

// lineTraffic is one round of realistic traffic on every queue: answered
// calls with rings, misses, talk and wrap-up, dispositions and surveys, a
// short and a long abandon, an overflow, an escalation to second line.
func lineTraffic(g *gen, round int, now time.Time) []eventlog.Event {
	var evs []eventlog.Event
	id := func(s string) string { return fmt.Sprintf("r%d-%s", round, s) }
	t := now.Add(-10 * time.Minute)
	for qi, q := range []string{"sales", "support"} {
		agent := []string{"a1", "a2"}[qi]
		for k, wait := range []float64{8, 15, 35} {
			call := id(fmt.Sprintf("%s-ans%d", q, k))
			ce := g.answered(call, fmt.Sprintf("+7900%07d", round*10+k), q, t, sec(wait), agent, sec(120+30*float64(k)), sec(20))
			ce = append(ce, g.ev(ce[len(ce)-1].At, eventlog.CallDisposition, call, q, agent, nil))
			ce[len(ce)-1].Reason = []string{"resolved", "not_resolved", "resolved"}[k]
			evs = append(evs, ce...)
			evs = append(evs,
				g.ev(t.Add(sec(1)), eventlog.AgentRingNoAnswer, call, q, "a3", map[string]string{"ring_ms": "4000"}),
				g.ev(t.Add(time.Minute), eventlog.SurveyScheduled, call, "", "", nil),
				g.ev(t.Add(2*time.Minute), eventlog.SurveyAttempt, call, "", "", nil))
			if k == 2 {
				evs = append(evs, g.ev(t.Add(3*time.Minute), eventlog.SurveyFailed, call, "", "", nil))
			} else {
				evs = append(evs, g.ev(t.Add(3*time.Minute), eventlog.SurveyCompleted, call, "", "",
					map[string]string{"rating": strconv.Itoa(3 + k), "solved": []string{"yes", "no"}[k]}))
			}
			t = t.Add(20 * time.Second)
		}
		evs = append(evs, g.abandoned(id(q+"-short"), q, t, sec(3))...)
		evs = append(evs, g.abandoned(id(q+"-long"), q, t, sec(50))...)
		ov := id(q + "-ov")
		evs = append(evs,
			g.ev(t, eventlog.QueueJoined, ov, q, "", nil),
			g.ev(t.Add(sec(60)), eventlog.QueueOverflowed, ov, q, "", map[string]string{"wait_ms": "60000", "to_queue": "support"}),
			g.ev(t.Add(sec(60)), eventlog.CallEnded, ov, "", "", nil))
	}
	// Escalation sales → l2.
	esc := id("esc")
	t = now.Add(-5 * time.Minute)
	evs = append(evs,
		g.ev(t, eventlog.QueueJoined, esc, "sales", "", nil),
		g.ev(t.Add(sec(5)), eventlog.QueueAnswered, esc, "sales", "a1", map[string]string{"wait_ms": "5000"}),
		g.ev(t.Add(sec(65)), eventlog.CallEscalated, esc, "sales", "a1", map[string]string{"to_queue": "l2"}),
		g.ev(t.Add(sec(65)), eventlog.CallCompleted, esc, "sales", "a1", map[string]string{"talk_ms": "60000"}),
		g.ev(t.Add(sec(65)), eventlog.QueueJoined, esc, "l2", "", map[string]string{"escalated_from": "sales"}),
		g.ev(t.Add(sec(80)), eventlog.QueueAnswered, esc, "l2", "b1", map[string]string{"wait_ms": "15000"}),
		g.ev(t.Add(sec(200)), eventlog.CallCompleted, esc, "l2", "b1", map[string]string{"talk_ms": "120000"}),
		g.ev(t.Add(sec(200)), eventlog.CallEnded, esc, "", "", nil),
		g.ev(t.Add(sec(230)), eventlog.WrapupEnded, esc, "l2", "b1", map[string]string{"wrapup_ms": "30000"}))
	// One caller still waiting.
	evs = append(evs, g.ev(now.Add(-40*time.Second), eventlog.QueueJoined, id("waiting"), "support", "", nil))
	// Every caller is told an estimated wait of 15 s.
	for i := range evs {
		if evs[i].Type == eventlog.QueueJoined {
			evs[i] = evs[i].WithDuration(eventlog.KeyEWT, 15*time.Second)
		}
	}
	SortEvents(evs)
	return evs
}

// TestDashboardQueries starts a real Prometheus (Debian package
// prometheus) scraping an in-test server that exposes the reporting
// Metrics after a realistic event sequence, and runs every Grafana panel
// query through its HTTP API: each must succeed and return a finite value.
// The recording and alerting rules are loaded too, so they are evaluated
// against real series.
func TestDashboardQueries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	queries := promtest.DashboardQueries(t, filepath.Join("..", "deploy", "grafana", "dashboards", "hotline.json"))

	reg := prometheus.NewRegistry()
	member := map[string][]string{"a1": {"sales"}, "a2": {"support"}, "a3": {"sales", "support"}, "b1": {"l2"}}
	m, err := NewMetrics(reg, MetricsOptions{
		Config:   &Config{Queues: map[string]QueueConfig{"l2": {Threshold: 60 * time.Second, Line: LineSecond, Target: 0.9}}},
		Queues:   []string{"sales", "support", "l2"},
		Agents:   []string{"a1", "a2", "a3", "b1"},
		QueuesOf: func(a string) []string { return member[a] },
		Writer:   fixedStats{Buffered: 12, SpoolEvents: 0, Written: 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The lead's staffing gauge (docs/staffing.md), as serve registers it.
	required := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hotline_agents_required", Help: "Agents needed now (Erlang)."}, []string{"queue"})
	reg.MustRegister(required)
	required.WithLabelValues("sales").Set(3)
	required.WithLabelValues("support").Set(2)

	g := &gen{}
	now := time.Now().UTC()
	for _, a := range []string{"a1", "a2", "a3", "b1"} {
		m.Publish(g.ev(now.Add(-time.Hour), eventlog.AgentState, "", "", a, map[string]string{"from": "logged-out", "to": "available"}))
	}
	for _, e := range lineTraffic(g, 1, now) {
		m.Publish(e)
	}
	calls, _ := visitsOf(lineTraffic(&gen{}, 1, now.Add(-10*24*time.Hour)), nil)
	m.SetReportFCR(ComputeFCR(calls, calls, DefaultRepeatWindow, now))

	var scrapes atomic.Int64
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		scrapes.Add(1)
	}))
	defer srv.Close()

	rules, err := filepath.Abs(filepath.Join("..", "deploy", "prometheus", "rules", "hotline.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	prom := promtest.Start(t, rules, strings.TrimPrefix(srv.URL, "http://"))
	prom.WaitFor(t, "first scrape", func() bool { return prom.Scrapes() >= 1 })
	// Second round: every counter moves between scrapes, so increase() and
	// rate() have something to measure.
	now = time.Now().UTC()
	for _, e := range lineTraffic(g, 2, now) {
		m.Publish(e)
	}
	after := int(scrapes.Load())
	prom.WaitFor(t, "two scrapes after the second round", func() bool { return int(scrapes.Load()) >= after+2 })
	prom.WaitFor(t, "their ingestion", func() bool { return prom.Scrapes() >= after+2 })

	for name, q := range queries {
		res, err := prom.Query(q)
		if err != nil {
			t.Errorf("%s: %s: %v", name, q, err)
			continue
		}
		finite := 0
		for _, v := range res {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				finite++
			}
		}
		if finite == 0 {
			t.Errorf("%s: %s: no finite value (%d series: %v)", name, q, len(res), res)
		}
	}
	// The recording rules evaluate on the same series.
	prom.WaitFor(t, "recording rules", func() bool {
		res, err := prom.Query(`queue:hotline_agents_logged_in:sum{queue="sales"}`)
		return err == nil && len(res) == 1 && res[0] == 2
	})
}
