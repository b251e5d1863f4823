package server_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// Loopback addresses 127.0.22.10-12 are this test's: hotline (SIP, HTTP,
// media, the browser's WebRTC), the trunk caller, the agent's phone.
const (
	mbServeIP  = "127.0.22.10"
	mbCallerIP = "127.0.22.11"
	mbAgentIP  = "127.0.22.12"
)

// TestMonitorInBrowser is issue 19's "the supervisor's own audio from the
// browser softphone", with real peers: hotline as `serve` runs it (native
// switch), a trunk caller and agent d1 as SIP/RTP phones sending 600 Hz and
// 1000 Hz, and supervisor sv's desk page in headless Chromium whose fake
// microphone plays 1500 Hz. The page's softphone registers as sv's own SIP
// user; sv picks "in the browser" and presses Listen: hotline rings only
// the browser, the page answers by itself, and that leg is the monitor leg.
// Whisper and barge are pressed in the page. What each hears is checked by
// frequency (internal/audiotest): the phones' RTP, and in the page the
// softphone's remote stream (sampled through WebAudio by a script the test
// adds). Leave hangs up the supervisor's leg only: the caller and agent go
// on. Screenshots: docs/desk/monitor-browser-*.png.
func TestMonitorInBrowser(t *testing.T) {
	sipptest.NeedTools(t, "chromium")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru")); err != nil {
		t.Fatalf("generated prompts missing: run make prompts (%v)", err)
	}
	yml := strings.NewReplacer("ROOT", root, "SPOOL", t.TempDir(),
		"SIPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "HTTPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t))).Replace(monitorBrowserConfig)
	srv := startTestServe(t, "monitor-browser.yaml", yml)
	base, sipAddr := srv.api, srv.SIPAddr().String()
	ctx := ctxTimeout(t, 4*time.Minute)
	events := watchEventsWith(t, ctx, base, "admin-token")

	caller := monPhone(t, mbCallerIP, "caller", "", toneCaller)
	agent := monPhone(t, mbAgentIP, "d1", "pw-d1", toneAgent)
	if err := agent.Register(ctx, sipAddr, 600*time.Second); err != nil {
		t.Fatalf("register d1: %v", err)
	}
	if code, body := adminDo(t, base, "POST", "/api/v1/agents/d1/login", "", nil); code != http.StatusOK {
		t.Fatalf("login d1: %d %s", code, body)
	}

	wav := filepath.Join(t.TempDir(), "sv-mic.wav")
	writeToneWAV(t, wav, toneSup, 48000, 60*time.Second)
	b := newBrowser(t,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	page := b.page(t, base, "sv", "web-sv")
	// The fake microphone is a steady tone, which Chromium's noise
	// suppression learns as noise and fades out within seconds (a voice it
	// keeps): the page's microphone is asked for without that processing.
	page.do("a microphone without noise suppression", chromedp.Evaluate[chromedp.Void](`(() => {
		const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
		navigator.mediaDevices.getUserMedia = () => gum({audio: {noiseSuppression: false, autoGainControl: false, echoCancellation: false}});
	})()`))
	page.waitFor("the supervisor's softphone registered", `document.querySelector('#softphone').dataset.state === 'registered'`)

	call, err := caller.Call(ctx, siptest.CallOptions{Addr: sipAddr, To: "88001234567", From: "79161234567"})
	if err != nil {
		t.Fatalf("caller: %v", err)
	}
	agentCall := nextIncoming(t, agent.Phone)
	callID := events.wait(t, "queue.answered", func(e eventlog.Event) bool { return e.Type == eventlog.QueueAnswered }).CallID
	if got := heardTones(t, caller, agent); !slices.Equal(got[0], []float64{toneAgent}) || !slices.Equal(got[1], []float64{toneCaller}) {
		t.Fatalf("bridged: the caller hears %v, the agent %v", got[0], got[1])
	}

	row := `#live tbody tr[data-call="` + callID + `"]`
	page.waitFor("the live call in the list", `document.querySelector('`+row+` .mon-listen') !== null`)
	if v := page.text("the audio choice", `document.querySelector('#mon-audio').value`); v != "browser" {
		t.Errorf("the audio choice with a registered softphone: %q, want browser", v)
	}
	page.click(row + " .mon-listen")
	started := events.wait(t, "monitor.started", func(e eventlog.Event) bool { return e.Type == eventlog.MonitorStarted })
	if started.String(eventlog.KeyAudio) != "browser" || started.String(eventlog.KeySupervisor) != "sv" || started.Agent != "d1" {
		t.Errorf("monitor.started: %+v", started)
	}
	page.waitFor("the softphone in the monitor call", `document.querySelector('#softphone').dataset.state === 'incall'`)
	page.waitFor("the row in listen", `document.querySelector('`+row+`').dataset.mode === 'listen'`)
	pageCapture(page)

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
			page.click(row + " .mon-" + st.mode)
			events.wait(t, "monitor.mode "+st.mode, func(e eventlog.Event) bool {
				return e.Type == eventlog.MonitorMode && e.String(eventlog.KeyMode) == st.mode
			})
			page.waitFor("the row in "+st.mode, `document.querySelector('`+row+`').dataset.mode === '`+st.mode+`'`)
		}
		mark := pageMark(page)
		got := heardTones(t, caller, agent)
		inPage := pageTones(t, page, mark)
		for _, c := range []struct {
			who       string
			got, want []float64
		}{{"caller's phone", got[0], st.caller}, {"agent's phone", got[1], st.agent}, {"supervisor's page", inPage, st.superv}} {
			if !slices.Equal(c.got, c.want) {
				t.Errorf("%s: the %s heard %v, want %v", st.mode, c.who, c.got, c.want)
			}
		}
		if st.mode == "whisper" {
			page.shot(root, "monitor-browser-1-live", "#live-panel")
			page.shot(root, "monitor-browser-2-softphone", "#softphone")
		}
	}

	page.click(row + " .mon-leave")
	ended := events.wait(t, "monitor.ended", func(e eventlog.Event) bool { return e.Type == eventlog.MonitorEnded })
	if ended.Reason != "left" || ended.String(eventlog.KeyAudio) != "browser" || ended.String(eventlog.KeyMode) != "barge" {
		t.Errorf("monitor.ended: %+v", ended)
	}
	page.waitFor("the softphone free again", `document.querySelector('#softphone').dataset.state === 'registered'`)
	if got := heardTones(t, caller, agent); !slices.Equal(got[0], []float64{toneAgent}) || !slices.Equal(got[1], []float64{toneCaller}) {
		t.Errorf("after the supervisor left: the caller hears %v, the agent %v", got[0], got[1])
	}
	select {
	case <-call.Done():
		t.Error("the caller's call ended with the supervisor's leg")
	default:
	}
	_ = call.Hangup(ctx)
	waitChan(t, "the agent's call to end", agentCall.Done())
}

// pageCapture starts keeping what the page's softphone plays (its remote
// stream, as the supervisor hears it) as 16-bit samples in
// window.__heard, at window.__heardRate.
func pageCapture(p *deskPage) {
	p.t.Helper()
	p.do("capture the softphone's audio", chromedp.Evaluate[chromedp.Void](`(() => {
		const st = document.querySelector('#sp-audio').srcObject;
		const ac = new AudioContext();
		window.__heard = [];
		window.__heardRate = ac.sampleRate;
		const src = ac.createMediaStreamSource(st);
		const proc = ac.createScriptProcessor(4096, 1, 1);
		proc.onaudioprocess = (ev) => {
			const d = ev.inputBuffer.getChannelData(0);
			for (let i = 0; i < d.length; i++) window.__heard.push(Math.round(Math.max(-1, Math.min(1, d[i])) * 32767));
		};
		src.connect(proc);
		proc.connect(ac.destination);
		ac.resume();
	})()`))
}

// pageMark is how many samples the page has captured.
func pageMark(p *deskPage) int {
	p.t.Helper()
	n, err := strconv.Atoi(p.text("the captured length", `String(window.__heard.length)`))
	if err != nil {
		p.t.Fatal(err)
	}
	return n
}

// pageTones is which of the three tones the page heard over half a second
// captured after mark and 200 ms more (the change settling).
func pageTones(t *testing.T, p *deskPage, mark int) []float64 {
	t.Helper()
	rate, err := strconv.Atoi(p.text("the capture's rate", `String(window.__heardRate)`))
	if err != nil {
		t.Fatal(err)
	}
	skip, n := rate/5, rate/2
	p.waitFor("half a second of the page's audio", fmt.Sprintf(`window.__heard.length >= %d`, mark+skip+n))
	raw := p.text("the page's audio", fmt.Sprintf(`window.__heard.slice(%d, %d).join(',')`, mark+skip, mark+skip+n))
	s := make([]int16, 0, n)
	for _, f := range strings.Split(raw, ",") {
		v, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("the page's audio: %v", err)
		}
		s = append(s, int16(v))
	}
	return audiotest.Present(s, rate, 0.1, toneCaller, toneAgent, toneSup)
}

const monitorBrowserConfig = `
sip:
  listen: "127.0.22.10:SIPPORT"
  digest_algorithms: [MD5]
  numbers: {"*": support}
  trunks:
    - {name: provider, allow: ["127.0.22.11"]}
media:
  rtp_ports: "41600-41649"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.22.10:HTTPPORT", token: admin-token}
database: {spool_dir: SPOOL}
agents:
  - {id: d1, password: pw-d1, team: first, skills: {general: 1}, web_password: web-d1}
queues:
  - {name: support, skill: general}
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
