package media

import (
	"context"
	"fmt"
	"time"

	"github.com/pion/rtp"
)

// RFC 4733 sending parameters.
const (
	dtmfVolume      = 10 // −10 dBm0
	dtmfEndPackets  = 3
	dtmfMinDuration = 40 * time.Millisecond
	dtmfMaxDuration = 5 * time.Second // fits the 16-bit duration field
)

// dtmfEventOf maps a digit to its RFC 4733 event code.
func dtmfEventOf(d rune) (byte, bool) {
	switch {
	case d >= '0' && d <= '9':
		return byte(d - '0'), true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	case d >= 'A' && d <= 'D':
		return byte(d-'A') + 12, true
	case d >= 'a' && d <= 'd':
		return byte(d-'a') + 12, true
	}
	return 0, false
}

// dtmfDigitOf maps an RFC 4733 event code to its digit.
func dtmfDigitOf(ev byte) (rune, bool) {
	switch {
	case ev <= 9:
		return rune('0' + ev), true
	case ev == 10:
		return '*', true
	case ev == 11:
		return '#', true
	case ev <= 15:
		return rune('A' + ev - 12), true
	}
	return 0, false
}

// dtmfDedupe turns RFC 4733 packets into one digit per event: every packet
// of an event (start, updates, the repeated end packets, retransmissions)
// carries the event's start timestamp. It remembers the start timestamps of
// the last few events rather than only the newest, so a late packet of a
// recent event is still a duplicate while a new event is recognised even
// when its timestamp is lower (SIPp replays each dtmf_2833_N.pcap with its
// recorded timestamps under one SSRC, so "1" after "4" goes backwards).
type dtmfDedupe struct {
	have   bool
	ssrc   uint32
	recent [8]uint32
	n      int // timestamps held in recent
	next   int // where the next one goes
}

func (d *dtmfDedupe) digit(p *rtp.Packet) (rune, bool) {
	if len(p.Payload) < 4 {
		return 0, false
	}
	r, ok := dtmfDigitOf(p.Payload[0])
	if !ok {
		return 0, false
	}
	if !d.have || d.ssrc != p.SSRC {
		d.have, d.ssrc, d.n, d.next = true, p.SSRC, 0, 0
	}
	for i := 0; i < d.n; i++ {
		if d.recent[i] == p.Timestamp {
			return 0, false // this event again (update, end, retransmission)
		}
	}
	d.recent[d.next] = p.Timestamp
	d.next = (d.next + 1) % len(d.recent)
	if d.n < len(d.recent) {
		d.n++
	}
	return r, true
}

// dtmfSend is an RFC 4733 event the pacer is sending.
type dtmfSend struct {
	event   byte
	total   int // samples
	dur     int // samples so far
	started bool
	abort   bool // end early (caller cancelled)
	ended   int  // end packets sent
	ts      uint32
	done    chan struct{}
	err     error
}

func (d *dtmfSend) finish(err error) {
	d.err = err
	close(d.done)
}

// SendDTMF sends one RFC 4733 event of the given duration (with three end
// packets); an error if the peer has no telephone-event payload type.
//
// Update packets go out every 20 ms with the event's start timestamp, then
// three end packets (E bit) on the next ticks. Audio the stream is playing
// pauses for the event. Durations are clamped to 40 ms..5 s. Calls are
// serialised. When ctx is cancelled the event is ended early (its end
// packets are still sent) and ctx.Err() is returned.
func (s *Stream) SendDTMF(ctx context.Context, digit rune, d time.Duration) error {
	ev, ok := dtmfEventOf(digit)
	if !ok {
		return fmt.Errorf("media: %q is not a DTMF digit", digit)
	}
	d = min(max(d, dtmfMinDuration), dtmfMaxDuration)
	select {
	case s.dtmfSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.dtmfSem }()

	ds := &dtmfSend{event: ev, total: int(d / (time.Second / 8000)), done: make(chan struct{})}
	s.mu.Lock()
	switch {
	case s.closed.Load():
		s.mu.Unlock()
		return ErrClosed
	case s.dtmfPT == 0:
		s.mu.Unlock()
		return ErrNoDTMF
	}
	s.dtmf = ds
	s.mu.Unlock()

	select {
	case <-ds.done:
		return ds.err
	case <-ctx.Done():
		s.mu.Lock()
		ds.abort = true
		s.mu.Unlock()
		<-ds.done // the end packets take at most three ticks
		return ctx.Err()
	}
}

// dtmfTick sends the next packet of event d. Called with s.mu held.
func (s *Stream) dtmfTick(n int64, d *dtmfSend) {
	marker := false
	if !d.started {
		// The event starts a talkspurt at this tick; audio after it resumes
		// with a timestamp that counts the event's time.
		s.advance(n)
		d.ts = s.lastTs
		d.started = true
		s.needMarker = true
		marker = true
	}
	end := d.abort || d.ended > 0 || d.dur+samplesPerPacket >= d.total
	if !end {
		d.dur += samplesPerPacket
	} else if d.ended == 0 {
		d.dur = min(max(d.dur+samplesPerPacket, samplesPerPacket), d.total, 0xFFFF)
	}
	var payload [4]byte
	payload[0] = d.event
	payload[1] = dtmfVolume
	if end {
		payload[1] |= 0x80
		d.ended++
	}
	payload[2] = byte(d.dur >> 8)
	payload[3] = byte(d.dur)
	s.send(s.dtmfPT, marker, d.ts, payload[:])
	if d.ended >= dtmfEndPackets {
		s.dtmf = nil
		d.finish(nil)
	}
}
