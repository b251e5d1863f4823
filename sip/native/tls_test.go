package native

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/internal/tlstest"
	"github.com/hotline-cc/hotline/sip"
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
