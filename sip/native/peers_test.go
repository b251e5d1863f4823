package native

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
)

// Real peers: SIPp (Debian sip-tester), baresip and tcpdump. They run in
// `make test`, which installs them; `go test -short` skips them.

const (
	trunkIP  = "127.0.0.2" // SIPp callers come from here (the trunk)
	agentIP  = "127.0.0.3" // SIPp agents
	phoneIP  = "127.0.0.4" // baresip
	strayIP  = "127.0.0.9" // neither trunk nor registered
	floodIP  = "127.0.0.5" // wrong-password REGISTER flood
	promptRU = "/usr/share/asterisk/sounds/ru"
	mohDir   = "/usr/share/asterisk/moh"
)

func needPeer(t *testing.T, tools ...string) {
	t.Helper()
	sipptest.NeedTools(t, tools...)
	for _, d := range []string{promptRU, mohDir} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("%s missing: install asterisk-core-sounds-ru-wav and asterisk-moh-opsound-wav", d)
		}
	}
}

// syncBuffer collects log output for assertions.
type syncBuffer = sipptest.Buffer

type testSwitch struct {
	*Switch
	logs *syncBuffer
	port int
}

var rtpBase = 31000 // each switch in this test binary gets its own RTP range

func startSwitch(t *testing.T, mutate func(*Config)) *testSwitch {
	t.Helper()
	return startSwitchMedia(t, false, mutate)
}

// startSwitchMedia is startSwitch with the media engine's multiplexed RTP
// sockets (media.EngineConfig.Mux) on or off.
func startSwitchMedia(t *testing.T, mux bool, mutate func(*Config)) *testSwitch {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng, err := media.NewEngine(media.EngineConfig{
		IP: netip.MustParseAddr("127.0.0.1"), PortMin: rtpBase, PortMax: rtpBase + 399,
		InactivityTimeout: 30 * time.Second, Logger: log, Mux: mux,
	})
	rtpBase += 400
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	cat, err := media.NewCatalog(media.CatalogConfig{
		Langs: map[string][]string{"ru": {promptRU}, "en": {"/usr/share/asterisk/sounds/en"}},
		MOH:   map[string]string{"default": mohDir},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Listen:      "127.0.0.1:0",
		Trunks:      []Trunk{{Name: "provider", Allow: []string{trunkIP}, Address: trunkIP + ":5090", CallerID: "88001234567"}},
		Credentials: StaticCredentials{"a1": "secret", "a2": "secret2", "a3": "secret3"},
		Media:       eng, Catalog: cat, Logger: log,
		RingTimeout: 10 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	sw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := sw.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		sw.Close()
		if t.Failed() {
			t.Logf("switch log:\n%s", logs.String())
		}
	})
	return &testSwitch{Switch: sw, logs: logs, port: int(sw.Addr().Port())}
}

// startSIPp runs SIPp with a scenario from deploy/sipp.
func startSIPp(t *testing.T, scenario string, replace map[string]string, args ...string) *sipptest.SIPp {
	t.Helper()
	return sipptest.Start(t, filepath.Join("..", "..", "deploy", "sipp", scenario), replace, args...)
}

func tail(s string) string { return sipptest.Tail(s, 3000) }

// registerSIPpAgent starts agent.xml (answers, echoes RTP) and registers it.
func registerSIPpAgent(t *testing.T, sw *testSwitch, user, pass string, uasPort, regPort, rtpPort int) *sipptest.SIPp {
	t.Helper()
	uas := startSIPp(t, "agent.xml", map[string]string{"RING": "300"}, "-i", agentIP, "-p", strconv.Itoa(uasPort), "-mp", strconv.Itoa(rtpPort),
		"-rtp_echo", "-m", "1", "-timeout", "60s", "-timeout_error")
	reg := startSIPp(t, "register.xml", nil, "-i", agentIP, "-p", strconv.Itoa(regPort), "-m", "1",
		"-s", user, "-au", user, "-ap", pass, "-key", "expires", "300",
		"-key", "contact_host", agentIP, "-key", "contact_port", strconv.Itoa(uasPort),
		"-timeout", "20s", "-timeout_error", fmt.Sprintf("127.0.0.1:%d", sw.port))
	reg.Wait(t, "register "+user, 30*time.Second)
	if !sw.Registered(user) {
		t.Fatalf("%s is not registered after a successful REGISTER", user)
	}
	return uas
}

func nextLeg(t *testing.T, sw *testSwitch, limit time.Duration, peers ...*sipptest.SIPp) sip.Leg {
	t.Helper()
	select {
	case l := <-sw.Incoming():
		return l
	case <-time.After(limit):
		for _, p := range peers {
			t.Logf("SIPp output:\n%s", tail(p.Output()))
		}
		t.Fatalf("no inbound leg within %s; log:\n%s", limit, tail(sw.logs.String()))
	}
	return nil
}

// TestSIPpCallerPromptDigitMOHAgent is the acceptance path: a SIPp
// caller on the trunk is answered, hears a prompt, sends an RFC 4733 digit
// from a pcap while the prompt plays, waits on MOH, and is bridged to a
// SIPp agent that registered with digest auth and echoes RTP; with a port
// per stream and with multiplexed RTP sockets (media.rtp_mux).
func TestSIPpCallerPromptDigitMOHAgent(t *testing.T) {
	needPeer(t, "sipp", "tcpdump")
	for _, mux := range []bool{false, true} {
		t.Run(map[bool]string{false: "ports", true: "mux"}[mux], func(t *testing.T) { sippCallerPromptDigitMOHAgent(t, mux) })
	}
}

func sippCallerPromptDigitMOHAgent(t *testing.T, mux bool) {
	// SIPp answers only the first challenge and knows MD5 only.
	sw := startSwitchMedia(t, mux, func(c *Config) { c.DigestAlgorithms = []string{"MD5", "SHA-256"} })
	agent := registerSIPpAgent(t, sw, "a1", "secret", 5172, 5171, 6100)

	capCaller := sipptest.StartCapture(t, "udp and dst host "+trunkIP+" and dst port 6000")
	caller := startSIPp(t, "caller.xml", map[string]string{"PAUSE_MS": "1500", "DIGIT": "2", "TALK": "9000"},
		"-i", trunkIP, "-p", "5170", "-mp", "6000", "-m", "1", "-s", "88001234567",
		"-key", "caller", "79123456789",
		"-timeout", "60s", "-timeout_error", fmt.Sprintf("127.0.0.1:%d", sw.port))

	leg := nextLeg(t, sw, 10*time.Second, caller)
	info := leg.Info()
	if info.From != "79123456789" || info.To != "88001234567" || info.Trunk != "provider" || info.Direction != sip.Inbound {
		t.Fatalf("inbound leg info = %+v", info)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := leg.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "queue-thereare"}}}); err != nil || d != 0 {
		t.Fatalf("Play = %q, %v", d, err)
	}
	digits, err := leg.ReadDigits(ctx, sip.DigitOptions{Max: 1, FirstTimeout: 5 * time.Second})
	if err != nil || digits != "2" {
		t.Fatalf("ReadDigits = %q, %v; want the pcap's digit 2", digits, err)
	}
	if err := leg.StartMOH("default"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	agentLeg, err := sw.Dial(ctx, sip.Target{Agent: "a1", RingTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Dial agent: %v; agent SIPp:\n%s", err, tail(agent.Output()))
	}
	if agentLeg.Info().Agent != "a1" || agentLeg.Info().Direction != sip.Outbound {
		t.Fatalf("agent leg info = %+v", agentLeg.Info())
	}
	capAgent := sipptest.StartCapture(t, "udp and dst host "+agentIP+" and dst port 6100")
	err = leg.Bridge(ctx, agentLeg)
	if err != sip.ErrHangup {
		t.Fatalf("Bridge = %v; want ErrHangup when the caller hangs up", err)
	}
	_ = agentLeg.Hangup(sip.CauseNormal)
	end, ok := leg.Ended()
	if !ok || end.Cause != sip.CauseNormal || end.Side != sip.SideRemote {
		t.Fatalf("caller end = %+v %v", end, ok)
	}
	caller.Wait(t, "caller", 30*time.Second)
	agent.Wait(t, "agent", 30*time.Second)
	toAgent := len(capAgent.Stop(t))
	toCaller := len(capCaller.Stop(t))
	// The caller's pcap audio reached the agent through the relay, and the
	// caller heard prompt, music and the agent's echo.
	if toAgent < 50 {
		t.Errorf("agent received %d RTP packets through the bridge; want the caller's audio", toAgent)
	}
	if toCaller < 150 {
		t.Errorf("caller received %d RTP packets; want prompt + MOH + bridged audio", toCaller)
	}
}

// TestSIPpPromptPacketCount checks the caller really receives a prompt's
// audio: one 20 ms packet per 160 samples, within 2 %.
func TestSIPpPromptPacketCount(t *testing.T) {
	needPeer(t, "sipp", "tcpdump")
	sw := startSwitch(t, nil)
	capt := sipptest.StartCapture(t, "udp and dst host "+trunkIP+" and dst port 6002")
	caller := startSIPp(t, "caller.xml", map[string]string{"PAUSE_MS": "100", "DIGIT": "5", "TALK": "30000"},
		"-i", trunkIP, "-p", "5174", "-mp", "6002", "-m", "1", "-s", "88001234567",
		"-key", "caller", "79123456789",
		"-timeout", "60s", "-timeout_error", fmt.Sprintf("127.0.0.1:%d", sw.port))
	leg := nextLeg(t, sw, 10*time.Second, caller)
	ctx := context.Background()
	if err := leg.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	snd, err := media.LoadWAV(filepath.Join(promptRU, "vm-intro.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "vm-intro"}}}); err != nil {
		t.Fatal(err)
	}
	_ = leg.Hangup(sip.CauseNormal)
	caller.Wait(t, "caller", 30*time.Second)
	got := len(capt.Stop(t))
	want := (len(snd.PCM) + 159) / 160
	if d := float64(got-want) / float64(want); d > 0.02 || d < -0.02 {
		t.Fatalf("caller received %d RTP packets for a %v prompt; want %d ± 2 %%", got, snd.Duration(), want)
	}
	t.Logf("prompt %v: %d packets expected, %d received", snd.Duration(), want, got)
}

// rawSIP sends one SIP message over UDP from a chosen loopback address and
// returns the status lines of the responses received within wait.
func rawSIP(t *testing.T, from string, port int, msg string, wait time.Duration) []string {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.UDPAddr)
	msg = strings.ReplaceAll(msg, "LOCAL", local.String())
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n")
	if i := strings.Index(msg, "\r\n\r\n"); i >= 0 {
		body := msg[i+4:]
		msg = strings.Replace(msg, "Content-Length: 0", "Content-Length: "+strconv.Itoa(len(body)), 1)
	}
	if _, err := conn.WriteToUDP([]byte(msg), &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: port}); err != nil {
		t.Fatal(err)
	}
	var out []string
	deadline := time.Now().Add(wait)
	buf := make([]byte, 65535)
	for {
		_ = conn.SetReadDeadline(deadline)
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			return out
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		out = append(out, line+"\n"+string(buf[:n]))
	}
}

func statusCodes(rs []string) []string {
	var out []string
	for _, r := range rs {
		f := strings.Fields(r)
		if len(f) > 1 {
			out = append(out, f[1])
		}
	}
	return out
}

func inviteMsg(callID, fromUser, sdpCodecs string) string {
	sdp := "v=0\no=x 1 1 IN IP4 127.0.0.2\ns=-\nc=IN IP4 127.0.0.2\nt=0 0\nm=audio 6010 RTP/AVP " + sdpCodecs + "\n"
	if strings.HasPrefix(sdpCodecs, "18") {
		sdp += "a=rtpmap:18 G729/8000\n"
	}
	return "INVITE sip:88001234567@127.0.0.1 SIP/2.0\n" +
		"Via: SIP/2.0/UDP LOCAL;branch=z9hG4bK" + callID + "\n" +
		"From: <sip:" + fromUser + "@127.0.0.2>;tag=" + callID + "\n" +
		"To: <sip:88001234567@127.0.0.1>\n" +
		"Call-ID: " + callID + "\n" +
		"CSeq: 1 INVITE\n" +
		"Contact: <sip:" + fromUser + "@LOCAL>\n" +
		"Max-Forwards: 70\n" +
		"Content-Type: application/sdp\n" +
		"Content-Length: 0\n\n" + sdp
}

// TestBadInput: malformed messages, unknown sources, codecs we do not speak
// and a password-guessing flood each get a defined answer, and a trunk call
// placed afterwards still goes through.
func TestBadInput(t *testing.T) {
	needPeer(t)
	sw := startSwitch(t, func(c *Config) { c.AuthFailLimit = 5 })

	t.Run("garbage datagram is dropped, logged, and the switch still answers", func(t *testing.T) {
		if rs := rawSIP(t, strayIP, sw.port, "this is not SIP at all\r\n\r\n", 300*time.Millisecond); len(rs) != 0 {
			t.Fatalf("garbage got answers: %v", rs)
		}
		opts := "OPTIONS sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKopt1\nFrom: <sip:probe@127.0.0.9>;tag=1\nTo: <sip:127.0.0.1>\nCall-ID: opt1\nCSeq: 1 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n"
		if got := statusCodes(rawSIP(t, strayIP, sw.port, opts, time.Second)); len(got) == 0 || got[0] != "200" {
			t.Fatalf("OPTIONS after garbage: %v", got)
		}
		logs := sw.logs.String()
		if !strings.Contains(logs, "sip unparsable datagram dropped") || !strings.Contains(logs, "source="+strayIP+":") || strings.Contains(logs, "not SIP at all") {
			t.Fatalf("the malformed message was not logged with its source and without its bytes; log:\n%s", tail(logs))
		}
	})
	t.Run("request without CSeq gets 400", func(t *testing.T) {
		msg := "OPTIONS sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKbad2\nFrom: <sip:probe@127.0.0.9>;tag=1\nTo: <sip:127.0.0.1>\nCall-ID: bad2\nMax-Forwards: 70\nContent-Length: 0\n\n"
		got := statusCodes(rawSIP(t, strayIP, sw.port, msg, time.Second))
		if len(got) == 0 || got[0] != "400" {
			t.Fatalf("no-CSeq request: %v, want 400", got)
		}
	})
	t.Run("INVITE from an unknown source gets 403 and a masked log line", func(t *testing.T) {
		got := statusCodes(rawSIP(t, strayIP, sw.port, inviteMsg("stray1", "79991234567", "0"), time.Second))
		if len(got) == 0 || got[len(got)-1] != "403" {
			t.Fatalf("stray INVITE: %v, want 403", got)
		}
		logs := sw.logs.String()
		if !strings.Contains(logs, "sip invite refused") || strings.Contains(logs, "79991234567") || !strings.Contains(logs, "4567") {
			t.Fatalf("want a refusal log line with the caller masked; log:\n%s", tail(logs))
		}
	})
	t.Run("SDP with no common codec gets 488", func(t *testing.T) {
		got := statusCodes(rawSIP(t, trunkIP, sw.port, inviteMsg("g729", "79123456789", "18"), time.Second))
		if len(got) == 0 || got[len(got)-1] != "488" {
			t.Fatalf("G.729-only INVITE: %v, want 488", got)
		}
	})
	t.Run("REGISTER flood with wrong passwords locks the source out; trunk calls go on", func(t *testing.T) {
		var answers []string
		for i := 0; i < 8; i++ {
			answers = append(answers, wrongRegister(t, sw, i))
		}
		// Five failures ban the source: the rest are dropped unanswered.
		want := []string{"403", "403", "403", "403", "403", "none", "none", "none"}
		if strings.Join(answers, ",") != strings.Join(want, ",") {
			t.Fatalf("flood answers = %v, want %v", answers, want)
		}
		if !strings.Contains(sw.logs.String(), "sip source locked out") {
			t.Fatal("lockout not logged")
		}
		// A trunk call still reaches the switch and rings.
		done := make(chan []string)
		go func() {
			done <- statusCodes(rawSIP(t, trunkIP, sw.port, inviteMsg("after-flood", "79123456789", "0 8"), 2*time.Second))
		}()
		leg := nextLeg(t, sw, 5*time.Second)
		_ = leg.Hangup(sip.CauseBusy)
		got := <-done
		if len(got) == 0 || got[len(got)-1] != "486" {
			t.Fatalf("trunk call after the flood: %v, want ringing then 486", got)
		}
	})
}

var realmNonce = regexp.MustCompile(`nonce="([^"]+)"`)

// wrongRegister sends REGISTER, answers the challenge with a wrong password
// and returns the final status, or "none" when nothing came back.
func wrongRegister(t *testing.T, sw *testSwitch, i int) string {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(floodIP)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	dst := &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: sw.port}
	send := func(cseq int, auth string) string {
		msg := fmt.Sprintf("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKfl%d-%d\r\nFrom: <sip:a1@127.0.0.1>;tag=fl%d\r\nTo: <sip:a1@127.0.0.1>\r\nCall-ID: flood%d\r\nCSeq: %d REGISTER\r\nContact: <sip:a1@%s>\r\n%sExpires: 60\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			local, i, cseq, i, i, cseq, local, auth)
		_, _ = conn.WriteToUDP([]byte(msg), dst)
		buf := make([]byte, 8192)
		_ = conn.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	res := send(1, "")
	if res == "" {
		return "none"
	}
	m := realmNonce.FindStringSubmatch(res)
	if m == nil {
		return strings.Fields(res)[1]
	}
	auth := fmt.Sprintf("Authorization: Digest username=\"a1\", realm=\"hotline\", nonce=\"%s\", uri=\"sip:127.0.0.1\", response=\"00000000000000000000000000000000\", algorithm=MD5\r\n", m[1])
	res = send(2, auth)
	if res == "" {
		return "none"
	}
	return strings.Fields(res)[1]
}
