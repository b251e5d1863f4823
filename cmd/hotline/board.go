package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hotline-cc/hotline/internal/server"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// runBoard is `hotline board`: a live wallboard of a running hotline in
// the terminal, from /api/v1/queues, /api/v1/agents and /metrics. On a
// terminal it redraws in place; otherwise (CI, a pipe) it prints one line
// per interval.
func runBoard(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("board", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := fs.String("api", "", "hotline's HTTP base URL (default: http://<http.listen of -config>; the API token is http.token of -config, or $HOTLINE_API_TOKEN)")
	path := fs.String("config", "examples/hotline.yaml", "config file, for the HTTP address when -api is not given")
	duration := fs.Duration("duration", 0, "stop after this long, with a progress bar (0: until Ctrl-C)")
	interval := fs.Duration("interval", 0, "refresh interval (default 1s on a terminal, 10s otherwise)")
	title := fs.String("title", "", "what the progress bar stands for (e.g. \"simulated traffic\")")
	mode := fs.String("tty", "auto", "redraw in place: auto (when stdout is a terminal), always, never")
	whilePID := fs.Int("while-pid", 0, "keep going after -duration while this process runs (the demo's simulator finishing its calls and surveys)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	token := os.Getenv("HOTLINE_API_TOKEN")
	apiClient := &http.Client{}
	if *api == "" {
		cfg, err := loadConfig(*path, io.Discard)
		if err != nil {
			fmt.Fprintln(stderr, "hotline board: -api not given and", err)
			return 2
		}
		base, client, err := server.SelfAPI(cfg)
		if err != nil {
			fmt.Fprintln(stderr, "hotline board:", err)
			return 2
		}
		c := *client // its own copy: the board sets its timeout
		*api, apiClient = base, &c
		if token == "" {
			token = cfg.HTTP.Token.Value()
		}
	}
	tty := false
	switch *mode {
	case "always":
		tty = true
	case "never":
	case "auto":
		tty = isTerminal(stdout)
	default:
		fmt.Fprintf(stderr, "hotline board: -tty %q: want auto, always or never\n", *mode)
		return 2
	}
	if *interval <= 0 {
		*interval = 10 * time.Second
		if tty {
			*interval = time.Second
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	apiClient.Timeout = 3 * time.Second
	b := &board{api: strings.TrimRight(*api, "/"), token: token, http: apiClient,
		start: time.Now(), duration: *duration, title: *title, whilePID: *whilePID}
	if tty {
		fmt.Fprint(stdout, "\x1b[?25l\x1b[H\x1b[2J") // hide the cursor, clear
		defer fmt.Fprint(stdout, "\x1b[?25h")
	}
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		snap := b.poll(ctx)
		if tty {
			lines := b.render(snap, time.Now())
			var sb strings.Builder
			sb.WriteString("\x1b[H")
			for _, l := range lines {
				sb.WriteString(l + "\x1b[K\n")
			}
			sb.WriteString("\x1b[J")
			fmt.Fprint(stdout, sb.String())
		} else {
			fmt.Fprintln(stdout, b.line(snap, time.Now()))
		}
		if b.done() {
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-t.C:
		}
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type board struct {
	api      string
	token    string // API bearer token ("" = none)
	http     *http.Client
	start    time.Time
	duration time.Duration
	title    string
	whilePID int
}

// done reports whether the board should stop: -duration passed and the
// -while-pid process (if any) has ended.
func (b *board) done() bool {
	if b.duration <= 0 && b.whilePID <= 0 {
		return false
	}
	if b.duration > 0 && time.Since(b.start) < b.duration {
		return false
	}
	return b.whilePID <= 0 || !processRunning(b.whilePID)
}

// processRunning reports whether a process with this id exists (signal 0)
// and, where /proc tells, is not a zombie waiting to be reaped.
func processRunning(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil || p.Signal(syscall.Signal(0)) != nil {
		return false
	}
	if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	return true
}

// boardQueue is what the board reads of GET /api/v1/queues.
type boardQueue struct {
	Name          string              `json:"name"`
	Line          int                 `json:"line"`
	Waiting       []json.RawMessage   `json:"waiting"`
	Agents        map[string][]string `json:"agents"`
	LongestWaitMS int64               `json:"longest_wait_ms"`
	SLThresholdS  float64             `json:"sl_threshold_s"`
	ASA           float64             `json:"avg_answered_wait_s"`
	Stats         struct {
		Joined       int `json:"joined"`
		Answered     int `json:"answered"`
		AnsweredInSL int `json:"answered_in_sl"`
		Abandoned    int `json:"abandoned"`
	} `json:"stats"`
}

// boardAgent is what the board reads of GET /api/v1/agents.
type boardAgent struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// boardSnap is one poll.
type boardSnap struct {
	queues  []boardQueue
	agents  []boardAgent
	metrics metricSet
	err     error
}

func (b *board) poll(ctx context.Context) boardSnap {
	var s boardSnap
	if err := b.getJSON(ctx, "/api/v1/queues", &s.queues); err != nil {
		s.err = err
	}
	if err := b.getJSON(ctx, "/api/v1/agents", &s.agents); err != nil && s.err == nil {
		s.err = err
	}
	m, err := b.getMetrics(ctx)
	if err != nil && s.err == nil {
		s.err = err
	}
	s.metrics = m
	return s
}

func (b *board) get(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", b.api+path, nil)
	if err != nil {
		return nil, err
	}
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	res, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		res.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", path, res.Status)
	}
	return res.Body, nil
}

func (b *board) getJSON(ctx context.Context, path string, v any) error {
	body, err := b.get(ctx, path)
	if err != nil {
		return err
	}
	defer body.Close()
	return json.NewDecoder(io.LimitReader(body, 16<<20)).Decode(v)
}

func (b *board) getMetrics(ctx context.Context) (metricSet, error) {
	body, err := b.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	m, err := parseMetrics(io.LimitReader(body, 16<<20))
	if err != nil {
		return m, fmt.Errorf("GET /metrics: %w", err)
	}
	return m, nil
}

// metricSet holds samples of the Prometheus text format.
type metricSet []metricSample

type metricSample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseMetrics reads the Prometheus text exposition format (version
// 0.0.4, what hotline's /metrics serves) with expfmt's parser, names
// validated as UTF-8 (the current Prometheus rule; legacy names are a
// subset). Every sample becomes one metricSample: histograms and summaries
// are flattened back into their _bucket (label le), quantile, _sum and
// _count series, the way they appear in the text. Families come in name
// order, samples within a family in the order of the text. Timestamps are
// dropped. A malformed line is an error naming its line (an
// expfmt.ParseError); the samples read before it are returned with it, so
// the board can still show them (a histogram or summary cut short by the
// error may lack series).
func parseMetrics(r io.Reader) (metricSet, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	names := make([]string, 0, len(fams))
	for name := range fams {
		names = append(names, name)
	}
	sort.Strings(names)
	var out metricSet
	for _, name := range names {
		vec, xerr := expfmt.ExtractSamples(&expfmt.DecodeOptions{}, fams[name])
		if xerr != nil && err == nil {
			err = xerr
		}
		for _, smp := range vec {
			s := metricSample{name: string(smp.Metric[model.MetricNameLabel]), labels: make(map[string]string, len(smp.Metric)-1),
				value: float64(smp.Value)}
			for k, v := range smp.Metric {
				if k != model.MetricNameLabel {
					s.labels[string(k)] = string(v)
				}
			}
			out = append(out, s)
		}
	}
	return out, err
}

// get returns the value of the first sample named name whose labels
// include want, and whether there was one.
func (m metricSet) get(name string, want map[string]string) (float64, bool) {
	for _, s := range m {
		if s.name == name && labelsMatch(s.labels, want) {
			return s.value, true
		}
	}
	return 0, false
}

// sum adds every sample named name whose labels include want.
func (m metricSet) sum(name string, want map[string]string) float64 {
	t := 0.0
	for _, s := range m {
		if s.name == name && labelsMatch(s.labels, want) {
			t += s.value
		}
	}
	return t
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// agentStates are the Engine's states in the board's order.
var agentStates = []string{"available", "ringing", "on-call", "wrap-up", "paused", "logged-out"}

func fmtWait(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func fmtPct(v float64, ok bool) string {
	if !ok || math.IsNaN(v) {
		return "—"
	}
	return strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
}

func ratio(n, d int) (float64, bool) {
	if d == 0 {
		return 0, false
	}
	return float64(n) / float64(d), true
}

// slToday is a queue's service level today: the metrics' "offered"
// formula (short abandons excluded), else answered within T / answered
// from the live counters.
func (s boardSnap) slToday(q boardQueue) (float64, bool) {
	if v, ok := s.metrics.get("hotline_service_level_ratio", map[string]string{"queue": q.Name, "formula": "offered", "window": "today"}); ok {
		return v, true
	}
	return ratio(q.Stats.AnsweredInSL, q.Stats.Answered)
}

// progress draws the run's progress bar.
func (b *board) progress(now time.Time, width int) string {
	if b.duration <= 0 {
		return "running " + fmtWait(now.Sub(b.start))
	}
	el := min(now.Sub(b.start), b.duration)
	n := int(float64(width) * float64(el) / float64(b.duration))
	bar := fmt.Sprintf("[%s%s] %s / %s", strings.Repeat("█", n), strings.Repeat("░", width-n), fmtWait(el), fmtWait(b.duration))
	if el >= b.duration && b.whilePID > 0 {
		bar += "  new calls stopped; finishing calls and surveys"
	}
	return bar
}

// render is the full-screen board.
func (b *board) render(s boardSnap, now time.Time) []string {
	title := "hotline board"
	if b.title != "" {
		title += " — " + b.title
	}
	lines := []string{
		fmt.Sprintf("%s   %s   %s", title, now.Format("15:04:05"), b.progress(now, 30)),
		"",
		fmt.Sprintf("%-12s %4s %7s %8s %9s %6s %8s  %-14s %s", "queue", "line", "waiting", "longest", "SL today", "ASA", "answered", "abandoned", "agents: avail/ring/call/wrap/pause"),
	}
	for _, q := range s.queues {
		sl, ok := s.slToday(q)
		ab, abOK := ratio(q.Stats.Abandoned, q.Stats.Joined)
		asa := "—"
		if q.Stats.Answered > 0 {
			asa = strconv.FormatFloat(q.ASA, 'f', 0, 64) + "s"
		}
		ag := make([]string, 0, 5)
		for _, st := range agentStates[:5] {
			ag = append(ag, strconv.Itoa(len(q.Agents[st])))
		}
		lines = append(lines, fmt.Sprintf("%-12s %4d %7d %8s %9s %6s %8d  %-14s %s", q.Name, q.Line, len(q.Waiting),
			fmtWait(time.Duration(q.LongestWaitMS)*time.Millisecond), fmtPct(sl, ok), asa, q.Stats.Answered,
			fmt.Sprintf("%d (%s)", q.Stats.Abandoned, fmtPct(ab, abOK)), strings.Join(ag, "/")))
	}
	lines = append(lines, "", b.agentsLine(s), b.kpiLine(s))
	if s.err != nil {
		lines = append(lines, "", "! "+s.err.Error())
	}
	return lines
}

func (b *board) agentsLine(s boardSnap) string {
	by := map[string]int{}
	for _, a := range s.agents {
		by[a.State]++
	}
	parts := make([]string, 0, len(agentStates))
	for _, st := range agentStates {
		parts = append(parts, fmt.Sprintf("%s %d", st, by[st]))
	}
	var other []string
	for st, n := range by {
		if !containsStr(agentStates, st) {
			other = append(other, fmt.Sprintf("%s %d", st, n))
		}
	}
	sort.Strings(other)
	return fmt.Sprintf("agents (%d): %s", len(s.agents), strings.Join(append(parts, other...), ", "))
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (b *board) kpiLine(s boardSnap) string {
	esc := s.metrics.sum("hotline_escalations_total", nil)
	surveys := s.metrics.sum("hotline_survey_calls_total", map[string]string{"result": "completed"})
	csi := []string{}
	fcr := []string{}
	for _, line := range []string{"first", "second"} {
		if v, ok := s.metrics.get("hotline_csi_score", map[string]string{"line": line}); ok {
			csi = append(csi, fmt.Sprintf("%s %.1f", line, v))
		}
		if v, ok := s.metrics.get("hotline_fcr_ratio", map[string]string{"line": line, "source": "disposition"}); ok {
			fcr = append(fcr, fmt.Sprintf("%s %s", line, fmtPct(v, true)))
		}
	}
	orDash := func(xs []string) string {
		if len(xs) == 0 {
			return "—"
		}
		return strings.Join(xs, ", ")
	}
	return fmt.Sprintf("escalations %.0f · surveys done %.0f · CSI %s · FCR (dispositions) %s", esc, surveys, orDash(csi), orDash(fcr))
}

// line is the one-line form for logs and CI.
func (b *board) line(s boardSnap, now time.Time) string {
	var sb strings.Builder
	sb.WriteString(now.Format("15:04:05"))
	if b.duration > 0 {
		fmt.Fprintf(&sb, " %s/%s", fmtWait(min(now.Sub(b.start), b.duration)), fmtWait(b.duration))
	}
	for _, q := range s.queues {
		sl, ok := s.slToday(q)
		ab, abOK := ratio(q.Stats.Abandoned, q.Stats.Joined)
		fmt.Fprintf(&sb, " | %s waiting %d longest %s SL %s ans %d ab %s", q.Name, len(q.Waiting),
			fmtWait(time.Duration(q.LongestWaitMS)*time.Millisecond), fmtPct(sl, ok), q.Stats.Answered, fmtPct(ab, abOK))
	}
	by := map[string]int{}
	for _, a := range s.agents {
		by[a.State]++
	}
	fmt.Fprintf(&sb, " | agents avail %d ring %d call %d wrap %d pause %d out %d", by["available"], by["ringing"], by["on-call"],
		by["wrap-up"], by["paused"], by["logged-out"])
	sb.WriteString(" | " + b.kpiLine(s))
	if s.err != nil {
		sb.WriteString(" | ! " + s.err.Error())
	}
	return sb.String()
}
