package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
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

// TestParseMetricsText covers what a real /metrics has beyond the plain
// samples of TestParseMetrics, and what a broken one looks like.
func TestParseMetricsText(t *testing.T) {
	type want struct {
		name   string
		labels map[string]string
		val    float64 // NaN: want NaN
		absent bool    // want no such sample
	}
	for _, tc := range []struct {
		name    string
		text    string
		n       int // samples (not checked when an error is wanted)
		want    []want
		errLine int // > 0: want an expfmt.ParseError on this line
	}{
		{name: "empty body", text: "", n: 0},
		{name: "only comments", text: "# HELP x some help\n# TYPE x counter\n# a free comment\n\n", n: 0},
		{
			name: "escapes in label values",
			text: `hotline_calls_total{queue="a,b",note="say \"hi\", then \\ and\nmore"} 3` + "\n",
			n:    1,
			want: []want{{name: "hotline_calls_total", labels: map[string]string{"queue": "a,b", "note": "say \"hi\", then \\ and\nmore"}, val: 3}},
		},
		{
			name: "comma and brace inside a value",
			text: `m{a="x}",b="y,z="} 1` + "\n" + `m{a="q"} 2` + "\n",
			n:    2,
			want: []want{
				{name: "m", labels: map[string]string{"a": "x}", "b": "y,z="}, val: 1},
				{name: "m", labels: map[string]string{"a": "q"}, val: 2},
			},
		},
		{
			name: "histogram",
			text: `# HELP hotline_wait_seconds Wait before answer.
# TYPE hotline_wait_seconds histogram
hotline_wait_seconds_bucket{queue="first-line",le="5"} 2
hotline_wait_seconds_bucket{queue="first-line",le="20"} 7
hotline_wait_seconds_bucket{queue="first-line",le="+Inf"} 9
hotline_wait_seconds_sum{queue="first-line"} 143.5
hotline_wait_seconds_count{queue="first-line"} 9
`,
			n: 5,
			want: []want{
				{name: "hotline_wait_seconds_bucket", labels: map[string]string{"queue": "first-line", "le": "20"}, val: 7},
				{name: "hotline_wait_seconds_bucket", labels: map[string]string{"le": "+Inf"}, val: 9},
				{name: "hotline_wait_seconds_sum", labels: map[string]string{"queue": "first-line"}, val: 143.5},
				{name: "hotline_wait_seconds_count", val: 9},
				{name: "hotline_wait_seconds", absent: true},
			},
		},
		{
			name: "summary",
			text: `# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.2
rpc_seconds{quantile="0.99"} 1.5
rpc_seconds_sum 30
rpc_seconds_count 100
`,
			n: 4,
			want: []want{
				{name: "rpc_seconds", labels: map[string]string{"quantile": "0.99"}, val: 1.5},
				{name: "rpc_seconds_count", val: 100},
			},
		},
		{
			name: "NaN, infinities, exponents, timestamps",
			text: `# TYPE hotline_service_level_ratio gauge
hotline_service_level_ratio{queue="a"} NaN
hotline_service_level_ratio{queue="b"} +Inf
hotline_service_level_ratio{queue="c"} -Inf
hotline_service_level_ratio{queue="d"} 1.5e-3 1700000000000
`,
			n: 4,
			want: []want{
				{name: "hotline_service_level_ratio", labels: map[string]string{"queue": "a"}, val: math.NaN()},
				{name: "hotline_service_level_ratio", labels: map[string]string{"queue": "b"}, val: math.Inf(1)},
				{name: "hotline_service_level_ratio", labels: map[string]string{"queue": "c"}, val: math.Inf(-1)},
				{name: "hotline_service_level_ratio", labels: map[string]string{"queue": "d"}, val: 0.0015},
			},
		},
		{
			name:    "malformed line",
			text:    "go_goroutines 12\nbad line\n",
			errLine: 2,
			want:    []want{{name: "go_goroutines", val: 12}}, // what came before is kept
		},
		{name: "unterminated label value", text: `m{a="x} 1` + "\n", errLine: 1},
		{name: "missing value", text: "m{a=\"x\"}\n", errLine: 1},
		{name: "unknown TYPE", text: "# TYPE m bogus\nm 1\n", errLine: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseMetrics(strings.NewReader(tc.text))
			if tc.errLine > 0 {
				var pe expfmt.ParseError
				if !errors.As(err, &pe) || pe.Line != tc.errLine {
					t.Fatalf("err = %v; want a parse error on line %d", err, tc.errLine)
				}
				if !strings.Contains(err.Error(), "line "+strconv.Itoa(tc.errLine)) {
					t.Errorf("error %q does not name the line", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.errLine == 0 && len(m) != tc.n {
				t.Errorf("%d samples, want %d: %+v", len(m), tc.n, m)
			}
			for _, w := range tc.want {
				v, ok := m.get(w.name, w.labels)
				switch {
				case w.absent:
					if ok {
						t.Errorf("get(%s, %v) = %g; want none", w.name, w.labels, v)
					}
				case !ok:
					t.Errorf("get(%s, %v): no sample", w.name, w.labels)
				case math.IsNaN(w.val) != math.IsNaN(v) || !math.IsNaN(v) && v != w.val:
					t.Errorf("get(%s, %v) = %g; want %g", w.name, w.labels, v, w.val)
				}
			}
		})
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

// TestBoardMetricsError: a /metrics the parser rejects is reported on the
// board with the line it failed on, and the samples before it still count.
func TestBoardMetricsError(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/queues", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("[]")) })
	mux.HandleFunc("GET /api/v1/agents", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("[]")) })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("hotline_escalations_total{from_queue=\"a\",to_queue=\"b\"} 4\nhotline_csi_score{line=\"first\" 70\n"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b := &board{api: srv.URL, http: srv.Client(), start: time.Unix(1000, 0)}
	snap := b.poll(context.Background())
	if snap.err == nil || !strings.Contains(snap.err.Error(), "GET /metrics: text format parsing error in line 2") {
		t.Fatalf("err = %v", snap.err)
	}
	screen := strings.Join(b.render(snap, time.Unix(1060, 0)), "\n")
	for _, want := range []string{"escalations 4", "! GET /metrics: text format parsing error in line 2"} {
		if !strings.Contains(screen, want) {
			t.Errorf("board lacks %q:\n%s", want, screen)
		}
	}
}
