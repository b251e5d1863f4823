// Package promtest runs a real Prometheus (Debian package prometheus) for
// tests: it scrapes given targets every second with hotline's rules loaded,
// and answers instant queries; it also lists the Grafana dashboard's panel
// queries so tests can run each of them.
package promtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Server is a running Prometheus.
type Server struct {
	// API is its base URL, e.g. http://127.0.0.1:9091.
	API string
}

// Start starts Prometheus scraping targets ("host:port", /metrics) every
// second with the rule file at rules (optional), and stops it at the end of
// the test. It fails the test when the binary is missing.
func Start(t *testing.T, rules string, targets ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found: install the Debian package prometheus (apt-get install prometheus)")
	}
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	cfg := "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
	if rules != "" {
		cfg += fmt.Sprintf("rule_files: [%q]\n", rules)
	}
	cfg += "scrape_configs:\n  - job_name: hotline\n    static_configs:\n      - targets: [" + strings.Join(quoted, ", ") + "]\n"
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freeTCPPort(t)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})
	s := &Server{API: fmt.Sprintf("http://127.0.0.1:%d", port)}
	s.WaitFor(t, "Prometheus ready", func() bool {
		resp, err := http.Get(s.API + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return s
}

// WaitFor polls ok until it holds; the 90 s deadline only turns a hang
// into a failure.
func (s *Server) WaitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Scrapes reports how many scrapes of the hotline job Prometheus has
// ingested in the last 10 minutes.
func (s *Server) Scrapes() int {
	res, err := s.Query(`count_over_time(up{job="hotline"}[10m])`)
	if err != nil || len(res) == 0 {
		return 0
	}
	return int(res[0])
}

// Query runs an instant query and returns the sample values.
func (s *Server) Query(q string) ([]float64, error) {
	samples, err := s.QueryVector(q)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(samples))
	for i, smp := range samples {
		out[i] = smp.Value
	}
	return out, nil
}

// Sample is one series of an instant query's result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// QueryVector runs an instant query and returns its series with labels
// (NaN values included).
func (s *Server) QueryVector(q string) ([]Sample, error) {
	return s.QueryVectorAt(q, time.Time{})
}

// QueryVectorAt is QueryVector evaluated at the instant at (now when zero).
// At the timestamp of a scrape, increase() and rate() of that target's
// counters end on a sample and are not extrapolated past it.
func (s *Server) QueryVectorAt(q string, at time.Time) ([]Sample, error) {
	u := s.API + "/api/v1/query?query=" + url.QueryEscape(q)
	if !at.IsZero() {
		u += "&time=" + strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)
	}
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status, Error string
		Data          struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("status %s: %s", body.Status, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s", body.Data.ResultType)
	}
	out := make([]Sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		str, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, Sample{Labels: r.Metric, Value: v})
	}
	return out, nil
}

// Rule is one recording or alerting rule of a rule file.
type Rule struct {
	Record, Alert, Expr string
}

// Name is the rule's record or alert name.
func (r Rule) Name() string {
	if r.Record != "" {
		return r.Record
	}
	return r.Alert
}

// Rules returns every rule of the Prometheus rule file at path.
func Rules(t *testing.T, path string) []Rule {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []Rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var out []Rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("no rules in %s", path)
	}
	return out
}

// DashboardQueries returns every panel query of the Grafana dashboard at
// path, keyed "panel title / refId", with the template variables replaced
// by what "All" and a 1-hour range give.
func DashboardQueries(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr, RefID string }
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer(`"$queue"`, `".+"`, `"$formula"`, `"answered|offered|removed|realtime"`,
		"$__range", "1h", "$__rate_interval", "1m", "$__interval", "15s")
	out := map[string]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s has no expr", p.Title, tg.RefID)
				continue
			}
			out[p.Title+" / "+tg.RefID] = vars.Replace(tg.Expr)
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d queries in the dashboard", len(out))
	}
	return out
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
