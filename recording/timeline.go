package recording

import (
	"encoding/binary"
	"io"
	"time"

	"github.com/hotline-cc/hotline/sip/media"
)

// window is how much audio (samples per channel) a timeline holds before
// writing it: packets later than this behind the newest are dropped.
const window = 2 * sampleRate

// reanchor: a packet whose RTP timestamp puts it further than this from
// its arrival starts a new anchor (a new talkspurt after a clock jump, a
// new source).
const reanchor = sampleRate / 10

// Segment is one bridge of the caller to one agent, as offsets in the file.
type Segment struct {
	Start time.Duration `json:"start"`
	End   time.Duration `json:"end"`
	Line  int           `json:"line"`            // 1 first line, 2 second line (set by the service)
	Agent string        `json:"agent,omitempty"` // set by the service
	peer  uint32
}

type anchor struct {
	set  bool
	ssrc uint32
	ts   uint32
	pos  int64
}

// timeline places tapped packets on the file's sample grid and writes
// stereo frames in order. It is used by one goroutine.
type timeline struct {
	w         io.Writer
	started   bool
	origin    time.Duration // tap time of sample 0: the first bridge
	committed int64         // samples written
	ring      [window * channels]int16
	anchors   [2]anchor
	segs      []Segment
	open      bool          // the last segment has no end yet
	lastEnd   time.Duration // tap time of the last unbridge
	late      uint64
	buf       []byte
	err       error
}

func newTimeline(w io.Writer) *timeline {
	return &timeline{w: w, buf: make([]byte, 0, 32<<10)} // a write a second per call
}

func (t *timeline) pos(at time.Duration) int64 {
	return int64((at - t.origin) * sampleRate / time.Second)
}

func (t *timeline) mark(m media.TapMark) {
	if !t.started {
		if !m.Start {
			return
		}
		t.started, t.origin = true, m.At
	}
	at := max(0, m.At-t.origin)
	switch {
	case m.Start && t.open && t.segs[len(t.segs)-1].peer == m.Peer:
		// the same agent again: one segment
	case m.Start:
		if t.open {
			t.segs[len(t.segs)-1].End = at
		}
		t.segs = append(t.segs, Segment{Start: at, peer: m.Peer})
		t.open = true
	case t.open && t.segs[len(t.segs)-1].peer == m.Peer:
		t.segs[len(t.segs)-1].End = at
		t.open = false
		t.lastEnd = m.At
	}
}

func (t *timeline) packet(p *media.TapPacket) {
	if !t.started || p.At < t.origin {
		return
	}
	side := int(p.Side) & 1
	n := int64(p.N)
	arrival := t.pos(p.At) - n // the packet's first sample, by arrival
	a := &t.anchors[side]
	pos := a.pos + int64(int32(p.TS-a.ts))
	if !a.set || a.ssrc != p.SSRC || pos-arrival > reanchor || arrival-pos > reanchor {
		*a = anchor{set: true, ssrc: p.SSRC, ts: p.TS, pos: max(0, arrival)}
		pos = a.pos
	}
	if end := pos + n; end > t.committed+window {
		t.flush(end - window)
	}
	var decode func(byte) int16
	switch p.PT {
	case media.PCMU.PT:
		decode = media.DecodeUlaw
	case media.PCMA.PT:
		decode = media.DecodeAlaw
	default:
		return
	}
	payload := p.Payload()
	if skip := t.committed - pos; skip > 0 {
		n := min(int(skip), len(payload))
		t.late += uint64(n)
		payload, pos = payload[n:], pos+int64(n)
	}
	i := (pos % window) * channels
	for _, b := range payload {
		t.ring[i+int64(side)] = decode(b)
		if i += channels; i == window*channels {
			i = 0
		}
	}
}

// flush writes the samples before upTo (silence where nobody spoke).
func (t *timeline) flush(upTo int64) {
	for t.committed < upTo {
		if t.err != nil {
			t.committed = upTo // keep counting time; nothing more is written
			return
		}
		i := (t.committed % window) * channels
		t.buf = binary.LittleEndian.AppendUint16(t.buf, uint16(t.ring[i]))
		t.buf = binary.LittleEndian.AppendUint16(t.buf, uint16(t.ring[i+1]))
		t.ring[i], t.ring[i+1] = 0, 0
		t.committed++
		if len(t.buf) == cap(t.buf) {
			t.write()
		}
	}
	t.write()
}

func (t *timeline) write() {
	if len(t.buf) == 0 || t.err != nil {
		t.buf = t.buf[:0]
		return
	}
	_, t.err = t.w.Write(t.buf)
	t.buf = t.buf[:0]
}

// finish writes everything up to the end: the last unbridge, or stop (tap
// time) when the call is still bridged.
func (t *timeline) finish(stop time.Duration) {
	if !t.started {
		return
	}
	end := t.lastEnd
	if t.open {
		end = stop
		t.segs[len(t.segs)-1].End = max(0, end-t.origin)
		t.open = false
	}
	t.flush(t.pos(end))
}

// duration is the audio written (or that would have been, after an error).
func (t *timeline) duration() time.Duration {
	return time.Duration(t.committed) * time.Second / sampleRate
}
