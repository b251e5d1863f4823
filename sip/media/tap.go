package media

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// TapSide says whose audio a tapped packet carries, seen from the tapped
// stream.
type TapSide uint8

const (
	// TapNear is audio received on the tapped stream: its own peer
	// speaking (the caller, when the caller's stream is tapped).
	TapNear TapSide = iota
	// TapFar is audio relayed to the tapped stream's peer from the stream
	// it is bridged to (the agent, first or second line).
	TapFar
)

// TapPayloadMax is the largest payload a tap copies (40 ms of G.711);
// larger packets are counted as dropped.
const TapPayloadMax = 320

// TapPacket is one relayed G.711 packet, copied for a recorder.
type TapPacket struct {
	Side  TapSide
	PT    uint8         // payload type: PCMU.PT or PCMA.PT
	N     uint16        // payload length
	At    time.Duration // arrival, since the tap was made (monotonic)
	TS    uint32        // RTP timestamp as received
	SSRC  uint32        // RTP SSRC as received
	Audio [TapPayloadMax]byte
}

// Payload is the packet's audio.
func (p *TapPacket) Payload() []byte { return p.Audio[:p.N] }

// TapMark says that the tapped stream was bridged to a peer or unbridged
// from it.
type TapMark struct {
	At    time.Duration // since the tap was made
	Start bool          // bridged (true) or unbridged
	Peer  uint32        // the SSRC the other stream sends with: one per stream
}

// Tap hands a bridged stream's audio, both directions, to a recorder
// without ever blocking the relay: packets go through a bounded channel
// and are dropped (and counted) when it is full. Bridge and unbridge
// marks are kept beside it, so none is lost. A stream carries at most one
// tap (Stream.SetTap); with none the relay pays two atomic loads.
type Tap struct {
	epoch   time.Time
	ch      chan TapPacket
	dropped atomic.Uint64

	mu    sync.Mutex
	marks []TapMark
}

// NewTap makes a tap whose buffer holds capacity packets (both
// directions; 100 per second of a call).
func NewTap(capacity int) *Tap {
	return &Tap{epoch: time.Now(), ch: make(chan TapPacket, max(1, capacity))}
}

// Packets delivers the tapped packets in arrival order per direction.
func (t *Tap) Packets() <-chan TapPacket { return t.ch }

// TakeMarks returns the pending marks, oldest first, and forgets them.
func (t *Tap) TakeMarks() []TapMark {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.marks
	t.marks = nil
	return m
}

// Dropped is the number of packets lost because the buffer was full (or
// a payload was larger than TapPayloadMax).
func (t *Tap) Dropped() uint64 { return t.dropped.Load() }

// Now is the tap's clock: the time since the tap was made.
func (t *Tap) Now() time.Duration { return time.Since(t.epoch) }

func (t *Tap) mark(start bool, peer uint32) {
	t.mu.Lock()
	t.marks = append(t.marks, TapMark{At: t.Now(), Start: start, Peer: peer})
	t.mu.Unlock()
}

func (t *Tap) offer(side TapSide, p *rtp.Packet) {
	if len(p.Payload) > TapPayloadMax {
		t.dropped.Add(1)
		return
	}
	var c TapPacket
	c.Side, c.PT, c.N, c.At, c.TS, c.SSRC = side, p.PayloadType, uint16(len(p.Payload)), t.Now(), p.Timestamp, p.SSRC
	copy(c.Audio[:], p.Payload)
	select {
	case t.ch <- c:
	default:
		t.dropped.Add(1)
	}
}

// SetTap makes t receive this stream's bridged audio (nil stops it): what
// its peer sends (TapNear) and what is relayed to its peer from a bridged
// stream (TapFar), plus a mark at each bridge and unbridge. A bridge that
// is already up is marked at once.
func (s *Stream) SetTap(t *Tap) {
	old := s.tap.Swap(t)
	if l := s.link.Load(); l != nil {
		peer := l.other(s).ssrc
		if old != nil && old != t {
			old.mark(false, peer)
		}
		if t != nil && old != t {
			t.mark(true, peer)
		}
	}
}

// tapBridge marks a bridge of s and other (start) or its end on their taps.
func tapBridge(s, other *Stream, start bool) {
	if t := s.tap.Load(); t != nil {
		t.mark(start, other.ssrc)
	}
	if t := other.tap.Load(); t != nil {
		t.mark(start, s.ssrc)
	}
}

// tapRelay hands a relayed audio packet received on s (bridged to b) to
// the taps of either stream.
func tapRelay(s, b *Stream, p *rtp.Packet) {
	if t := s.tap.Load(); t != nil {
		t.offer(TapNear, p)
	}
	if t := b.tap.Load(); t != nil {
		t.offer(TapFar, p)
	}
}
