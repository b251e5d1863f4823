package server_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// tonePhoneAt is a phone on ip sending freq.
func tonePhoneAt(t *testing.T, ip string, port int, user, password string, freq float64) *siptest.Phone {
	t.Helper()
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr(ip), PortMin: 45000, PortMax: 45999})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	p, err := siptest.NewPhone(siptest.PhoneConfig{IP: ip, Port: port, User: user, Password: password, Media: eng,
		AnswerDelay: 300 * time.Millisecond, Voice: siptest.Tone(freq, time.Second), QuietSIP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// TestServeAsteriskRecording: `serve` in Asterisk mode records a call
// (recording.mode all): the caller (600 Hz) reaches a9 (1000 Hz) through
// the IVR and the queue; after the call the recording service has fetched
// Asterisk's per-party files into its own stereo WAV under recording.dir —
// the caller's tone only on the left, the agent's only on the right — with
// the row done (agent, size, SHA-256 as in recording.stopped), as in
// native mode.
func TestServeAsteriskRecording(t *testing.T) {
	env := needAsteriskEnv(t)
	db := pgtest.New(t)
	recDir := t.TempDir()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	yml := strings.NewReplacer("ROOT", root, "DBURL", db.DSN, "SPOOL", t.TempDir(),
		"HTTPPORT", fmt.Sprint(sipptest.FreeUDPAndTCPPort(t)), "ARIURL", env.ariURL,
		"ARIUSER", env.ariUser, "ARIPASS", env.ariPassword).Replace(asteriskE2EConfig) +
		"recording: {dir: " + recDir + ", mode: all, notice: false}\n"
	srv := startTestServe(t, "asterisk-rec.yaml", yml)
	events := watchEvents(t, srv.ctx, srv.api)

	agent := tonePhoneAt(t, "127.0.25.24", 0, "a9", env.agentPrefix+"a9", 1000)
	if err := agent.Register(ctxTimeout(t, 10*time.Second), env.sip, 5*time.Minute); err != nil {
		t.Fatalf("register a9 with Asterisk: %v", err)
	}
	t.Cleanup(func() { _ = agent.Register(ctxTimeout(t, 5*time.Second), env.sip, 0) })
	post(t, srv.api+"/api/v1/agents/a9/login", "")
	trunk := tonePhoneAt(t, "127.0.0.31", 5390, "", "", 600)
	call, err := trunk.Call(ctxTimeout(t, 20*time.Second), siptest.CallOptions{Addr: env.sip, To: "88001234567", From: "79123450031"})
	if err != nil {
		t.Fatalf("the 8-800 call was not answered: %v", err)
	}
	t.Cleanup(func() { _ = call.Hangup(ctxTimeout(t, 5*time.Second)) })
	waitFor(t, "the menu prompt", func() bool { return call.Received() > 50 })
	if err := call.SendDTMF(ctxTimeout(t, 5*time.Second), "1"); err != nil {
		t.Fatal(err)
	}
	agentCall := nextIncoming(t, agent)
	for start := agentCall.Received(); agentCall.Received() < start+150; { // three seconds of talk
		time.Sleep(50 * time.Millisecond)
	}
	if err := call.Hangup(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	started := events.wait(t, "recording.started", func(e eventlog.Event) bool { return e.Type == eventlog.RecordingStarted })
	stopped := events.wait(t, "recording.stopped or failed", func(e eventlog.Event) bool {
		return (e.Type == eventlog.RecordingStopped || e.Type == eventlog.RecordingFailed) && e.CallID == started.CallID
	})
	if stopped.Type != eventlog.RecordingStopped || stopped.Reason != "" {
		t.Fatalf("recording ended %+v", stopped)
	}
	b, err := os.ReadFile(filepath.Join(recDir, started.String(eventlog.KeyRecordingFile)))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || binary.LittleEndian.Uint16(b[22:]) != 2 {
		t.Fatalf("not a stereo WAV (%d bytes)", len(b))
	}
	var left, right []int16
	for i := 44; i+3 < len(b); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(b[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(b[i+2:])))
	}
	dur := time.Duration(len(left)) * time.Second / 8000
	if dur < 2*time.Second {
		t.Fatalf("recording too short: %v", dur)
	}
	for at := 200 * time.Millisecond; at+400*time.Millisecond <= dur; at += 200 * time.Millisecond {
		i := int(at * 8000 / time.Second)
		if got := audiotest.Present(left[i:i+1600], 8000, 0.1, 600, 1000); !slices.Equal(got, []float64{600}) {
			t.Errorf("left at %v: %v, want the caller's 600 Hz only", at, got)
		}
		if got := audiotest.Present(right[i:i+1600], 8000, 0.1, 600, 1000); !slices.Equal(got, []float64{1000}) {
			t.Errorf("right at %v: %v, want the agent's 1000 Hz only", at, got)
		}
	}
	var rowAgent, sum string
	var size int64
	if err := db.Pool.QueryRow(context.Background(), `SELECT agent, size_bytes, sha256 FROM recordings WHERE call_id = $1 AND state = 'done'`,
		started.CallID).Scan(&rowAgent, &size, &sum); err != nil {
		t.Fatal(err)
	}
	if rowAgent != "a9" || size != int64(len(b)) || sum != stopped.String(eventlog.KeyRecordingSHA256) {
		t.Errorf("row: agent %q size %d sha %q; file %d bytes", rowAgent, size, sum, len(b))
	}
	t.Logf("recording %v, %d bytes, agent %s", dur, len(b), rowAgent)
}
