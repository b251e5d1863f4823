package server_test

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// silentContact is a UDP socket registered as an agent's contact that
// never answers (a phone gone without unregistering): it counts the
// INVITE transmissions it receives, by Call-ID.
type silentContact struct {
	port  int
	mu    sync.Mutex
	sends map[string]int
}

func newSilentContact(t *testing.T, ip string) *silentContact {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	s := &silentContact{port: conn.LocalAddr().(*net.UDPAddr).Port, sends: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			if !strings.HasPrefix(msg, "INVITE ") {
				continue
			}
			for _, line := range strings.Split(msg, "\r\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "call-id") {
					s.mu.Lock()
					s.sends[strings.TrimSpace(v)]++
					s.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

// most is the largest number of transmissions of one INVITE, and how many
// INVITEs (Call-IDs) there were.
func (s *silentContact) most() (sends, invites int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.sends {
		sends = max(sends, n)
	}
	return sends, len(s.sends)
}

// TestServeForkSilentContact is issue 17's forking acceptance test through
// serve: agent f1 is registered twice, from a SIPp phone that rings 300 ms
// and answers (echoing RTP) and from a socket that never responds. A SIPp
// caller on the trunk goes through the IVR to the queue (ring timeout
// 10 s, shorter than Timer B's 32 s): the agent is offered the call once,
// it is answered while the silent contact's INVITE is still unanswered,
// the caller and the agent hear each other, and the caller is never
// offered again. Loopback addresses 127.0.0.60-62 are this test's.
func TestServeForkSilentContact(t *testing.T) {
	sipptest.NeedTools(t, "sipp", "tcpdump")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	db := pgtest.New(t)
	yml := fillConfig(t, root, forkConfig, "DBURL", db.DSN)
	srv := startTestServe(t, "fork.yaml", yml)
	sipAddr, api := srv.SIPAddr().String(), srv.api

	agentPort := sipptest.FreeUDPPort(t)
	agent := sippRun(t, root, "agent.xml", map[string]string{"RING": "300"},
		"-i", "127.0.0.60", "-p", strconv.Itoa(agentPort), "-mp", "6660", "-rtp_echo", "-m", "1", "-timeout", "90s", "-timeout_error")
	silent := newSilentContact(t, "127.0.0.61")
	for _, c := range []struct {
		ip   string
		port int
	}{{"127.0.0.60", agentPort}, {"127.0.0.61", silent.port}} {
		reg := sippRun(t, root, "register.xml", nil, "-i", c.ip, "-p", strconv.Itoa(sipptest.FreeUDPPort(t)), "-m", "1",
			"-s", "f1", "-au", "f1", "-ap", "pw-f1", "-key", "expires", "600",
			"-key", "contact_host", c.ip, "-key", "contact_port", strconv.Itoa(c.port), "-timeout", "20s", "-timeout_error", sipAddr)
		reg.Wait(t, "register f1 at "+c.ip, 30*time.Second)
	}
	post(t, api+"/api/v1/agents/f1/login", "")
	events := watchEvents(t, srv.ctx, api)

	capAgent := sipptest.StartCapture(t, "udp and dst host 127.0.0.60 and dst port 6660")
	capCaller := sipptest.StartCapture(t, "udp and dst host 127.0.0.62 and dst port 6670")
	caller := sippRun(t, root, "caller.xml", map[string]string{"PAUSE_MS": "200", "DIGIT": "1", "TALK": "6000"},
		"-i", "127.0.0.62", "-p", strconv.Itoa(sipptest.FreeUDPPort(t)), "-mp", "6670", "-m", "1",
		"-s", "88001234567", "-key", "caller", "79123456789", "-timeout", "90s", "-timeout_error", sipAddr)

	answered := events.wait(t, "queue.answered", func(e eventlog.Event) bool { return e.Type == eventlog.QueueAnswered })
	sends, invites := silent.most()
	if invites != 1 || sends >= 7 {
		t.Fatalf("when the call was answered the silent contact had %d INVITE(s), sent up to %d times; want 1, still waiting for a response (7 transmissions: Timer B)", invites, sends)
	}
	caller.Wait(t, "caller", 60*time.Second)
	agent.Wait(t, "agent phone", 60*time.Second)
	events.wait(t, "call.ended", func(e eventlog.Event) bool { return e.Type == eventlog.CallEnded && e.CallID == answered.CallID })

	offers := events.matching(func(e eventlog.Event) bool { return e.Type == eventlog.AgentOffered && e.CallID == answered.CallID })
	missed := events.matching(func(e eventlog.Event) bool { return e.Type == eventlog.AgentRingNoAnswer })
	if len(offers) != 1 || len(missed) != 0 {
		t.Fatalf("the caller was offered %d times with %d unanswered rings; want one offer, answered", len(offers), len(missed))
	}
	if got := agent.Stat(t, "SuccessfulCall(C)"); got != 1 {
		t.Fatalf("the live phone answered %d calls, want 1", got)
	}
	toAgent, toCaller := len(capAgent.Stop(t)), len(capCaller.Stop(t))
	if toAgent < 100 || toCaller < 100 {
		t.Fatalf("RTP: %d packets reached the agent, %d the caller; want the caller's voice and the agent's echo", toAgent, toCaller)
	}
	t.Logf("answered %v after the offer, the silent contact's INVITE sent %d time(s) by then; RTP %d packets to the agent, %d to the caller",
		answered.At.Sub(offers[0].At).Round(time.Millisecond), sends, toAgent, toCaller)
}

const forkConfig = `
service: {name: hotline-fork}
sip:
  listen: "127.0.0.1:SIPPORT"
  digest_algorithms: [MD5]
  trunks:
    - {name: provider, allow: ["127.0.0.62"]}
  numbers: {"*": support}
media:
  rtp_ports: "38600-38799"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT"}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: f1, password: pw-f1, skills: {general: 1}, wrapup: 1s}
queues:
  - {name: support, skill: general, ring_timeout: 10s, announce: {every: 0s}}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        hello: {type: play, prompt: digits/1, next: queue}
        queue: {type: queue, queue: support}
`
