package asterisk

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/recording"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// Monitoring and recording against a real Asterisk, by frequency: each
// phone sends its own tone. The agent's and the supervisor's phones use
// 127.0.25.11 and 127.0.25.12 and register as a9 and a10; the caller is the
// trunk phone (127.0.0.31:5390).
const (
	realToneCaller = 600.0
	realToneAgent  = 1000.0
	realToneSup    = 1500.0
)

type tonePhone struct {
	*siptest.Phone
	heard *audiotest.Capture
}

// tonePhone starts a phone that sends freq and records what it hears.
func (e realEnv) tonePhone(t *testing.T, ip string, port int, user string, freq float64) tonePhone {
	t.Helper()
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr(ip), PortMin: 44000, PortMax: 44999, InactivityTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	c := audiotest.NewCapture()
	cfg := siptest.PhoneConfig{IP: ip, Port: port, User: user, Media: eng, Logger: e.log, QuietSIP: true,
		Voice: siptest.Tone(freq, time.Second), OnAudio: c.Add}
	if user != "" {
		cfg.Password = e.agentPrefix + user
	}
	p, err := siptest.NewPhone(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if user != "" {
		if err := p.Register(ctxFor(t, 10*time.Second), e.sip, 5*time.Minute); err != nil {
			t.Fatalf("register %s with Asterisk: %v", user, err)
		}
		t.Cleanup(func() { _ = p.Register(ctxFor(t, 5*time.Second), e.sip, 0) })
	}
	return tonePhone{Phone: p, heard: c}
}

// hears returns which of the three tones each phone heard over the same
// half second, after 200 ms more had arrived (a change settling).
func hears(t *testing.T, ctx context.Context, ps ...tonePhone) [][]float64 {
	t.Helper()
	caps := make([]*audiotest.Capture, len(ps))
	for i, p := range ps {
		caps[i] = p.heard
	}
	out, i, err := audiotest.HeardTogether(ctx, caps, realToneCaller, realToneAgent, realToneSup)
	if err != nil {
		t.Fatalf("phone %d: %v", i, err)
	}
	return out
}

// realCall is a trunk caller bridged to agent a9 through a real Asterisk.
type realCall struct {
	caller, agent tonePhone
	callerLeg     sip.Leg
	agentLeg      sip.Leg
	callerCall    *siptest.Call
	bridged       chan error
}

// bridgedCall places a trunk call from number, rings a9 and bridges them;
// prepare runs on the caller's leg before the bridge.
func bridgedCall(t *testing.T, env realEnv, sw *Switch, number string, prepare func(sip.Leg)) *realCall {
	t.Helper()
	rc := &realCall{
		caller:  env.tonePhone(t, "127.0.0.31", 5390, "", realToneCaller),
		agent:   env.tonePhone(t, "127.0.25.11", 0, "a9", realToneAgent),
		bridged: make(chan error, 1),
	}
	rc.agent.SetMode(siptest.Answer)
	var out <-chan callOutcome
	rc.callerLeg, out = callIn(t, env, sw, rc.caller.Phone, number)
	rc.callerCall = answeredCall(t, rc.callerLeg, out)
	var err error
	rc.agentLeg, err = sw.Dial(ctxFor(t, 15*time.Second), sip.Target{Agent: "a9", RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("dial the agent: %v", err)
	}
	if prepare != nil {
		prepare(rc.callerLeg)
	}
	go func() { rc.bridged <- rc.callerLeg.Bridge(context.Background(), rc.agentLeg) }()
	flowing(t, "from the agent to the caller", rc.callerCall)
	return rc
}

// TestRealMonitor is the acceptance test of listen, whisper and barge over
// ARI snoop channels: what each phone received is checked by frequency in
// every mode, switching modes during the call; leaving restores the plain
// call; the end of the call stops a monitor and leaves the supervisor's leg.
func TestRealMonitor(t *testing.T) {
	env := needAsterisk(t)
	sw := env.start(t)
	ctx := ctxFor(t, 90*time.Second)
	sup := env.tonePhone(t, "127.0.25.12", 0, "a10", realToneSup)
	sup.SetMode(siptest.Answer)
	rc := bridgedCall(t, env, sw, "79120002001", nil)
	supLeg, err := sw.Dial(ctxFor(t, 15*time.Second), sip.Target{Agent: "a10", RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("dial the supervisor: %v", err)
	}
	var m sip.Monitor
	waitFor(t, "the bridge to be up for a monitor", func() bool {
		m, err = sw.Monitor(ctx, rc.agentLeg, supLeg, sip.MonitorListen)
		if err != nil && !errors.Is(err, sip.ErrNotBridged) {
			t.Fatal(err)
		}
		return err == nil
	})
	both := []float64{realToneCaller, realToneAgent}
	for _, st := range []struct {
		mode                  sip.MonitorMode
		caller, agent, superv []float64
	}{
		{sip.MonitorListen, []float64{realToneAgent}, []float64{realToneCaller}, both},
		{sip.MonitorWhisper, []float64{realToneAgent}, []float64{realToneCaller, realToneSup}, both},
		{sip.MonitorBarge, []float64{realToneAgent, realToneSup}, []float64{realToneCaller, realToneSup}, both},
		{sip.MonitorListen, []float64{realToneAgent}, []float64{realToneCaller}, both},
	} {
		if err := m.SetMode(st.mode); err != nil {
			t.Fatal(err)
		}
		got := hears(t, ctx, rc.caller, rc.agent, sup)
		t.Logf("%s: caller hears %v, agent %v, supervisor %v", st.mode, got[0], got[1], got[2])
		for i, c := range []struct {
			who  string
			want []float64
		}{{"caller", st.caller}, {"agent", st.agent}, {"supervisor", st.superv}} {
			if !slices.Equal(got[i], c.want) {
				t.Errorf("%s: the %s's phone heard %v, want %v", st.mode, c.who, got[i], c.want)
			}
		}
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	<-m.Done()
	got := hears(t, ctx, rc.caller, rc.agent)
	if !slices.Equal(got[0], []float64{realToneAgent}) || !slices.Equal(got[1], []float64{realToneCaller}) {
		t.Errorf("after the supervisor left: the caller hears %v, the agent %v", got[0], got[1])
	}
	select {
	case err := <-rc.bridged:
		t.Fatalf("the call's bridge ended when the supervisor left: %v", err)
	default:
	}
	// A monitor ends with the call (the caller hangs up).
	if m, err = sw.Monitor(ctx, rc.agentLeg, supLeg, sip.MonitorBarge); err != nil {
		t.Fatal(err)
	}
	if err := rc.callerCall.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	case <-ctx.Done():
		t.Fatal("the monitor did not stop with the call")
	}
	if _, ended := supLeg.Ended(); ended {
		t.Error("the supervisor's leg ended with the monitored call")
	}
	_ = rc.agentLeg.Hangup(sip.CauseNormal)
	_ = supLeg.Hangup(sip.CauseNormal)
}

// legSource is internal/server's adapter (recording.ExternalSource over a
// recorded leg), repeated here so that the test drives the recording
// service on Asterisk's real files.
type legSource struct{ l *leg }

func (s legSource) Parts(ctx context.Context) ([]recording.ExternalPart, error) {
	ps, err := s.l.RecordedParts(ctx)
	out := make([]recording.ExternalPart, len(ps))
	for i, p := range ps {
		out[i] = recording.ExternalPart{Start: p.Start, End: p.End, Caller: p.Near, Agent: p.Other}
	}
	return out, err
}
func (s legSource) Fetch(ctx context.Context, n string) ([]byte, error) {
	return s.l.FetchRecording(ctx, n)
}
func (s legSource) Delete(ctx context.Context, n string) error { return s.l.DeleteRecording(ctx, n) }

// TestRealRecording: a recorded call through a real Asterisk, the caller
// sending 600 Hz and the agent 1000 Hz. Asterisk records each party (a
// spy=in snoop each); the recording service fetches the files over ARI,
// writes the stereo WAV (caller left, agent right: checked by frequency
// every 200 ms), its length close to the bridged time, and deletes
// Asterisk's copies (GET of the file afterwards fails).
func TestRealRecording(t *testing.T) {
	env := needAsterisk(t)
	sw := env.start(t)
	dir := t.TempDir()
	svc, err := recording.New(recording.Config{Dir: dir, Log: env.log})
	if err != nil {
		t.Fatal(err)
	}
	const callID = "real-rec-1"
	var lg *leg
	rc := bridgedCall(t, env, sw, "79120002002", func(l sip.Leg) {
		lg = l.(*leg)
		name, onFail, err := svc.StartExternal(context.Background(), callID, "support", legSource{lg})
		if err != nil {
			t.Fatal(err)
		}
		if err := lg.RecordBridges(name, onFail); err != nil {
			t.Fatal(err)
		}
	})
	// Three seconds of conversation, counted in audio the agent received.
	mark := rc.agent.heard.Mark()
	if _, err := rc.agent.heard.Next(ctxFor(t, 10*time.Second), mark, 3*8000); err != nil {
		t.Fatal(err)
	}
	if err := rc.agentLeg.Hangup(sip.CauseNormal); err != nil {
		t.Fatal(err)
	}
	if err := <-rc.bridged; err != nil {
		t.Fatalf("bridge: %v", err)
	}
	bridged := lg.Recorded()
	parts, _ := lg.RecordedParts(ctxFor(t, 10*time.Second))
	svc.Stop(context.Background(), callID)
	_ = rc.callerLeg.Hangup(sip.CauseNormal)

	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 {
		t.Fatalf("recordings written: %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || binary.LittleEndian.Uint16(b[22:]) != 2 {
		t.Fatalf("not a stereo WAV: %d bytes", len(b))
	}
	data := b[44:]
	n := len(data) / 4
	left, right := make([]int16, n), make([]int16, n)
	for i := range n {
		left[i] = int16(binary.LittleEndian.Uint16(data[4*i:]))
		right[i] = int16(binary.LittleEndian.Uint16(data[4*i+2:]))
	}
	length := time.Duration(n) * time.Second / 8000
	t.Logf("file %s: %v of audio; bridged (hotline's clock) %v; parts %+v", filepath.Base(files[0]), length, bridged, parts)
	// Asterisk's files start a little after the bridge (the snoops enter
	// the application, then the recordings start) and end with it.
	// (hotline's clock starts when the second recording request returns:
	// the first may have begun a frame or two earlier).
	if d := bridged - length; d < -40*time.Millisecond || d > 200*time.Millisecond {
		t.Errorf("recording lasts %v, the bridge %v: want from 40 ms more to 200 ms less", length, bridged)
	}
	bad := 0
	for at := 0; at+1600 <= n; at += 1600 {
		l := audiotest.Present(left[at:at+1600], 8000, 0.1, realToneCaller, realToneAgent)
		r := audiotest.Present(right[at:at+1600], 8000, 0.1, realToneCaller, realToneAgent)
		if !slices.Equal(l, []float64{realToneCaller}) || !slices.Equal(r, []float64{realToneAgent}) {
			bad++
			t.Logf("at %v: left %v, right %v", time.Duration(at)*time.Second/8000, l, r)
		}
	}
	if bad > 1 { // the first 200 ms may hold the start of the media
		t.Errorf("%d of %d blocks of 200 ms are not caller-left, agent-right", bad, n/1600)
	}
	for _, p := range parts {
		for _, name := range []string{p.Near, p.Other} {
			if _, err := lg.FetchRecording(context.Background(), name); err == nil {
				t.Errorf("Asterisk's copy %s was not deleted", name)
			}
		}
	}
}
