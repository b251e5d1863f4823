package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// Loopback addresses 127.0.4.20-24 are this test's: hotline, the trunk
// caller, the agent's phone, the supervisor's phone, the other team's
// supervisor's phone.
const (
	monServeIP  = "127.0.4.20"
	monCallerIP = "127.0.4.21"
	monAgentIP  = "127.0.4.22"
	monSupIP    = "127.0.4.23"
	monSup2IP   = "127.0.4.24"
)

// The three tones.
const (
	toneCaller = 600.0
	toneAgent  = 1000.0
	toneSup    = 1500.0
)

type hearingPhone struct {
	*siptest.Phone
	heard *audiotest.Capture
}

func monPhone(t *testing.T, ip, user, pw string, freq float64) hearingPhone {
	t.Helper()
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr(ip), PortMin: 23000, PortMax: 23099})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	c := audiotest.NewCapture()
	p, err := siptest.NewPhone(siptest.PhoneConfig{IP: ip, User: user, Password: pw, Media: eng, QuietSIP: true,
		AnswerDelay: 100 * time.Millisecond, Voice: siptest.Tone(freq, time.Second), OnAudio: c.Add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return hearingPhone{Phone: p, heard: c}
}

// heardTones: which of the three tones each phone heard over the same
// half second, received after 200 ms more had arrived (the change
// settling), detected by frequency.
func heardTones(t *testing.T, ps ...hearingPhone) [][]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	caps := make([]*audiotest.Capture, len(ps))
	for i, p := range ps {
		caps[i] = p.heard
	}
	out, i, err := audiotest.HeardTogether(ctx, caps, toneCaller, toneAgent, toneSup)
	if err != nil {
		t.Fatalf("%s: %v", ps[i].User(), err)
	}
	return out
}

// deskClient is a logged-in desk session.
type deskClient struct {
	t          *testing.T
	base, csrf string
	hc         *http.Client
}

func deskLogin(t *testing.T, base, user, pw string) *deskClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &deskClient{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	resp, err := c.hc.Post(base+"/desk/login", "application/json", strings.NewReader(`{"user":"`+user+`","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		CSRF string `json:"csrf"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&s)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	c.csrf = s.CSRF
	return c
}

func (c *deskClient) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMonitorServe is issue 19's acceptance test of listen, whisper and
// barge through `serve` with real SIP/RTP phones: a trunk caller reaches
// agent d1 through the IVR and the queue; each phone sends its own tone
// and what each received is checked by frequency. Supervisor sv (team
// "first") joins from the desk's page in Chromium (hotline rings sv's
// phone: "on the phone" picked in the page, whose browser softphone is
// registered as sv's SIP user too), switches listen → whisper → barge
// through the API, and leaves; then joins again from the phone
// with the whisper feature code plus the agent, presses 3 (barge) and
// hangs up. An agent
// and the other team's supervisor get 403 (and 603 on the feature code).
// Every use is a monitor.* event.
func TestMonitorServe(t *testing.T) {
	sipptest.NeedTools(t, "chromium")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru")); err != nil {
		t.Fatalf("generated prompts missing: run make prompts (%v)", err)
	}
	yml := fillConfig(t, root, monitorConfig)
	srv := startTestServe(t, "monitor.yaml", yml)
	base, sipAddr := srv.api, srv.SIPAddr().String()
	ctx := ctxTimeout(t, 3*time.Minute)
	events := watchEventsWith(t, ctx, base, "admin-token")

	caller := monPhone(t, monCallerIP, "caller", "", toneCaller)
	agent := monPhone(t, monAgentIP, "d1", "pw-d1", toneAgent)
	sup := monPhone(t, monSupIP, "sv-phone", "pw-sv-phone", toneSup)
	sup2 := monPhone(t, monSup2IP, "sv2-phone", "pw-sv2-phone", toneSup)
	for _, p := range []hearingPhone{agent, sup, sup2} {
		if err := p.Register(ctx, sipAddr, 600*time.Second); err != nil {
			t.Fatalf("register %s: %v", p.User(), err)
		}
	}
	if code, body := adminDo(t, base, "POST", "/api/v1/agents/d1/login", "", nil); code != http.StatusOK {
		t.Fatalf("login d1: %d %s", code, body)
	}
	call, err := caller.Call(ctx, siptest.CallOptions{Addr: sipAddr, To: "88001234567", From: "79161234567"})
	if err != nil {
		t.Fatalf("caller: %v", err)
	}
	agentCall := nextIncoming(t, agent.Phone)
	answered := events.wait(t, "queue.answered", func(e eventlog.Event) bool { return e.Type == eventlog.QueueAnswered })
	callID := answered.CallID
	if got := heardTones(t, caller, agent); !slices.Equal(got[0], []float64{toneAgent}) || !slices.Equal(got[1], []float64{toneCaller}) {
		t.Fatalf("bridged: the caller hears %v, the agent %v", got[0], got[1])
	}

	path := "/api/v1/calls/" + callID + "/monitor"
	d1 := deskLogin(t, base, "d1", "web-d1")
	sv := deskLogin(t, base, "sv", "web-sv")
	sv2 := deskLogin(t, base, "sv2", "web-sv2")
	for _, tc := range []struct {
		name string
		c    *deskClient
		want int
	}{
		{"the agent on the call", d1, http.StatusForbidden},
		{"a supervisor of another team", sv2, http.StatusForbidden},
	} {
		if code, body := tc.c.do("POST", path, `{"mode":"listen"}`); code != tc.want {
			t.Errorf("%s: POST monitor = %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
	if code, _ := d1.do("GET", "/desk/api/live", ""); code != http.StatusForbidden {
		t.Errorf("an agent's live calls list: %d, want 403", code)
	}
	var live []struct {
		CallID string `json:"call_id"`
		Agent  string `json:"agent"`
	}
	code, body := sv.do("GET", "/desk/api/live", "")
	if err := json.Unmarshal([]byte(body), &live); code != http.StatusOK || err != nil || len(live) != 1 || live[0].CallID != callID || live[0].Agent != "d1" {
		t.Fatalf("the supervisor's live calls: %d %s", code, body)
	}
	if _, body := sv2.do("GET", "/desk/api/live", ""); strings.Contains(body, callID) {
		t.Errorf("the other team's supervisor sees the call in their live list: %s", body)
	}

	// From the desk's page (headless Chromium): sv presses Listen on the
	// live call; hotline rings sv's phone.
	page := newBrowser(t).page(t, base, "sv", "web-sv")
	page.waitFor("the live call in the list", `document.querySelector('#live tbody tr[data-call="`+callID+`"] .mon-listen') !== null`)
	// The page's softphone registers too (as sv-phone): the audio goes to
	// the phone by choice.
	page.do("audio on the phone", chromedp.SetValue(chromedp.CSS("#mon-audio"), "phone"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#mon-audio').dispatchEvent(new Event('change'))`))
	page.click(`#live tbody tr[data-call="` + callID + `"] .mon-listen`)
	supCall := nextIncoming(t, sup.Phone)
	page.waitFor("the page to show the call monitored", `document.querySelector('#live tbody tr[data-call="`+callID+`"]').dataset.mode === 'listen'`)
	if code, body := sv.do("POST", path, `{"mode":"listen"}`); code != http.StatusConflict {
		t.Errorf("joining twice: %d %s, want 409", code, body)
	}
	both := []float64{toneCaller, toneAgent}
	for _, st := range []struct {
		mode                  string
		caller, agent, superv []float64
	}{
		{"listen", []float64{toneAgent}, []float64{toneCaller}, both},
		{"whisper", []float64{toneAgent}, []float64{toneCaller, toneSup}, both},
		{"barge", []float64{toneAgent, toneSup}, []float64{toneCaller, toneSup}, both},
	} {
		if st.mode != "listen" {
			if code, body := sv.do("PATCH", path, `{"mode":"`+st.mode+`"}`); code != http.StatusOK {
				t.Fatalf("PATCH %s: %d %s", st.mode, code, body)
			}
		}
		got := heardTones(t, caller, agent, sup)
		for i, c := range []struct {
			who  string
			want []float64
		}{{"caller", st.caller}, {"agent", st.agent}, {"supervisor", st.superv}} {
			if !slices.Equal(got[i], c.want) {
				t.Errorf("%s: the %s's phone heard %v, want %v", st.mode, c.who, got[i], c.want)
			}
		}
	}
	if code, body := sv.do("DELETE", path, `{}`); code != http.StatusNoContent {
		t.Fatalf("DELETE monitor: %d %s", code, body)
	}
	waitChan(t, "the supervisor's phone to be hung up", supCall.Done())
	got := heardTones(t, caller, agent)
	if !slices.Equal(got[0], []float64{toneAgent}) || !slices.Equal(got[1], []float64{toneCaller}) {
		t.Errorf("after the supervisor left: the caller hears %v, the agent %v", got[0], got[1])
	}
	ended := events.wait(t, "monitor.ended", func(e eventlog.Event) bool { return e.Type == eventlog.MonitorEnded })
	if ended.CallID != callID || ended.Agent != "d1" || ended.String(eventlog.KeySupervisor) != "sv" || ended.Reason != "left" ||
		ended.String(eventlog.KeyMode) != "barge" || ended.String(eventlog.KeyVia) != "session" {
		t.Errorf("monitor.ended: %+v", ended)
	}
	if d, ok := ended.Duration(eventlog.KeyMonitored); !ok || d <= 0 {
		t.Errorf("monitor.ended has no duration: %+v", ended)
	}
	modes := events.matching(func(e eventlog.Event) bool { return e.Type == eventlog.MonitorMode })
	if len(modes) != 2 || modes[0].String(eventlog.KeyMode) != "whisper" || modes[1].String(eventlog.KeyFrom) != "whisper" {
		t.Errorf("monitor.mode events: %+v", modes)
	}

	// From the phone: the other team's supervisor is refused; sv whispers
	// with the feature code plus the agent, then hangs up.
	if _, err := sup2.Call(ctx, siptest.CallOptions{Addr: sipAddr, To: "*81d1"}); siptest.StatusOf(err) != 603 {
		t.Errorf("the other team's supervisor dialling *81d1: %v, want 603", err)
	}
	code2, err := sup.Call(ctx, siptest.CallOptions{Addr: sipAddr, To: "*82d1"})
	if err != nil {
		t.Fatalf("*82d1: %v", err)
	}
	events.wait(t, "monitor.started from the phone", func(e eventlog.Event) bool {
		return e.Type == eventlog.MonitorStarted && e.String(eventlog.KeyVia) == "phone" && e.String(eventlog.KeyMode) == "whisper"
	})
	got = heardTones(t, caller, agent, sup)
	if !slices.Equal(got[0], []float64{toneAgent}) || !slices.Equal(got[1], []float64{toneCaller, toneSup}) || !slices.Equal(got[2], both) {
		t.Errorf("whisper by feature code: the caller hears %v, the agent %v, the supervisor %v", got[0], got[1], got[2])
	}
	// 3 on the phone's keypad: barge.
	if err := code2.SendDTMF(ctx, "3"); err != nil {
		t.Fatal(err)
	}
	events.wait(t, "monitor.mode barge from the keypad", func(e eventlog.Event) bool {
		return e.Type == eventlog.MonitorMode && e.String(eventlog.KeyVia) == "phone" && e.String(eventlog.KeyMode) == "barge"
	})
	got = heardTones(t, caller, agent)
	if !slices.Equal(got[0], []float64{toneAgent, toneSup}) || !slices.Equal(got[1], []float64{toneCaller, toneSup}) {
		t.Errorf("barge by the keypad: the caller hears %v, the agent %v", got[0], got[1])
	}
	if err := code2.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	events.wait(t, "monitor.ended by the supervisor's hang-up", func(e eventlog.Event) bool {
		return e.Type == eventlog.MonitorEnded && e.Reason == "supervisor-hangup" && e.String(eventlog.KeyVia) == "phone"
	})
	got = heardTones(t, caller, agent)
	if !slices.Equal(got[0], []float64{toneAgent}) || !slices.Equal(got[1], []float64{toneCaller}) {
		t.Errorf("after the supervisor hung up: the caller hears %v, the agent %v", got[0], got[1])
	}
	_ = call.Hangup(ctx)
	waitChan(t, "the agent's call to end", agentCall.Done())
}

const monitorConfig = `
sip:
  listen: "127.0.4.20:SIPPORT"
  digest_algorithms: [MD5]
  numbers: {"*": support}
  trunks:
    - {name: provider, allow: ["127.0.4.21"]}
media:
  rtp_ports: "39800-39849"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT", token: admin-token}
database: {spool_dir: SPOOL}
agents:
  - {id: d1, password: pw-d1, team: first, skills: {general: 1}, web_password: web-d1}
  - {id: d2, password: pw-d2, team: second, skills: {general: 1}}
queues:
  - {name: support, skill: general}
web:
  bcrypt_cost: 4
  users:
    - {id: sv, role: supervisor, teams: [first], password: web-sv, sip_user: sv-phone, sip_password: pw-sv-phone}
    - {id: sv2, role: supervisor, teams: [second], password: web-sv2, sip_user: sv2-phone, sip_password: pw-sv2-phone}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        queue: {type: queue, queue: support}
`
