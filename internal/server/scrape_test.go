package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/internal/promtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestFreshServerEveryRuleAndPanel starts a real server (no database, no
// call yet) with three queues and three agents, lets a real Prometheus
// scrape it with the shipped rules, and evaluates every recording rule,
// alert expression and dashboard panel query: each must succeed, and every
// query that reads counters, histograms or always-exported gauges must
// give a series for every configured queue (agent) — the zero series
// exist from the start. Exempt: gauges that are absent by definition
// until there is something to measure (SL ratios, FCR, CSI, EWT of the
// day) and the staffing gauge (it needs a database).
func TestFreshServerEveryRuleAndPanel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	t.Setenv("DATABASE_URL", "")
	yaml := strings.Replace(testYAML(testIVR), `agents:
  - {id: a1, password: pw-a1, skills: {general: 1}}
queues:
  - {name: support, skill: general}
`, `agents:
  - {id: a1, password: pw-a1, skills: {general: 1}}
  - {id: a2, password: pw-a2, skills: {sales: 1}}
  - {id: a3, password: pw-a3, skills: {billing: 1, general: 1}}
queues:
  - {name: support, skill: general}
  - {name: sales, skill: sales}
  - {name: billing, skill: billing}
`, 1)
	cfg, err := config.Parse("unit.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Queues) != 3 || len(cfg.Agents) != 3 {
		t.Fatalf("config has %d queues, %d agents", len(cfg.Queues), len(cfg.Agents))
	}
	cfg.SIP.Listen = fmt.Sprintf("127.0.0.1:%d", sipptest.FreeUDPAndTCPPort(t))
	cfg.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", sipptest.FreeUDPAndTCPPort(t))
	s, err := New(cfg, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	queues := []string{"support", "sales", "billing"}
	agents := []string{"a1", "a2", "a3"}

	root := filepath.Join("..", "..", "deploy")
	rulesPath, err := filepath.Abs(filepath.Join(root, "prometheus", "rules", "hotline.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	prom := promtest.Start(t, rulesPath, s.HTTPAddr())
	prom.WaitFor(t, "three scrapes", func() bool { return prom.Scrapes() >= 3 })
	// The rules are evaluated every second: once one that reads gauges
	// exported regardless has every queue, wait two more scrapes.
	prom.WaitFor(t, "the recording rules", func() bool {
		res, err := prom.QueryVector(`queue:hotline_agents_logged_in:sum`)
		return err == nil && len(res) == len(queues)
	})
	n := prom.Scrapes()
	prom.WaitFor(t, "two more scrapes", func() bool { return prom.Scrapes() >= n+2 })

	exempt := []string{"hotline_service_level_ratio", "hotline_fcr_", "hotline_csi_score", "hotline_ewt_error_today", "hotline_agents_required"}
	isExempt := func(q string) bool {
		for _, e := range exempt {
			if strings.Contains(q, e) {
				return true
			}
		}
		return false
	}
	check := func(name, q string, perQueue bool) {
		t.Helper()
		res, err := prom.QueryVector(q)
		if err != nil {
			t.Errorf("%s: %s: %v", name, q, err)
			return
		}
		if isExempt(q) || !perQueue {
			return
		}
		for _, l := range []string{"queue", "from_queue", "agent"} {
			want := queues
			if l == "agent" {
				want = agents
			}
			if !strings.Contains(q, l) {
				continue
			}
			got := map[string]bool{}
			for _, r := range res {
				got[r.Labels[l]] = true
			}
			if len(res) > 0 && res[0].Labels[l] == "" {
				continue // aggregated away (e.g. sum by (state))
			}
			for _, w := range want {
				if !got[w] {
					t.Errorf("%s: %s: no series for %s=%q (%d series)", name, q, l, w, len(res))
				}
			}
		}
	}
	for _, r := range promtest.Rules(t, rulesPath) {
		if r.Record != "" {
			check("rule "+r.Name(), r.Record, strings.HasPrefix(r.Record, "queue:"))
		} else {
			check("alert "+r.Name(), r.Expr, false)
		}
	}
	for name, q := range promtest.DashboardQueries(t, filepath.Join(root, "grafana", "dashboards", "hotline.json")) {
		check(name, q, true)
	}
	// The working-hours gauge comes from the IVR's schedules (none here).
	if res, err := prom.QueryVector(`hotline_line_open`); err != nil || len(res) != 0 {
		t.Errorf("hotline_line_open without ivr.schedules: %v, %v", res, err)
	}
}
