package media

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/pion/rtp"
)

// Multiplexed RTP (EngineConfig.Mux). Addresses: this helper's loopback block
// 127.0.23.10-60 (engine .10, peers .11-.19).

func muxEngine(t testing.TB, ports int) *Engine {
	t.Helper()
	e := testEngine(t, ports, func(e *Engine) {
		e.cfg.Mux = true
		e.cfg.IP = netip.MustParseAddr("127.0.23.10")
	})
	if len(e.mux) != runtime.GOMAXPROCS(0) {
		t.Fatalf("%d multiplexed sockets, want one per pacer (%d)", len(e.mux), runtime.GOMAXPROCS(0))
	}
	return e
}

// peerAt is a peer bound to ip (port chosen by the kernel).
func peerAt(t testing.TB, ip string) *peer {
	t.Helper()
	p := newPeer(t)
	p.conn.Close()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		t.Fatal(err)
	}
	q := &peer{t: t, conn: conn, pkts: make(chan rtp.Packet, 100000)}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			var pkt rtp.Packet
			if pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			pkt.Payload = append([]byte(nil), pkt.Payload...)
			q.pkts <- pkt
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return q
}

func isMuxPort(e *Engine, a netip.AddrPort) bool {
	for _, m := range e.mux {
		if m.local == a {
			return true
		}
	}
	return false
}

// TestMuxStrictRTP: streams share sockets; a third party that sends first
// (or at any time) to the shared port reaches no stream and does not
// redirect what the engine sends; the real peers do.
func TestMuxStrictRTP(t *testing.T) {
	e := muxEngine(t, 16)
	pa, pb := peerAt(t, "127.0.23.11"), peerAt(t, "127.0.23.12")
	attacker := peerAt(t, "127.0.23.13")
	// More streams than sockets: at least two share one.
	var streams []*Stream
	for _, p := range []*peer{pa, pb, peerAt(t, "127.0.23.14")} {
		s := newStream(t, e, p, StreamConfig{DTMFPT: DefaultDTMFPT})
		if !isMuxPort(e, s.LocalAddr()) {
			t.Fatalf("stream on %s, not on a multiplexed socket", s.LocalAddr())
		}
		streams = append(streams, s)
	}
	a, b := streams[0], streams[1]
	shared := false
	for i, s := range streams {
		for _, o := range streams[i+1:] {
			shared = shared || s.LocalAddr() == o.LocalAddr()
		}
	}
	if !shared {
		t.Fatal("no two streams share a socket")
	}

	var dropped0 uint64
	for _, m := range e.mux {
		dropped0 += m.dropped.Load()
	}
	dropped := func() uint64 {
		var n uint64
		for _, m := range e.mux {
			n += m.dropped.Load()
		}
		return n - dropped0
	}
	// The attacker sends valid RTP first, to every stream's port.
	for _, s := range streams {
		attacker.send(s.LocalAddr(), rtp.Header{PayloadType: PCMU.PT, SequenceNumber: 1, SSRC: 0xbad}, make([]byte, 160))
	}
	eventually(t, "attacker's packets dropped", func() bool { return dropped() == uint64(len(streams)) })
	for i, s := range streams {
		if st := s.Stats(); st.PacketsReceived != 0 || s.latched.Load() {
			t.Fatalf("stream %d took the attacker's packet: %+v latched=%v", i, st, s.latched.Load())
		}
	}
	// The real peers are heard, each by its own stream.
	pa.send(a.LocalAddr(), rtp.Header{PayloadType: PCMU.PT, SequenceNumber: 7, SSRC: 0xa}, make([]byte, 160))
	pb.send(b.LocalAddr(), rtp.Header{PayloadType: PCMU.PT, SequenceNumber: 9, SSRC: 0xb}, make([]byte, 160))
	eventually(t, "real peers heard", func() bool {
		return a.Stats().PacketsReceived == 1 && b.Stats().PacketsReceived == 1
	})
	// Bridged: a's peer hears b's peer through the shared sockets, the
	// attacker keeps being ignored, and nothing goes to the attacker.
	a.Bridge(b)
	attacker.send(a.LocalAddr(), rtp.Header{PayloadType: PCMU.PT, SequenceNumber: 2, SSRC: 0xbad}, make([]byte, 160))
	for i := range 5 {
		pb.send(b.LocalAddr(), rtp.Header{PayloadType: PCMU.PT, SequenceNumber: uint16(10 + i), Timestamp: uint32(160 * (i + 1)), SSRC: 0xb}, []byte{byte(i)})
	}
	got := pa.take(5)
	for i, p := range got {
		if p.SSRC != a.SSRC() || p.Payload[0] != byte(i) {
			t.Fatalf("relayed packet %d: SSRC %#x payload %v, want SSRC %#x payload [%d]", i, p.SSRC, p.Payload, a.SSRC(), i)
		}
	}
	checkContinuous(t, got[1:])
	if err := a.Play(context.Background(), []*Sound{tone(480, 100)}); err != nil {
		t.Fatal(err)
	}
	pa.take(3)
	if len(attacker.pkts) != 0 {
		t.Fatalf("the attacker got %d packets", len(attacker.pkts))
	}
	if a.Stats().PacketsReceived != 1 {
		t.Fatalf("a received %d packets, want only its peer's one", a.Stats().PacketsReceived)
	}
}

// TestMuxLatchSameIP: a peer that sends from another port of its SDP
// address is latched when it is the only unlatched stream expecting that
// IP on the socket; with two such streams the source is ambiguous and
// dropped.
func TestMuxLatchSameIP(t *testing.T) {
	e := muxEngine(t, 16)
	sdp := peerAt(t, "127.0.23.15")
	real := peerAt(t, "127.0.23.15")
	s := newStream(t, e, sdp, StreamConfig{})
	// RTCP (version 2, PT 72 as RTP) from the new port does not latch.
	real.send(s.LocalAddr(), rtp.Header{PayloadType: 72, SequenceNumber: 1, SSRC: 9}, make([]byte, 20))
	real.send(s.LocalAddr(), rtp.Header{PayloadType: PCMU.PT, SequenceNumber: 2, SSRC: 9}, make([]byte, 160))
	eventually(t, "latched", s.latched.Load)
	if s.Stats().PacketsReceived != 1 {
		t.Fatalf("received %d, want 1 (the RTCP-looking packet is dropped)", s.Stats().PacketsReceived)
	}
	if err := s.Play(context.Background(), []*Sound{tone(480, 100)}); err != nil {
		t.Fatal(err)
	}
	real.take(3)
	if len(sdp.pkts) != 0 {
		t.Fatalf("%d packets to the SDP address after latching", len(sdp.pkts))
	}

	// Two unlatched streams expecting 127.0.23.16 on one socket: a packet
	// from a third port of that IP cannot be attributed.
	other := peerAt(t, "127.0.23.16")
	sx := newStream(t, e, peerAt(t, "127.0.23.16"), StreamConfig{})
	var sy *Stream
	for range len(e.mux) {
		sy = newStream(t, e, peerAt(t, "127.0.23.16"), StreamConfig{})
		if sx.LocalAddr() == sy.LocalAddr() {
			break
		}
	}
	if sx.LocalAddr() != sy.LocalAddr() {
		t.Fatal("could not put two streams on one socket")
	}
	d0 := sx.mux.dropped.Load()
	other.send(sx.LocalAddr(), rtp.Header{PayloadType: PCMU.PT, SequenceNumber: 1, SSRC: 1}, make([]byte, 160))
	eventually(t, "ambiguous packet dropped", func() bool { return sx.mux.dropped.Load() == d0+1 })
	if sx.latched.Load() || sy.latched.Load() {
		t.Fatal("an ambiguous source was latched")
	}
}

// TestMuxSameRemote: a stream whose peer address another stream already
// expects goes to another socket, and when every socket has one, to a
// port of its own; all of them work. SRTP streams get their own port.
func TestMuxSameRemote(t *testing.T) {
	e := muxEngine(t, 16)
	trunk := peerAt(t, "127.0.23.17")
	var streams []*Stream
	for range len(e.mux) + 1 {
		streams = append(streams, newStream(t, e, trunk, StreamConfig{}))
	}
	seen := map[netip.AddrPort]bool{}
	for i, s := range streams {
		if seen[s.LocalAddr()] {
			t.Fatalf("stream %d shares %s with a stream expecting the same peer", i, s.LocalAddr())
		}
		seen[s.LocalAddr()] = true
		if mux := isMuxPort(e, s.LocalAddr()); mux != (i < len(e.mux)) {
			t.Fatalf("stream %d on %s: multiplexed %v", i, s.LocalAddr(), mux)
		}
	}
	for i, s := range streams {
		trunk.send(s.LocalAddr(), rtp.Header{PayloadType: PCMU.PT, SequenceNumber: uint16(i), SSRC: uint32(i)}, make([]byte, 160))
		eventually(t, "packet heard", func() bool { return s.Stats().PacketsReceived == 1 })
	}
	sec := newStream(t, e, peerAt(t, "127.0.23.18"), StreamConfig{SRTP: true})
	if isMuxPort(e, sec.LocalAddr()) {
		t.Fatal("SRTP stream on a multiplexed socket")
	}
	// Update re-keys: the old address is no longer heard, the new one is.
	moved := peerAt(t, "127.0.23.19")
	s := streams[0]
	s.Update(moved.addr(), PCMU, 0)
	d0 := s.mux.dropped.Load()
	trunk.send(s.LocalAddr(), rtp.Header{PayloadType: PCMU.PT, SequenceNumber: 50, SSRC: 50}, make([]byte, 160))
	eventually(t, "old address dropped", func() bool { return s.mux.dropped.Load() == d0+1 })
	moved.send(s.LocalAddr(), rtp.Header{PayloadType: PCMU.PT, SequenceNumber: 51, SSRC: 51}, make([]byte, 160))
	eventually(t, "new address heard", func() bool { return s.Stats().PacketsReceived == 2 })
}
