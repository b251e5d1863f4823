package native

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip"
)

// startBaresip runs a real baresip softphone registered as user with pass,
// auto-answering, sending a prompt file as its microphone.
func startBaresip(t *testing.T, sw *testSwitch, user, pass string, sipPort, rtpPort int) (logs *syncBuffer) {
	t.Helper()
	return sipptest.StartBaresip(t, sipptest.Baresip{
		IP: phoneIP, SIPPort: sipPort, RTPPort: rtpPort, User: user, Password: pass,
		Registrar: fmt.Sprintf("127.0.0.1:%d", sw.port), Mic: filepath.Join(promptRU, "vm-intro.wav"),
	})
}

func waitFor(cond func() bool, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// TestBaresipAgent: a real softphone registers with its password, is
// dialled, auto-answers and exchanges audio; a wrong password is refused.
func TestBaresipAgent(t *testing.T) {
	needPeer(t, "baresip")
	// Debian 12's baresip 1.0 (libre) gives up ("Function not implemented")
	// when any challenge names SHA-256, whatever the order: a deployment with
	// such phones offers MD5 only (digest_algorithms: [MD5]).
	sw := startSwitch(t, func(c *Config) { c.DigestAlgorithms = []string{"MD5"} })

	startBaresip(t, sw, "a2", "secret2", 5280, 6200)
	if !waitFor(func() bool { return sw.Registered("a2") }, 15*time.Second) {
		t.Fatalf("baresip a2 did not register; switch log:\n%s", tail(sw.logs.String()))
	}

	// baresip binds RTP to the any-address and sends from 127.0.0.1, so
	// symmetric RTP latches there: count by its RTP ports, not its address.
	capt := sipptest.StartCapture(t, "udp and dst portrange 6200-6209")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	agentLeg, err := sw.Dial(ctx, sip.Target{Agent: "a2", CallerID: "79123456789", RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("dial baresip: %v", err)
	}
	if _, err := agentLeg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "queue-thereare"}}}); err != nil {
		t.Fatal(err)
	}
	_ = agentLeg.Hangup(sip.CauseNormal)
	// The softphone received the prompt: 1.84 s is 92 packets of 20 ms.
	snd, err := sw.cfg.Catalog.Prompt(sip.Prompt{Name: "queue-thereare"})
	if err != nil {
		t.Fatal(err)
	}
	want := (len(snd.PCM) + 159) / 160
	if got := len(capt.Stop(t)); got < want*98/100 || got > want*102/100 {
		t.Fatalf("baresip received %d RTP packets for the prompt; want %d ± 2 %%", got, want)
	}

	badLogs := startBaresip(t, sw, "a3", "wrong-password", 5282, 6220)
	if !waitFor(func() bool { return strings.Contains(sw.logs.String(), "sip authentication failed") }, 15*time.Second) {
		t.Fatal("a wrong password was not refused")
	}
	if sw.Registered("a3") {
		t.Fatal("a3 registered with a wrong password")
	}
	if !waitFor(func() bool { return strings.Contains(badLogs.String(), "403") }, 5*time.Second) {
		t.Fatalf("baresip with a wrong password did not see 403")
	}
}
