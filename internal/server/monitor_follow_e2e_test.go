package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// toneSecond is the second-line agent's tone (the others: monitor_e2e_test.go).
const toneSecond = 1800.0

// TestMonitorFollowsEscalation: a supervisor whispering to first line
// keeps monitoring when the call goes on to another agent. Native switch,
// real SIP/RTP phones each sending its own tone (caller 600 Hz, first-line
// d1 1000 Hz, supervisor 1500 Hz, second-line e1 1800 Hz), checked by
// frequency. Supervisor sv joins in whisper through the API (hotline rings
// sv's phone); then the call is escalated blind (the API), escalated warm
// (a consultation with e1, completed) or consulted and cancelled back to
// d1. Each time the supervisor's phone stays up, a monitor.followed event
// records the hand-over (still whisper), the supervisor hears the caller
// and the agent now on the call, that agent hears the supervisor and the
// caller does not. Barge then reaches the caller too; the caller's hang-up
// ends the monitor (call-ended) and hotline hangs up the supervisor's
// phone. Loopback addresses 127.0.22.20-24 are this test's.
func TestMonitorFollowsEscalation(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru")); err != nil {
		t.Fatalf("generated prompts missing: run make prompts (%v)", err)
	}
	for _, tc := range []struct {
		name      string
		handOver  []string // API calls (path after /api/v1/calls/{id}/, body), in turn
		consult   bool     // e1 answers a consultation before the last call
		to, queue string   // who the call is with afterwards, in which queue
		toTone    float64
	}{
		{"blind", []string{"escalate", `{"queue":"expert","reason":"technical"}`}, false, "e1", "expert", toneSecond},
		{"warm", []string{"consult", `{"queue":"expert","reason":"technical"}`, "consult/complete", `{}`}, true, "e1", "expert", toneSecond},
		{"consultation cancelled", []string{"consult", `{"queue":"expert","reason":"technical"}`, "consult/cancel", `{}`}, true, "d1", "support", toneAgent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yml := strings.NewReplacer("ROOT", root, "SPOOL", t.TempDir(),
				"SIPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "HTTPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t))).Replace(monitorFollowConfig)
			srv := startTestServe(t, "monitor-follow.yaml", yml)
			base, sipAddr := srv.api, srv.SIPAddr().String()
			ctx := ctxTimeout(t, 3*time.Minute)
			events := watchEventsWith(t, ctx, base, "admin-token")

			caller := monPhone(t, "127.0.22.21", "caller", "", toneCaller)
			first := monPhone(t, "127.0.22.22", "d1", "pw-d1", toneAgent)
			sup := monPhone(t, "127.0.22.23", "sv-phone", "pw-sv-phone", toneSup)
			second := monPhone(t, "127.0.22.24", "e1", "pw-e1", toneSecond)
			for _, p := range []hearingPhone{first, sup, second} {
				if err := p.Register(ctx, sipAddr, 600*time.Second); err != nil {
					t.Fatalf("register %s: %v", p.User(), err)
				}
			}
			for _, a := range []string{"d1", "e1"} {
				if code, body := adminDo(t, base, "POST", "/api/v1/agents/"+a+"/login", "", nil); code != http.StatusOK {
					t.Fatalf("login %s: %d %s", a, code, body)
				}
			}
			call, err := caller.Call(ctx, siptest.CallOptions{Addr: sipAddr, To: "88001234567", From: "79161234567"})
			if err != nil {
				t.Fatalf("caller: %v", err)
			}
			firstCall := nextIncoming(t, first.Phone)
			callID := events.wait(t, "queue.answered", func(e eventlog.Event) bool { return e.Type == eventlog.QueueAnswered }).CallID

			path := "/api/v1/calls/" + callID + "/monitor"
			type posted struct {
				code int
				body string
			}
			post := make(chan posted, 1)
			go func() {
				code, body := adminDo(t, base, "POST", path, `{"mode":"whisper","supervisor":"sv"}`, nil)
				post <- posted{code, body}
			}()
			supCall := nextIncoming(t, sup.Phone)
			if p := <-post; p.code != http.StatusCreated {
				t.Fatalf("POST monitor: %d %s", p.code, p.body)
			}
			heard := tonesOf(t, caller, first, sup)
			for i, w := range [][]float64{{toneAgent}, {toneCaller, toneSup}, {toneCaller, toneAgent}} {
				if !slices.Equal(heard[i], w) {
					t.Errorf("whisper to first line: %s heard %v, want %v", []string{"the caller", "d1", "the supervisor"}[i], heard[i], w)
				}
			}

			var secondCall *siptest.Call
			for i := 0; i < len(tc.handOver); i += 2 {
				if tc.consult && i == len(tc.handOver)-2 {
					secondCall = nextIncoming(t, second.Phone)
					events.wait(t, "call.consult_answered", func(e eventlog.Event) bool { return e.Type == eventlog.ConsultAnswered })
				}
				if code, body := adminDo(t, base, http.MethodPost, "/api/v1/calls/"+callID+"/"+tc.handOver[i], tc.handOver[i+1], nil); code/100 != 2 {
					t.Fatalf("%s: %d %s", tc.handOver[i], code, body)
				}
			}
			now, nowPhone := firstCall, first
			if tc.to == "e1" {
				waitChan(t, "first line's leg to end", firstCall.Done())
				if secondCall == nil {
					secondCall = nextIncoming(t, second.Phone)
				}
				now, nowPhone = secondCall, second
			} else {
				waitChan(t, "the consultant's leg to end", secondCall.Done())
			}
			followed := events.wait(t, "monitor.followed", func(e eventlog.Event) bool { return e.Type == eventlog.MonitorFollowed })
			if followed.CallID != callID || followed.Agent != tc.to || followed.Queue != tc.queue || followed.String(eventlog.KeyFromAgent) != "d1" ||
				followed.String(eventlog.KeyFromQueue) != "support" || followed.String(eventlog.KeyMode) != "whisper" || followed.String(eventlog.KeySupervisor) != "sv" {
				t.Errorf("monitor.followed: %+v", followed)
			}
			if ended := events.matching(func(e eventlog.Event) bool { return e.Type == eventlog.MonitorEnded }); len(ended) > 0 {
				t.Errorf("the monitor ended at the hand-over: %+v", ended)
			}
			select {
			case <-supCall.Done():
				t.Fatal("the supervisor's phone was hung up at the hand-over")
			default:
			}
			heard = tonesOf(t, caller, nowPhone, sup)
			for i, w := range [][]float64{{tc.toTone}, {toneCaller, toneSup}, {toneCaller, tc.toTone}} {
				if !slices.Equal(heard[i], w) {
					t.Errorf("whisper after the hand-over: %s heard %v, want %v", []string{"the caller", tc.to, "the supervisor"}[i], heard[i], w)
				}
			}
			_, body := adminDo(t, base, http.MethodGet, path, "", nil)
			var list []struct{ Agent, Mode string }
			if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 1 || list[0].Agent != tc.to || list[0].Mode != "whisper" {
				t.Errorf("GET monitor after the hand-over: %s", body)
			}

			if code, body := adminDo(t, base, http.MethodPatch, path, `{"mode":"barge","supervisor":"sv"}`, nil); code != http.StatusOK {
				t.Fatalf("PATCH barge: %d %s", code, body)
			}
			heard = tonesOf(t, caller, nowPhone)
			wantCaller := []float64{tc.toTone, toneSup}
			slices.Sort(wantCaller)
			if !slices.Equal(heard[0], wantCaller) || !slices.Equal(heard[1], []float64{toneCaller, toneSup}) {
				t.Errorf("barge after the hand-over: the caller heard %v, %s %v", heard[0], tc.to, heard[1])
			}

			_ = call.Hangup(ctx)
			ended := events.wait(t, "monitor.ended", func(e eventlog.Event) bool { return e.Type == eventlog.MonitorEnded })
			if ended.Reason != "call-ended" || ended.Agent != tc.to || ended.String(eventlog.KeyMode) != "barge" {
				t.Errorf("monitor.ended: %+v", ended)
			}
			waitChan(t, "the supervisor's phone to be hung up", supCall.Done())
			waitChan(t, "the agent's leg to end", now.Done())
		})
	}
}

// tonesOf: which of the four tones each phone heard over the same half
// second, received after 200 ms more had arrived.
func tonesOf(t *testing.T, ps ...hearingPhone) [][]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	caps := make([]*audiotest.Capture, len(ps))
	for i, p := range ps {
		caps[i] = p.heard
	}
	out, i, err := audiotest.HeardTogether(ctx, caps, toneCaller, toneAgent, toneSup, toneSecond)
	if err != nil {
		t.Fatalf("%s: %v", ps[i].User(), err)
	}
	return out
}

const monitorFollowConfig = `
sip:
  listen: "127.0.22.20:SIPPORT"
  digest_algorithms: [MD5]
  numbers: {"*": support}
  trunks:
    - {name: provider, allow: ["127.0.22.21"]}
media:
  rtp_ports: "41650-41699"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.22.20:HTTPPORT", token: admin-token}
database: {spool_dir: SPOOL}
agents:
  - {id: d1, password: pw-d1, team: first, skills: {general: 1}}
  - {id: e1, password: pw-e1, team: experts, line: 2, skills: {expert: 1}}
queues:
  - {name: support, skill: general, announce: {every: 0s}}
  - {name: expert, line: 2, skill: expert, ring_timeout: 10s, announce: {every: 0s}}
escalation: {queue: expert, number: "*77", reasons: [technical]}
web:
  bcrypt_cost: 4
  users:
    - {id: sv, role: supervisor, teams: [first], password: web-sv, sip_user: sv-phone, sip_password: pw-sv-phone}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        queue: {type: queue, queue: support}
`
