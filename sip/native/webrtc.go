package native

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
)

// The WebRTC gateway: a browser's leg (SIP over WebSocket, ws.go) speaks
// ICE and DTLS-SRTP (RFC 8827), which sip/media does not. Each such leg
// gets a gateway that terminates WebRTC with pion/webrtc — one audio
// m-line, BUNDLE and rtcp-mux, G.711 (PCMU, PCMA) and telephone-event, so
// nothing is transcoded towards a G.711 trunk — and exchanges plain RTP
// with the leg's media.Stream over a local UDP socket. To sip/media the
// browser is one more RTP peer at that socket: prompts, MOH, RFC 4733
// digits and the relay work unchanged. An SDP without a DTLS fingerprint
// is refused (488): there would be no way to authenticate the DTLS peer.
// When ICE or DTLS fails or closes, the gateway's onFail ends the leg.

var errNoFingerprint = errors.New("WebRTC SDP without a DTLS fingerprint (a=fingerprint): DTLS-SRTP is required")

// WebRTCConfig configures the browser legs' media.
type WebRTCConfig struct {
	// Port is the one UDP port every browser leg's ICE and media use (on
	// the media address; RFC 8445 host candidates, demultiplexed by ICE
	// username); 0 picks a free port at start.
	Port int
	// PublicIPs, when set, are the addresses announced in ICE candidates
	// in place of the media address (1:1 NAT).
	PublicIPs []string
}

// gatewayCodecs are what a browser leg may negotiate, in order.
var gatewayCodecs = []webrtc.RTPCodecParameters{
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: media.DefaultDTMFPT},
}

// muxBuffer is the shared WebRTC socket's receive and send buffer.
const muxBuffer = 4 << 20

// newWebRTCAPI builds the pion API the switch's gateways share: the
// codecs above, one UDP socket for every leg's ICE and media (a host
// candidate on the media address, loopback included when that is the
// address), and no interceptors: pion's NewAPI registers its defaults
// (NACK generator and responder, RTCP sender and receiver reports, stats,
// TWCC feedback) unless given a registry, and each runs on every packet
// and with timers of its own, for nothing a G.711 call uses (no NACK for
// audio, no congestion control at 64 kbit/s; ICE consent checks keep the
// path alive). An empty registry measured ≈ 13 % less CPU per browser call
// (docs/benchmarks.md). It returns the socket to close at the end.
func newWebRTCAPI(ip netip.Addr, cfg WebRTCConfig, log *slog.Logger) (*webrtc.API, io.Closer, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range gatewayCodecs {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, nil, err
		}
	}
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(cfg.Port))))
	if err != nil {
		return nil, nil, fmt.Errorf("native: webrtc listen %s: %w", netip.AddrPortFrom(ip, uint16(cfg.Port)), err)
	}
	// Every browser leg's packets arrive on this one socket (50 a second
	// per leg): the default receive buffer (≈ 200 KiB, a few hundred
	// packets) overflows when the process is off the CPU for a few tens
	// of milliseconds at a hundred legs. 4 MiB, as far as net.core.rmem_max
	// allows (docs/benchmarks.md, Browser calls).
	if err := conn.SetReadBuffer(muxBuffer); err != nil {
		log.Warn("sip webrtc socket: receive buffer not raised", "err", err)
	}
	if err := conn.SetWriteBuffer(muxBuffer); err != nil {
		log.Warn("sip webrtc socket: send buffer not raised", "err", err)
	}
	var se webrtc.SettingEngine
	se.LoggerFactory = pionLog{log}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetICEUDPMux(webrtc.NewICEUDPMux(pionLog{log}.NewLogger("udpmux"), conn))
	se.SetIncludeLoopbackCandidate(ip.IsLoopback() || ip.IsUnspecified())
	if len(cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled) // no mDNS packets from the server
	log.Info("sip webrtc media listening", "addr", conn.LocalAddr().String())
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(nil)), conn, nil // nil: an empty registry
}

// rtcGateway is one browser leg's WebRTC termination.
type rtcGateway struct {
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP
	sock  *net.UDPConn // plain RTP, exchanged with the leg's media.Stream
	// stream is the media.Stream's address (known once the stream exists).
	stream atomic.Pointer[netip.AddrPort]
	log    *slog.Logger
	// onFail is called once when ICE or DTLS fails or the connection
	// closes (not by Close).
	onFail   atomic.Pointer[func()]
	closing  atomic.Bool
	failOnce sync.Once
	done     chan struct{}
	once     sync.Once
}

// newGateway makes a gateway whose plain side binds a UDP socket on ip
// (the media engine's address, so the stream reaches it).
func (s *Switch) newGateway(ip netip.Addr) (*rtcGateway, error) {
	if s.rtcAPI == nil {
		return nil, errors.New("native: no WebRTC media (the switch has not started)")
	}
	if !ip.IsValid() || ip.IsUnspecified() {
		ip = netip.MustParseAddr("127.0.0.1")
	}
	sock, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return nil, fmt.Errorf("native: webrtc gateway socket: %w", err)
	}
	pc, err := s.rtcAPI.NewPeerConnection(webrtc.Configuration{
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("native: webrtc: %w", err)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "audio", "hotline")
	if err == nil {
		_, err = pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	}
	if err != nil {
		sock.Close()
		_ = pc.Close()
		return nil, fmt.Errorf("native: webrtc track: %w", err)
	}
	g := &rtcGateway{pc: pc, track: track, sock: sock, log: s.log, done: make(chan struct{})}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			if !g.closing.Load() {
				g.fail("webrtc connection " + st.String())
			}
		case webrtc.PeerConnectionStateUnknown, webrtc.PeerConnectionStateNew, webrtc.PeerConnectionStateConnecting,
			webrtc.PeerConnectionStateConnected, webrtc.PeerConnectionStateDisconnected:
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { go g.fromBrowser(tr) })
	go g.toBrowser()
	return g, nil
}

func (g *rtcGateway) fail(why string) {
	g.failOnce.Do(func() {
		g.log.Warn("sip webrtc leg lost", "reason", why)
		if f := g.onFail.Load(); f != nil {
			(*f)()
		}
	})
}

// Addr is where the leg's media.Stream sends (the gateway's plain side).
func (g *rtcGateway) Addr() netip.AddrPort { return addrPortOf(g.sock.LocalAddr()) }

// attach tells the gateway where the stream is.
func (g *rtcGateway) attach(stream netip.AddrPort) { g.stream.Store(&stream) }

// offer is the gateway's SDP offer, with its ICE candidates gathered.
func (g *rtcGateway) offer(ctx context.Context) ([]byte, error) {
	o, err := g.pc.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	return g.setLocal(ctx, o)
}

// answerTo answers a browser's offer.
func (g *rtcGateway) answerTo(ctx context.Context, offer []byte) ([]byte, error) {
	if err := g.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		return nil, fmt.Errorf("webrtc offer: %w", err)
	}
	a, err := g.pc.CreateAnswer(nil)
	if err != nil {
		return nil, fmt.Errorf("webrtc answer: %w", err)
	}
	return g.setLocal(ctx, a)
}

func (g *rtcGateway) setLocal(ctx context.Context, d webrtc.SessionDescription) ([]byte, error) {
	gathered := webrtc.GatheringCompletePromise(g.pc)
	if err := g.pc.SetLocalDescription(d); err != nil {
		return nil, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return []byte(g.pc.LocalDescription().SDP), nil
}

// accept takes the browser's answer to the gateway's offer.
func (g *rtcGateway) accept(answer []byte) error {
	if err := g.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		return fmt.Errorf("webrtc answer: %w", err)
	}
	return nil
}

// toBrowser sends the stream's RTP to the browser: the codec's packets
// only (the browser leg negotiates telephone-event to send digits; relayed
// events towards it would play as noise).
func (g *rtcGateway) toBrowser() {
	buf := make([]byte, 1500)
	for {
		n, _, err := g.sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		if pt := buf[1] & 0x7f; pt != media.PCMU.PT && pt != media.PCMA.PT {
			continue
		}
		_, _ = g.track.Write(buf[:n])
	}
}

// fromBrowser passes the browser's RTP (decrypted) to the stream as it is.
func (g *rtcGateway) fromBrowser(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if to := g.stream.Load(); to != nil {
			_, _ = g.sock.WriteToUDPAddrPort(buf[:n], *to)
		}
	}
}

// Close ends the WebRTC session and the plain socket.
func (g *rtcGateway) Close() {
	g.once.Do(func() {
		g.closing.Store(true)
		close(g.done)
		_ = g.pc.Close()
		_ = g.sock.Close()
	})
}

// hasFingerprint reports whether an SDP carries a DTLS fingerprint, at
// session level or on its audio stream.
func hasFingerprint(body []byte) bool {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return false
	}
	for _, a := range sd.Attributes {
		if a.Key == "fingerprint" && strings.TrimSpace(a.Value) != "" {
			return true
		}
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key == "fingerprint" && strings.TrimSpace(a.Value) != "" {
				return true
			}
		}
	}
	return false
}

// browserSDP reads a browser's offer or answer: a fingerprint is required,
// the codecs and direction are read as from any peer; the address is the
// gateway's (filled in by the caller) and hold follows the direction only
// (a WebRTC SDP's c= line is 0.0.0.0 by convention).
func browserSDP(body []byte) (remoteMedia, error) {
	if !hasFingerprint(body) {
		return remoteMedia{}, errNoFingerprint
	}
	rm, err := parseSDP(body)
	if err != nil {
		return rm, err
	}
	rm.Hold = rm.Dir == "sendonly" || rm.Dir == "inactive"
	rm.Secure, rm.Crypto = false, nil
	return rm, nil
}

// preferPCMU puts PCMU first when the browser offered it: the gateway's
// track sends PCMU (pion rewrites the payload type of what it sends to
// the track's codec), so the stream must too.
func preferPCMU(rm *remoteMedia) {
	for i, c := range rm.Codecs {
		if c.Name == media.PCMU.Name {
			rm.Codecs[0], rm.Codecs[i] = rm.Codecs[i], rm.Codecs[0]
			return
		}
	}
}

// plainSide is where the gateway sends the stream's audio: the stream's
// own address, loopback when it is bound to every address.
func plainSide(ap netip.AddrPort) netip.AddrPort {
	if ap.Addr().IsUnspecified() {
		return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port())
	}
	return ap
}

// lost ends a browser leg whose WebRTC session failed or closed.
func (l *leg) lost() {
	if first, answered := l.finish(sip.CauseFailure, sip.SideRemote); first && answered {
		l.bye()
	}
}

// answerBrowser is Answer for a browser's INVITE: the gateway answers the
// WebRTC offer, the stream speaks plain RTP with the gateway.
func (l *leg) answerBrowser(ctx context.Context) error {
	rm := l.remote
	preferPCMU(&rm)
	gw, err := l.sw.newGateway(l.sw.cfg.Media.IP())
	if err != nil {
		l.rejectCode.Store(503)
		l.finish(sip.CauseFailure, sip.SideLocal)
		return fmt.Errorf("native: answer %s: %w", l.info.ID, err)
	}
	stream, err := l.sw.cfg.Media.NewStream(media.StreamConfig{
		Remote: gw.Addr(), Codec: rm.Codecs[0], DTMFPT: rm.DTMFPT,
		OnDigit: l.digit, OnTimeout: l.mediaTimeout,
	})
	if err != nil {
		gw.Close()
		l.rejectCode.Store(503)
		l.finish(sip.CauseFailure, sip.SideLocal)
		return fmt.Errorf("native: answer %s: %w", l.info.ID, err)
	}
	gw.attach(plainSide(stream.LocalAddr()))
	f := l.lost
	gw.onFail.Store(&f)
	body, err := gw.answerTo(ctx, l.browserOffer)
	if err != nil {
		gw.Close()
		_ = stream.Close()
		l.rejectCode.Store(488)
		l.finish(sip.CauseFailure, sip.SideLocal)
		return fmt.Errorf("native: answer %s: %w", l.info.ID, err)
	}
	if rm.Hold {
		stream.SetHold(true)
	}
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		gw.Close()
		_ = stream.Close()
		return sip.ErrHangup
	}
	l.remote = rm
	l.stream = stream
	l.gw = gw
	l.sent200 = true
	l.mu.Unlock()

	return l.respondAnswer(ctx, body)
}

// reinviteBrowser answers a browser's new offer in a call (hold, resume):
// the gateway renegotiates, the stream follows the direction.
func (l *leg) reinviteBrowser(gw *rtcGateway, body []byte) ([]byte, int, string) {
	rm, err := browserSDP(body)
	if err != nil {
		return nil, 488, "Not Acceptable Here"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ans, err := gw.answerTo(ctx, body)
	if err != nil {
		l.sw.log.Warn("sip webrtc re-offer refused", "leg", l.info.ID, "error", err)
		return nil, 488, "Not Acceptable Here"
	}
	if dir := answerDir(rm.Dir); dir != "sendrecv" {
		// pion answers a renegotiation with its transceiver's direction
		// (sendrecv); the browser refuses that against its sendonly offer.
		ans = bytes.ReplaceAll(ans, []byte("a=sendrecv\r\n"), []byte("a="+dir+"\r\n"))
	}
	l.mu.Lock()
	st := l.stream
	wasHold := l.hold
	l.hold = rm.Hold
	l.mu.Unlock()
	if st != nil {
		st.SetHold(rm.Hold)
	}
	if wasHold != rm.Hold {
		l.emit(sip.HoldEvent{Hold: rm.Hold, At: l.sw.cfg.Now()}, false)
	}
	return ans, 200, "OK"
}

// pionLog sends pion's log lines to the switch's logger (pion writes to
// stderr otherwise); its debug and trace lines are dropped, its errors
// are warnings (a closed socket at the end of a call is one).
type pionLog struct{ log *slog.Logger }

func (p pionLog) NewLogger(scope string) logging.LeveledLogger {
	return pionLeveled{p.log.With("pion", scope)}
}

type pionLeveled struct{ log *slog.Logger }

func (pionLeveled) Trace(string)          {}
func (pionLeveled) Tracef(string, ...any) {}
func (pionLeveled) Debug(string)          {}
func (pionLeveled) Debugf(string, ...any) {}
func (p pionLeveled) Info(m string)       { p.log.Debug(m) }
func (p pionLeveled) Infof(f string, a ...any) {
	p.log.Debug(fmt.Sprintf(f, a...))
}
func (p pionLeveled) Warn(m string) { p.log.Info(m) }
func (p pionLeveled) Warnf(f string, a ...any) {
	p.log.Info(fmt.Sprintf(f, a...))
}
func (p pionLeveled) Error(m string) { p.log.Warn(m) }
func (p pionLeveled) Errorf(f string, a ...any) {
	p.log.Warn(fmt.Sprintf(f, a...))
}
