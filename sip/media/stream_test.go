package media

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestPlay runs with both pacer wake-ups (EngineConfig.PrecisePacing).
func TestPlay(t *testing.T) {
	for _, precise := range []bool{false, true} {
		t.Run(fmt.Sprintf("precise=%v", precise), func(t *testing.T) {
			testPlay(t, testEngine(t, 20, func(e *Engine) { e.cfg.PrecisePacing = precise }))
		})
	}
}

func testPlay(t *testing.T, e *Engine) {
	prompt, err := LoadWAV("/usr/share/asterisk/sounds/ru/queue-thereare.wav")
	if err != nil {
		t.Logf("no system prompt (%v); using tones only", err)
		prompt = tone(14713, 9000)
	}
	tests := []struct {
		name   string
		codec  Codec
		sounds []*Sound
	}{
		{"PCMU prompt", PCMU, []*Sound{prompt}},
		{"PCMA prompt", PCMA, []*Sound{prompt}},
		{"PCMU exact frames", PCMU, []*Sound{tone(1600, 20000)}},
		{"PCMA partial last frame", PCMA, []*Sound{tone(1001, 20000)}},
		{"several sounds", PCMU, []*Sound{tone(330, 1000), Silence(40e6), tone(161, 30000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // playback is real time
			p := newPeer(t)
			s := newStream(t, e, p, StreamConfig{Codec: tt.codec})
			want := 0
			var pcm []int16
			for _, snd := range tt.sounds {
				want += snd.Packets()
				pcm = append(pcm, snd.PCM...)
				pcm = append(pcm, make([]int16, snd.Packets()*samplesPerPacket-len(snd.PCM))...) // padding
			}
			if err := s.Play(context.Background(), tt.sounds); err != nil {
				t.Fatalf("Play: %v", err)
			}
			pkts := p.take(want)
			if !p.quiet() {
				t.Fatalf("more than %d packets", want)
			}
			if st := s.Stats(); st.PacketsSent != uint64(want) {
				t.Fatalf("Stats.PacketsSent = %d, want %d", st.PacketsSent, want)
			}
			if !pkts[0].Marker {
				t.Errorf("first packet has no marker bit")
			}
			if pkts[0].SSRC != s.SSRC() {
				t.Errorf("SSRC %#x, want %#x", pkts[0].SSRC, s.SSRC())
			}
			checkContinuous(t, pkts)
			var got []int16
			for _, pkt := range pkts {
				if pkt.PayloadType != tt.codec.PT || len(pkt.Payload) != samplesPerPacket {
					t.Fatalf("packet PT %d with %d bytes", pkt.PayloadType, len(pkt.Payload))
				}
				got = tt.codec.Decode(got, pkt.Payload)
			}
			for i := range pcm {
				if d := absDiff(int(pcm[i]), int(got[i])); d > g711MaxError(int(pcm[i])) {
					t.Fatalf("sample %d: sent %d, received %d", i, pcm[i], got[i])
				}
			}
		})
	}
}

func TestPlayCancelAndReplace(t *testing.T) {
	e := testEngine(t, 10, nil)
	p := newPeer(t)
	s := newStream(t, e, p, StreamConfig{})
	long := tone(8000*60, 5000)

	ctx, cancel := context.WithCancel(context.Background())
	done := playAsync(s, ctx, long)
	p.take(3)
	cancel()
	if err := waitErr(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Play after cancel: %v", err)
	}
	sent := s.Stats().PacketsSent
	if p.quiet(); s.Stats().PacketsSent != sent {
		t.Fatalf("packets still sent after Play returned")
	}

	// A second Play replaces the first, Stop ends a Loop.
	first := playAsync(s, context.Background(), long)
	p.next()
	second := playAsync(s, context.Background(), long)
	if err := waitErr(t, first); !errors.Is(err, ErrStopped) {
		t.Fatalf("replaced Play returned %v, want ErrStopped", err)
	}
	s.Stop()
	if err := waitErr(t, second); !errors.Is(err, ErrStopped) {
		t.Fatalf("stopped Play returned %v, want ErrStopped", err)
	}
	third := playAsync(s, context.Background(), long)
	p.next()
	s.Close()
	if err := waitErr(t, third); !errors.Is(err, ErrClosed) {
		t.Fatalf("Play on closed stream returned %v, want ErrClosed", err)
	}
	if err := s.Play(context.Background(), []*Sound{long}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Play after Close: %v", err)
	}
}

func TestSequenceAcrossPrompts(t *testing.T) {
	e := testEngine(t, 10, nil)
	p := newPeer(t)
	s := newStream(t, e, p, StreamConfig{})
	a, b := tone(800, 3000), tone(480, 6000)
	for range 3 {
		if err := s.Play(context.Background(), []*Sound{a}); err != nil {
			t.Fatal(err)
		}
		s.Loop([]*Sound{b})
		if err := s.Play(context.Background(), []*Sound{b}); err != nil {
			t.Fatal(err)
		}
	}
	pkts := make([]rtp.Packet, 0, 64)
	for len(p.pkts) > 0 || len(pkts) < 3*(5+3) {
		pkts = append(pkts, p.next())
	}
	for i := 1; i < len(pkts); i++ {
		x, y := pkts[i-1], pkts[i]
		if y.SSRC != x.SSRC || y.SequenceNumber != x.SequenceNumber+1 {
			t.Fatalf("packet %d: SSRC/seq %#x/%d after %#x/%d", i, y.SSRC, y.SequenceNumber, x.SSRC, x.SequenceNumber)
		}
		step := y.Timestamp - x.Timestamp
		if step < samplesPerPacket || step%samplesPerPacket != 0 || step > 100*samplesPerPacket {
			t.Fatalf("packet %d: timestamp step %d", i, step)
		}
		if step > samplesPerPacket && !y.Marker {
			t.Fatalf("packet %d: timestamp jumps by %d without marker", i, step)
		}
	}
}

func TestLoop(t *testing.T) {
	e := testEngine(t, 10, nil)
	p := newPeer(t)
	s := newStream(t, e, p, StreamConfig{Codec: PCMA})
	a, b := tone(320, 1000), tone(150, 20000) // 2 packets + 1 padded packet
	s.Loop([]*Sound{a, b})
	pkts := p.take(10)
	s.Stop()
	checkContinuous(t, pkts)
	for i := 3; i < len(pkts); i++ {
		if string(pkts[i].Payload) != string(pkts[i-3].Payload) {
			t.Fatalf("packet %d differs from packet %d: loop did not wrap", i, i-3)
		}
	}
	if string(pkts[0].Payload) == string(pkts[2].Payload) {
		t.Fatal("sounds not distinguishable")
	}
	// After Stop the stream is quiet (allow the packet in flight).
	sent := s.Stats().PacketsSent
	p.quiet()
	if got := s.Stats().PacketsSent; got != sent {
		t.Fatalf("sent %d packets after Stop", got-sent)
	}
}

func TestSymmetricLatching(t *testing.T) {
	e := testEngine(t, 10, nil)
	sdp := newPeer(t)  // where the SDP says to send
	real := newPeer(t) // where the peer really sends from (NAT)
	tests := []struct {
		name string
		pt   uint8
	}{
		{"audio", PCMU.PT},
		{"dtmf first", DefaultDTMFPT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStream(t, e, sdp, StreamConfig{DTMFPT: DefaultDTMFPT})
			var dropped0 uint64
			if s.mux != nil {
				dropped0 = s.mux.dropped.Load()
			}
			// Junk and RTCP do not latch.
			if _, err := real.conn.WriteToUDPAddrPort([]byte("hello"), s.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			real.send(s.LocalAddr(), rtp.Header{PayloadType: 72, SequenceNumber: 1, SSRC: 9}, make([]byte, 20))
			eventually(t, "junk received", func() bool {
				if s.mux != nil { // -media.mux: dropped before reaching the stream
					return s.mux.dropped.Load() == dropped0+2
				}
				return s.Stats().PacketsReceived == 2
			})
			if s.latched.Load() {
				t.Fatal("latched to junk")
			}
			payload := make([]byte, 160)
			if tt.pt == DefaultDTMFPT {
				payload = []byte{5, 10, 0, 160}
			}
			real.send(s.LocalAddr(), rtp.Header{PayloadType: tt.pt, SequenceNumber: 7, Timestamp: 1000, SSRC: 42}, payload)
			eventually(t, "packet received", func() bool { return s.latched.Load() })
			if err := s.Play(context.Background(), []*Sound{tone(480, 100)}); err != nil {
				t.Fatal(err)
			}
			real.take(3)
			if len(sdp.pkts) != 0 {
				t.Fatalf("%d packets went to the SDP address after latching", len(sdp.pkts))
			}
			if st := s.Stats(); st.LastReceived.IsZero() || st.BytesReceived == 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// dtmfPackets builds an RFC 4733 event the way SIPp's dtmf_2833_*.pcap
// carry it: a marked start packet, updates every 20 ms, and three identical
// end packets (same sequence number and timestamp).
func dtmfPackets(pt uint8, ev byte, seq uint16, ts uint32) []rtp.Packet {
	var pkts []rtp.Packet
	for i := range 8 {
		dur := uint16(320 * i)
		pkts = append(pkts, rtp.Packet{
			Header:  rtp.Header{Marker: i == 0, PayloadType: pt, SequenceNumber: seq + uint16(i), Timestamp: ts, SSRC: 0x384e},
			Payload: []byte{ev, 10, byte(dur >> 8), byte(dur)},
		})
	}
	end := rtp.Packet{
		Header:  rtp.Header{PayloadType: pt, SequenceNumber: seq + 8, Timestamp: ts, SSRC: 0x384e},
		Payload: []byte{ev, 0x80 | 10, 0x08, 0xc0},
	}
	return append(pkts, end, end, end)
}

func TestDTMFReceive(t *testing.T) {
	e := testEngine(t, 10, nil)
	tests := []struct {
		name   string
		dtmfPT uint8 // negotiated
		sendPT uint8 // what the peer sends on
		digits string
		want   string
	}{
		{"pcap style", 101, 101, "1", "1"},
		{"all digits", 101, 101, "0123456789*#ABCD", "0123456789*#ABCD"},
		{"repeated digit", 101, 101, "55", "55"},
		{"no PT negotiated accepts 101", 0, 101, "9#", "9#"},
		{"dynamic PT", 96, 96, "42", "42"},
		{"other PT ignored", 96, 101, "42", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPeer(t)
			digits := make(chan rune, 100)
			s := newStream(t, e, p, StreamConfig{DTMFPT: tt.dtmfPT, OnDigit: func(d rune) { digits <- d }})
			seq, ts := uint16(0x1f30), uint32(0x0e05384e)
			for _, d := range tt.digits {
				ev, _ := dtmfEventOf(d)
				pkts := dtmfPackets(tt.sendPT, ev, seq, ts)
				for _, pkt := range pkts {
					p.send(s.LocalAddr(), pkt.Header, pkt.Payload)
				}
				// A retransmitted end packet arriving late changes nothing.
				last := pkts[len(pkts)-1]
				p.send(s.LocalAddr(), last.Header, last.Payload)
				seq += uint16(len(pkts))
				ts += 8 * 160 * 2
			}
			// A sentinel event on the negotiated PT tells us all earlier
			// packets were processed.
			sentinelPT := tt.dtmfPT
			if sentinelPT == 0 {
				sentinelPT = DefaultDTMFPT
			}
			for _, pkt := range dtmfPackets(sentinelPT, 16+0, seq, ts) { // event 16 (flash) is not a digit
				p.send(s.LocalAddr(), pkt.Header, pkt.Payload)
			}
			ev, _ := dtmfEventOf('D')
			for _, pkt := range dtmfPackets(sentinelPT, ev, seq+20, ts+8000) {
				p.send(s.LocalAddr(), pkt.Header, pkt.Payload)
			}
			var got strings.Builder
			for {
				d := <-digits
				if len(got.String()) >= len(tt.want) && d == 'D' {
					break
				}
				got.WriteRune(d)
			}
			if got.String() != tt.want {
				t.Fatalf("digits %q, want %q", got.String(), tt.want)
			}
		})
	}
}

func TestSendDTMF(t *testing.T) {
	e := testEngine(t, 10, nil)
	tests := []struct {
		digit      rune
		dur        time.Duration
		pt         uint8
		wantEvent  byte
		wantUpdate int
		wantEndDur uint16
	}{
		{'5', 100 * time.Millisecond, 101, 5, 4, 800},
		{'#', 200 * time.Millisecond, 96, 11, 9, 1600},
		{'*', 10 * time.Millisecond, 101, 10, 1, 320}, // clamped to 40 ms
	}
	for _, tt := range tests {
		t.Run(string(tt.digit), func(t *testing.T) {
			p := newPeer(t)
			s := newStream(t, e, p, StreamConfig{DTMFPT: tt.pt})
			if err := s.SendDTMF(context.Background(), tt.digit, tt.dur); err != nil {
				t.Fatal(err)
			}
			pkts := p.take(tt.wantUpdate + 3)
			if !p.quiet() {
				t.Fatal("extra packets")
			}
			var prevDur uint16
			for i, pkt := range pkts {
				if pkt.PayloadType != tt.pt || len(pkt.Payload) != 4 || pkt.Payload[0] != tt.wantEvent {
					t.Fatalf("packet %d: PT %d payload %x", i, pkt.PayloadType, pkt.Payload)
				}
				if pkt.Timestamp != pkts[0].Timestamp {
					t.Fatalf("packet %d: timestamp changed within the event", i)
				}
				if i > 0 && pkt.SequenceNumber != pkts[i-1].SequenceNumber+1 {
					t.Fatalf("packet %d: seq %d", i, pkt.SequenceNumber)
				}
				if pkt.Marker != (i == 0) {
					t.Fatalf("packet %d: marker %v", i, pkt.Marker)
				}
				end := pkt.Payload[1]&0x80 != 0
				dur := uint16(pkt.Payload[2])<<8 | uint16(pkt.Payload[3])
				if end != (i >= tt.wantUpdate) {
					t.Fatalf("packet %d: end bit %v", i, end)
				}
				if !end && dur <= prevDur || end && dur != tt.wantEndDur {
					t.Fatalf("packet %d: duration %d", i, dur)
				}
				prevDur = dur
			}
			// The digits parse back through our own receiver.
			var dd dtmfDedupe
			var got []rune
			for i := range pkts {
				if d, ok := dd.digit(&pkts[i]); ok {
					got = append(got, d)
				}
			}
			if string(got) != string(tt.digit) {
				t.Fatalf("parsed %q", string(got))
			}
		})
	}
	p := newPeer(t)
	s := newStream(t, e, p, StreamConfig{})
	if err := s.SendDTMF(context.Background(), '1', 100*time.Millisecond); !errors.Is(err, ErrNoDTMF) {
		t.Fatalf("SendDTMF without PT: %v", err)
	}
	if err := s.SendDTMF(context.Background(), 'x', 100*time.Millisecond); err == nil {
		t.Fatal("SendDTMF accepted 'x'")
	}
}

func TestInactivityTimeout(t *testing.T) {
	// The timeout's clock is injected and the checks are run by the test, so
	// what is asserted does not depend on how busy the machine is: a stream
	// times out when the clock says it has been silent for longer than the
	// timeout, never otherwise.
	const timeout = 100 * time.Millisecond
	var clock atomic.Int64
	e := testEngine(t, 10, func(e *Engine) {
		e.cfg.InactivityTimeout = timeout
		e.checkEvery = 0 // no checks from the pacers
		e.recvClock = clock.Load
	})
	check := func() {
		e.mu.Lock()
		streams := make([]*Stream, 0, len(e.streams))
		for s := range e.streams {
			streams = append(streams, s)
		}
		e.mu.Unlock()
		e.checkInactivity(streams)
	}
	var dead, held, alive atomic.Int32
	p := newPeer(t)
	sDead := newStream(t, e, p, StreamConfig{OnTimeout: func() { dead.Add(1) }})
	sHeld := newStream(t, e, p, StreamConfig{OnTimeout: func() { held.Add(1) }})
	sHeld.SetHold(true)
	sAlive := newStream(t, e, p, StreamConfig{OnTimeout: func() { alive.Add(1) }})
	// feed gives sAlive its next packet and waits until it has been received.
	var fed uint16
	feed := func() {
		p.send(sAlive.LocalAddr(), rtp.Header{PayloadType: 0, SequenceNumber: fed, Timestamp: uint32(fed) * 160, SSRC: 1}, make([]byte, 160))
		fed++
		eventually(t, "packet received", func() bool { return sAlive.Stats().PacketsReceived == uint64(fed) })
	}
	// Ten rounds of 60 ms: sAlive receives a packet in each, the others none.
	for round := range 10 {
		feed()
		clock.Add(int64(60 * time.Millisecond))
		check()
		silent := time.Duration(clock.Load())
		if got, want := sDead.timedOut.Load(), silent > timeout; got != want {
			t.Fatalf("round %d: silent stream timed out = %v after %v, want %v", round, got, silent, want)
		}
		if sHeld.timedOut.Load() {
			t.Fatalf("round %d: stream on hold timed out", round)
		}
		if sAlive.timedOut.Load() {
			t.Fatalf("round %d: live stream timed out", round)
		}
	}
	eventually(t, "OnTimeout of the silent stream", func() bool { return dead.Load() == 1 })
	// Off hold, the timeout starts afresh.
	sHeld.SetHold(false)
	feed()
	clock.Add(int64(60 * time.Millisecond))
	check()
	if sHeld.timedOut.Load() {
		t.Fatal("stream timed out 60 ms after leaving hold")
	}
	feed()
	clock.Add(int64(60 * time.Millisecond))
	check()
	if sAlive.timedOut.Load() {
		t.Fatal("live stream timed out")
	}
	if !sHeld.timedOut.Load() {
		t.Fatal("stream did not time out 120 ms after leaving hold")
	}
	eventually(t, "OnTimeout after unhold", func() bool { return held.Load() == 1 })
	if got := dead.Load(); got != 1 {
		t.Errorf("OnTimeout called %d times on the silent stream, want once", got)
	}
	if got := alive.Load(); got != 0 {
		t.Errorf("OnTimeout called %d times on a live stream", got)
	}
}

// TestInactivityCheckedByPacer: the pacers run the inactivity check on their
// own (real clock; only the positive outcome is awaited).
func TestInactivityCheckedByPacer(t *testing.T) {
	e := testEngine(t, 10, func(e *Engine) {
		e.cfg.InactivityTimeout = 100 * time.Millisecond
		e.checkEvery = 1
	})
	var dead atomic.Int32
	newStream(t, e, newPeer(t), StreamConfig{OnTimeout: func() { dead.Add(1) }})
	eventually(t, "timeout of a silent stream", func() bool { return dead.Load() == 1 })
}

func TestPortPool(t *testing.T) {
	e := testEngine(t, 3, nil)
	p := newPeer(t)
	var streams []*Stream
	ports := map[uint16]bool{}
	for range 3 {
		s, err := e.NewStream(StreamConfig{Remote: p.addr(), Codec: PCMU})
		if err != nil {
			t.Fatal(err)
		}
		if port := s.LocalAddr().Port(); port%2 != 0 || ports[port] {
			t.Fatalf("port %d odd or reused while in use", port)
		}
		ports[s.LocalAddr().Port()] = true
		streams = append(streams, s)
	}
	_, err := e.NewStream(StreamConfig{Remote: p.addr(), Codec: PCMU})
	if !errors.Is(err, ErrPortsExhausted) || !strings.Contains(err.Error(), "all 3 RTP ports") {
		t.Fatalf("fourth stream: %v", err)
	}
	freed := streams[1].LocalAddr().Port()
	streams[1].Close()
	streams[1].Close() // idempotent
	s, err := e.NewStream(StreamConfig{Remote: p.addr(), Codec: PCMU})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	if s.LocalAddr().Port() != freed {
		t.Fatalf("got port %d, want the released %d", s.LocalAddr().Port(), freed)
	}
	if e.Streams() != 3 {
		t.Fatalf("Streams() = %d", e.Streams())
	}
	e.Close()
	if _, err := e.NewStream(StreamConfig{Remote: p.addr(), Codec: PCMU}); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewStream after Close: %v", err)
	}
	if err := s.Play(context.Background(), []*Sound{tone(160, 1)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Play after Engine.Close: %v", err)
	}
}

func TestEngineConfig(t *testing.T) {
	tests := []struct {
		name     string
		min, max int
	}{
		{"inverted", 30000, 20000},
		{"zero", 0, 100},
		{"too high", 65000, 70000},
		{"no even port", 30001, 30001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e, err := NewEngine(EngineConfig{PortMin: tt.min, PortMax: tt.max}); err == nil {
				e.Close()
				t.Fatal("accepted")
			}
		})
	}
	e := testEngine(t, 2, nil)
	if _, err := e.NewStream(StreamConfig{Codec: Codec{Name: "G729", PT: 18}}); err == nil {
		t.Fatal("accepted G.729")
	}
}
