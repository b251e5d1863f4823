package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/promtest"
	"github.com/hotline-cc/hotline/internal/server"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestMain stops the shared PostgreSQL cluster of the end-to-end tests.
func TestMain(m *testing.M) {
	if path := os.Getenv(nodeHelperEnv); path != "" {
		os.Exit(runNodeHelper(path)) // a hotline node as its own process (twonodes_test.go)
	}
	if path := os.Getenv(deskNodeEnv); path != "" {
		os.Exit(runDeskNode(path)) // serve for the desk's stream benchmark (desk_load_test.go)
	}
	pgtest.Main(m)
}

// TestServeUnderSIPpLoad runs hotline as `serve` does (real switch, IVR,
// queue, PostgreSQL, survey) against real peers: SIPp callers on the trunk,
// a SIPp phone answering for two registered agents, a SIPp customer phone
// answering the survey, and a real Prometheus scraping /metrics. The counts
// in /metrics and in the PostgreSQL report must equal what SIPp's own
// statistics say happened; every dashboard query must run on the live
// series. Loopback addresses 127.0.0.50-59 are this test's.
func TestServeUnderSIPpLoad(t *testing.T) {
	sipptest.NeedTools(t, "sipp", "prometheus", "sox")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru", "hotline", "greeting.wav")); err != nil {
		t.Fatalf("generated prompts missing: run make prompts (%v)", err)
	}
	db := pgtest.New(t)
	yml := fillConfig(t, root, e2eConfig, "DBURL", db.DSN)
	srv := startTestServe(t, "e2e.yaml", yml)
	sipAddr, api := srv.SIPAddr().String(), srv.api

	// Agents b1 and b2 register, both pointing at one SIPp phone that answers
	// and echoes RTP; then they log in through the API.
	agentPhone := sippRun(t, root, "agent.xml", map[string]string{"RING": "200"},
		"-i", "127.0.0.50", "-p", "5600", "-mp", "6600", "-rtp_echo", "-m", "3", "-timeout", "120s")
	registerAgents(t, root, sipAddr, "127.0.0.50", 5600, 5601, "b1", "b2")
	for _, user := range []string{"b1", "b2"} {
		post(t, api+"/api/v1/agents/"+user+"/login", "")
	}
	// The customer's phone for the next-day survey (delay 2 s here): rates 4,
	// then says solved (1), with Debian's RFC 4733 pcaps.
	customer := sippRun(t, root, "customer.xml", map[string]string{"FIRST_PCAP": "/usr/share/sip-tester/dtmf_2833_4.pcap",
		"SECOND_PCAP": "/usr/share/sip-tester/dtmf_2833_1.pcap", "PAUSE1": "6000", "PAUSE2": "3000"},
		"-i", "127.0.0.52", "-p", "5090", "-mi", "127.0.0.52", "-mp", "6700", "-m", "1", "-timeout", "120s")

	voice := filepath.Join(t.TempDir(), "voice-alaw.wav") // the callers' voice (made by sox below)
	events := watchEvents(t, srv.ctx, api)
	answeredEvents := func() []eventlog.Event {
		return events.matching(func(e eventlog.Event) bool { return e.Type == eventlog.QueueAnswered })
	}
	// A real Prometheus scrapes the live /metrics while the calls happen.
	rules := filepath.Join(root, "deploy", "prometheus", "rules", "hotline.rules.yml")
	prom := promtest.Start(t, rules, srv.HTTPAddr())
	prom.WaitFor(t, "first scrape", func() bool { return prom.Scrapes() >= 1 })
	// Three callers with enough patience: two agents take them (the third
	// waits for the first agent to free up).
	patient := sippRun(t, root, "caller-load.xml", map[string]string{"AUDIO": voice},
		"-i", "127.0.0.51", "-p", "5610", "-mp", "6610", "-m", "3", "-r", "1", "-d", "6000",
		"-s", "88001234567", "-key", "caller", "79123456789", "-timeout", "60s", sipAddr)
	patient.Wait(t, "patient callers", 150*time.Second)
	// Dispositions for the answered calls (FCR by disposition).
	waitUntil(t, "three answered calls on the event stream", func() bool { return len(answeredEvents()) == 3 })
	for _, e := range answeredEvents() {
		post(t, api+"/api/v1/calls/"+e.CallID+"/disposition", `{"result":"resolved"}`)
	}
	// Both agents paused: two callers with 3 s of patience give up in the
	// queue (short abandons, the prompt takes 1 s of it).
	post(t, api+"/api/v1/agents/b1/pause", `{"reason":"break"}`)
	post(t, api+"/api/v1/agents/b2/pause", `{"reason":"break"}`)
	impatient := sippRun(t, root, "caller-load.xml", map[string]string{"AUDIO": voice},
		"-i", "127.0.0.51", "-p", "5611", "-mp", "6620", "-m", "2", "-r", "1", "-d", "3000",
		"-s", "88001234567", "-key", "caller", "79123456789", "-timeout", "60s", sipAddr)
	impatient.Wait(t, "impatient callers", 150*time.Second)
	agentPhone.Wait(t, "agent phone", 150*time.Second)
	customer.Wait(t, "survey customer", 150*time.Second)

	// What SIPp saw: 5 calls placed, 3 reached an agent's phone.
	placed := patient.Stat(t, "SuccessfulCall(C)") + impatient.Stat(t, "SuccessfulCall(C)")
	answered := agentPhone.Stat(t, "SuccessfulCall(C)")
	if placed != 5 || answered != 3 {
		t.Fatalf("SIPp: %d calls placed, %d answered by the agents' phone; want 5 and 3", placed, answered)
	}
	abandoned := placed - answered

	// /metrics equals SIPp's counts.
	waitUntil(t, "survey completed", func() bool {
		return metric(t, api, `hotline_survey_calls_total{result="completed"}`) == 1
	})
	for name, want := range map[string]float64{
		`hotline_calls_offered_total{queue="support"}`:                                 float64(placed),
		`hotline_calls_answered_total{queue="support"}`:                                float64(answered),
		`hotline_calls_answered_within_threshold_total{queue="support"}`:               float64(answered),
		`hotline_calls_abandoned_total{queue="support"}`:                               float64(abandoned),
		`hotline_calls_short_abandoned_total{queue="support"}`:                         float64(abandoned),
		`hotline_service_level_ratio{formula="answered",queue="support",window="15m"}`: 1,
	} {
		if got := metric(t, api, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// The PostgreSQL report equals them too.
	var rep struct {
		Data []struct {
			Queue     string `json:"queue"`
			Offered   int    `json:"offered"`
			Answered  int    `json:"answered"`
			Abandoned int    `json:"abandoned"`
		} `json:"data"`
	}
	waitUntil(t, "the report", func() bool {
		getJSON(t, api+"/api/v1/reports/queues", &rep)
		for _, r := range rep.Data {
			if r.Queue == "support" && r.Offered == placed && r.Answered == answered && r.Abandoned == abandoned {
				return true
			}
		}
		return false
	})

	// Every dashboard query runs on what Prometheus scraped during the run;
	// those whose events this run makes return data.
	seen := prom.Scrapes()
	prom.WaitFor(t, "two more scrapes", func() bool { return prom.Scrapes() >= seen+2 })
	// Panels this run has no events for (no escalation, no missed ring) and
	// the FCR report gauge, which is refreshed from PostgreSQL every 15 min.
	noEvents := map[string]bool{
		"FCR by line and signal / B":               true,
		"Escalation rate to second line (1 h) / A": true,
		"Agents ($__range) / F":                    true,
		"Agents ($__range) / C":                    true,
	}
	for name, q := range promtest.DashboardQueries(t, filepath.Join(root, "deploy", "grafana", "dashboards", "hotline.json")) {
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
		switch {
		case finite == 0 && !noEvents[name]:
			t.Errorf("%s: %s: no data from the live run (%v)", name, q, res)
		case finite == 0:
			t.Logf("%s: no data (no such events in this run)", name)
		}
	}
}

const e2eConfig = `
service: {name: hotline-e2e}
sip:
  listen: "127.0.0.1:SIPPORT"
  digest_algorithms: [MD5]
  trunks:
    - {name: provider, allow: ["127.0.0.51"], address: "127.0.0.52:5090", caller_id: "88001234567"}
  numbers: {"*": support}
media:
  rtp_ports: "37000-37399"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT"}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: b1, password: pw-b1, skills: {general: 1}, wrapup: 1s}
  - {id: b2, password: pw-b2, skills: {general: 1}, wrapup: 1s}
queues:
  - {name: support, skill: general, ring_timeout: 10s, announce: {every: 0s}}
survey:
  enabled: true
  delay: 2s
  window: {from: "00:00", to: "23:59"}
  skip_holidays: false
  retry_delay: 5s
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        hello: {type: play, prompt: digits/1, next: queue}
        queue: {type: queue, queue: support}
`

// sippRun starts SIPp with a scenario from deploy/sipp, making the callers'
// A-law voice file first when the scenario streams one.
func sippRun(t *testing.T, root, scenario string, replace map[string]string, args ...string) *sipptest.SIPp {
	t.Helper()
	if audio, ok := replace["AUDIO"]; ok {
		if _, err := os.Stat(audio); err != nil {
			if out, err := exec.Command("sox", "-V1", "/usr/share/asterisk/sounds/ru/vm-intro.wav", "-t", "wav", "-e", "a-law", audio).CombinedOutput(); err != nil {
				t.Fatalf("sox: %v: %s", err, out)
			}
		}
	}
	return sipptest.Start(t, filepath.Join(root, "deploy", "sipp", scenario), replace, args...)
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s: %s", url, resp.Status, b)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// testServe is a server started in-process from a YAML config, as `serve`
// starts it; it is shut down gracefully at cleanup (or earlier by stop),
// and its log is shown when the test failed.
type testServe struct {
	*server.Server
	api  string
	ctx  context.Context
	stop func() // graceful shutdown, as on SIGTERM
}

func startTestServe(t *testing.T, name, yml string) *testServe {
	t.Helper()
	cfg, err := config.Parse(name, []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	showLog := func() {
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("serve log (tail):\n%s", sipptest.Tail(string(b), 8000))
		}
	}
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(cfg, log)
	if err != nil {
		showLog()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		_ = srv.Shutdown(context.Background())
		t.Error(err)
		showLog()
		t.FailNow()
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
			defer c()
			if err := srv.Shutdown(sctx); err != nil {
				t.Logf("shutdown: %v", err)
			}
			cancel()
		})
	}
	t.Cleanup(func() {
		stop()
		showLog()
	})
	return &testServe{Server: srv, api: "http://" + srv.HTTPAddr(), ctx: ctx, stop: stop}
}

// metric reads one sample from /metrics (0 when absent).
func metric(t *testing.T, api, series string) float64 {
	t.Helper()
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if name, val, ok := strings.Cut(line, " "); ok && name == series {
			v, _ := strconv.ParseFloat(strings.TrimSpace(val), 64)
			return v
		}
	}
	return 0
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// fillConfig fills a `serve` config template: ROOT is the repository,
// SPOOL a fresh directory, SIPPORT and HTTPPORT free ports, then the
// pairs in more (old, new, as strings.NewReplacer takes them), e.g.
// "DBURL", db.DSN.
func fillConfig(t *testing.T, root, tmpl string, more ...string) string {
	t.Helper()
	pairs := append([]string{"ROOT", root, "SPOOL", t.TempDir(),
		"SIPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "HTTPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t))}, more...)
	return strings.NewReplacer(pairs...).Replace(tmpl)
}

// registerAgents registers each user (password "pw-"+user, as the test
// configs set them) with SIPp, all with the contact ip:contactPort (one
// SIPp phone answering for them all), the i-th from port firstPort+i.
func registerAgents(t *testing.T, root, sipAddr, ip string, contactPort, firstPort int, users ...string) {
	t.Helper()
	for i, user := range users {
		reg := sippRun(t, root, "register.xml", nil, "-i", ip, "-p", strconv.Itoa(firstPort+i), "-m", "1",
			"-s", user, "-au", user, "-ap", "pw-"+user, "-key", "expires", "600",
			"-key", "contact_host", ip, "-key", "contact_port", strconv.Itoa(contactPort), "-timeout", "20s", "-timeout_error", sipAddr)
		reg.Wait(t, "register "+user, 30*time.Second)
	}
}
