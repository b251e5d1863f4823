package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/proctest"
	"github.com/hotline-cc/hotline/internal/server"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// deskNodeEnv names the config file of the `serve` the desk load test runs
// as a process of its own (TestMain), so that its memory and CPU are
// hotline's alone, not the simulated pages'.
const deskNodeEnv = "HOTLINE_TEST_DESK_NODE_CONFIG"

// deskMem is what the desk node writes to its config's name + ".mem" on
// SIGUSR1, after a garbage collection.
type deskMem struct {
	HeapAlloc, StackInuse, Sys uint64
	Goroutines                 int
}

// runDeskNode is `hotline serve` in a test binary for TestDeskStreamLoad:
// READY once started; on SIGUSR1 a GC and its memory figures to
// path+".mem"; SIGTERM drains; it exits when the test process is gone.
func runDeskNode(path string) int {
	proctest.ExitWithParent()
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	logf, err := os.Create(path + ".log")
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(cfg, log)
	if err == nil {
		err = srv.Start(context.Background())
	}
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	if prof := os.Getenv("HOTLINE_BENCH_DESK_CPUPROFILE"); prof != "" {
		f, err := os.Create(prof)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	fmt.Println("READY")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGUSR1)
	for s := range sig {
		if s == syscall.SIGUSR1 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b, _ := json.Marshal(deskMem{HeapAlloc: ms.HeapAlloc, StackInuse: ms.StackInuse, Sys: ms.Sys, Goroutines: runtime.NumGoroutine()})
			_ = os.WriteFile(path+".mem.tmp", b, 0o600)
			_ = os.Rename(path+".mem.tmp", path+".mem")
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		return 0
	}
	return 0
}

// TestDeskStreamLoad is the desk's live-stream benchmark (docs/benchmarks.md),
// skipped unless HOTLINE_BENCH_DESK lists page counts ("100,300,500"). For
// each count a fresh `serve` (its own process, real PostgreSQL, sessions in
// it) has that many agents; as many pages log in, each with its own cookie,
// all from one address (a centre behind one NAT address), and follow
// /desk/api/events. Then every agent changes state HOTLINE_BENCH_DESK_ROUNDS
// times (default 5) through the API, HOTLINE_BENCH_DESK_RATE actions a
// second in all (default 100), and each page times the events of its agent
// from the event's own instant (At, stamped when the event is made) to the
// moment its client read the event. Memory per page: the node's live heap
// and goroutine stacks after a GC, and its RSS, with all pages connected
// against before any stream opened, divided by the pages. Every step has a
// deadline; a step that misses it fails the test and dumps the node's
// goroutines (SIGQUIT) to stderr. Loopback 127.0.21.10-11.
func TestDeskStreamLoad(t *testing.T) {
	spec := os.Getenv("HOTLINE_BENCH_DESK")
	if spec == "" {
		t.Skip("set HOTLINE_BENCH_DESK=100,300,500 (page counts) to run the desk stream benchmark")
	}
	rounds := envInt(t, "HOTLINE_BENCH_DESK_ROUNDS", 5)
	rate := envInt(t, "HOTLINE_BENCH_DESK_RATE", 100)
	db := pgtest.New(t)
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			t.Fatalf("HOTLINE_BENCH_DESK: %q is not a page count", f)
		}
		t.Run(fmt.Sprintf("pages=%d", n), func(t *testing.T) { deskStreamLoad(t, db.DSN, n, rounds, rate) })
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return v
}

const deskLoadConfig = `
sip:
  listen: "127.0.21.10:5060"
  trunks:
    - {name: provider, allow: ["127.0.21.12"]}
media:
  rtp_ports: "42000-42019"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.21.10:8080", token: admin-token}
database: {url: "DBURL", spool_dir: SPOOL}
web:
  bcrypt_cost: 4
queues:
  - {name: support, skill: general}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        queue: {type: queue, queue: support}
agents:
`

// loadPage is one simulated agent's page: its own cookie jar and
// connection, as a browser's.
type loadPage struct {
	agent string
	hc    *http.Client
	lat   []time.Duration // event At → read, the page's agent's events
	seen  atomic.Int64
}

func deskStreamLoad(t *testing.T, dsn string, n, rounds, rate int) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	var cfg strings.Builder
	cfg.WriteString(strings.NewReplacer("ROOT", root, "DBURL", dsn, "SPOOL", t.TempDir()).Replace(deskLoadConfig))
	for i := range n {
		fmt.Fprintf(&cfg, "  - {id: a%04d, password: sip-%04d, team: t%d, skills: {general: 1}, web_password: web-%04d}\n", i, i, i%20, i)
	}
	path := filepath.Join(t.TempDir(), "desk-load.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	node := proctest.StartHelper(t, "desk node", deskNodeEnv+"="+path)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(path + ".log")
			t.Logf("serve log (tail):\n%s", sipptest.Tail(string(b), 4000))
		}
	})
	const base = "http://127.0.21.10:8080"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	fail := func(format string, args ...any) {
		t.Helper()
		// The node's goroutines, to see where it stands.
		_ = node.Signal(syscall.SIGQUIT)
		select {
		case <-node.Done():
		case <-time.After(5 * time.Second):
		}
		t.Fatalf(format, args...)
	}

	// Every page from one source address, as behind a NAT; each its own
	// connection (one transport, as one browser's network stack).
	tr := &http.Transport{
		DialContext:         (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.21.11")}, Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: n,
	}
	defer tr.CloseIdleConnections()
	pages := make([]*loadPage, n)
	for i := range pages {
		jar, _ := cookiejar.New(nil)
		pages[i] = &loadPage{agent: fmt.Sprintf("a%04d", i), hc: &http.Client{Jar: jar, Transport: tr}}
	}
	// Log in, 16 at a time.
	start := time.Now()
	if err := forEachLimit(ctx, 16, n, func(ctx context.Context, i int) error {
		p := pages[i]
		body := fmt.Sprintf(`{"user":%q,"password":"web-%04d"}`, p.agent, i)
		code, err := doReq(ctx, p.hc, "POST", base+"/desk/login", body, nil)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("login %s: %d", p.agent, code)
		}
		return err
	}); err != nil {
		fail("logging the pages in: %v", err)
	}
	t.Logf("%d pages logged in in %v", n, time.Since(start).Round(time.Millisecond))
	// Agents log in to the queues (through the token, as the benchmark's driver).
	admin := &http.Client{Transport: tr}
	tok := map[string]string{"Authorization": "Bearer admin-token"}
	if err := forEachLimit(ctx, 16, n, func(ctx context.Context, i int) error {
		code, err := doReq(ctx, admin, "POST", base+"/api/v1/agents/"+pages[i].agent+"/login", "", tok)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("queue login %s: %d", pages[i].agent, code)
		}
		return err
	}); err != nil {
		fail("logging the agents in to the queues: %v", err)
	}
	pid := node.Pid()
	memBefore, rssBefore := deskNodeMem(t, node, path), procRSS(t, pid)

	// Open the streams, 16 at a time, each until its first line.
	start = time.Now()
	var open atomic.Int64
	var readers sync.WaitGroup
	streamCtx, stopStreams := context.WithCancel(ctx)
	defer func() { stopStreams(); readers.Wait() }()
	errs := make(chan error, n)
	openCtx, openDone := context.WithTimeout(ctx, 2*time.Minute)
	err := forEachLimit(openCtx, 16, n, func(ctx context.Context, i int) error {
		p := pages[i]
		req, _ := http.NewRequestWithContext(streamCtx, "GET", base+"/desk/api/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		type result struct {
			resp *http.Response
			br   *bufio.Reader
			err  error
		}
		got := make(chan result, 1)
		go func() {
			resp, err := p.hc.Do(req)
			if err != nil {
				got <- result{err: err}
				return
			}
			if resp.StatusCode != http.StatusOK {
				resp.Body.Close()
				got <- result{err: fmt.Errorf("stream of %s: %s", p.agent, resp.Status)}
				return
			}
			br := bufio.NewReader(resp.Body)
			if _, err := br.ReadString('\n'); err != nil { // ": hotline desk"
				resp.Body.Close()
				got <- result{err: fmt.Errorf("stream of %s: %v", p.agent, err)}
				return
			}
			got <- result{resp: resp, br: br}
		}()
		var r result
		select {
		case r = <-got:
		case <-ctx.Done():
			return fmt.Errorf("stream of %s not open: %w", p.agent, ctx.Err())
		}
		if r.err != nil {
			return r.err
		}
		open.Add(1)
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer r.resp.Body.Close()
			if err := p.read(r.br); err != nil && streamCtx.Err() == nil {
				errs <- err
			}
		}()
		return nil
	})
	openDone()
	if err != nil {
		fail("opening the streams: %d of %d open after %v: %v", open.Load(), n, time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("%d streams open in %v", n, time.Since(start).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // let the node settle before measuring
	memAfter, rssAfter := deskNodeMem(t, node, path), procRSS(t, pid)

	// The rounds: every agent pauses and becomes ready in turn, rate actions a second.
	cpu0, wall0 := procCPU(t, pid), time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var sent []int // actions per agent
	sent = make([]int, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var actErr atomic.Value
	for r := range rounds {
		op := "pause"
		if r%2 == 1 {
			op = "ready"
		}
		for i := range n {
			select {
			case <-tick.C:
			case <-ctx.Done():
				fail("driving the rounds: %v", ctx.Err())
			}
			select {
			case err := <-errs:
				fail("a page's stream ended: %v", err)
			default:
			}
			sem <- struct{}{}
			wg.Add(1)
			sent[i]++
			go func(agent string) {
				defer wg.Done()
				defer func() { <-sem }()
				code, err := doReq(ctx, admin, "POST", base+"/api/v1/agents/"+agent+"/"+op, "", tok)
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("%s %s: %d", op, agent, code)
				}
				if err != nil {
					actErr.CompareAndSwap(nil, err)
				}
			}(pages[i].agent)
		}
	}
	wg.Wait()
	if err, _ := actErr.Load().(error); err != nil {
		fail("an action failed: %v", err)
	}
	// Each action is one agent.state and one desk.action event for the
	// agent: wait until every page has read both of each of its actions.
	drain := time.Now().Add(time.Minute)
	for _, p := range pages {
		for p.seen.Load() < int64(2*rounds) {
			if time.Now().After(drain) {
				fail("page %s read %d of its agent's %d events", p.agent, p.seen.Load(), 2*rounds)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	cpu := procCPU(t, pid) - cpu0
	wall := time.Since(wall0)
	stopStreams()
	readers.Wait()
	_ = node.Signal(syscall.SIGTERM) // a clean stop (and the CPU profile written)
	select {
	case <-node.Done():
	case <-time.After(20 * time.Second):
		t.Error("the desk node did not stop within 20 s of SIGTERM")
	}

	var all []time.Duration
	for _, p := range pages {
		all = append(all, p.lat...)
	}
	slices.Sort(all)
	q := func(f float64) time.Duration { return all[min(len(all)-1, int(f*float64(len(all))))] }
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("pages=%d events=%d rate=%d actions/s: event→page p50 %v p99 %v max %v; node CPU %.1f%% of a core over %v",
		n, len(all), rate, q(0.50).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), all[len(all)-1].Round(10*time.Microsecond),
		100*cpu.Seconds()/wall.Seconds(), wall.Round(time.Millisecond))
	t.Logf("pages=%d memory per connected page: heap %.1f KiB, stacks %.1f KiB, RSS %.1f KiB (goroutines %d → %d); loadavg %s",
		n, perPage(memBefore.HeapAlloc, memAfter.HeapAlloc, n), perPage(memBefore.StackInuse, memAfter.StackInuse, n),
		perPage(rssBefore, rssAfter, n), memBefore.Goroutines, memAfter.Goroutines, strings.TrimSpace(string(load)))
}

func perPage(before, after uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n) / 1024
}

// read follows one page's stream: each event of the page's agent is timed
// from its At to now.
func (p *loadPage) read(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("stream of %s: %w", p.agent, err)
		}
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			continue
		}
		now := time.Now()
		var ev struct {
			At    time.Time `json:"at"`
			Agent string    `json:"agent"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			return fmt.Errorf("stream of %s: %v", p.agent, err)
		}
		if ev.Agent != p.agent {
			return fmt.Errorf("stream of %s carried an event of %q", p.agent, ev.Agent)
		}
		p.lat = append(p.lat, now.Sub(ev.At))
		p.seen.Add(1)
	}
}

// forEachLimit runs f(0..n-1), at most limit at once; the first error
// cancels the rest and is returned.
func forEachLimit(ctx context.Context, limit, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return context.Cause(ctx)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && err != context.Canceled {
		return err
	}
	return nil
}

// doReq sends one request with a deadline and returns its status.
func doReq(ctx context.Context, hc *http.Client, method, url, body string, hdr map[string]string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// deskNodeMem asks the node for its memory after a GC (SIGUSR1).
func deskNodeMem(t *testing.T, node *proctest.Helper, path string) deskMem {
	t.Helper()
	_ = os.Remove(path + ".mem")
	if err := node.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(path + ".mem"); err == nil {
			var m deskMem
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		if time.Now().After(deadline) {
			t.Fatal("the desk node wrote no memory figures within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procRSS is a process's resident set in bytes (/proc/PID/status VmRSS).
func procRSS(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// procCPU is a process's user + system CPU time so far (/proc/PID/stat).
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command's closing parenthesis: state is field 3,
	// utime 14, stime 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}
