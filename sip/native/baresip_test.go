package native

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip"
)

// startBaresip runs a real baresip softphone registered as user with pass,
// auto-answering, sending a prompt file as its microphone and writing what it hears to a WAV.
func startBaresip(t *testing.T, sw *testSwitch, user, pass string, sipPort, rtpPort int) (logs *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`sip_listen %[1]s:%[2]d
net_interface %[1]s
audio_player aufile,%[3]s
audio_source aufile,%[6]s
audio_alert aufile,/dev/null
rtp_ports %[4]d-%[5]d
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module_app account.so
module_app menu.so
`, phoneIP, sipPort, filepath.Join(dir, "heard.wav"), rtpPort, rtpPort+9, filepath.Join(promptRU, "vm-intro.wav"))
	acct := fmt.Sprintf("<sip:%s@127.0.0.1:%d;transport=udp>;auth_pass=%s;answermode=auto;regint=60;audio_codecs=PCMU,PCMA\n", user, sw.port, pass)
	for name, body := range map[string]string{"config": cfg, "accounts": acct} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs = &syncBuffer{}
	cmd := exec.Command("baresip", "-f", dir, "-t", "60")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("baresip %s output:\n%s", user, tail(logs.String()))
		}
	})
	return logs
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
