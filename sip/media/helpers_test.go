package media

import (
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// testMux runs the tests and benchmarks on multiplexed sockets
// (`go test ./sip/media -media.mux`).
var testMux = flag.Bool("media.mux", false, "run the tests and benchmarks with EngineConfig.Mux (multiplexed RTP sockets)")

// wait bounds every wait in the tests; it only guards against hangs.
const wait = 10 * time.Second

// testEngine starts an engine on a random loopback port range.
func testEngine(t testing.TB, ports int, tune func(*Engine)) *Engine {
	t.Helper()
	// Below Linux's ephemeral range (32768-60999), where peers live.
	base := 10000 + 2*rand.IntN((32000-10000-2*ports)/2)
	e, err := newEngine(EngineConfig{
		IP:      netip.MustParseAddr("127.0.0.1"),
		PortMin: base, PortMax: base + 2*ports - 1,
		Mux: *testMux,
	}, tune)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// peer is a tiny RTP endpoint on loopback.
type peer struct {
	t    testing.TB
	conn *net.UDPConn
	pkts chan rtp.Packet
}

func newPeer(t testing.TB) *peer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, conn: conn, pkts: make(chan rtp.Packet, 100000)}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var pkt rtp.Packet
			if pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			pkt.Payload = append([]byte(nil), pkt.Payload...)
			p.pkts <- pkt
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return p
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *peer) send(to netip.AddrPort, h rtp.Header, payload []byte) {
	p.t.Helper()
	h.Version = 2
	b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		p.t.Fatal(err)
	}
}

// next returns the next packet received.
func (p *peer) next() rtp.Packet {
	p.t.Helper()
	select {
	case pkt := <-p.pkts:
		return pkt
	case <-time.After(wait):
		p.t.Fatalf("peer %s: no packet within %s", p.addr(), wait)
		return rtp.Packet{}
	}
}

// take returns the next n packets.
func (p *peer) take(n int) []rtp.Packet {
	p.t.Helper()
	out := make([]rtp.Packet, 0, n)
	for range n {
		out = append(out, p.next())
	}
	return out
}

// quiet reports whether nothing is waiting in the peer's queue after a few
// pacer ticks (used after the sender says it is done).
func (p *peer) quiet() bool {
	time.Sleep(5 * packetDuration)
	return len(p.pkts) == 0
}

// eventually polls cond until it holds (or fails the test after wait).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tone makes n samples of a 440 Hz-ish sawtooth of the given amplitude.
func tone(n int, amp int16) *Sound {
	s := &Sound{Name: "tone", PCM: make([]int16, n)}
	for i := range s.PCM {
		s.PCM[i] = int16(int(amp) * ((i*440*2/8000)%20 - 10) / 10)
	}
	return s
}

// newStream opens a stream towards p.
func newStream(t testing.TB, e *Engine, p *peer, cfg StreamConfig) *Stream {
	t.Helper()
	cfg.Remote = p.addr()
	if cfg.Codec.Name == "" {
		cfg.Codec = PCMU
	}
	s, err := e.NewStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func playAsync(s *Stream, ctx context.Context, sounds ...*Sound) chan error {
	ch := make(chan error, 1)
	go func() { ch <- s.Play(ctx, sounds) }()
	return ch
}

func waitErr(t testing.TB, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(wait):
		t.Fatal("Play did not return")
		return errors.New("unreachable")
	}
}

// checkContinuous checks that pkts are one continuous talkspurt of a stream.
func checkContinuous(t testing.TB, pkts []rtp.Packet) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		a, b := pkts[i-1], pkts[i]
		if b.SSRC != a.SSRC {
			t.Fatalf("packet %d: SSRC %#x after %#x", i, b.SSRC, a.SSRC)
		}
		if b.SequenceNumber != a.SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d", i, b.SequenceNumber, a.SequenceNumber)
		}
		if b.Timestamp != a.Timestamp+samplesPerPacket {
			t.Fatalf("packet %d: timestamp %d after %d", i, b.Timestamp, a.Timestamp)
		}
		if b.Marker {
			t.Fatalf("packet %d: marker inside a talkspurt", i)
		}
	}
}

func sleep20() { time.Sleep(packetDuration) }
