package native

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// Loopback addresses 127.0.4.12-15 are the monitor test's: the switch, the
// trunk caller, the agent's phone and the supervisor's phone.
const (
	monSwitchIP = "127.0.4.12"
	monCallerIP = "127.0.4.13"
	monAgentIP  = "127.0.4.14"
	monSupIP    = "127.0.4.15"
)

// Each peer sends its own tone.
const (
	monToneCaller = 600.0
	monToneAgent  = 1000.0
	monToneSup    = 1500.0
)

type monPeer struct {
	phone *siptest.Phone
	heard *audiotest.Capture
}

func newMonPeer(t *testing.T, ip, user, pass string, freq float64, base int) monPeer {
	t.Helper()
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr(ip), PortMin: base, PortMax: base + 39,
		InactivityTimeout: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	c := audiotest.NewCapture()
	p, err := siptest.NewPhone(siptest.PhoneConfig{IP: ip, User: user, Password: pass, Media: eng, QuietSIP: true,
		Voice: siptest.Tone(freq, time.Second), OnAudio: c.Add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return monPeer{phone: p, heard: c}
}

// monHears returns which of the three tones each peer heard over the same
// half second, received after 200 ms more had arrived (the change settling).
func monHears(t *testing.T, ctx context.Context, ps ...monPeer) [][]float64 {
	t.Helper()
	caps := make([]*audiotest.Capture, len(ps))
	for i, p := range ps {
		caps[i] = p.heard
	}
	out, i, err := audiotest.HeardTogether(ctx, caps, monToneCaller, monToneAgent, monToneSup)
	if err != nil {
		t.Fatalf("peer %d: %v", i, err)
	}
	return out
}

// TestMonitorPeers is the acceptance test of listen, whisper and barge on
// the native switch with real SIP/RTP phones: a trunk caller, an agent's
// and a supervisor's registered phones, each sending its own tone. What
// each phone received is checked by frequency in every mode, switching
// modes during the call; leaving restores the plain bridge; the bridge's
// end stops a monitor.
func TestMonitorPeers(t *testing.T) {
	sw := startSwitch(t, func(c *Config) {
		c.Listen = monSwitchIP + ":0"
		c.Trunks = []Trunk{{Name: "provider", Allow: []string{monCallerIP}}}
		c.Credentials = StaticCredentials{"a1": "secret", "sv1": "sv-secret"}
		c.DigestAlgorithms = []string{"MD5"}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := sw.Addr().String()
	caller := newMonPeer(t, monCallerIP, "caller", "", monToneCaller, 22000)
	agent := newMonPeer(t, monAgentIP, "a1", "secret", monToneAgent, 22000)
	sup := newMonPeer(t, monSupIP, "sv1", "sv-secret", monToneSup, 22000)
	for _, p := range []monPeer{agent, sup} {
		if err := p.phone.Register(ctx, addr, 300*time.Second); err != nil {
			t.Fatalf("register %s: %v", p.phone.User(), err)
		}
	}

	type placed struct {
		c   *siptest.Call
		err error
	}
	calling := make(chan placed, 1)
	go func() {
		c, err := caller.phone.Call(ctx, siptest.CallOptions{Addr: addr, To: "88001234567", From: "79123456789"})
		calling <- placed{c, err}
	}()
	var callerLeg sip.Leg
	select {
	case callerLeg = <-sw.Incoming():
	case <-ctx.Done():
		t.Fatal("no incoming leg")
	}
	if err := callerLeg.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	pl := <-calling
	if pl.err != nil {
		t.Fatalf("caller: %v", pl.err)
	}
	call := pl.c
	agentLeg, err := sw.Dial(ctx, sip.Target{Agent: "a1"})
	if err != nil {
		t.Fatalf("dial agent: %v", err)
	}
	supLeg, err := sw.Dial(ctx, sip.Target{Agent: "sv1"})
	if err != nil {
		t.Fatalf("dial supervisor: %v", err)
	}
	if _, err := sw.Monitor(ctx, agentLeg, supLeg, sip.MonitorListen); !errors.Is(err, sip.ErrNotBridged) {
		t.Fatalf("monitoring an unbridged leg: %v, want ErrNotBridged", err)
	}
	bctx, unbridge := context.WithCancel(ctx)
	bridged := make(chan error, 1)
	go func() { bridged <- callerLeg.Bridge(bctx, agentLeg) }()
	var m sip.Monitor
	eventually(t, "the bridge to be up for a monitor", 10*time.Second, func() bool {
		m, err = sw.Monitor(ctx, agentLeg, supLeg, sip.MonitorListen)
		if err != nil && !errors.Is(err, sip.ErrNotBridged) {
			t.Fatal(err)
		}
		return err == nil
	})
	if _, err := sw.Monitor(ctx, agentLeg, supLeg, sip.MonitorListen); !errors.Is(err, sip.ErrAlreadyBridged) {
		t.Fatalf("a second monitor on a busy supervisor leg: %v, want ErrAlreadyBridged", err)
	}

	both := []float64{monToneCaller, monToneAgent}
	for _, st := range []struct {
		mode                  sip.MonitorMode
		caller, agent, superv []float64
	}{
		{sip.MonitorListen, []float64{monToneAgent}, []float64{monToneCaller}, both},
		{sip.MonitorWhisper, []float64{monToneAgent}, []float64{monToneCaller, monToneSup}, both},
		{sip.MonitorBarge, []float64{monToneAgent, monToneSup}, []float64{monToneCaller, monToneSup}, both},
		{sip.MonitorWhisper, []float64{monToneAgent}, []float64{monToneCaller, monToneSup}, both},
	} {
		if err := m.SetMode(st.mode); err != nil {
			t.Fatal(err)
		}
		got := monHears(t, ctx, caller, agent, sup)
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
	got := monHears(t, ctx, caller, agent)
	if !slices.Equal(got[0], []float64{monToneAgent}) || !slices.Equal(got[1], []float64{monToneCaller}) {
		t.Errorf("after the supervisor left: the caller hears %v, the agent %v", got[0], got[1])
	}
	select {
	case err := <-bridged:
		t.Fatalf("the call's bridge ended when the supervisor left: %v", err)
	default:
	}

	// A monitor ends with the bridge (the caller hangs up); the
	// supervisor's leg stays up for the caller of Monitor to end.
	m, err = sw.Monitor(ctx, agentLeg, supLeg, sip.MonitorBarge)
	if err != nil {
		t.Fatal(err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	case <-ctx.Done():
		t.Fatal("the monitor did not stop with the bridge")
	}
	if _, ended := supLeg.Ended(); ended {
		t.Error("the supervisor's leg ended with the monitored call")
	}
	unbridge()
	_ = agentLeg.Hangup(sip.CauseNormal)
	_ = supLeg.Hangup(sip.CauseNormal)
}
