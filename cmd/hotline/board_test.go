package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP hotline_csi_score x
# TYPE hotline_csi_score gauge
hotline_csi_score{line="first"} 72.5
hotline_escalations_total{from_queue="billing",to_queue="second-line"} 2
hotline_escalations_total{from_queue="first-line",to_queue="second-line"} 3
hotline_service_level_ratio{formula="offered",queue="first-line",window="today"} 0.8
weird{a="x\"y",b="z"} 1e3
go_goroutines 12
bad line
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want map[string]string
		val  float64
		ok   bool
	}{
		{"hotline_csi_score", map[string]string{"line": "first"}, 72.5, true},
		{"hotline_csi_score", map[string]string{"line": "second"}, 0, false},
		{"hotline_service_level_ratio", map[string]string{"queue": "first-line", "window": "today"}, 0.8, true},
		{"weird", map[string]string{"a": `x"y`, "b": "z"}, 1000, true},
		{"go_goroutines", nil, 12, true},
	} {
		v, ok := m.get(tc.name, tc.want)
		if v != tc.val || ok != tc.ok {
			t.Errorf("get(%s, %v) = %g, %v; want %g, %v", tc.name, tc.want, v, ok, tc.val, tc.ok)
		}
	}
	if got := m.sum("hotline_escalations_total", nil); got != 5 {
		t.Errorf("escalations = %g", got)
	}
}

// fakeHotline serves the three things the board reads.
func fakeHotline(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/queues", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`[{"name":"first-line","line":1,"waiting":[{"id":"c1"},{"id":"c2"}],"agents":{"available":["a1"],"on-call":["a2","a3"]},
			"longest_wait_ms":42000,"sl_threshold_s":20,"avg_answered_wait_s":12.4,"stats":{"joined":20,"answered":15,"answered_in_sl":12,"abandoned":3}},
			{"name":"second-line","line":2,"waiting":[],"agents":{"paused":["a9"]},"longest_wait_ms":0,"stats":{}}]`))
	})
	mux.HandleFunc("GET /api/v1/agents", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`[{"id":"a1","state":"available"},{"id":"a2","state":"on-call"},{"id":"a3","state":"on-call"},{"id":"a9","state":"paused"}]`))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("hotline_escalations_total{from_queue=\"first-line\",to_queue=\"second-line\"} 4\n" +
			"hotline_survey_calls_total{result=\"completed\"} 7\nhotline_csi_score{line=\"first\"} 68.75\n" +
			"hotline_fcr_ratio{line=\"first\",source=\"disposition\"} 0.75\n"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestBoardRender(t *testing.T) {
	srv := fakeHotline(t)
	b := &board{api: srv.URL, http: srv.Client(), start: time.Unix(1000, 0), duration: 2 * time.Minute}
	snap := b.poll(context.Background())
	if snap.err != nil {
		t.Fatal(snap.err)
	}
	screen := strings.Join(b.render(snap, time.Unix(1060, 0)), "\n")
	for _, want := range []string{
		"1:00 / 2:00", "first-line", "0:42", "80.0%", "12s", "3 (15.0%)", "1/0/2/0/0", "0/0/0/0/1",
		"available 1", "on-call 2", "paused 1", "escalations 4", "surveys done 7", "CSI first 68.8", "FCR (dispositions) first 75.0%",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("board lacks %q:\n%s", want, screen)
		}
	}
	line := b.line(snap, time.Unix(1060, 0))
	if strings.Contains(line, "\n") || !strings.Contains(line, "first-line waiting 2 longest 0:42 SL 80.0%") {
		t.Errorf("line = %q", line)
	}
}

// TestRunBoardNoTTY runs the command against the fake: without a terminal
// it prints one plain line per interval and stops after -duration.
func TestRunBoardNoTTY(t *testing.T) {
	srv := fakeHotline(t)
	var out, errb bytes.Buffer
	code := run([]string{"board", "-api", srv.URL, "-duration", "1ms", "-interval", "1ms"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if strings.Contains(out.String(), "\x1b[") || !strings.Contains(out.String(), "first-line waiting 2") {
		t.Fatalf("output:\n%q", out.String())
	}
	if code := run([]string{"board", "-tty", "sometimes", "-api", srv.URL}, &out, &errb); code != 2 {
		t.Fatalf("bad -tty: exit %d", code)
	}
}
