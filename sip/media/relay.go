package media

import (
	"net/netip"
	"sync"

	"github.com/pion/rtp"
)

// bridgeLink joins two streams; each stream's link points to it while they
// are bridged.
type bridgeLink struct{ a, b *Stream }

func (l *bridgeLink) other(s *Stream) *Stream {
	if l.a == s {
		return l.b
	}
	return l.a
}

// relayState is the receive goroutine's mapping of one incoming stream onto
// the bridged stream's outgoing sequence numbers and timestamps.
type relayState struct {
	link   *bridgeLink
	ssrc   uint32 // incoming SSRC the offsets were computed for
	seqOff uint16
	tsOff  uint32
	hdr    rtp.Header
}

// Bridge relays audio and DTMF between s and other in both directions,
// keeping each outgoing stream's SSRC and continuing its sequence numbers
// and timestamps, transcoding between µ-law and A-law when the codecs
// differ. It replaces whatever either stream was sending. The returned
// function undoes the bridge (both streams go quiet).
//
// Packets are relayed from the receiving stream's goroutine as they arrive
// (no pacing, no jitter buffer): the far phone's jitter buffer sees the
// original timing. RFC 4733 events are passed through on the other peer's
// telephone-event payload type, or dropped when it has none; OnDigit still
// fires on the receiving stream. Bridging a stream that is bridged to a
// third one ends that bridge. While Play, Loop or SendDTMF is active on one
// of the streams, what they send takes precedence over relayed audio.
func (s *Stream) Bridge(other *Stream) (unbridge func()) {
	if other == nil || other == s {
		return func() {}
	}
	l := &bridgeLink{a: s, b: other}
	tapBridge(s, other, true) // before the first relayed packet
	for _, x := range []*Stream{s, other} {
		x.Stop()
		if old := x.link.Swap(l); old != nil {
			old.other(x).link.CompareAndSwap(old, nil)
		}
	}
	return sync.OnceFunc(func() {
		s.link.CompareAndSwap(l, nil)
		other.link.CompareAndSwap(l, nil)
		tapBridge(s, other, false)
	})
}

// Bridged reports whether the stream is bridged to another.
func (s *Stream) Bridged() bool { return s.link.Load() != nil }

// relay forwards packet p, received on s, to the other stream of link l.
// It runs on s's receive goroutine; out is that goroutine's buffer.
// When tx is not nil and b is multiplexed, the packet is queued in tx (sent
// with the rest of the batch) instead.
func (s *Stream) relay(l *bridgeLink, p *rtp.Packet, isDTMF bool, rs *relayState, tx *txQueue, out []byte) {
	b := l.other(s)
	bCodecPT, bDTMFPT := unpackMedia(b.media.Load())
	var outPT uint8
	switch {
	case isDTMF:
		if bDTMFPT == 0 {
			return
		}
		outPT = bDTMFPT
	case p.PayloadType == PCMU.PT || p.PayloadType == PCMA.PT:
		outPT = bCodecPT
	default:
		return // comfort noise: the other peer may not have negotiated it
	}
	if !isDTMF && (s.tap.Load() != nil || b.tap.Load() != nil) {
		tapRelay(s, b, p) // recording (tap.go): never blocks
	}
	if 12+len(p.Payload) > len(out) {
		return
	}

	b.mu.Lock()
	if b.closed.Load() || b.link.Load() != l || b.src != nil || b.dtmf != nil || b.mix != nil || !validDest(b.dest) {
		b.mu.Unlock()
		return
	}
	tick := tickAt(b.e.mono())
	marker := p.Marker
	if rs.link != l || rs.ssrc != p.SSRC || b.outOwner != l {
		// New bridge, new incoming source, or b sent something of its own
		// since: continue b's numbering from where it is.
		ts := b.lastTs
		if b.sentAny {
			ts += uint32(max(1, tick-b.lastTick)) * samplesPerPacket
		}
		rs.link, rs.ssrc = l, p.SSRC
		rs.seqOff = b.seq + 1 - p.SequenceNumber
		rs.tsOff = ts - p.Timestamp
		rs.hdr = rtp.Header{Version: 2, SSRC: b.ssrc}
		marker = true
		b.outOwner = l
		b.lastTs = ts
	}
	seq := p.SequenceNumber + rs.seqOff
	ts := p.Timestamp + rs.tsOff
	if int16(seq-b.seq) > 0 {
		b.seq = seq
	}
	if int32(ts-b.lastTs) > 0 {
		b.lastTs = ts
	}
	b.lastTick = tick
	b.sentAny = true
	b.needMarker = true
	dest := b.dest
	b.mu.Unlock()

	batched := tx != nil && b.mux != nil
	if batched {
		out = tx.slot()
	}
	rs.hdr.Marker = marker
	rs.hdr.PayloadType = outPT
	rs.hdr.SequenceNumber = seq
	rs.hdr.Timestamp = ts
	n, err := rs.hdr.MarshalTo(out)
	if err != nil {
		return
	}
	switch {
	case isDTMF || p.PayloadType == outPT:
		n += copy(out[n:], p.Payload)
	case outPT == PCMA.PT:
		for _, c := range p.Payload {
			out[n] = ulawToAlaw[c]
			n++
		}
	default:
		for _, c := range p.Payload {
			out[n] = alawToUlaw[c]
			n++
		}
	}
	switch {
	case batched:
		tx.push(b.mux, n, dest)
	case b.srtp != nil:
		var ok bool
		if n, ok = b.srtp.sendProtected(out[:n], dest, b.writeTo); !ok {
			return
		}
	default:
		if _, err := b.conn.WriteToUDPAddrPort(out[:n], dest); err != nil {
			return
		}
	}
	b.pktsSent.Add(1)
	b.bytesSent.Add(uint64(n))
}

// writeTo sends one packet from b's socket (the relay's way, and SRTP's).
func (b *Stream) writeTo(pkt []byte, to netip.AddrPort) bool {
	_, err := b.conn.WriteToUDPAddrPort(pkt, to)
	return err == nil
}
