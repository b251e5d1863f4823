package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// Two nodes, one line (issue 21): addresses from the 127.0.5.10–60 block.
const (
	frontIP    = "127.0.5.11" // Kamailio: trunks on :5060, agents on :5070
	callerIP   = "127.0.5.12" // SIPp callers
	nodeAIP    = "127.0.5.21"
	nodeBIP    = "127.0.5.22"
	twoNodeCfg = `
service: {name: hotline-NODE}
node: {id: NODE, line: "8800", lease_timeout: 2s}
sip:
  listen: "IP:5060"
  digest_algorithms: [MD5]
  trunks:
    - {name: front, allow: ["127.0.5.11:5060"]}
  numbers: {"*": support}
media:
  rtp_ports: "RTP"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "IP:8080"}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: b1, password: pw-b1, skills: {general: 1}}
queues:
  - {name: support, skill: general}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        hello: {type: play, prompt: digits/1, next: bye}
        bye: {type: hangup}
`
)

// twoNodes is the line's test bed: PostgreSQL, Kamailio in front of two
// node addresses (deploy/kamailio), the nodes' configs.
type twoNodes struct {
	root string
	db   *pgtest.DB
	pool *pgxpool.Pool
	k    *sipptest.Kamailio
}

func newTwoNodes(t *testing.T) *twoNodes { t.Helper(); return newFront(t, "") }

// newFront is newTwoNodes with more dispatcher lines (extra) and Kamailio
// defines.
func newFront(t *testing.T, extra string, defines ...string) *twoNodes {
	t.Helper()
	return newFrontAt(t, frontIP, nodeAIP, nodeBIP, extra, defines...)
}

// newFrontAt is newFront with Kamailio on front and the nodes on a and b.
func newFrontAt(t *testing.T, front, a, b, extra string, defines ...string) *twoNodes {
	t.Helper()
	nodeAIP, nodeBIP, frontIP := a, b, front
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru")); err != nil {
		t.Skipf("generated prompts missing: run make prompts (%v)", err)
	}
	sipptest.NeedTools(t, "sipp", "kamailio")
	tn := &twoNodes{root: root, db: pgtest.New(t)}
	tn.pool = tn.db.Pool
	list := filepath.Join(t.TempDir(), "dispatcher.list")
	var sets strings.Builder
	for set, flags := range map[string]string{"1": "2", "2": "0"} {
		sets.WriteString(set + " sip:" + nodeAIP + ":5060 " + flags + " 10\n")
		sets.WriteString(set + " sip:" + nodeBIP + ":5060 " + flags + " 5\n")
	}
	sets.WriteString(extra)
	if err := os.WriteFile(list, []byte(sets.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tn.k = sipptest.StartKamailio(t, filepath.Join(root, "deploy", "kamailio", "kamailio.cfg"), frontIP+":5060",
		append([]string{"TRUNK_LISTEN=udp:" + frontIP + ":5060", "AGENT_LISTEN=udp:" + frontIP + ":5070",
			`DISPATCHER_LIST="` + list + `"`, "CHILDREN=2"}, defines...)...)
	return tn
}

// config is node's YAML (ip: its address, rtp: its port range).
func (tn *twoNodes) config(t *testing.T, node, ip, rtp string) string {
	return tn.lineConfig(t, node, "8800", ip, rtp)
}

// lineConfig is config for a node of line.
func (tn *twoNodes) lineConfig(t *testing.T, node, line, ip, rtp string) string {
	return strings.NewReplacer(`line: "8800"`, `line: "`+line+`"`, "ROOT", tn.root, "DBURL", tn.db.DSN, "SPOOL", t.TempDir(), "NODE", node, "IP", ip,
		"RTP", rtp).Replace(twoNodeCfg)
}

// role reads a node's GET /role ("" when it does not answer).
func role(api string) string {
	resp, err := http.Get(api + "/role")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var r struct {
		Role string `json:"role"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return r.Role
}

// arrivals counts call.arrived events by node_id.
func (tn *twoNodes) arrivals(t *testing.T) map[string]int {
	t.Helper()
	rows, err := tn.pool.Query(context.Background(),
		`SELECT coalesce(data->>'node_id', ''), count(*) FROM events WHERE type = 'call.arrived' GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var n string
		var c int
		if err := rows.Scan(&n, &c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	return out
}

// endsPerCall returns how many calls have no call.ended and how many more
// than one.
func (tn *twoNodes) endsPerCall(t *testing.T) (none, several int) {
	t.Helper()
	err := tn.pool.QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE ends = 0), count(*) FILTER (WHERE ends > 1) FROM (
		  SELECT call_id, count(*) FILTER (WHERE type = 'call.ended') AS ends FROM events
		   WHERE call_id IN (SELECT call_id FROM events WHERE type = 'call.arrived') GROUP BY call_id) c`).Scan(&none, &several)
	if err != nil {
		t.Fatal(err)
	}
	return none, several
}

// gap is the time between the last call one node took and the first the
// other took.
func (tn *twoNodes) gap(t *testing.T, from, to string) time.Duration {
	t.Helper()
	var last, first time.Time
	err := tn.pool.QueryRow(context.Background(), `
		SELECT (SELECT max(at) FROM events WHERE type = 'call.arrived' AND data->>'node_id' = $1),
		       (SELECT min(at) FROM events WHERE type = 'call.arrived' AND data->>'node_id' = $2)`, from, to).Scan(&last, &first)
	if err != nil {
		t.Fatal(err)
	}
	return first.Sub(last)
}

// TestTwoNodesHandOver: SIPp calls through Kamailio at a steady rate; the
// active node is stopped as on SIGTERM mid-run. The standby takes the line
// over and not one call fails: calls arriving during the hand-over ring a
// little longer (Kamailio retries the nodes), none is refused; every call
// is in the log once, with one end.
func TestTwoNodesHandOver(t *testing.T) {
	tn := newTwoNodes(t)
	a := startTestServe(t, "a.yaml", tn.config(t, "a", nodeAIP, "41000-41199"))
	waitUntil(t, "node a active", func() bool { return role(a.api) == "active" })
	b := startTestServe(t, "b.yaml", tn.config(t, "b", nodeBIP, "41200-41399"))
	if r := role(b.api); r != "standby" {
		t.Fatalf("node b's role = %q, want standby", r)
	}
	const calls = 60
	sipp := sippRun(t, tn.root, "caller-proxy.xml", map[string]string{"TALK": "15000"}, "-i", callerIP, "-p", "5080", "-mp", "41600",
		"-s", "8800", "-key", "caller", "79991234567", "-r", "10", "-m", "60", "-l", "40",
		"-timeout", "60s", "-timeout_error", frontIP+":5060")
	waitUntil(t, "node a took 15 calls", func() bool { return tn.arrivals(t)["a"] >= 15 })
	stopped := make(chan struct{})
	go func() { a.stop(); close(stopped) }() // SIGTERM: hand over, drain
	waitUntil(t, "node b active", func() bool { return role(b.api) == "active" })
	sipp.Wait(t, "calls through the hand-over", 90*time.Second)
	<-stopped
	if ok, failed := sipp.Stat(t, "SuccessfulCall(C)"), sipp.Stat(t, "FailedCall(C)"); ok != calls || failed != 0 {
		t.Fatalf("SIPp: %d successful, %d failed; want %d, 0", ok, failed, calls)
	}
	waitUntil(t, "every call stored", func() bool {
		n := tn.arrivals(t)
		none, _ := tn.endsPerCall(t)
		return n["a"]+n["b"] == calls && none == 0
	})
	n := tn.arrivals(t)
	if n["b"] == 0 || len(n) != 2 {
		t.Fatalf("calls by node = %v, want both a and b", n)
	}
	if none, several := tn.endsPerCall(t); none != 0 || several != 0 {
		t.Fatalf("calls without an end: %d, with several: %d", none, several)
	}
	t.Logf("hand-over: calls by node %v; gap between a's last and b's first call: %s", n, tn.gap(t, "a", "b"))
}

// TestTwoLines: two lines, each owned by its own active node (its own
// lease), behind one Kamailio that dispatches by called number
// (docs/scaling.md): calls to each line reach that line's node only.
func TestTwoLines(t *testing.T) {
	const nodeCIP = "127.0.5.23"
	tn := newFront(t, "3 sip:"+nodeCIP+":5060 2 10\n4 sip:"+nodeCIP+":5060 0 10\n", `SECOND_LINE="^8801"`)
	a := startTestServe(t, "a.yaml", tn.lineConfig(t, "a", "8800", nodeAIP, "43800-43899"))
	c := startTestServe(t, "c.yaml", tn.lineConfig(t, "c", "8801", nodeCIP, "43900-43999"))
	waitUntil(t, "both lines active", func() bool { return role(a.api) == "active" && role(c.api) == "active" })
	for _, l := range []struct{ number, port, mp string }{{"8800", "5080", "44000"}, {"8801", "5082", "44100"}} {
		s := sippRun(t, tn.root, "caller-proxy.xml", map[string]string{"TALK": "15000"}, "-i", callerIP, "-p", l.port, "-mp", l.mp,
			"-s", l.number, "-key", "caller", "79991234567", "-r", "5", "-m", "5", "-timeout", "60s", "-timeout_error", frontIP+":5060")
		s.Wait(t, "calls to "+l.number, 60*time.Second)
	}
	waitUntil(t, "every call stored", func() bool { n := tn.arrivals(t); return n["a"]+n["c"] == 10 })
	rows, err := tn.pool.Query(context.Background(), `SELECT data->>'node_id', data->>'to', count(*) FROM events
		WHERE type = 'call.arrived' GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var node, to string
		var n int
		if err := rows.Scan(&node, &to, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s:%s:%d", node, to, n))
	}
	if want := "a:8800:5 c:8801:5"; strings.Join(got, " ") != want {
		t.Fatalf("calls by node and number = %v, want %s", got, want)
	}
}
