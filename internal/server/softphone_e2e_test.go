package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/pion/webrtc/v4"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// Tones: what the caller sends, and what the agent's (fake) microphone
// plays.
const (
	callerHz = 600.0
	micHz    = 1000.0
)

// TestSoftphoneInChromium is the desk's softphone with real peers: hotline
// as `serve` runs it (native switch), a caller (siptest.Phone sending a
// 600 Hz tone) through a trunk, and the agent's page in headless Chromium
// whose fake microphone plays a 1000 Hz WAV made here. The page registers
// over SIP over WebSocket, rings, the agent answers in the page, and the
// audio is checked both ways by frequency: the caller hears 1000 Hz
// (internal/audiotest on what its RTP carried), the page hears 600 Hz (a
// WebAudio analyser in the page). Then the tab is closed mid-call: the
// agent's leg ends at once, the caller is hung up (not left in silence)
// and the log records the call as ended by the agent. Loopback addresses
// 127.0.1.10-11 are this test's. Screenshots go to docs/desk/ when
// missing or with HOTLINE_DESK_SCREENSHOTS=1.
func TestSoftphoneInChromium(t *testing.T) {
	sipptest.NeedTools(t, "chromium")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	yml := strings.NewReplacer("SIPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)),
		"HTTPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "ROOT", root).Replace(softphoneConfig)
	srv := startTestServe(t, "softphone.yaml", yml)
	sipAddr, base := srv.SIPAddr().String(), srv.api

	wav := filepath.Join(t.TempDir(), "mic.wav")
	writeToneWAV(t, wav, micHz, 48000, 10*time.Second)
	b := newBrowser(t,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	tab, closeTab := b.tab(t, base, "s1", "web-s1")
	tab.waitFor("the softphone registered", `document.querySelector('#softphone').dataset.state === 'registered'`)
	tab.click("#btn-login")
	tab.click("#btn-ready")
	tab.waitFor("ready", `document.querySelector('#state').dataset.state === 'available'`)

	// The caller: a phone on the trunk's address sending 600 Hz; it keeps
	// what it hears.
	heard := audiotest.NewCapture()
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr("127.0.1.11"), PortMin: 38700, PortMax: 38799})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	caller, err := siptest.NewPhone(siptest.PhoneConfig{IP: "127.0.1.11", User: "79161234567", Media: eng,
		Voice: siptest.Tone(callerHz, time.Second), OnAudio: heard.Add, QuietSIP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(caller.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	call, err := caller.Call(ctx, siptest.CallOptions{Addr: sipAddr, To: "88001234567"})
	if err != nil {
		t.Fatalf("the call: %v", err)
	}

	tab.waitFor("the page ringing", `document.querySelector('#softphone').dataset.state === 'ringing' &&
		!document.querySelector('#sp-answer').hidden`)
	tab.shot(root, "softphone-1-ringing", "#state-panel")
	tab.click("#sp-answer")
	tab.waitFor("in call", `document.querySelector('#softphone').dataset.state === 'incall'`)
	tab.waitFor("the agent's state on-call", `document.querySelector('#state').dataset.state === 'on-call'`)

	// The page hears the caller's tone.
	tab.waitFor("the caller's 600 Hz in the page", `(() => {
		const hz = Number(document.querySelector('#softphone').dataset.peerHz || 0);
		return Math.abs(hz - 600) <= 25;
	})()`)
	// The caller hears the agent's microphone (1000 Hz), not its own tone.
	hears(t, heard, "the agent's 1000 Hz at the caller", 8000, func(s []int16) bool {
		return audiotest.Power(s, 8000, micHz) > 0.5 && audiotest.Power(s, 8000, callerHz) < 0.1
	})
	tab.shot(root, "softphone-2-in-call", "#state-panel")

	// Mute: the caller hears silence instead of the tone; unmute brings it back.
	tab.click("#sp-mute")
	hears(t, heard, "silence at the caller while muted", 4000, func(s []int16) bool {
		return audiotest.Power(s, 8000, micHz) < 0.1
	})
	tab.click("#sp-mute")
	hears(t, heard, "the tone back after unmute", 4000, func(s []int16) bool {
		return audiotest.Power(s, 8000, micHz) > 0.5
	})

	// Hold: the page re-offers sendonly and stops its microphone; the
	// caller hears the queue's music instead of the agent, then the agent
	// again after resume.
	tab.click("#sp-hold")
	tab.waitFor("on hold", `document.querySelector('#sp-hold').getAttribute('aria-pressed') === 'true'`)
	hears(t, heard, "music, not the agent, at the caller while held", 8000, func(s []int16) bool {
		return audiotest.Power(s, 8000, micHz) < 0.1 && loud(s)
	})
	tab.click("#sp-hold")
	tab.waitFor("resumed", `document.querySelector('#sp-hold').getAttribute('aria-pressed') === 'false'`)
	hears(t, heard, "the agent back at the caller after resume", 4000, func(s []int16) bool {
		return audiotest.Power(s, 8000, micHz) > 0.5
	})

	// DTMF from the keypad reaches the caller as RFC 4733 events.
	tab.click(`#sp-keypad [data-digit="5"]`)
	select {
	case d := <-call.Digits():
		if d != '5' {
			t.Errorf("the caller got digit %q, want 5", d)
		}
	case <-time.After(10 * time.Second):
		t.Error("the keypad's 5 did not reach the caller")
	}

	// The tab closes mid-call: the agent's leg ends, the caller is hung up.
	closeTab()
	select {
	case <-call.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the caller was left in the call after the agent's tab closed")
	}
	if !call.RemoteHangup() {
		t.Error("the caller's call did not end with hotline's BYE")
	}
	waitUntil(t, "call.completed by the agent in the event log", func() bool {
		for _, e := range adminEvents(t, base, "call.completed") {
			if e.Data["by"] == "agent" {
				return true
			}
		}
		return false
	})
	waitUntil(t, "the softphone's registration gone", func() bool { return !sipRegistered(t, base, "s1") })
}

// TestSoftphoneWebSocketEdge is the SIP-over-WebSocket edge without a
// browser: only a logged-in agent's page of the same origin may open it;
// the socket acts as its agent only; a malformed frame gets a 400 with a
// Warning and the connection goes on; an offer without a DTLS fingerprint
// gets 488. Loopback addresses 127.0.1.12-13 are this test's.
func TestSoftphoneWebSocketEdge(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	yml := strings.NewReplacer("SIPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)),
		"HTTPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "ROOT", root).Replace(softphoneConfig)
	yml = strings.NewReplacer("127.0.1.10", "127.0.1.12", "127.0.1.11", "127.0.1.13").Replace(yml)
	srv := startTestServe(t, "softphone.yaml", yml)
	host := strings.TrimPrefix(srv.api, "http://")
	cookie := sessionCookie(t, deskLogin(t, srv.api, "s2", "web-s2"), srv.api)

	dial := func(hdr http.Header) (net.Conn, int) {
		t.Helper()
		d := ws.Dialer{Protocols: []string{"sip"}, Header: ws.HandshakeHeaderHTTP(hdr), Timeout: 5 * time.Second}
		conn, _, _, err := d.Dial(context.Background(), "ws://"+host+"/desk/sip")
		var se ws.StatusError
		if err != nil {
			if errors.As(err, &se) {
				return nil, int(se)
			}
			t.Fatalf("websocket: %v", err)
		}
		return conn, 101
	}
	origin := "http://" + host
	if _, code := dial(http.Header{"Origin": {origin}}); code != http.StatusUnauthorized {
		t.Errorf("without a session: %d, want 401", code)
	}
	if _, code := dial(http.Header{"Cookie": {cookie}, "Origin": {"http://evil.example"}}); code != http.StatusForbidden {
		t.Errorf("from another origin: %d, want 403", code)
	}
	conn, code := dial(http.Header{"Cookie": {cookie}, "Origin": {origin}})
	if code != 101 {
		t.Fatalf("the agent's own page: %d, want 101", code)
	}
	defer conn.Close()
	sw := &wsSIP{t: t, conn: conn, r: bufio.NewReader(conn)}
	domain := srv.SIPAddr().Addr().String()

	// Another agent's address of record: 403.
	if res := sw.do(register("s1", domain)); !strings.HasPrefix(res, "SIP/2.0 403") {
		t.Errorf("REGISTER as s1 over s2's socket: %q", firstLine(res))
	}
	if res := sw.do(register("s2", domain)); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("REGISTER as s2: %q", firstLine(res))
	}
	if !sipRegistered(t, srv.api, "s2") {
		t.Error("s2 is not registered after its 200")
	}
	// Malformed: a 400 naming the error, and the connection stays.
	bad := "OPTIONS sip:" + domain + " SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKbad1\r\nFrom: <sip:s2@" + domain +
		">;tag=1\r\nTo: <sip:" + domain + ">\r\nCall-ID: bad1\r\nCSeq: 1 OPTIONS\r\nContent-Length: many\r\n\r\n"
	if res := sw.do(bad); !strings.HasPrefix(res, "SIP/2.0 400") || !strings.Contains(res, "malformed SIP message") {
		t.Errorf("malformed frame: %q", res)
	}
	sw.send("this is not SIP at all") // no answer possible; the connection stays
	if res := sw.do(options(domain)); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Errorf("OPTIONS after malformed frames: %q", firstLine(res))
	}
	// An INVITE whose SDP has no DTLS fingerprint: 488, saying why.
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.1.13\r\ns=-\r\nc=IN IP4 127.0.1.13\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	inv := "INVITE sip:88001234567@" + domain + " SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKinv1\r\nMax-Forwards: 70\r\n" +
		"From: <sip:s2@" + domain + ">;tag=a1\r\nTo: <sip:88001234567@" + domain + ">\r\nCall-ID: inv1\r\nCSeq: 1 INVITE\r\n" +
		"Contact: <sip:s2@x.invalid;transport=ws>\r\nContent-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp
	res := sw.do(inv)
	if !strings.HasPrefix(res, "SIP/2.0 488") || !strings.Contains(res, "fingerprint") {
		t.Errorf("INVITE without a fingerprint: %q", res)
	}
	// A real WebRTC offer (a pion peer standing for the browser) calling a
	// feature code (*2, log out): 200 with hotline's fingerprint, ICE and
	// DTLS connect, the feature's prompt reaches the peer through the
	// gateway, and hotline's BYE ends the call.
	pc := browserPeer(t)
	var heardRTP atomic.Int64
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
			heardRTP.Add(1)
		}
	})
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	offer, _ := pc.CreateOffer(nil)
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	sdp = pc.LocalDescription().SDP
	inv = strings.NewReplacer("Call-ID: inv1", "Call-ID: inv2", "branch=z9hG4bKinv1", "branch=z9hG4bKinv2",
		"sip:88001234567@", "sip:*2@").Replace(inv)
	inv = inv[:strings.Index(inv, "Content-Length:")] + "Content-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp
	res = sw.do(inv)
	if !strings.HasPrefix(res, "SIP/2.0 200") || !strings.Contains(res, "a=fingerprint:") {
		t.Fatalf("INVITE with a WebRTC offer: %q", firstLine(res))
	}
	head, body, _ := strings.Cut(res, "\r\n\r\n")
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
		t.Fatalf("hotline's answer: %v", err)
	}
	var to string
	for _, ln := range strings.Split(head, "\r\n") {
		if v, ok := strings.CutPrefix(ln, "To: "); ok {
			to = v
		}
	}
	sw.send("ACK sip:hotline@" + domain + ";transport=ws SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKack2\r\nMax-Forwards: 70\r\n" +
		"From: <sip:s2@" + domain + ">;tag=a1\r\nTo: " + to + "\r\nCall-ID: inv2\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")
	select {
	case <-connected:
	case <-time.After(20 * time.Second):
		t.Fatalf("ICE and DTLS did not connect with hotline's answer (state %s)", pc.ConnectionState())
	}
	bye := sw.request("BYE")
	if heardRTP.Load() == 0 {
		t.Error("the feature code's prompt did not reach the WebRTC peer")
	}
	sw.send(okTo(bye))
	_ = pc.Close()

	// The browser goes while it rings: that offer fails at once as
	// unreachable (not at the ring timeout), and the registration goes.
	for _, op := range []string{"login", "ready"} {
		if code, body := adminDo(t, srv.api, http.MethodPost, "/api/v1/agents/s2/"+op, "", nil); code != http.StatusOK {
			t.Fatalf("s2 %s: %d %s", op, code, body)
		}
	}
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr("127.0.1.13"), PortMin: 38800, PortMax: 38899})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	caller, err := siptest.NewPhone(siptest.PhoneConfig{IP: "127.0.1.13", User: "79161234567", Media: eng, QuietSIP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(caller.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	call, err := caller.Call(ctx, siptest.CallOptions{Addr: srv.SIPAddr().String(), To: "88001234567"})
	if err != nil {
		t.Fatalf("the call: %v", err)
	}
	defer func() { _ = call.Hangup(ctx) }()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		b, err := wsutil.ReadServerText(conn)
		if err != nil {
			t.Fatalf("waiting for the INVITE on the socket: %v", err)
		}
		if strings.HasPrefix(string(b), "INVITE ") {
			if !strings.Contains(string(b), "a=fingerprint:") {
				t.Errorf("the INVITE to the browser offers no DTLS fingerprint: %q", b)
			}
			break
		}
	}
	conn.Close()
	waitUntil(t, "the offer to s2 failed", func() bool { return len(adminEvents(t, srv.api, "agent.ring_noanswer")) > 0 })
	if e := adminEvents(t, srv.api, "agent.ring_noanswer")[0]; e.Reason != "unreachable" {
		t.Errorf("the ringing browser's offer ended %q, want unreachable (at once, not at the ring timeout)", e.Reason)
	}
	waitUntil(t, "s2's registration gone with its socket", func() bool { return !sipRegistered(t, srv.api, "s2") })
}

const softphoneConfig = `
service: {name: hotline-softphone}
sip:
  listen: "127.0.1.10:SIPPORT"
  trunks:
    - {name: provider, allow: ["127.0.1.11"]}
  numbers: {"*": support}
media:
  rtp_ports: "38600-38699"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.1.10:HTTPPORT", token: admin-token}
agents:
  - {id: s1, name: Sofia, password: pw-s1, team: first, skills: {general: 1}, web_password: web-s1}
  - {id: s2, name: Semyon, password: pw-s2, team: first, skills: {general: 1}, web_password: web-s2}
queues:
  - {name: support, skill: general, ring_timeout: 30s, announce: {every: 0s}}
web:
  bcrypt_cost: 4
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        queue: {type: queue, queue: support}
`

// tab opens the desk in a new browser context, logs in, and returns a
// function that closes the tab (as the agent closing it would).
func (b *browser) tab(t *testing.T, base, user, password string) (*deskPage, func()) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("%s's tab: %v", user, err)
	}
	p := &deskPage{t: t, ctx: ctx, name: user}
	p.do("open the desk", chromedp.Navigate(base+"/desk/"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), user), chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#desk")))
	return p, cancel
}

// writeToneWAV writes a 16-bit mono WAV of a sine tone.
func writeToneWAV(t *testing.T, path string, freq float64, rate int, d time.Duration) {
	t.Helper()
	n := int(d.Seconds() * float64(rate))
	var data bytes.Buffer
	for i := range n {
		v := int16(12000 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
		_ = binary.Write(&data, binary.LittleEndian, v)
	}
	var f bytes.Buffer
	f.WriteString("RIFF")
	_ = binary.Write(&f, binary.LittleEndian, uint32(36+data.Len()))
	f.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate * 2), uint16(2), uint16(16)} {
		_ = binary.Write(&f, binary.LittleEndian, v)
	}
	f.WriteString("data")
	_ = binary.Write(&f, binary.LittleEndian, uint32(data.Len()))
	f.Write(data.Bytes())
	if err := os.WriteFile(path, f.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type loggedEvent struct {
	Type   string            `json:"type"`
	Reason string            `json:"reason"`
	CallID string            `json:"call_id"`
	Data   map[string]string `json:"data"`
}

// adminEvents reads the live stream's catch-up for one event type.
func adminEvents(t *testing.T, base, typ string) []loggedEvent {
	t.Helper()
	_, body := adminDo(t, base, http.MethodGet, "/api/v1/events?type="+typ, "", map[string]string{"Last-Event-ID": "0"})
	var out []loggedEvent
	for _, line := range strings.Split(body, "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var e loggedEvent
			if json.Unmarshal([]byte(data), &e) == nil {
				out = append(out, e)
			}
		}
	}
	return out
}

// wsSIP is a bare SIP-over-WebSocket client for the edge test.
type wsSIP struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (w *wsSIP) send(msg string) {
	w.t.Helper()
	if err := wsutil.WriteClientText(w.conn, []byte(msg)); err != nil {
		w.t.Fatalf("websocket write: %v", err)
	}
}

// do sends a request and returns the first final response (skipping 1xx).
func (w *wsSIP) do(msg string) string {
	w.t.Helper()
	w.send(msg)
	_ = w.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		b, err := wsutil.ReadServerText(w.conn)
		if err != nil {
			w.t.Fatalf("websocket read: %v", err)
		}
		s := string(b)
		if strings.HasPrefix(s, "SIP/2.0 1") {
			continue
		}
		return s
	}
}

func register(user, domain string) string {
	return "REGISTER sip:" + domain + " SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKreg" + user + "\r\nMax-Forwards: 70\r\n" +
		"From: <sip:" + user + "@" + domain + ">;tag=r1\r\nTo: <sip:" + user + "@" + domain + ">\r\nCall-ID: reg-" + user + "\r\n" +
		"CSeq: 1 REGISTER\r\nContact: <sip:" + user + "@x.invalid;transport=ws>;expires=300\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n"
}

func options(domain string) string {
	return "OPTIONS sip:" + domain + " SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKopt1\r\nMax-Forwards: 70\r\n" +
		"From: <sip:s2@" + domain + ">;tag=o1\r\nTo: <sip:" + domain + ">\r\nCall-ID: opt1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\r\n"); return l }

// sipRegistered asks the queue API whether an agent's phone is registered.
func sipRegistered(t *testing.T, base, agent string) bool {
	t.Helper()
	var a struct {
		Registered *bool `json:"registered"`
	}
	adminJSON(t, base, "/api/v1/agents/"+agent, &a)
	return a.Registered != nil && *a.Registered
}

// loud reports whether samples carry sound (music), not silence.
func loud(s []int16) bool {
	var e float64
	for _, v := range s {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e/float64(len(s))) > 300
}

// hears waits until a stretch of n samples the phone received after now
// satisfies ok (each stretch is checked as it completes).
func hears(t *testing.T, c *audiotest.Capture, what string, n int, ok func([]int16) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mark := c.Mark()
	for {
		s, err := c.Next(ctx, mark, n)
		if err != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		if ok(s) {
			return
		}
		mark += n
	}
}

// sessionCookie is a desk client's session cookie as a Cookie header value.
func sessionCookie(t *testing.T, c *deskClient, base string) string {
	t.Helper()
	u, _ := url.Parse(base)
	for _, k := range c.hc.Jar.Cookies(u) {
		if k.Name == "hotline_desk" {
			return k.Name + "=" + k.Value
		}
	}
	t.Fatal("no desk session cookie")
	return ""
}

// browserPeer is a pion PeerConnection standing for a browser: G.711 and a
// loopback host candidate.
func browserPeer(t *testing.T) *webrtc.PeerConnection {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	tr, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "mic", "browser")
	if _, err := pc.AddTrack(tr); err != nil {
		t.Fatal(err)
	}
	return pc
}

// request waits for hotline's next request of method (other frames are
// skipped) and returns it.
func (w *wsSIP) request(method string) string {
	w.t.Helper()
	_ = w.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		b, err := wsutil.ReadServerText(w.conn)
		if err != nil {
			w.t.Fatalf("waiting for %s: %v", method, err)
		}
		if strings.HasPrefix(string(b), method+" ") {
			return string(b)
		}
	}
}

// okTo is a 200 OK answering req.
func okTo(req string) string {
	head, _, _ := strings.Cut(req, "\r\n\r\n")
	out := "SIP/2.0 200 OK\r\n"
	for _, ln := range strings.Split(head, "\r\n")[1:] {
		name, _, _ := strings.Cut(ln, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "from", "to", "call-id", "cseq":
			out += ln + "\r\n"
		}
	}
	return out + "Content-Length: 0\r\n\r\n"
}
