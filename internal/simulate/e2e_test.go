package simulate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestEndToEnd builds bin/hotline, runs `hotline serve` with the example
// config (on free ports, survey delay 5 s) over a throwaway PostgreSQL,
// runs `hotline simulate` against it for 30 s, and compares the
// simulator's own counts with hotline's metrics and report.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs hotline serve and simulate for about a minute")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "hotline")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hotline")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	db := pgtest.New(t)

	sipPort, httpPort, trunkPort := freePort(t, "127.0.0.1", true), freePort(t, "127.0.0.1", false), freePort(t, "127.0.0.2", true)
	example, err := os.ReadFile(filepath.Join(root, "examples/hotline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgText := string(example)
	for _, r := range []struct{ old, new string }{
		{`listen: "127.0.0.1:5060"`, fmt.Sprintf(`listen: "127.0.0.1:%d"`, sipPort)},
		{`address: "127.0.0.2:5080"`, fmt.Sprintf(`address: "127.0.0.2:%d"`, trunkPort)},
		// The API wants a token here: simulate must send it from the config.
		{`listen: "127.0.0.1:8080"`, fmt.Sprintf(`listen: "127.0.0.1:%d"`, httpPort)},
		{`token: "demo-api-token"`, `token: e2e-api-token`},
		{`rtp_ports: "20000-29999"`, `rtp_ports: "36000-36999"`},
		{`spool_dir: var/spool`, "spool_dir: " + filepath.Join(dir, "spool")},
		{`delay: 30s `, `delay: 5s `},
	} {
		if !strings.Contains(cfgText, r.old) {
			t.Fatalf("examples/hotline.yaml no longer has %q: update this test", r.old)
		}
		cfgText = strings.Replace(cfgText, r.old, r.new, 1)
	}
	cfgPath := filepath.Join(dir, "hotline.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DATABASE_URL="+db.DSN)
	api := fmt.Sprintf("http://127.0.0.1:%d", httpPort)

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	serveLog := &lockedBuffer{}
	serve := exec.CommandContext(ctx, bin, "serve", "-config", cfgPath)
	serve.Dir, serve.Env, serve.Stdout, serve.Stderr = root, env, serveLog, serveLog
	serve.Cancel = func() error { return serve.Process.Signal(os.Interrupt) }
	serve.WaitDelay = 20 * time.Second
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = serve.Process.Signal(os.Interrupt)
		_ = serve.Wait()
		if t.Failed() {
			t.Logf("hotline serve log (tail):\n%s", tail(serveLog.String(), 60))
		}
	}()
	waitReady(t, ctx, api+"/readyz", serveLog)
	// The API answers only with the token; /metrics stays open.
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/api/v1/agents", "", http.StatusUnauthorized},
		{"/api/v1/agents", "e2e-api-token", http.StatusOK},
		{"/metrics", "", http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, api+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Fatalf("GET %s with token %q: %s, want %d", tc.path, tc.token, res.Status, tc.want)
		}
	}

	countsPath := filepath.Join(dir, "simulate.json")
	sim := exec.CommandContext(ctx, bin, "simulate", "-config", cfgPath, "-duration", "30s", "-calls-per-minute", "20",
		"-talk", "uniform:5s-15s", "-patience", "exp:40s", "-escalate", "0.2", "-repeat", "0", "-pause-share", "0.1",
		"-pause-length", "uniform:3s-6s", "-drain", "60s", "-survey-wait", "60s", "-seed", "42", "-json", countsPath, "-log-level", "info")
	sim.Dir, sim.Env = root, env
	simOut, err := sim.CombinedOutput()
	t.Logf("hotline simulate:\n%s", tail(string(simOut), 40))
	if err != nil {
		t.Fatalf("hotline simulate: %v", err)
	}
	b, err := os.ReadFile(countsPath)
	if err != nil {
		t.Fatal(err)
	}
	var got Snapshot
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Placed < 3 || got.Answered == 0 {
		t.Fatalf("too little traffic to compare: %+v", got)
	}
	if got.Failed > 0 || got.EndedInIVR > 0 {
		t.Errorf("%d calls not connected, %d ended in the IVR", got.Failed, got.EndedInIVR)
	}

	m := scrape(t, api+"/metrics")
	near := func(what string, sim, hotline float64) {
		t.Helper()
		// Answers and abandons that cross on the wire (a caller hangs up as
		// the phone is answered) may be counted differently by the two
		// sides; allow one such call and 5 %.
		if d := sim - hotline; d > 1+0.05*hotline || -d > 1+0.05*hotline {
			t.Errorf("%s: simulator %g, hotline %g", what, sim, hotline)
		} else {
			t.Logf("%s: simulator %g, hotline %g", what, sim, hotline)
		}
	}
	near("answered (all visits)", float64(got.Answered+got.EscalationAnswered), m.sum("hotline_calls_answered_total", nil))
	for q, n := range got.ByQueue {
		near("answered from "+q, float64(n), m.sum("hotline_calls_answered_total", map[string]string{"queue": q}))
	}
	near("abandoned", float64(got.Abandoned+got.EscalationAbandon), m.sum("hotline_calls_abandoned_total", nil))
	near("escalated", float64(got.Escalated), m.sum("hotline_escalations_total", nil))
	near("queued (first visits)", float64(got.Queued),
		m.sum("hotline_calls_offered_total", nil)-m.sum("hotline_escalations_total", nil))
	if got.SurveyCalls > 0 {
		near("ratings given / surveys completed", float64(got.RatingsGiven()),
			m.sum("hotline_survey_calls_total", map[string]string{"result": "completed"}))
	} else {
		t.Log("no survey calls reached the customers' phones (survey not wired into serve?)")
	}

	// The report from PostgreSQL (the projector runs every 5 s).
	var reportAnswered int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		rep := exec.CommandContext(ctx, bin, "report", "-config", cfgPath, "-by", "queue", "-format", "json")
		rep.Dir, rep.Env = root, env
		out, err := rep.Output()
		if err != nil {
			t.Fatalf("hotline report: %v", err)
		}
		var rows []struct {
			Queue    string `json:"queue"`
			Answered int    `json:"answered"`
		}
		if err := json.Unmarshal(out, &rows); err != nil {
			t.Fatalf("hotline report JSON: %v\n%s", err, out)
		}
		reportAnswered = 0
		for _, r := range rows {
			reportAnswered += r.Answered
		}
		if reportAnswered >= got.Answered+got.EscalationAnswered || time.Now().After(deadline) {
			break
		}
	}
	near("answered in hotline report (PostgreSQL)", float64(got.Answered+got.EscalationAnswered), float64(reportAnswered))
}

// freePort finds a port free on ip for TCP (and UDP when both).
func freePort(t *testing.T, ip string, both bool) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !both {
			l.Close()
			return port
		}
		u, err := net.ListenPacket("udp", fmt.Sprintf("%s:%d", ip, port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func waitReady(t *testing.T, ctx context.Context, url string, log *lockedBuffer) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("hotline serve not ready:\n%s", tail(log.String(), 40))
}

type metrics []struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape reads the counters the test compares (Prometheus text format).
func scrape(t *testing.T, url string) metrics {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out metrics
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		labels := map[string]string{}
		var val string
		if strings.Contains(line, "{") {
			lab, v, _ := strings.Cut(rest, "} ")
			val = v
			for _, kv := range strings.Split(lab, ",") {
				k, v, _ := strings.Cut(kv, "=")
				labels[k] = strings.Trim(v, `"`)
			}
		} else {
			name, val, _ = strings.Cut(line, " ")
		}
		var f float64
		if _, err := fmt.Sscan(val, &f); err == nil {
			out = append(out, struct {
				name   string
				labels map[string]string
				value  float64
			}{name, labels, f})
		}
	}
	return out
}

func (m metrics) sum(name string, want map[string]string) float64 {
	t := 0.0
next:
	for _, s := range m {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		t += s.value
	}
	return t
}

// lockedBuffer collects a child's output.
type lockedBuffer = sipptest.Buffer

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var _ io.Writer = (*lockedBuffer)(nil)
