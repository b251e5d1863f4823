package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestServeHistoryRouting runs `serve` with the caller history in
// PostgreSQL and real SIPp peers, every call's history made by earlier real
// calls:
//
//   - a caller whose call was escalated (first line's b1 escalates it
//     through the API, second line's s1 takes it, no resolution) calls
//     again: the IVR lookup's open_escalation branch sends the call straight
//     to second line with priority 10, and s1 takes it;
//   - another caller's first call is taken by b2 (b1 paused); b1 is back
//     and has been ready the longest when the caller calls again, yet the
//     call goes to b2 first (first line's preferred_agent_wait).
//
// Loopback addresses 127.0.0.100-102 are this test's: the agents' phone
// (.100), the callers (.101).
func TestServeHistoryRouting(t *testing.T) {
	sipptest.NeedTools(t, "sipp", "sox")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru", "hotline", "greeting.wav")); err != nil {
		t.Fatalf("generated prompts missing: run make prompts (%v)", err)
	}
	db := pgtest.New(t)
	yml := fillConfig(t, root, historyConfig, "DBURL", db.DSN)
	srv := startTestServe(t, "history.yaml", yml)
	sipAddr, api := srv.SIPAddr().String(), srv.api
	events := watchEvents(t, srv.ctx, api)

	// One SIPp phone answers (and echoes RTP) for all three agents.
	phonePort := sipptest.FreeUDPAndTCPPort(t)
	agentPhone := sippRun(t, root, "agent.xml", map[string]string{"RING": "200"},
		"-i", "127.0.0.100", "-p", strconv.Itoa(phonePort), "-mp", "6900", "-rtp_echo", "-m", "5", "-timeout", "240s")
	for _, user := range []string{"b1", "b2", "s1"} {
		reg := sippRun(t, root, "register.xml", nil, "-i", "127.0.0.100", "-p", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "-m", "1",
			"-s", user, "-au", user, "-ap", "pw-"+user, "-key", "expires", "600",
			"-key", "contact_host", "127.0.0.100", "-key", "contact_port", strconv.Itoa(phonePort), "-timeout", "20s", "-timeout_error", sipAddr)
		reg.Wait(t, "register "+user, 30*time.Second)
	}
	post(t, api+"/api/v1/agents/b1/login", "")
	post(t, api+"/api/v1/agents/s1/login", "")

	voice := filepath.Join(t.TempDir(), "voice-alaw.wav")
	mediaPort := 6910
	call := func(caller string, talk time.Duration) *sipptest.SIPp {
		t.Helper()
		mediaPort += 10
		return sippRun(t, root, "caller-load.xml", map[string]string{"AUDIO": voice},
			"-i", "127.0.0.101", "-p", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "-mp", strconv.Itoa(mediaPort), "-m", "1",
			"-d", strconv.Itoa(int(talk.Milliseconds())), "-s", "88001234567", "-key", "caller", caller, "-timeout", "90s", sipAddr)
	}
	answered := func(n int, agent string) eventlog.Event {
		t.Helper()
		var got eventlog.Event
		waitUntil(t, "answer #"+strconv.Itoa(n)+" by "+agent, func() bool {
			all := events.matching(func(e eventlog.Event) bool { return e.Type == eventlog.QueueAnswered })
			if len(all) < n {
				return false
			}
			got = all[n-1]
			return true
		})
		if got.Agent != agent {
			t.Fatalf("answer #%d (call %s on %s) by %q, want %q", n, got.CallID, got.Queue, got.Agent, agent)
		}
		return got
	}
	joined := func(callID string) eventlog.Event {
		t.Helper()
		for _, e := range events.matching(func(e eventlog.Event) bool { return e.Type == eventlog.QueueJoined && e.CallID == callID }) {
			return e
		}
		t.Fatalf("call %s never joined a queue", callID)
		return eventlog.Event{}
	}
	// Waits until the call's record is projected (ended) in PostgreSQL:
	// only finished calls are history.
	ended := func(callID string) {
		t.Helper()
		waitUntil(t, "call "+callID+" recorded as ended", func() bool {
			var n int
			err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM calls WHERE call_id = $1 AND ended_at IS NOT NULL`, callID).Scan(&n)
			return err == nil && n == 1
		})
	}

	// (a) The escalated caller.
	const escalated = "79161112233"
	c1 := call(escalated, 12*time.Second)
	first := answered(1, "b1")
	if j := joined(first.CallID); j.Queue != "first-line" || j.Priority != 0 {
		t.Fatalf("a caller without history joined %s with priority %d, want first-line, 0", j.Queue, j.Priority)
	}
	post(t, api+"/api/v1/calls/"+first.CallID+"/escalate", `{"queue":"second-line","reason":"technical","notes":"router"}`)
	answered(2, "s1")
	c1.Wait(t, "escalated caller", 60*time.Second)
	ended(first.CallID)
	c2 := call(escalated, 2*time.Second)
	again := answered(3, "s1")
	if j := joined(again.CallID); j.Queue != "second-line" || j.Priority != 10 {
		t.Errorf("the caller with an open escalation joined %s with priority %d, want second-line with 10", j.Queue, j.Priority)
	}
	if look := events.matching(func(e eventlog.Event) bool {
		return e.Type == eventlog.IVRNode && e.CallID == again.CallID && e.Data[string(eventlog.KeyNode)] == "who"
	}); len(look) != 1 || look[0].Data[string(eventlog.KeyOpenEscalation)] != "second-line" || look[0].Data[string(eventlog.KeyBranch)] != "1" {
		t.Errorf("lookup events of the second call: %+v", look)
	}
	c2.Wait(t, "escalated caller, again", 60*time.Second)

	// (b) The repeat caller and the preferred agent.
	post(t, api+"/api/v1/agents/b1/pause", `{"reason":"break"}`)
	post(t, api+"/api/v1/agents/b2/login", "")
	const repeat = "79162223344"
	c3 := call(repeat, 3*time.Second)
	prev := answered(4, "b2")
	post(t, api+"/api/v1/agents/b1/ready", "")
	c3.Wait(t, "repeat caller", 60*time.Second)
	ended(prev.CallID)
	waitUntil(t, "b2 available after wrap-up", func() bool {
		var a struct {
			State string `json:"state"`
		}
		getJSON(t, api+"/api/v1/agents/b2", &a)
		return a.State == "available"
	})
	c4 := call(repeat, 2*time.Second)
	pref := answered(5, "b2")
	if j := joined(pref.CallID); j.Queue != "first-line" {
		t.Errorf("the repeat caller joined %s, want first-line", j.Queue)
	}
	c4.Wait(t, "repeat caller, again", 60*time.Second)
	agentPhone.Wait(t, "agents' phone", 60*time.Second)
}

const historyConfig = `
service: {name: hotline-history}
sip:
  listen: "127.0.0.1:SIPPORT"
  digest_algorithms: [MD5]
  trunks:
    - {name: provider, allow: ["127.0.0.101"]}
  numbers: {"*": support}
media:
  rtp_ports: "38200-38399"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT"}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: b1, password: pw-b1, skills: {general: 1}, wrapup: 1s}
  - {id: b2, password: pw-b2, skills: {general: 1}, wrapup: 1s}
  - {id: s1, password: pw-s1, line: 2, skills: {expert: 1}, wrapup: 1s}
queues:
  - {name: first-line, skill: general, ring_timeout: 10s, announce: {every: 0s}, preferred_agent_wait: 20s}
  - {name: second-line, line: 2, skill: expert, ring_timeout: 10s, announce: {every: 0s}}
escalation: {queue: second-line, number: "*77", reasons: [technical]}
ivr:
  default_queue: first-line
  flows:
    support:
      nodes:
        who:
          type: lookup
          days: 30
          timeout: 1s
          branches:
            - open_escalation: true
              priority: 10
              goto: second
          next: first
        first: {type: queue, queue: first-line}
        second: {type: queue, queue: second-line}
`
