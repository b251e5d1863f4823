//go:build linux

package native

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/hotline-cc/hotline/sip/media"
)

// TestWebRTCRelayLoad measures bridged calls whose agent is a browser:
// per call a plain RTP caller ↔ media.Stream ↔ relay ↔ media.Stream ↔
// WebRTC gateway ↔ a simulated browser (a pion PeerConnection: ICE,
// DTLS-SRTP), 50 packets/s each way. The browsers run in this process, so
// the CPU figure covers both ends of the DTLS-SRTP link: the switch's own
// share is lower. Run with HOTLINE_BENCH_WEBRTC=N (docs/benchmarks.md).
func TestWebRTCRelayLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HOTLINE_BENCH_WEBRTC"))
	if n <= 0 {
		t.Skip("set HOTLINE_BENCH_WEBRTC=N to measure N browser calls")
	}
	secs := 10
	ip := netip.MustParseAddr("127.0.1.20")
	eng, err := media.NewEngine(media.EngineConfig{IP: ip, PortMin: 42000, PortMax: 42000 + 4*n + 10})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	s, err := newSwitch(Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var closer interface{ Close() error }
	s.rtcAPI, closer, err = newWebRTCAPI(ip, WebRTCConfig{}, s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	browserAPI := browserSide(t)

	type call struct {
		peer    *net.UDPConn // the caller's phone
		to      netip.AddrPort
		track   *webrtc.TrackLocalStaticRTP // the browser's microphone
		browser *webrtc.PeerConnection
		gw      *rtcGateway
	}
	var atCaller, atBrowser atomic.Uint64
	calls := make([]*call, n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := range calls {
		c := &call{}
		c.peer, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.peer.Close()
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := c.peer.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
				atCaller.Add(1)
			}
		}()
		callerStream, err := eng.NewStream(media.StreamConfig{Remote: addrPortOf(c.peer.LocalAddr()), Codec: media.PCMU})
		if err != nil {
			t.Fatal(err)
		}
		c.to = callerStream.LocalAddr()
		c.gw, err = s.newGateway(ip)
		if err != nil {
			t.Fatal(err)
		}
		defer c.gw.Close()
		agentStream, err := eng.NewStream(media.StreamConfig{Remote: c.gw.Addr(), Codec: media.PCMU, DTMFPT: media.DefaultDTMFPT})
		if err != nil {
			t.Fatal(err)
		}
		c.gw.attach(plainSide(agentStream.LocalAddr()))
		offer, err := c.gw.offer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.browser, err = browserAPI.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.browser.Close()
		c.track, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "mic", "browser")
		if _, err := c.browser.AddTrack(c.track); err != nil {
			t.Fatal(err)
		}
		c.browser.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			buf := make([]byte, 1500)
			for {
				if _, _, err := tr.Read(buf); err != nil {
					return
				}
				atBrowser.Add(1)
			}
		})
		connected := make(chan struct{})
		c.browser.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
			if st == webrtc.PeerConnectionStateConnected {
				close(connected)
			}
		})
		if err := c.browser.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
			t.Fatal(err)
		}
		ans, _ := c.browser.CreateAnswer(nil)
		gathered := webrtc.GatheringCompletePromise(c.browser)
		if err := c.browser.SetLocalDescription(ans); err != nil {
			t.Fatal(err)
		}
		<-gathered
		if err := c.gw.accept([]byte(c.browser.LocalDescription().SDP)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-connected:
		case <-ctx.Done():
			t.Fatalf("call %d: the browser never connected", i)
		}
		unbridge := callerStream.Bridge(agentStream)
		defer unbridge()
		calls[i] = c
	}

	// Both ends talk: 50 packets/s of PCMU each way per call.
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = 0xff
	}
	stop := make(chan struct{})
	go func() {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		var seq uint16
		var ts uint32
		buf := make([]byte, 0, 200)
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			seq++
			ts += 160
			for i, c := range calls {
				p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: ts, SSRC: uint32(1000 + i)}, Payload: payload}
				b, _ := p.Header.MarshalTo(buf[:12])
				pkt := append(buf[:b], payload...)
				_, _ = c.peer.WriteToUDPAddrPort(pkt, c.to)
				_ = c.track.WriteRTP(&p)
			}
		}
	}()
	time.Sleep(2 * time.Second) // warm up
	var r0, r1 syscall.Rusage
	c0, b0 := atCaller.Load(), atBrowser.Load()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	start := time.Now()
	time.Sleep(time.Duration(secs) * time.Second)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	wall := time.Since(start).Seconds()
	c1, b1 := atCaller.Load(), atBrowser.Load()
	close(stop)
	cpu := (time.Duration(r1.Utime.Nano()+r1.Stime.Nano()) - time.Duration(r0.Utime.Nano()+r0.Stime.Nano())).Seconds()
	want := float64(n) * 50 * wall
	perCallUs := cpu / wall / float64(n) * 1e6
	t.Logf("%d browser calls bridged to plain RTP callers, %.0f s: CPU %.1f %% of a core (both ends of DTLS-SRTP in this process), %.0f µs CPU per call-second → ≥ %.0f calls per core at 80 %%; delivered: to callers %.1f %%, to browsers %.1f %%",
		n, wall, cpu/wall*100, perCallUs, 0.8e6/perCallUs, float64(c1-c0)/want*100, float64(b1-b0)/want*100)
	fmt.Fprintln(os.Stderr) // keep the line apart from pion's shutdown noise
	if float64(c1-c0) < 0.9*want || float64(b1-b0) < 0.9*want {
		t.Errorf("packets lost: callers got %d, browsers %d of %.0f", c1-c0, b1-b0, want)
	}
}

// browserSide is the simulated browsers' pion API: G.711, a loopback host
// candidate each.
func browserSide(t *testing.T) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	for _, c := range gatewayCodecs {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	// A port of its own per browser, as real browsers have (a shared mux
	// on this side would look like one address to the switch's mux).
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	se.LoggerFactory = pionLog{slog.New(slog.DiscardHandler)}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}
