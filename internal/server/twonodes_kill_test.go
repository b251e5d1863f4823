package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/internal/proctest"
	"github.com/hotline-cc/hotline/internal/server"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// nodeHelperEnv names the config file of a node the test binary runs as
// its own process (TestMain), so that the test can kill it with SIGKILL.
const nodeHelperEnv = "HOTLINE_TEST_NODE_CONFIG"

// runNodeHelper is `hotline serve` in a test binary: it prints READY once
// started, drains on SIGTERM, and exits 75 when fenced. Its log goes to
// the config file's name + ".log".
func runNodeHelper(path string) int {
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
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(cfg, log)
	if err == nil {
		err = srv.Start(context.Background())
	}
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Println("READY")
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	select {
	case <-term:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		return 0
	case <-srv.Fenced():
		return 75
	}
}

const killNodeCfg = `
service: {name: hotline-NODE}
node: {id: NODE, line: "8800", lease_timeout: 2s}
sip:
  listen: "IP:5060"
  digest_algorithms: [MD5]
  trunks:
    - {name: front, allow: ["127.0.5.11:5060"]}
  numbers: {"8800": short, "8801": support}
media:
  rtp_ports: "RTP"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "IP:8080"}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: b1, password: pw-b1, skills: {general: 1}}
queues:
  - {name: support, skill: general, announce: {every: 0s}}
ivr:
  default_queue: support
  flows:
    short:
      nodes:
        hello: {type: play, prompt: digits/1, next: bye}
        bye: {type: hangup}
    support:
      nodes:
        queue: {type: queue, queue: support}
`

// startNode runs a node as a helper process.
func (tn *twoNodes) startNode(t *testing.T, node, ip, rtp string) (*proctest.Helper, string) {
	t.Helper()
	return tn.startNodeAt(t, node, ip, rtp, tn.db.DSN, t.TempDir())
}

// startNodeAt runs a node as a helper process on the database dsn, its
// config, log and spool in dir (a restart reuses them).
func (tn *twoNodes) startNodeAt(t *testing.T, node, ip, rtp, dsn, dir string) (*proctest.Helper, string) {
	t.Helper()
	yml := strings.NewReplacer("ROOT", tn.root, "DBURL", dsn, "SPOOL", filepath.Join(dir, "spool"), "NODE", node, "IP", ip,
		"RTP", rtp).Replace(killNodeCfg)
	path := filepath.Join(dir, node+".yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	h := proctest.StartHelper(t, "node "+node, nodeHelperEnv+"="+path)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(path + ".log")
			t.Logf("node %s log (tail):\n%s", node, tail(string(b), 6000))
		}
	})
	return h, "http://" + ip + ":8080"
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// count runs a counting query.
func (tn *twoNodes) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := tn.pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTwoNodesKill: the active node dies (SIGKILL) with calls up — a short
// call's traffic before it, an agent talking to a caller. The standby takes
// over; the agent, registered through Kamailio, is rung by the new node;
// SIPp's calls after the crash all succeed (they ring longer while the
// take-over lasts); the report counts every call SIPp made once: the calls
// cut by the crash end with reason crash, every other call as SIPp saw it.
func TestTwoNodesKill(t *testing.T) {
	tn := newTwoNodes(t)
	a, aAPI := tn.startNode(t, "a", nodeAIP, "41400-41599")
	waitUntil(t, "node a active", func() bool { return role(aAPI) == "active" })
	_, bAPI := tn.startNode(t, "b", nodeBIP, "41600-41799")
	if r := role(bAPI); r != "standby" {
		t.Fatalf("node b's role = %q, want standby", r)
	}

	// b1's phone answers on 127.0.5.30:5090 and registers through
	// Kamailio's agent side; b1 logs in on the active node.
	const agentIP = "127.0.5.30"
	// The phone registers from the address it answers on (Kamailio's
	// Path carries it: received=), then answers there.
	reg := sippRun(t, tn.root, "register.xml", nil, "-i", agentIP, "-p", "5090", "-m", "1",
		"-s", "b1", "-au", "b1", "-ap", "pw-b1", "-key", "expires", "600",
		"-key", "contact_host", agentIP, "-key", "contact_port", "5090", "-timeout", "20s", "-timeout_error", frontIP+":5070")
	reg.Wait(t, "register b1 through Kamailio", 30*time.Second)
	if n := tn.count(t, `SELECT count(*) FROM sip_bindings WHERE sip_user = 'b1' AND path LIKE '%127.0.5.11:5070%'`); n != 1 {
		t.Fatalf("b1's saved registrations with Kamailio's Path: %d, want 1", n)
	}
	phone := sippRun(t, tn.root, "agent.xml", map[string]string{"RING": "200"}, "-i", agentIP, "-p", "5090", "-mp", "41900", "-m", "2",
		"-recv_timeout", "20000") // the call the crash cut gets no BYE: the phone gives up on it
	post(t, aAPI+"/api/v1/agents/b1/login", "")

	// Before the crash: 20 short calls, all answered by a, and one call to
	// b1 that is still talking when a dies.
	short := func(n int, ip string, port, mp string) *sipptest.SIPp {
		return sippRun(t, tn.root, "caller-proxy.xml", map[string]string{"TALK": "15000"}, "-i", ip, "-p", port, "-mp", mp,
			"-s", "8800", "-key", "caller", "79991234567", "-r", "5", "-m", fmt.Sprint(n), "-recv_timeout", "20000",
			"-timeout", "90s", "-timeout_error", frontIP+":5060")
	}
	before := short(20, callerIP, "5080", "42000")
	before.Wait(t, "calls before the crash", 60*time.Second)
	talking := sippRun(t, tn.root, "caller-proxy.xml", map[string]string{"TALK": "10000"}, "-i", callerIP, "-p", "5082", "-mp", "42200",
		"-s", "8801", "-key", "caller", "79991234500", "-m", "1", "-recv_timeout", "30000", "-timeout", "120s", "-timeout_error", frontIP+":5060")
	// Everything a logged is in the database before it dies (its writer
	// flushes every 200 ms): the 20 short calls' ends and the talk's
	// answer. What a kill loses from a writer's memory is in docs/metrics.md.
	waitUntil(t, "a's events stored", func() bool {
		return tn.count(t, `SELECT count(*) FROM events WHERE type = 'call.ended'`) == 20 &&
			tn.count(t, `SELECT count(*) FROM events WHERE type = 'queue.answered' AND agent = 'b1'`) == 1
	})
	a.Kill()
	killed := time.Now()

	// After the crash: 20 more short calls at once; b takes over.
	after := short(20, callerIP, "5084", "42400")
	waitUntil(t, "node b active", func() bool { return role(bAPI) == "active" })
	after.Wait(t, "calls after the crash", 90*time.Second)
	if ok, failed := after.Stat(t, "SuccessfulCall(C)"), after.Stat(t, "FailedCall(C)"); ok != 20 || failed != 0 {
		t.Fatalf("after the crash: %d successful, %d failed; want 20, 0", ok, failed)
	}
	// The talking caller was cut: SIPp gets no answer to its BYE (a is dead).
	select {
	case <-talking.Done():
	case <-time.After(150 * time.Second):
		t.Fatal("the call cut by the crash: SIPp did not end")
	}
	if failed := talking.Stat(t, "FailedCall(C)"); failed != 1 {
		t.Fatalf("the call cut by the crash: SIPp counts %d failed, want 1", failed)
	}

	// b1 is rung by the new node: the restored registration, the resumed
	// login.
	toAgent := sippRun(t, tn.root, "caller-proxy.xml", map[string]string{"TALK": "1500"}, "-i", callerIP, "-p", "5086", "-mp", "42600",
		"-s", "8801", "-key", "caller", "79991234501", "-m", "1", "-recv_timeout", "20000", "-timeout", "60s", "-timeout_error", frontIP+":5060")
	toAgent.Wait(t, "a call to b1 after the take-over", 60*time.Second)
	select {
	case <-phone.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("b1's phone did not end")
	}
	if ok, failed := phone.Stat(t, "SuccessfulCall(C)"), phone.Stat(t, "FailedCall(C)"); ok != 1 || failed != 1 {
		t.Fatalf("b1's phone: %d calls ended normally, %d cut; want 1 (on b), 1 (on a, cut by the crash)", ok, failed)
	}
	if n := tn.count(t, `SELECT count(*) FROM events e JOIN events a ON a.call_id = e.call_id AND a.type = 'call.arrived'
		WHERE e.type = 'queue.answered' AND e.agent = 'b1' AND a.data->>'node_id' = 'b'`); n != 1 {
		t.Fatalf("calls b1 answered on node b = %d, want 1", n)
	}
	// Both nodes rang b1 through Kamailio (the registration's Path).
	for _, node := range []string{nodeAIP, nodeBIP} {
		if want := "node request INVITE to sip:b1@" + agentIP + ":5090 from " + node + ":5060"; !strings.Contains(tn.k.Output(), want) {
			t.Errorf("Kamailio did not relay %q", want)
		}
	}

	// The report: 20 + 1 + 20 + 1 calls, each with one end; exactly the
	// talking call ended by the crash.
	waitUntil(t, "every call stored with its end", func() bool {
		none, _ := tn.endsPerCall(t)
		n := tn.arrivals(t)
		return n["a"]+n["b"] == 42 && none == 0
	})
	if none, several := tn.endsPerCall(t); none != 0 || several != 0 {
		t.Fatalf("calls without an end: %d, with several: %d", none, several)
	}
	if n := tn.arrivals(t); n["a"] != 21 || n["b"] != 21 {
		t.Fatalf("calls by node = %v, want a 21, b 21", n)
	}
	if n := tn.count(t, `SELECT count(*) FROM events WHERE type = 'call.ended' AND reason = $1`, server.CrashReason); n != 1 {
		t.Fatalf("calls ended by the crash = %d, want 1 (the talking call)", n)
	}
	// The call records (the new node's projector) say the same: 42 calls,
	// one ended by the crash — the talk to b1, answered, its talk ending at
	// the crash — and the two calls b1 answered.
	waitUntil(t, "the call records projected", func() bool {
		return tn.count(t, `SELECT count(*) FROM calls WHERE ended_at IS NOT NULL`) == 42
	})
	if n := tn.count(t, `SELECT count(*) FROM calls WHERE end_reason = $1 AND agent = 'b1' AND answered_at IS NOT NULL`, server.CrashReason); n != 1 {
		t.Fatalf("call records ended by the crash with b1's answer = %d, want 1", n)
	}
	if n := tn.count(t, `SELECT count(*) FROM calls WHERE agent = 'b1' AND answered_at IS NOT NULL`); n != 2 {
		t.Fatalf("call records answered by b1 = %d, want 2", n)
	}
	var first time.Time
	if err := tn.pool.QueryRow(context.Background(), `SELECT min(at) FROM events WHERE type = 'call.arrived' AND data->>'node_id' = 'b'`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	t.Logf("kill -9: the first call after the crash reached node b %s after the kill", first.Sub(killed).Round(time.Millisecond))
}
