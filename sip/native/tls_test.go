package native

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/internal/tlstest"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
)

// startTLSSwitch is startSwitch with SIP over TLS on a free loopback port
// and a certificate generated for 127.0.0.1 (its PEM file is returned
// for the phone's CA file).
func startTLSSwitch(t *testing.T, mutate func(*Config)) (*testSwitch, tlstest.Cert) {
	t.Helper()
	cert := tlstest.New(t, "127.0.0.1")
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	sw := startSwitch(t, func(c *Config) {
		c.DigestAlgorithms = []string{"MD5"} // Debian 12's baresip 1.0
		c.TLSListen = "127.0.0.1:0"
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
		if mutate != nil {
			mutate(c)
		}
	})
	if !sw.TLSAddr().IsValid() {
		t.Fatal("no TLS address after Start")
	}
	return sw, cert
}

// TestBaresipTLS: a real baresip registers over TLS (transport=tls, the
// switch's generated certificate as its CA file), is dialled over the
// registration's TLS connection, answers by itself and receives the
// prompt's audio; its binding is a TLS one.
func TestBaresipTLS(t *testing.T) {
	needPeer(t, "baresip")
	sw, cert := startTLSSwitch(t, nil)
	sipptest.StartBaresip(t, sipptest.Baresip{
		IP: phoneIP, SIPPort: 5284, RTPPort: 6240, User: "a2", Password: "secret2",
		Registrar: sw.TLSAddr().String(), Transport: "tls", CAFile: cert.CertFile,
		Mic: filepath.Join(promptRU, "vm-intro.wav"),
	})
	if !waitFor(func() bool { return sw.Registered("a2") }, 15*time.Second) {
		t.Fatalf("baresip a2 did not register over TLS; switch log:\n%s", tail(sw.logs.String()))
	}
	bs := sw.reg.contacts("a2")
	if len(bs) != 1 || !isTLS(bs[0].Transport) {
		t.Fatalf("bindings %+v, want one over TLS", bs)
	}

	capt := sipptest.StartCapture(t, "udp and dst portrange 6240-6249")
	// No SIP over UDP or plain TCP reaches the phone: the INVITE and BYE go
	// over its TLS connection.
	sipCapt := sipptest.StartCapture(t, fmt.Sprintf("host %s and (udp port 5284 or port %d)", phoneIP, sw.port))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	agentLeg, err := sw.Dial(ctx, sip.Target{Agent: "a2", CallerID: "79123456789", RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("dial baresip over TLS: %v\n%s", err, tail(sw.logs.String()))
	}
	if _, err := agentLeg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "queue-thereare"}}}); err != nil {
		t.Fatal(err)
	}
	_ = agentLeg.Hangup(sip.CauseNormal)
	<-agentLeg.Done()
	snd, err := sw.cfg.Catalog.Prompt(sip.Prompt{Name: "queue-thereare"})
	if err != nil {
		t.Fatal(err)
	}
	want := (len(snd.PCM) + 159) / 160
	if got := len(capt.Stop(t)); got < want*98/100 || got > want*102/100 {
		t.Fatalf("baresip received %d RTP packets for the prompt; want %d ± 2 %%", got, want)
	}
	if got := sipCapt.Stop(t); len(got) != 0 {
		t.Fatalf("SIP to the TLS phone outside its TLS connection:\n%v", got)
	}
}

// TestBaresipSRTP: with SRTPForTLS, a real baresip over TLS with
// mediaenc=srtp-mand is offered RTP/SAVP with an SDES key, answers with
// its own, receives every packet of the prompt, and what it sends
// authenticates under its key (only authentic SRTP counts as received).
func TestBaresipSRTP(t *testing.T) {
	needPeer(t, "baresip")
	sw, cert := startTLSSwitch(t, func(c *Config) { c.SRTPForTLS = true })
	phone := sipptest.StartBaresip(t, sipptest.Baresip{
		IP: phoneIP, SIPPort: 5286, RTPPort: 6260, User: "a2", Password: "secret2",
		Registrar: sw.TLSAddr().String(), Transport: "tls", CAFile: cert.CertFile, MediaEnc: "srtp-mand",
		Mic: filepath.Join(promptRU, "vm-intro.wav"),
	})
	if !waitFor(func() bool { return sw.Registered("a2") }, 15*time.Second) {
		t.Fatalf("baresip a2 did not register over TLS; switch log:\n%s", tail(sw.logs.String()))
	}
	capt := sipptest.StartCapture(t, "udp and dst portrange 6260-6269")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	agentLeg, err := sw.Dial(ctx, sip.Target{Agent: "a2", CallerID: "79123456789", RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("dial baresip with SRTP: %v\n%s", err, tail(sw.logs.String()))
	}
	l := agentLeg.(*leg)
	if !l.stream.SRTP() || l.srtp == nil {
		t.Fatal("the leg is not SRTP")
	}
	if _, err := agentLeg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "queue-thereare"}}}); err != nil {
		t.Fatal(err)
	}
	recv := l.stream.Stats().PacketsReceived
	_ = agentLeg.Hangup(sip.CauseNormal)
	<-agentLeg.Done()
	snd, err := sw.cfg.Catalog.Prompt(sip.Prompt{Name: "queue-thereare"})
	if err != nil {
		t.Fatal(err)
	}
	want := (len(snd.PCM) + 159) / 160
	got := len(capt.Stop(t))
	t.Logf("baresip received %d SRTP packets for a %d-packet prompt; %d authentic SRTP packets came back", got, want, recv)
	if got < want*98/100 || got > want*102/100 {
		t.Fatalf("baresip received %d SRTP packets for the prompt; want %d ± 2 %%", got, want)
	}
	// baresip sent its microphone the whole time: 1.84 s is ~92 packets.
	if recv < uint64(want)/2 {
		t.Fatalf("%d authentic SRTP packets from baresip during the prompt; want at least %d\nbaresip:\n%s", recv, want/2, tail(phone.String()))
	}
	if strings.Contains(sw.logs.String(), "inline:") {
		t.Fatal("an SDES key reached the log")
	}
}

// TestSDESCrypto: a=crypto lines are read for the one suite hotline
// speaks (lifetime allowed; MKI, other suites and bad keys not), written
// back with the tag, and the key never prints.
func TestSDESCrypto(t *testing.T) {
	key := "MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0" // 30 bytes
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"plain", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key, true},
		{"with lifetime", "2 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|2^31", true},
		{"with MKI", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|2^20|1:4", false},
		{"other suite", "1 AES_CM_128_HMAC_SHA1_32 inline:" + key, false},
		{"short key", "1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", false},
		{"session parameter", "1 AES_CM_128_HMAC_SHA1_80 inline:" + key + " UNENCRYPTED_SRTP", false},
		{"not base64", "1 AES_CM_128_HMAC_SHA1_80 inline:%%%%", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parseCrypto(tc.value)
			if (c != nil) != tc.ok {
				t.Fatalf("parseCrypto(%q) = %v, want ok %v", tc.value, c, tc.ok)
			}
		})
	}
	c, err := newCrypto(7)
	if err != nil {
		t.Fatal(err)
	}
	body := string(buildSDP(netip.MustParseAddrPort("127.0.0.1:20000"), []media.Codec{media.PCMU}, 101, "sendrecv", c))
	if !strings.Contains(body, "m=audio 20000 RTP/SAVP 0 101\r\n") || !strings.Contains(body, "a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Fatalf("SRTP SDP:\n%s", body)
	}
	back, err := parseSDP([]byte(body))
	if err != nil || !back.Secure || back.Crypto == nil || back.Crypto.Tag != 7 || !bytes.Equal(back.Crypto.Key, c.Key) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "crypto", c, "key", c.Key, "remote", back)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v %#v %x %s", back, c, c.Key, c.Key), logs.String()} {
		if strings.Contains(out, base64.StdEncoding.EncodeToString(c.Key)) || strings.Contains(out, fmt.Sprintf("%x", []byte(c.Key))) || !strings.Contains(out, "hidden") {
			t.Errorf("key printed: %s", out)
		}
	}
}

// TestSRTPOfferable: which INVITE offers the switch takes, with and
// without SRTPForTLS.
func TestSRTPOfferable(t *testing.T) {
	key := &sdesCrypto{Tag: 1, Key: make([]byte, media.SRTPKeyLen)}
	plain, srtpOK, srtpNoKey := remoteMedia{}, remoteMedia{Secure: true, Crypto: key}, remoteMedia{Secure: true}
	for _, tc := range []struct {
		name      string
		required  bool
		offer     remoteMedia
		transport string
		agent     bool
		want      string // "" accepted, else part of the error
	}{
		{"plain over UDP", true, plain, "UDP", true, ""},
		{"plain trunk call over TLS", true, plain, "TLS", false, ""},
		{"plain agent over TLS, not required", false, plain, "TLS", true, ""},
		{"plain agent over TLS, required", true, plain, "TLS", true, "SRTP is required"},
		{"SRTP over TLS", true, srtpOK, "TLS", true, ""},
		{"SRTP over TLS, not required", false, srtpOK, "TLS", true, ""},
		{"SRTP over UDP", false, srtpOK, "UDP", true, "only over TLS"},
		{"SRTP over TCP", true, srtpOK, "TCP", false, "only over TLS"},
		{"SRTP without a usable key", false, srtpNoKey, "TLS", true, "no usable SRTP key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Switch{cfg: Config{SRTPForTLS: tc.required}}
			err := s.srtpOfferable(tc.offer, tc.transport, tc.agent)
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("srtpOfferable = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestBaresipSRTPCallsIn: an agent's phone over TLS with mediaenc=srtp-mand
// places a call (a feature code, say): the INVITE is authenticated, comes
// in as a leg, is answered with SRTP, and audio flows both ways.
func TestBaresipSRTPCallsIn(t *testing.T) {
	needPeer(t, "baresip")
	sw, cert := startTLSSwitch(t, func(c *Config) { c.SRTPForTLS = true })
	b := sipptest.Baresip{
		IP: phoneIP, SIPPort: 5290, RTPPort: 6300, User: "a2", Password: "secret2",
		Registrar: sw.TLSAddr().String(), Transport: "tls", CAFile: cert.CertFile, MediaEnc: "srtp-mand",
		Mic: filepath.Join(promptRU, "vm-intro.wav"), CtrlPort: 5296, // 5291 is its TLS listener
	}
	sipptest.StartBaresip(t, b)
	if !waitFor(func() bool { return sw.Registered("a2") }, 15*time.Second) {
		t.Fatalf("baresip a2 did not register over TLS; switch log:\n%s", tail(sw.logs.String()))
	}
	sipptest.BaresipCommand(t, b, "dial", fmt.Sprintf("sip:*55@%s;transport=tls", sw.TLSAddr()))
	var in sip.Leg
	select {
	case in = <-sw.Incoming():
	case <-time.After(15 * time.Second):
		t.Fatalf("baresip's call did not come in; switch log:\n%s", tail(sw.logs.String()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := in.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	l := in.(*leg)
	if in.Info().Agent != "a2" || !l.stream.SRTP() || l.srtp == nil {
		t.Fatalf("leg from %q, SRTP %v", in.Info().Agent, l.stream.SRTP())
	}
	capt := sipptest.StartCapture(t, "udp and dst portrange 6300-6309")
	if _, err := in.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "queue-thereare"}}}); err != nil {
		t.Fatal(err)
	}
	recv := l.stream.Stats().PacketsReceived
	got := len(capt.Stop(t))
	t.Logf("SRTP to baresip: %d packets; authentic SRTP from it: %d", got, recv)
	if got < 90 || recv < 46 {
		t.Fatalf("SRTP: %d packets to baresip (want the 92 of the prompt), %d authentic from it", got, recv)
	}

	// Hold and resume: re-INVITEs of an SRTP leg keep SRTP (a key each time).
	for _, cmd := range []struct {
		name string
		hold bool
	}{{"hold", true}, {"resume", false}} {
		sipptest.BaresipCommand(t, b, cmd.name, "")
		if !waitHold(t, in, cmd.hold) {
			t.Fatalf("no hold event %v after baresip's %s; switch log:\n%s", cmd.hold, cmd.name, tail(sw.logs.String()))
		}
	}
	before := l.stream.Stats().PacketsReceived
	if !waitFor(func() bool { return l.stream.Stats().PacketsReceived >= before+25 }, 10*time.Second) {
		t.Fatalf("no authentic SRTP after resume (%d packets)", l.stream.Stats().PacketsReceived-before)
	}
	_ = in.Hangup(sip.CauseNormal)
	<-in.Done()
}

// waitHold waits for leg's next HoldEvent and reports whether it says hold.
func waitHold(t *testing.T, l sip.Leg, hold bool) bool {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-l.Events():
			if h, ok := ev.(sip.HoldEvent); ok {
				return h.Hold == hold
			}
		case <-timeout:
			return false
		}
	}
}
