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

	"github.com/hotline-cc/hotline/sip"
)

// startBaresip runs a real baresip softphone registered as user with pass,
// auto-answering, sending a 440 Hz tone and writing what it hears to a WAV.
func startBaresip(t *testing.T, sw *testSwitch, user, pass string, sipPort, rtpPort int) (heard string, logs *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	heard = filepath.Join(dir, "heard.wav")
	cfg := fmt.Sprintf(`sip_listen %[1]s:%[2]d
net_interface %[1]s
audio_player aufile,%[3]s
audio_source ausine,440
audio_alert aufile,/dev/null
rtp_ports %[4]d-%[5]d
module_path /usr/lib/baresip/modules
module g711.so
module ausine.so
module aufile.so
module_app account.so
module_app menu.so
`, phoneIP, sipPort, heard, rtpPort, rtpPort+9)
	acct := fmt.Sprintf("<sip:%s@127.0.0.1:%d>;auth_pass=%s;answermode=auto;regint=60;audio_codecs=PCMU,PCMA\n", user, sw.port, pass)
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
	return heard, logs
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
	sw := startSwitch(t, nil)

	heard, _ := startBaresip(t, sw, "a2", "secret2", 5280, 6200)
	if !waitFor(func() bool { return sw.Registered("a2") }, 15*time.Second) {
		t.Fatalf("baresip a2 did not register; switch log:\n%s", tail(sw.logs.String()))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leg, err := sw.Dial(ctx, sip.Target{Agent: "a2", CallerID: "79123456789", RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("dial baresip: %v", err)
	}
	if _, err := leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "queue-thereare"}}}); err != nil {
		t.Fatal(err)
	}
	_ = leg.Hangup(sip.CauseNormal)
	// baresip wrote what it heard: the prompt's 1.8 s of audio at 8 kHz.
	var size int64
	waitFor(func() bool {
		st, err := os.Stat(heard)
		if err == nil {
			size = st.Size()
		}
		return size > 16000
	}, 5*time.Second)
	if size <= 16000 {
		t.Fatalf("baresip heard %d bytes; want the prompt's audio", size)
	}

	_, badLogs := startBaresip(t, sw, "a3", "wrong-password", 5282, 6220)
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
