package server_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/internal/tlstest"
)

// TestServeTLSAgent: `serve` with sip.tls_listen and sip.tls_srtp. A real
// baresip agent registers over TLS with mediaenc=srtp-mand; a SIPp caller
// comes in through the trunk (plain UDP/RTP), is queued, the agent is rung
// over its TLS connection, answers, and the two hear each other: plain
// RTP to the caller, SRTP to the agent, through one bridge.
func TestServeTLSAgent(t *testing.T) {
	sipptest.NeedTools(t, "sipp", "tcpdump", "baresip")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	cert := tlstest.New(t, "127.0.0.1")
	tlsPort := sipptest.FreeUDPAndTCPPort(t)
	yml := strings.NewReplacer("ROOT", root, "SPOOL", t.TempDir(), "CERT", cert.CertFile, "KEY", cert.KeyFile,
		"TLSPORT", strconv.Itoa(tlsPort),
		"SIPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "HTTPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t))).Replace(tlsAgentConfig)
	t.Setenv("DATABASE_URL", "")
	srv := startTestServe(t, "tls-agent.yaml", yml)
	sipAddr, api := srv.SIPAddr().String(), srv.api

	phone := sipptest.StartBaresip(t, sipptest.Baresip{
		IP: "127.0.0.64", SIPPort: 5288, RTPPort: 6280, User: "t1", Password: "pw-t1",
		Registrar: "127.0.0.1:" + strconv.Itoa(tlsPort), Transport: "tls", CAFile: cert.CertFile, MediaEnc: "srtp-mand",
		Mic: "/usr/share/asterisk/sounds/ru/vm-intro.wav", Seconds: 90,
	})
	waitUntil(t, "baresip registered over TLS", func() bool { return strings.Contains(phone.String(), "200 OK") })
	post(t, api+"/api/v1/agents/t1/login", "")
	events := watchEvents(t, srv.ctx, api)

	// baresip's RTP socket is on the any-address and sends from 127.0.0.1,
	// where symmetric RTP latches: count by its ports.
	capAgent := sipptest.StartCapture(t, "udp and dst portrange 6280-6289")
	capCaller := sipptest.StartCapture(t, "udp and dst host 127.0.0.65 and dst port 6690")
	caller := sippRun(t, root, "caller.xml", map[string]string{"PAUSE_MS": "200", "DIGIT": "1", "TALK": "6000"},
		"-i", "127.0.0.65", "-p", strconv.Itoa(sipptest.FreeUDPPort(t)), "-mp", "6690", "-m", "1",
		"-s", "88001234567", "-key", "caller", "79123456789", "-timeout", "90s", "-timeout_error", sipAddr)

	answered := events.wait(t, "queue.answered", func(e eventlog.Event) bool { return e.Type == eventlog.QueueAnswered })
	caller.Wait(t, "caller", 60*time.Second)
	events.wait(t, "call.ended", func(e eventlog.Event) bool { return e.Type == eventlog.CallEnded && e.CallID == answered.CallID })
	toAgent, toCaller := len(capAgent.Stop(t)), len(capCaller.Stop(t))
	t.Logf("RTP: %d SRTP packets to the TLS agent, %d RTP packets to the caller", toAgent, toCaller)
	if toAgent < 100 || toCaller < 100 {
		t.Fatalf("RTP: %d packets reached the agent, %d the caller; want the caller's voice and the agent's microphone", toAgent, toCaller)
	}
}

const tlsAgentConfig = `
service: {name: hotline-tls}
sip:
  listen: "127.0.0.1:SIPPORT"
  tls_listen: "127.0.0.1:TLSPORT"
  tls_cert: CERT
  tls_key: KEY
  tls_srtp: true
  digest_algorithms: [MD5]
  trunks:
    - {name: provider, allow: ["127.0.0.65"]}
  numbers: {"*": support}
media:
  rtp_ports: "38900-38999"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT"}
database: {spool_dir: SPOOL}
agents:
  - {id: t1, password: pw-t1, skills: {general: 1}, wrapup: 1s}
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
