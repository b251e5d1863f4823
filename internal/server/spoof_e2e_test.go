package server_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestSpoofedCallerIDIsNotSurveyed: issue 17, item 5 (toll fraud through
// caller ID) against `serve` and real peers. Two SIPp trunk calls claim
// premium-rate numbers, one in From (+7 809) and one in
// P-Asserted-Identity (+44 909, From an ordinary mobile); an agent answers
// both. The survey would call them back the next day; the dialling policy
// refuses both (dial.refused, reason denied, purpose survey), the surveys
// are skipped (dial-refused), nothing is dialled, and /metrics counts the
// refusals. Loopback addresses 127.0.0.90-92 are this test's.
func TestSpoofedCallerIDIsNotSurveyed(t *testing.T) {
	sipptest.NeedTools(t, "sipp")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru", "hotline", "greeting.wav")); err != nil {
		t.Fatalf("generated prompts missing: run make prompts (%v)", err)
	}
	db := pgtest.New(t)
	yml := fillConfig(t, root, spoofConfig, "DBURL", db.DSN)
	srv := startTestServe(t, "spoof.yaml", yml)
	sipAddr, api := srv.SIPAddr().String(), srv.api
	events := watchEvents(t, srv.ctx, api)

	agentPhone := sippRun(t, root, "agent.xml", map[string]string{"RING": "200"},
		"-i", "127.0.0.90", "-p", "5900", "-mp", "6900", "-rtp_echo", "-m", "2", "-timeout", "120s")
	registerAgents(t, root, sipAddr, "127.0.0.90", 5900, 5901, "s1")
	post(t, api+"/api/v1/agents/s1/login", "")

	calls := []struct{ name, from, pai string }{
		{"spoofed From", "78091234567", ""},
		{"spoofed P-Asserted-Identity", "79123456789", "+449091234567"},
	}
	for i, c := range calls {
		caller := sippRun(t, root, "caller-spoofed.xml", map[string]string{"HOLD": "3000"},
			"-i", "127.0.0.91", "-p", strconv.Itoa(5910+i), "-mp", strconv.Itoa(6910+10*i), "-m", "1",
			"-s", "88001234567", "-key", "caller", c.from, "-key", "pai", c.pai, "-timeout", "60s", sipAddr)
		caller.Wait(t, c.name, 90*time.Second)
	}
	agentPhone.Wait(t, "agent phone", 90*time.Second)

	skipped := func() []eventlog.Event {
		return events.matching(func(e eventlog.Event) bool { return e.Type == eventlog.SurveySkipped })
	}
	waitUntil(t, "both surveys decided", func() bool { return len(skipped()) == 2 })
	for _, e := range skipped() {
		if e.Reason != "dial-refused" {
			t.Errorf("survey.skipped %s: reason %q, want dial-refused", e.CallID, e.Reason)
		}
	}
	refused := events.matching(func(e eventlog.Event) bool { return e.Type == eventlog.DialRefused })
	callers := map[string]bool{}
	for _, e := range refused {
		if e.Reason != "denied" || e.String(eventlog.KeyPurpose) != "survey" {
			t.Errorf("dial.refused %+v", e)
		}
		callers[e.Caller] = true
	}
	if len(refused) != 2 || !callers["+78091234567"] || !callers["+449091234567"] {
		t.Errorf("dial.refused for %v (%d events), want +78091234567 and +449091234567", callers, len(refused))
	}
	if n := len(events.matching(func(e eventlog.Event) bool {
		return e.Type == eventlog.SurveyScheduled || e.Type == eventlog.SurveyAttempt
	})); n != 0 {
		t.Errorf("%d survey.scheduled/attempt events: a spoofed number was to be dialled", n)
	}
	if got := metric(t, api, `hotline_dial_refused_total{purpose="survey",reason="denied"}`); got != 2 {
		t.Errorf(`hotline_dial_refused_total{purpose="survey",reason="denied"} = %v, want 2`, got)
	}
}

const spoofConfig = `
service: {name: hotline-spoof}
sip:
  listen: "127.0.0.1:SIPPORT"
  digest_algorithms: [MD5]
  trunks:
    - {name: provider, allow: ["127.0.0.91"], address: "127.0.0.92:5090", caller_id: "88001234567"}
  numbers: {"*": support}
media:
  rtp_ports: "37600-37699"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT"}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: s1, password: pw-s1, skills: {general: 1}}
queues:
  - {name: support, skill: general, ring_timeout: 10s, announce: {every: 0s}}
survey:
  enabled: true
  delay: 1s
  window: {from: "00:00", to: "23:59"}
  skip_holidays: false
dialling: {allow: ["+7", "+44"]}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        queue: {type: queue, queue: support}
`
