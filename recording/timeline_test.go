package recording

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/sip/media"
)

// tone is n samples of a sine at freq, G.711-encoded with c, starting at
// sample off (continuous phase across packets).
func tone(c media.Codec, freq float64, off, n int) []byte {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(off+i)/sampleRate))
	}
	return c.Encode(nil, pcm)
}

func pkt(side media.TapSide, c media.Codec, at time.Duration, ssrc, ts uint32, payload []byte) *media.TapPacket {
	p := &media.TapPacket{Side: side, PT: c.PT, N: uint16(len(payload)), At: at, TS: ts, SSRC: ssrc}
	copy(p.Audio[:], payload)
	return p
}

// channelsOf splits interleaved frames.
func channelsOf(b []byte) (left, right []int16) {
	for i := 0; i+3 < len(b); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(b[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(b[i+2:])))
	}
	return left, right
}

func TestTimeline(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name string
		// the caller talks (left) from callerFrom to callerTo, the agent
		// (right) from agentFrom to agentTo, in packets of 20 ms; the
		// bridge is up from 1 s to end.
		callerFrom, callerTo, agentFrom, agentTo, end time.Duration
		agentJitter                                   time.Duration // added to every other agent packet's arrival
		wantDur                                       time.Duration
	}{
		{name: "both talk all along", callerFrom: 1000 * ms, callerTo: 4000 * ms, agentFrom: 1000 * ms, agentTo: 4000 * ms, end: 4000 * ms, wantDur: 3000 * ms},
		{name: "agent silent for a second", callerFrom: 1000 * ms, callerTo: 4000 * ms, agentFrom: 2500 * ms, agentTo: 4000 * ms, end: 4000 * ms, wantDur: 3000 * ms},
		{name: "silence at the end", callerFrom: 1000 * ms, callerTo: 2000 * ms, agentFrom: 1000 * ms, agentTo: 2000 * ms, end: 5000 * ms, wantDur: 4000 * ms},
		{name: "jittery agent", callerFrom: 1000 * ms, callerTo: 3000 * ms, agentFrom: 1000 * ms, agentTo: 3000 * ms, end: 3000 * ms, agentJitter: 35 * ms, wantDur: 2000 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			tl := newTimeline(&out)
			tl.mark(media.TapMark{At: 1000 * ms, Start: true, Peer: 7})
			type ev struct {
				at time.Duration
				p  *media.TapPacket
			}
			var evs []ev
			for at := tt.callerFrom; at < tt.callerTo; at += 20 * ms {
				n := int((at - tt.callerFrom) / (20 * ms))
				evs = append(evs, ev{at + 20*ms, pkt(media.TapNear, media.PCMA, at+20*ms, 1, 5000+uint32(n*160), tone(media.PCMA, 440, n*160, 160))})
			}
			for at := tt.agentFrom; at < tt.agentTo; at += 20 * ms {
				n := int((at - tt.agentFrom) / (20 * ms))
				arr := at + 20*ms
				if n%2 == 1 {
					arr += tt.agentJitter
				}
				evs = append(evs, ev{arr, pkt(media.TapFar, media.PCMU, arr, 2, 90000+uint32(n*160), tone(media.PCMU, 1300, n*160, 160))})
			}
			// deliver in arrival order
			for i := range evs {
				for j := i + 1; j < len(evs); j++ {
					if evs[j].at < evs[i].at {
						evs[i], evs[j] = evs[j], evs[i]
					}
				}
			}
			for _, e := range evs {
				tl.packet(e.p)
			}
			tl.mark(media.TapMark{At: tt.end, Start: false, Peer: 7})
			tl.finish(tt.end + time.Second) // stopped later: ends at the unbridge
			if d := tl.duration(); d != tt.wantDur {
				t.Fatalf("duration %v, want %v", d, tt.wantDur)
			}
			if got := time.Duration(out.Len()/frameBytes) * time.Second / sampleRate; got != tt.wantDur {
				t.Fatalf("wrote %v of audio, want %v", got, tt.wantDur)
			}
			left, right := channelsOf(out.Bytes())
			at := func(ch []int16, d time.Duration) []int16 {
				i := int(d * sampleRate / time.Second)
				return ch[i : i+800]
			}
			// a packet sent at t is placed at t (its arrival minus its length)
			silent := func(from, to, abs time.Duration) bool { return abs+100*ms <= from || abs >= to }
			for d := time.Duration(0); d+100*ms <= tt.wantDur; d += 100 * ms {
				abs := 1000*ms + d
				gotL := audiotest.Present(at(left, d), sampleRate, 0.5, 440, 1300)
				gotR := audiotest.Present(at(right, d), sampleRate, 0.5, 440, 1300)
				wantL := abs >= tt.callerFrom && abs+100*ms <= tt.callerTo
				wantR := abs >= tt.agentFrom && abs+100*ms <= tt.agentTo
				if wantL && (len(gotL) != 1 || gotL[0] != 440) {
					t.Errorf("left at %v: %v, want 440 Hz", d, gotL)
				}
				if wantR && (len(gotR) != 1 || gotR[0] != 1300) {
					t.Errorf("right at %v: %v, want 1300 Hz", d, gotR)
				}
				if silent(tt.callerFrom, tt.callerTo, abs) && len(gotL) != 0 {
					t.Errorf("left at %v: %v, want silence", d, gotL)
				}
				if silent(tt.agentFrom, tt.agentTo, abs) && len(gotR) != 0 {
					t.Errorf("right at %v: %v, want silence", d, gotR)
				}
			}
			if len(tl.segs) != 1 || tl.segs[0].Start != 0 || tl.segs[0].End != tt.wantDur {
				t.Errorf("segments %+v", tl.segs)
			}
		})
	}
}

func TestTimelineSegments(t *testing.T) {
	const ms = time.Millisecond
	var out bytes.Buffer
	tl := newTimeline(&out)
	for _, m := range []media.TapMark{
		{At: 500 * ms, Start: true, Peer: 1},   // first line
		{At: 2500 * ms, Start: false, Peer: 1}, // the caller on hold
		{At: 4000 * ms, Start: true, Peer: 2},  // second line
		{At: 4100 * ms, Start: false, Peer: 1}, // a stale unbridge of the first: ignored
	} {
		tl.mark(m)
	}
	tl.finish(6000 * ms) // stopped while bridged to second line
	want := []Segment{{Start: 0, End: 2000 * ms, peer: 1}, {Start: 3500 * ms, End: 5500 * ms, peer: 2}}
	if len(tl.segs) != 2 || tl.segs[0] != want[0] || tl.segs[1] != want[1] {
		t.Fatalf("segments %+v, want %+v", tl.segs, want)
	}
	if tl.duration() != 5500*ms {
		t.Fatalf("duration %v", tl.duration())
	}
}
