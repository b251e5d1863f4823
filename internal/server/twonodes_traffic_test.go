package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/proctest"
	"github.com/hotline-cc/hotline/internal/server"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestTwoNodesKillTraffic's addresses (127.0.24.10–60).
const (
	trFront    = "127.0.24.11" // Kamailio: trunks :5060, agents :5070
	trCaller   = "127.0.24.12" // SIPp callers
	trA        = "127.0.24.21"
	trB        = "127.0.24.22"
	trPhone    = "127.0.24.30" // SIPp phone of agents b1–b3
	trBaresip  = "127.0.24.31" // baresip, agent b5
	trCustomer = "127.0.24.32" // the survey's customers (the trunk "out")
)

const trafficNodeCfg = `
service: {name: hotline-NODE}
node: {id: NODE, line: "8800", lease_timeout: 2s}
sip:
  listen: "IP:5060"
  digest_algorithms: [MD5]
  trunks:
    - {name: front, allow: ["FRONT:5060"]}
    - {name: out, allow: ["CUSTOMER"], address: "CUSTOMER:5090", caller_id: "88001234567"}
  numbers: {"8800": short, "8801": support, "8802": vip}
media:
  rtp_ports: "RTP"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "IP:8080"}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: b1, password: pw-b1, skills: {general: 1}}
  - {id: b2, password: pw-b2, skills: {general: 1}}
  - {id: b3, password: pw-b3, skills: {general: 1}}
  - {id: b4, password: pw-b4, skills: {general: 1}}
  - {id: b5, password: pw-b5, skills: {vip: 1}}
queues:
  - {name: support, skill: general, announce: {every: 0s}}
  - {name: vip, skill: vip, announce: {every: 0s}}
survey:
  enabled: true
  trunk: out
  delay: 3s
  window: {from: "00:00", to: "23:59"}
  skip_holidays: false
  skip_weekends: false
  retry_delay: 5s
  per_minute: 60
  max_concurrent: 10
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
    vip:
      nodes:
        queue: {type: queue, queue: vip}
`

// startTrafficNode runs a node of TestTwoNodesKillTraffic as a helper
// process (it can be killed with SIGKILL).
func (tn *twoNodes) startTrafficNode(t *testing.T, node, ip, rtp string) (*proctest.Helper, string) {
	t.Helper()
	dir := t.TempDir()
	yml := strings.NewReplacer("ROOT", tn.root, "DBURL", tn.db.DSN, "SPOOL", filepath.Join(dir, "spool"), "NODE", node,
		"IP", ip, "RTP", rtp, "FRONT", trFront, "CUSTOMER", trCustomer).Replace(trafficNodeCfg)
	path := filepath.Join(dir, node+".yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	h := proctest.StartHelper(t, "node "+node, nodeHelperEnv+"="+path)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(path + ".log")
			var keep []string // the calls' routine lines left out
			for _, l := range strings.Split(string(b), "\n") {
				if !strings.Contains(l, `msg="sip call in"`) && !strings.Contains(l, `msg="sip leg ended"`) {
					keep = append(keep, l)
				}
			}
			t.Logf("node %s log (tail, without the calls' in/ended lines):\n%s", node, tail(strings.Join(keep, "\n"), 30000))
		}
	})
	return h, "http://" + ip + ":8080"
}

// callerNumbers writes a SIPp injection file of n distinct caller numbers
// from first on, for scenarios whose [caller] is replaced by [field0].
func callerNumbers(t *testing.T, first, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("SEQUENTIAL\n")
	for i := range n {
		fmt.Fprintf(&b, "%d;\n", first+i)
	}
	path := filepath.Join(t.TempDir(), "callers.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTwoNodesKillTraffic (issue 21's acceptance): SIPp calls at a steady
// rate through Kamailio, each from its own number: short IVR calls, and
// calls agents answer (SIPp phones registered through Kamailio), whose
// surveys fall due around the kill; kill -9 of the active node mid-run.
// Every call SIPp made is in the report once: the calls SIPp completed
// end normally, the calls the crash cut end with reason crash, no number
// arrives twice. Every survey runs once: the customers' SIPp receives one
// call per attempt logged, every survey ends once. A baresip agent who
// registered through Kamailio before the kill is rung by the new node.
// It logs the gap in answered calls.
func TestTwoNodesKillTraffic(t *testing.T) {
	sipptest.NeedTools(t, "sipp", "kamailio", "baresip")
	tn := newFrontAt(t, trFront, trA, trB, "")
	a, aAPI := tn.startTrafficNode(t, "a", trA, "46000-46199")
	waitUntil(t, "node a active", func() bool { return role(aAPI) == "active" })
	_, bAPI := tn.startTrafficNode(t, "b", trB, "46200-46399")
	if r := role(bAPI); r != "standby" {
		t.Fatalf("node b's role = %q, want standby", r)
	}

	// Agents b1–b3 on one SIPp phone, b5 on baresip,
	// all registered through Kamailio's agent side. A phone registers from
	// the address it answers on (Kamailio's Path carries it: received=).
	for _, user := range []string{"b1", "b2", "b3"} {
		reg := sippRun(t, tn.root, "register.xml", nil, "-i", trPhone, "-p", "5090", "-m", "1",
			"-s", user, "-au", user, "-ap", "pw-"+user, "-key", "expires", "600",
			"-key", "contact_host", trPhone, "-key", "contact_port", "5090", "-timeout", "20s", "-timeout_error", trFront+":5070")
		reg.Wait(t, "register "+user+" through Kamailio", 30*time.Second)
	}
	sippRun(t, tn.root, "agent.xml", map[string]string{"RING": "200"}, "-i", trPhone, "-p", "5090", "-mp", "46600",
		"-rtp_echo", "-recv_timeout", "30000", "-timeout", "300s")
	bare := sipptest.StartBaresip(t, sipptest.Baresip{IP: trBaresip, SIPPort: 5090, RTPPort: 46800, User: "b5", Password: "pw-b5",
		Registrar: trFront + ":5070", Mic: "/usr/share/asterisk/sounds/ru/vm-intro.wav", Seconds: 300})
	waitUntil(t, "baresip b5 registered through Kamailio", func() bool {
		return tn.count(t, `SELECT count(*) FROM sip_bindings WHERE sip_user = 'b5' AND path LIKE '%`+trFront+`:5070%'`) == 1
	})
	for _, user := range []string{"b1", "b2", "b3", "b4", "b5"} {
		post(t, aAPI+"/api/v1/agents/"+user+"/login", "")
	}
	post(t, aAPI+"/api/v1/agents/b4/pause", `{"reason":"lunch"}`) // b4 is at lunch across the take-over
	// The survey's customers answer, rate 4 and say solved.
	customer := sippRun(t, tn.root, "customer.xml", map[string]string{"FIRST_PCAP": "/usr/share/sip-tester/dtmf_2833_4.pcap",
		"SECOND_PCAP": "/usr/share/sip-tester/dtmf_2833_1.pcap", "PAUSE1": "1500", "PAUSE2": "1500"},
		"-i", trCustomer, "-p", "5090", "-mi", trCustomer, "-mp", "46900", "-recv_timeout", "30000", "-timeout", "300s")

	// The traffic: 100 short calls at 5/s; 10 calls to the agents at 1/s.
	const shortCalls, agentCalls = 100, 10
	caller := func(port, mp, number, talk, numbers string, rate, n int) *sipptest.SIPp {
		return sippRun(t, tn.root, "caller-proxy.xml", map[string]string{"TALK": talk, "[caller]": "[field0]"},
			"-inf", numbers, "-i", trCaller, "-p", port, "-mp", mp, "-s", number, "-r", fmt.Sprint(rate), "-m", fmt.Sprint(n),
			"-l", "60", "-recv_timeout", "20000", "-timeout", "200s", "-timeout_error", trFront+":5060")
	}
	short := caller("5080", "47000", "8800", "8000", callerNumbers(t, 79123000000, shortCalls), 5, shortCalls)
	waitUntil(t, "short calls flowing", func() bool { return tn.arrivals(t)["a"] >= 10 })
	toAgents := caller("5082", "47400", "8801", "2000", callerNumbers(t, 79123100000, agentCalls), 1, agentCalls)
	// Kill when surveys are due around it (3 s after each answered call
	// ends): one survey call under way on node a, more due.
	waitUntil(t, "agents answered 5 calls, a survey call under way", func() bool {
		return tn.count(t, `SELECT count(*) FROM events WHERE type = 'queue.answered'`) >= 5 &&
			tn.count(t, `SELECT count(*) FROM survey_attempt`) >= 1
	})
	a.Kill()
	killed := time.Now()
	waitUntil(t, "node b active", func() bool { return role(bAPI) == "active" })
	t.Logf("kill -9: node b active %s after the kill", time.Since(killed).Round(time.Millisecond))

	// The new node rebuilt the agents from the log: b4 paused for lunch,
	// the others logged in (b5 is rung below).
	waitUntil(t, "b4 paused for lunch again on node b", func() bool {
		return tn.count(t, `SELECT count(*) FROM events WHERE type = 'agent.state' AND agent = 'b4' AND data->>'to' = 'paused'
			AND reason = 'lunch' AND at > $1`, killed) == 1
	})
	if n := tn.count(t, `SELECT count(DISTINCT agent) FROM events WHERE type = 'agent.state' AND data->>'from' = 'logged-out'
		AND at > $1`, killed); n != 5 {
		t.Errorf("agents logged back in on node b: %d, want 5", n)
	}

	// baresip's agent is rung by the new node, through Kamailio.
	vip := caller("5084", "47800", "8802", "3000", callerNumbers(t, 79123200000, 1), 1, 1)
	for _, s := range []*sipptest.SIPp{short, toAgents, vip} {
		select {
		case <-s.Done():
		case <-time.After(240 * time.Second):
			t.Fatal("SIPp callers did not finish")
		}
	}
	if ok := vip.Stat(t, "SuccessfulCall(C)"); ok != 1 {
		t.Fatalf("the call to baresip's queue after the take-over: %d successful, want 1", ok)
	}
	if n := tn.count(t, `SELECT count(*) FROM events e JOIN events a ON a.call_id = e.call_id AND a.type = 'call.arrived'
		WHERE e.type = 'queue.answered' AND e.agent = 'b5' AND a.data->>'node_id' = 'b'`); n != 1 {
		t.Fatalf("calls baresip's b5 answered on node b = %d, want 1", n)
	}
	// baresip's contact user is b5-<hex>.
	if want := regexp.MustCompile(`node request INVITE to sip:b5-\w+@` + regexp.QuoteMeta(trBaresip) + `:5090 from ` + regexp.QuoteMeta(trB) + `:5060`); !want.MatchString(tn.k.Output()) {
		t.Errorf("Kamailio did not relay node b's INVITE to baresip (%s)", want)
	}
	if !strings.Contains(bare.String(), "Call established") {
		t.Errorf("baresip did not establish the call")
	}

	// The report: every number SIPp called from is there once, with one
	// end; SIPp's successful calls end normally, its failed ones were cut
	// by the crash (or never reached a node).
	made, okCalls, failed := 0, 0, 0
	for _, s := range []*sipptest.SIPp{short, toAgents, vip} {
		made += s.Stat(t, "OutgoingCall(C)")
		okCalls += s.Stat(t, "SuccessfulCall(C)")
		failed += s.Stat(t, "FailedCall(C)")
	}
	if made != shortCalls+agentCalls+1 || okCalls+failed != made {
		t.Fatalf("SIPp: %d calls made, %d successful, %d failed; want %d made", made, okCalls, failed, shortCalls+agentCalls+1)
	}
	waitUntil(t, "every stored call has its end", func() bool { none, _ := tn.endsPerCall(t); return none == 0 })
	if none, several := tn.endsPerCall(t); none != 0 || several != 0 {
		t.Fatalf("calls without an end: %d, with several: %d", none, several)
	}
	arrived := tn.count(t, `SELECT count(*) FROM events WHERE type = 'call.arrived'`)
	if n := tn.count(t, `SELECT count(DISTINCT caller) FROM events WHERE type = 'call.arrived'`); n != arrived {
		t.Fatalf("%d calls in the report from %d numbers: a call counted twice", arrived, n)
	}
	crashed := tn.count(t, `SELECT count(*) FROM events WHERE type = 'call.ended' AND reason = $1`, server.CrashReason)
	// A call whose phone saw it end in the one database write before the
	// kill is closed as crash (docs/metrics.md, "What a kill loses"): at
	// most one at this rate; it is counted, with the wrong reason.
	late := okCalls - (arrived - crashed)
	t.Logf("SIPp: %d calls, %d successful, %d failed; report: %d calls, %d ended by the crash (%d of them ended normally in the last write), %d never reached a node's log",
		made, okCalls, failed, arrived, crashed, late, made-arrived)
	if late < 0 || late > 1 {
		t.Fatalf("calls in the report ended normally = %d, SIPp's successful calls = %d", arrived-crashed, okCalls)
	}
	if crashed-late > failed {
		t.Fatalf("calls ended by the crash = %d, more than SIPp's failed calls (%d)", crashed-late, failed)
	}
	if made-arrived != failed-(crashed-late) {
		t.Fatalf("SIPp's failed calls not in the report: %d, want %d", made-arrived, failed-(crashed-late))
	}

	// The surveys: every one ends once; the customers' phone got one call
	// per attempt in the log.
	waitUntil(t, "every survey ended", func() bool {
		return tn.count(t, `SELECT count(*) FROM survey WHERE state IN ('scheduled', 'retry', 'in_progress')`) == 0
	})
	surveys := tn.count(t, `SELECT count(*) FROM survey WHERE state <> 'skipped'`)
	if surveys == 0 {
		t.Fatal("no survey ran")
	}
	// Their events follow the survey's own commit.
	waitUntil(t, "every survey's end in the event log", func() bool {
		return tn.count(t, `SELECT count(DISTINCT call_id) FROM events WHERE type IN ('survey.completed', 'survey.failed')`) >= surveys
	})
	if n := tn.count(t, `SELECT count(*) FROM (SELECT call_id FROM events WHERE type IN ('survey.completed', 'survey.failed')
		GROUP BY call_id HAVING count(*) > 1) x`); n != 0 {
		t.Fatalf("%d surveys ended more than once", n)
	}
	attempts := tn.count(t, `SELECT count(*) FROM events WHERE type = 'survey.attempt'`)
	waitUntil(t, "the customers' phone counted every survey call", func() bool { return customer.Stat(t, "IncomingCall(C)") >= attempts })
	if got := customer.Stat(t, "IncomingCall(C)"); got != attempts {
		t.Fatalf("the customers' phone got %d survey calls, the log has %d attempts", got, attempts)
	}
	answeredOK := tn.count(t, `SELECT count(DISTINCT e.call_id) FROM events e JOIN events x ON x.call_id = e.call_id AND x.type = 'call.ended'
		WHERE e.type = 'queue.answered' AND x.reason <> $1`, server.CrashReason)
	t.Logf("surveys: %d (of %d calls answered and not cut), %d attempts (%d started before the kill), %d completed", surveys, answeredOK, attempts,
		tn.count(t, `SELECT count(*) FROM survey_attempt WHERE started_at < $1`, killed),
		tn.count(t, `SELECT count(*) FROM survey WHERE state = 'completed'`))
	if surveys != answeredOK+tn.count(t, `SELECT count(*) FROM survey s JOIN events x ON x.call_id = s.call_id AND x.type = 'call.ended'
		WHERE x.reason = $1 AND s.state <> 'skipped'`, server.CrashReason) {
		t.Errorf("surveys %d, answered calls %d: a survey was lost", surveys, answeredOK)
	}

	// The gap: the last call node a took, the first node b took.
	var first time.Time
	if err := tn.pool.QueryRow(context.Background(), `SELECT min(at) FROM events WHERE type = 'call.arrived' AND data->>'node_id' = 'b'`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	t.Logf("kill -9 under traffic: the first call reached node b %s after the kill; gap in answered calls %s",
		first.Sub(killed).Round(time.Millisecond), tn.gap(t, "a", "b").Round(time.Millisecond))
}
