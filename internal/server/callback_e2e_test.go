package server_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

const callbackConfig = `
service: {name: hotline-callback}
sip:
  listen: "127.0.0.1:SIPPORT"
  digest_algorithms: [MD5]
  trunks:
    - {name: provider, allow: ["127.0.0.81"], address: "127.0.0.82:5090", caller_id: "88001234567"}
  numbers: {"*": support}
media:
  rtp_ports: "37500-37599"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT"}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: b1, password: pw-b1, skills: {general: 1}, wrapup: 1s}
queues:
  - name: support
    skill: general
    ring_timeout: 10s
    announce: {every: 0s}
    callback:
      enabled: true
      key: "1"
      hours: {from: "00:00", to: "23:59"}
      offer: {on_join: true}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        hello: {type: play, prompt: digits/1, next: queue}
        queue: {type: queue, queue: support}
`

// serveProcess is the real hotline binary running `serve`.
type serveProcess struct {
	cmd *exec.Cmd
	log *sipptest.Buffer
	api string
}

// buildHotline builds cmd/hotline into a temporary directory.
func buildHotline(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hotline")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hotline")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServe runs `hotline serve -config cfg` and waits for /readyz. The
// process is killed at the end of the test if still running; its log is
// shown when the test failed.
func startServe(t *testing.T, bin, root, cfg, api, name string) *serveProcess {
	t.Helper()
	p := &serveProcess{cmd: exec.Command(bin, "serve", "-config", cfg), log: &sipptest.Buffer{}, api: api}
	p.cmd.Dir = root
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = p.cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, sipptest.Tail(p.log.String(), 6000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if res, err := http.Get(api + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready:\n%s", name, sipptest.Tail(p.log.String(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill9 kills the process with SIGKILL: no shutdown, nothing flushed.
func (p *serveProcess) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

// TestCallbackSurvivesSIGKILL is the acceptance test of durable callbacks
// with real peers: a SIPp caller hears the callback offer while queued,
// presses 1 and is hung up after the confirmation; the real `hotline
// serve` is killed with SIGKILL and started again; the callback still
// happens: hotline rings the agent's SIPp phone, dials the caller's number
// through the trunk (a SIPp customer answers), and bridges them. The
// PostgreSQL report shows one callback requested and connected, its wait
// measured from the request to the connection (docs/metrics.md). Loopback
// addresses 127.0.0.80-82 are this test's.
func TestCallbackSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs hotline serve twice with SIPp peers")
	}
	sipptest.NeedTools(t, "sipp")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru", "hotline", "callback-offer.wav")); err != nil {
		t.Fatalf("generated prompts missing: run make prompts (%v)", err)
	}
	bin := buildHotline(t, root)
	db := pgtest.New(t)
	sipPort, httpPort := sipptest.FreeUDPAndTCPPort(t), sipptest.FreeUDPAndTCPPort(t)
	yml := strings.NewReplacer("ROOT", root, "DBURL", db.DSN, "SPOOL", t.TempDir(),
		"SIPPORT", strconv.Itoa(sipPort), "HTTPPORT", strconv.Itoa(httpPort)).Replace(callbackConfig)
	cfg := filepath.Join(t.TempDir(), "callback.yaml")
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	api := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	sipAddr := fmt.Sprintf("127.0.0.1:%d", sipPort)
	first := startServe(t, bin, root, cfg, api, "first serve")

	// The caller waits (nobody is logged in), hears the offer, presses 1
	// after 6 s and takes hotline's BYE after the confirmation.
	caller := sippRun(t, root, "caller.xml", map[string]string{"DIGIT": "1", "PAUSE_MS": "6000", "TALK": "30000"},
		"-i", "127.0.0.81", "-p", "5620", "-mp", "6640", "-m", "1", "-s", "88001234567",
		"-key", "caller", "79123456789", "-timeout", "60s", sipAddr)
	caller.Wait(t, "caller", 60*time.Second)
	if n := caller.Stat(t, "SuccessfulCall(C)"); n != 1 {
		t.Fatalf("caller: %d successful calls, want 1 (hung up by hotline after the confirmation)", n)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	count := func(q string, args ...any) int {
		var n int
		if err := pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitUntil(t, "the callback queued and its request logged", func() bool {
		return count(`SELECT count(*) FROM callback WHERE state = 'queued'`) == 1 &&
			count(`SELECT count(*) FROM events WHERE type IN ('callback.requested', 'callback.offered')`) == 2
	})
	var callID string
	var joined, requested time.Time
	if err := pool.QueryRow(ctx, `SELECT call_id, joined_at, requested_at FROM callback`).Scan(&callID, &joined, &requested); err != nil {
		t.Fatal(err)
	}
	first.kill9(t)

	// The caller's phone, for the callback: answers, talks 3 s, hangs up.
	customer := sippRun(t, root, "customer-callback.xml", map[string]string{"NUMBER": "79123456789", "TALK": "3000"},
		"-i", "127.0.0.82", "-p", "5090", "-mi", "127.0.0.82", "-mp", "6750", "-m", "1", "-timeout", "120s")
	second := startServe(t, bin, root, cfg, api, "second serve")
	// The agent's phone answers the callback's offer; b1 registers and logs in.
	agentPhone := sippRun(t, root, "agent.xml", map[string]string{"RING": "200"},
		"-i", "127.0.0.80", "-p", "5600", "-mp", "6650", "-rtp_echo", "-m", "1", "-timeout", "120s")
	registerAgents(t, root, sipAddr, "127.0.0.80", 5600, 5601, "b1")
	post(t, second.api+"/api/v1/agents/b1/login", "")
	customer.Wait(t, "the caller's phone (callback)", 120*time.Second)
	agentPhone.Wait(t, "agent phone", 120*time.Second)
	if n := customer.Stat(t, "SuccessfulCall(C)"); n != 1 {
		t.Fatalf("the caller's phone: %d successful calls, want 1", n)
	}

	// The report from PostgreSQL: one callback requested, one attempt,
	// connected; its wait from the request to the connection.
	var rep struct {
		Data []struct {
			Queue     string   `json:"queue"`
			Requested int      `json:"requested"`
			Attempted int      `json:"attempted"`
			Connected int      `json:"connected"`
			Failed    int      `json:"failed"`
			WaitAvg   *float64 `json:"wait_avg_s"`
		} `json:"data"`
	}
	waitUntil(t, "the callback report", func() bool {
		getJSON(t, second.api+"/api/v1/reports/callbacks", &rep)
		return len(rep.Data) == 1 && rep.Data[0].Connected == 1
	})
	r := rep.Data[0]
	if r.Queue != "support" || r.Requested != 1 || r.Attempted != 1 || r.Connected != 1 || r.Failed != 0 || r.WaitAvg == nil {
		t.Fatalf("callback report %+v, want support: 1 requested, 1 attempted, 1 connected", r)
	}
	var connectedAt time.Time
	if err := pool.QueryRow(ctx, `SELECT at FROM events WHERE type = 'callback.result' AND reason = 'connected' AND call_id = $1`, callID).
		Scan(&connectedAt); err != nil {
		t.Fatal(err)
	}
	want := connectedAt.Sub(requested).Seconds()
	if math.Abs(*r.WaitAvg-want) > 0.002 {
		t.Errorf("callback wait %.3f s, want %.3f s (request %v to connection %v)", *r.WaitAvg, want, requested, connectedAt)
	}
	if st := count(`SELECT count(*) FROM callback WHERE state = 'connected' AND number = ''`); st != 1 {
		t.Errorf("callback row not connected (number blanked)")
	}
	if !joined.Before(requested) {
		t.Errorf("joined %v not before the request %v: the place in line is the queue join", joined, requested)
	}
	t.Logf("callback: requested %s, connected %s after a SIGKILL and restart; wait %.3f s", requested.Format(time.RFC3339Nano),
		connectedAt.Format(time.RFC3339Nano), *r.WaitAvg)
}
