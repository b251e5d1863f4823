package media

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// maxPacket bounds the RTP packets we receive and relay.
const maxPacket = 1500

// Stream is one RTP session: a local port, a remote peer, what we send to it
// and what we receive from it.
type Stream struct {
	e         *Engine
	conn      *net.UDPConn // own socket, or the multiplexed one (mux)
	mux       *muxSock     // nil: the stream has its own socket
	port      int
	local     netip.AddrPort
	onDigit   func(rune)
	onTimeout func()
	onAudio   func(pt uint8, payload []byte)
	ssrc      uint32

	muxKey     netip.AddrPort // address mux demultiplexes to this stream; guarded by mux.mu
	muxPending bool           // in mux.pending (not latched yet); guarded by mux.mu

	rx rxState // receive state, used by whichever goroutine receives for the stream

	sh    *shard
	slot  int // pacer slot within the tick (fixed for the stream's life), guarded by sh.mu
	shIdx int // index in sh.slots[slot], guarded by sh.mu

	// Read by the receive path without locking.
	media    atomic.Uint32 // packMedia(codec, dtmfPT)
	link     atomic.Pointer[bridgeLink]
	tap      atomic.Pointer[Tap]    // recording (tap.go), nil when off
	mon      atomic.Pointer[monTap] // monitor.go: received audio for a mix; nil unless monitored
	latched  atomic.Bool
	hold     atomic.Bool
	closed   atomic.Bool
	timedOut atomic.Bool
	lastRecv atomic.Int64 // Engine.mono of the last valid packet

	pktsSent, bytesSent atomic.Uint64
	pktsRecv, bytesRecv atomic.Uint64

	srtp *srtpState // nil: plain RTP (srtp.go)

	dtmfSem  chan struct{} // serialises SendDTMF
	recvDone chan struct{} // closed when the receive goroutine exits

	mu     sync.Mutex // guards the fields below
	remote netip.AddrPort
	dest   netip.AddrPort // remote, or where packets really come from once latched
	codec  Codec
	dtmfPT uint8
	src    *source   // what the pacer plays, nil when quiet
	dtmf   *dtmfSend // RFC 4733 event being sent; pauses src
	mix    *mixOut   // monitor.go: the peer hears a mix instead of relayed audio; nil unless monitored
	// Outgoing RTP state, shared by pacer and relay.
	seq        uint16
	lastTs     uint32      // timestamp of the last packet (event start for DTMF)
	lastTick   int64       // pacer tick lastTs belongs to
	sentAny    bool        // a packet has been sent
	needMarker bool        // next paced packet starts a talkspurt
	outOwner   *bridgeLink // who sent the last packet: a relay link or nil (pacer)
	hdr        rtp.Header
	buf        [12 + 4*samplesPerPacket]byte
	sender     rawSender
}

// packMedia packs what the receive path needs into one atomic word.
func packMedia(c Codec, dtmfPT uint8) uint32 { return uint32(c.PT) | uint32(dtmfPT)<<8 }

func unpackMedia(m uint32) (codecPT, dtmfPT uint8) { return uint8(m), uint8(m >> 8) }

// source is a sequence of sounds the pacer plays.
type source struct {
	sounds []*Sound
	loop   bool
	i, off int           // next packet: sounds[i] at byte off of its encoding
	done   chan struct{} // closed by finish
	err    error         // why it ended, set before done is closed
}

func newSource(sounds []*Sound, loop bool) *source {
	var nonEmpty []*Sound
	for _, s := range sounds {
		if s != nil && len(s.PCM) > 0 {
			nonEmpty = append(nonEmpty, s)
		}
	}
	return &source{sounds: nonEmpty, loop: loop, done: make(chan struct{})}
}

// next returns the next packet's payload in codec c, or false at the end.
func (src *source) next(c Codec) ([]byte, bool) {
	for src.i < len(src.sounds) {
		enc := src.sounds[src.i].encoded(c)
		if src.off+samplesPerPacket <= len(enc) {
			p := enc[src.off : src.off+samplesPerPacket]
			src.off += samplesPerPacket
			return p, true
		}
		src.i++
		src.off = 0
		if src.i == len(src.sounds) && src.loop {
			src.i = 0
		}
	}
	return nil, false
}

// atEnd reports whether a non-looping source has sent its last packet.
func (src *source) atEnd(c Codec) bool {
	if src.loop {
		return false
	}
	if src.i == len(src.sounds)-1 {
		return src.off >= len(src.sounds[src.i].encoded(c))
	}
	return src.i >= len(src.sounds)
}

func (src *source) finish(err error) {
	src.err = err
	close(src.done)
}

// prepare encodes sounds in c now, so the pacer never has to.
func prepare(sounds []*Sound, c Codec) {
	for _, s := range sounds {
		if s != nil {
			s.encoded(c)
		}
	}
}

// LocalAddr is the address and port to put in our SDP.
func (s *Stream) LocalAddr() netip.AddrPort { return s.local }

// SSRC is the synchronisation source of what the stream sends.
func (s *Stream) SSRC() uint32 { return s.ssrc }

// Update applies a re-INVITE: new remote, codec, DTMF payload type.
func (s *Stream) Update(remote netip.AddrPort, codec Codec, dtmfPT uint8) {
	if codec != PCMU && codec != PCMA {
		s.e.log.Warn("ignoring unsupported codec in stream update", "codec", codec.Name, "pt", codec.PT)
		s.mu.Lock()
		codec = s.codec
		s.mu.Unlock()
	}
	s.mu.Lock()
	var sounds []*Sound
	if s.src != nil && s.codec != codec {
		sounds = s.src.sounds
	}
	s.mu.Unlock()
	prepare(sounds, codec) // outside the lock: may encode minutes of music

	s.mu.Lock()
	moved := remote != s.remote
	if moved {
		s.remote = remote
		s.dest = remote
		s.latched.Store(false) // latch again to the peer's new address
	}
	s.codec = codec
	s.dtmfPT = dtmfPT
	s.media.Store(packMedia(codec, dtmfPT))
	s.mu.Unlock()
	if moved && s.mux != nil {
		s.mux.expect(s, remote)
	}
}

// SetHold marks the peer on hold (it may stop sending: no inactivity timeout).
func (s *Stream) SetHold(hold bool) {
	if !hold {
		s.lastRecv.Store(s.e.recvNow()) // the timeout starts afresh
	}
	s.hold.Store(hold)
}

// Play sends sounds in order, paced, and returns when they have been sent,
// when ctx is cancelled (playback stops at once), or when the stream is
// closed. It replaces whatever the stream was sending.
//
// It returns nil when all was sent, ctx.Err() on cancellation, ErrStopped
// when Stop, Play, Loop or Bridge replaced it, and ErrClosed when the stream
// was closed. While the stream is bridged, Play's audio takes precedence
// over the relayed audio towards this stream's peer.
func (s *Stream) Play(ctx context.Context, sounds []*Sound) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	src := newSource(sounds, false)
	if err := s.start(src); err != nil {
		return err
	}
	select {
	case <-src.done:
		return src.err
	case <-ctx.Done():
		s.mu.Lock()
		if s.src == src {
			s.src = nil
			src.finish(ctx.Err())
		}
		s.mu.Unlock()
		<-src.done
		return ctx.Err()
	}
}

// Loop sends sounds in order, over and over, until Stop, Play, Bridge or Close.
func (s *Stream) Loop(sounds []*Sound) {
	_ = s.start(newSource(sounds, true))
}

// start installs src as what the pacer sends, replacing the current source.
// An empty source just stops the current one (and is finished at once).
func (s *Stream) start(src *source) error {
	s.mu.Lock()
	codec := s.codec
	s.mu.Unlock()
	prepare(src.sounds, codec)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if s.src != nil {
		s.src.finish(ErrStopped)
		s.src = nil
	}
	if len(src.sounds) == 0 {
		src.finish(nil)
		return nil
	}
	s.src = src
	return nil
}

// Stop stops sending (Play returns, Loop ends).
func (s *Stream) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.src != nil {
		s.src.finish(ErrStopped)
		s.src = nil
	}
}

// Stats returns the counters so far.
func (s *Stream) Stats() Stats {
	st := Stats{
		PacketsSent:     s.pktsSent.Load(),
		BytesSent:       s.bytesSent.Load(),
		PacketsReceived: s.pktsRecv.Load(),
		BytesReceived:   s.bytesRecv.Load(),
	}
	if s.latched.Load() || st.PacketsReceived > 0 {
		st.LastReceived = s.e.epoch.Add(time.Duration(s.lastRecv.Load()))
	}
	return st
}

// Close stops the stream and returns its port to the pool. Idempotent.
func (s *Stream) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.mu.Lock()
	if s.src != nil {
		s.src.finish(ErrClosed)
		s.src = nil
	}
	if s.dtmf != nil {
		s.dtmf.finish(ErrClosed)
		s.dtmf = nil
	}
	s.mu.Unlock()
	if l := s.link.Swap(nil); l != nil {
		l.other(s).link.CompareAndSwap(l, nil)
	}
	if s.mux != nil {
		s.mux.remove(s)
		s.e.forget(s)
		return nil
	}
	err := s.conn.Close()
	s.e.forget(s)
	s.e.pool.put(s.port)
	return err
}

// tick is the pacer's work for one stream at tick n.
func (s *Stream) tick(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return
	}
	if d := s.dtmf; d != nil {
		s.dtmfTick(n, d)
		return
	}
	src := s.src
	if src == nil {
		if s.mix != nil {
			s.mixTick(n, s.mix)
		}
		return
	}
	payload, ok := src.next(s.codec)
	if !ok {
		s.src = nil
		src.finish(nil)
		return
	}
	marker := s.advance(n)
	s.send(s.codec.PT, marker, s.lastTs, payload)
	if src.atEnd(s.codec) {
		s.src = nil
		src.finish(nil)
	}
}

// advance moves the outgoing timestamp to tick n for a paced audio packet
// and reports whether it starts a talkspurt. Called with s.mu held.
func (s *Stream) advance(n int64) (marker bool) {
	switch {
	case !s.sentAny:
		marker = true
	case n == s.lastTick+1 && !s.needMarker:
		s.lastTs += samplesPerPacket
	default:
		marker = true
		s.lastTs += uint32(max(1, n-s.lastTick)) * samplesPerPacket
	}
	s.lastTick = n
	s.sentAny = true
	s.needMarker = false
	s.outOwner = nil
	return marker
}

// send writes one paced packet with the next sequence number. Called with
// s.mu held.
func (s *Stream) send(pt uint8, marker bool, ts uint32, payload []byte) {
	s.seq++
	s.hdr.Marker = marker
	s.hdr.PayloadType = pt
	s.hdr.SequenceNumber = s.seq
	s.hdr.Timestamp = ts
	n, err := s.hdr.MarshalTo(s.buf[:])
	if err != nil {
		return
	}
	n += copy(s.buf[n:], payload)
	if !validDest(s.dest) {
		return
	}
	if s.mux != nil && s.sh.tx != nil {
		// Batched with the rest of the pacer's slot (sendmmsg).
		tx := s.sh.tx
		n = copy(tx.slot(), s.buf[:n])
		tx.push(s.mux, n, s.dest)
	} else if s.srtp != nil {
		var ok bool
		if n, ok = s.srtp.sendProtected(s.buf[:n], s.dest, s.sender.send); !ok {
			return
		}
	} else if !s.sender.send(s.buf[:n], s.dest) {
		return
	}
	s.pktsSent.Add(1)
	s.bytesSent.Add(uint64(n))
	if f := s.e.onSend; f != nil {
		f(s, s.lastTick)
	}
}

// validDest reports whether a is somewhere we can send to (an old-style
// hold SDP says 0.0.0.0).
func validDest(a netip.AddrPort) bool {
	return a.IsValid() && a.Port() != 0 && !a.Addr().IsUnspecified()
}

// rxState is what the receive path keeps per stream between packets.
type rxState struct {
	pkt rtp.Packet
	dd  dtmfDedupe
	rs  relayState
}

// receive reads the stream's own socket until it is closed.
func (s *Stream) receive() {
	defer close(s.recvDone)
	buf := make([]byte, maxPacket)
	out := make([]byte, maxPacket)
	var plain []byte
	if s.srtp != nil {
		plain = make([]byte, maxPacket)
	}
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errIsClosed(err) || s.closed.Load() {
				return
			}
			continue
		}
		s.handle(buf[:n], from, plain, nil, out)
	}
}

// handle processes one received datagram: SRTP, validation, latching,
// DTMF, relaying, taps. plain is the SRTP decryption buffer; tx, when not
// nil, batches relayed packets towards multiplexed streams; out is the
// buffer for the others.
func (s *Stream) handle(data []byte, from netip.AddrPort, plain []byte, tx *txQueue, out []byte) {
	n := len(data)
	if s.srtp != nil {
		var ok bool
		if data, ok = s.srtp.unprotect(plain, data); !ok {
			return // no keys yet, or not authentic: not media
		}
	}
	s.pktsRecv.Add(1)
	s.bytesRecv.Add(uint64(n))
	pkt := &s.rx.pkt
	if pkt.Unmarshal(data) != nil || pkt.Version != 2 {
		return
	}
	pt := pkt.PayloadType
	isDTMF := pt == s.dtmfPTIn()
	if !isDTMF && !s.acceptsPT(pt) {
		return // not RTP we negotiated (RTCP, stray traffic)
	}
	s.lastRecv.Store(s.e.recvNow())
	if !s.latched.Load() {
		s.latch(from)
	}
	if isDTMF {
		if d, ok := s.rx.dd.digit(pkt); ok && s.onDigit != nil && !s.closed.Load() {
			s.onDigit(d)
		}
	}
	if l := s.link.Load(); l != nil {
		s.relay(l, pkt, isDTMF, &s.rx.rs, tx, out)
	}
	if t := s.mon.Load(); t != nil && !isDTMF {
		t.tap(pt, pkt.Payload)
	}
	if s.onAudio != nil && !isDTMF && (pt == PCMU.PT || pt == PCMA.PT) {
		s.onAudio(pt, pkt.Payload)
	}
}

// dtmfPTIn is the telephone-event payload type accepted from the peer.
func (s *Stream) dtmfPTIn() uint8 {
	if _, dtmfPT := unpackMedia(s.media.Load()); dtmfPT != 0 {
		return dtmfPT
	}
	return DefaultDTMFPT
}

// acceptsPT reports whether a received payload type is media or DTMF the
// stream takes.
func (s *Stream) acceptsPT(pt uint8) bool {
	codecPT, _ := unpackMedia(s.media.Load())
	return pt == s.dtmfPTIn() || pt == PCMU.PT || pt == PCMA.PT || pt == codecPT || pt == ptComfortNoise
}

// ptComfortNoise is RFC 3389 comfort noise; accepted, never relayed.
const ptComfortNoise = 13

// latch points the stream at the source of the first valid packet.
func (s *Stream) latch(from netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latched.Load() {
		return
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if from != s.dest {
		s.e.log.Debug("symmetric RTP: latching to the real source", "local", s.local, "sdp", s.remote, "source", from)
	}
	s.dest = from
	s.latched.Store(true)
}
