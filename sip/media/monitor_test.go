package media_test

import (
	"context"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
)

// Tones: each peer sends its own.
const (
	toneCaller = 600.0
	toneAgent  = 1000.0
	toneSup    = 1500.0
)

func toneSound(freq float64) *media.Sound {
	pcm := make([]int16, 8000) // 1 s, a whole number of periods for every tone here
	for i := range pcm {
		pcm[i] = int16(6000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return &media.Sound{Name: "tone", PCM: pcm}
}

func engineOn(t *testing.T, ip string, base int) *media.Engine {
	t.Helper()
	e, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr(ip), PortMin: base, PortMax: base + 39})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// phoneSide is a peer's stream (in the phones' engine) sending its tone, and
// what it hears; sw is hotline's stream for that peer.
type phoneSide struct {
	heard *audiotest.Capture
	phone *media.Stream
	sw    *media.Stream
}

func connect(t *testing.T, phones, sw *media.Engine, freq float64, phoneCodec, swCodec media.Codec) phoneSide {
	t.Helper()
	c := audiotest.NewCapture()
	ph, err := phones.NewStream(media.StreamConfig{Codec: phoneCodec, OnAudio: c.Add})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sw.NewStream(media.StreamConfig{Remote: ph.LocalAddr(), Codec: swCodec})
	if err != nil {
		t.Fatal(err)
	}
	ph.Update(st.LocalAddr(), phoneCodec, 0)
	ph.Loop([]*media.Sound{toneSound(freq)})
	return phoneSide{heard: c, phone: ph, sw: st}
}

// hears returns which of the three tones p heard in half a second of audio
// received after 200 ms more had arrived (the change settling).
// All peers listen over the same stretch.
func hears(t *testing.T, ctx context.Context, ps ...phoneSide) [][]float64 {
	t.Helper()
	caps := make([]*audiotest.Capture, len(ps))
	for i, p := range ps {
		caps[i] = p.heard
	}
	out, i, err := audiotest.HeardTogether(ctx, caps, toneCaller, toneAgent, toneSup)
	if err != nil {
		t.Fatalf("peer %d: %v", i, err)
	}
	return out
}

// TestMonitorModes: caller, agent and supervisor each send a different tone
// through real sockets; in each mode every peer hears exactly the tones it
// should (by frequency), the mode switches during the call, and after Stop
// the call is relayed as before. The supervisor's phone speaks A-law, so
// its mix is transcoded.
func TestMonitorModes(t *testing.T) {
	phones := engineOn(t, "127.0.4.11", 21000)
	sw := engineOn(t, "127.0.4.10", 21000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	caller := connect(t, phones, sw, toneCaller, media.PCMU, media.PCMU)
	agent := connect(t, phones, sw, toneAgent, media.PCMU, media.PCMU)
	sup := connect(t, phones, sw, toneSup, media.PCMA, media.PCMA)
	unbridge := caller.sw.Bridge(agent.sw)
	defer unbridge()

	if got := hears(t, ctx, agent)[0]; !slices.Equal(got, []float64{toneCaller}) {
		t.Fatalf("bridged, before any monitor: the agent hears %v, want the caller's tone only", got)
	}
	if _, err := sup.sw.Monitor(agent.sw, sip.MonitorListen); err == nil {
		t.Fatal("monitoring an unbridged stream: no error")
	}
	m, err := agent.sw.Monitor(sup.sw, sip.MonitorListen)
	if err != nil {
		t.Fatal(err)
	}
	both := []float64{toneCaller, toneAgent}
	steps := []struct {
		mode                  sip.MonitorMode
		caller, agent, superv []float64
	}{
		{sip.MonitorListen, []float64{toneAgent}, []float64{toneCaller}, both},
		{sip.MonitorWhisper, []float64{toneAgent}, []float64{toneCaller, toneSup}, both},
		{sip.MonitorBarge, []float64{toneAgent, toneSup}, []float64{toneCaller, toneSup}, both},
		{sip.MonitorListen, []float64{toneAgent}, []float64{toneCaller}, both},
	}
	for _, st := range steps {
		if err := m.SetMode(st.mode); err != nil {
			t.Fatal(err)
		}
		if m.Mode() != st.mode {
			t.Fatalf("Mode() = %v after SetMode(%v)", m.Mode(), st.mode)
		}
		got := hears(t, ctx, caller, agent, sup)
		for i, c := range []struct {
			who  string
			want []float64
		}{{"caller", st.caller}, {"agent", st.agent}, {"supervisor", st.superv}} {
			if !slices.Equal(got[i], c.want) {
				t.Errorf("%s: the %s hears %v, want %v", st.mode, c.who, got[i], c.want)
			}
		}
	}
	m.Stop()
	m.Stop()
	if err := m.SetMode(sip.MonitorBarge); err == nil {
		t.Error("SetMode after Stop: no error")
	}
	got := hears(t, ctx, caller, agent)
	if !slices.Equal(got[0], []float64{toneAgent}) || !slices.Equal(got[1], []float64{toneCaller}) {
		t.Errorf("after Stop the caller hears %v and the agent %v", got[0], got[1])
	}
	if !m.Bridged() {
		t.Error("the call's bridge is gone after the monitor left")
	}
}
