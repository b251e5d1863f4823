package media

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/pion/rtp"
)

// Fuzz targets for what sip/media reads from the network and from disk:
// RFC 4733 telephone-event packets on the receive path and WAV files.
// Seeds are in testdata/fuzz/<target>; see docs/fuzzing.md.

// rtpDigits are the digits an RFC 4733 event can give.
const rtpDigits = "0123456789*#ABCD"

// FuzzDTMFReceive feeds datagrams through what Stream.receive does with
// them (rtp.Packet.Unmarshal into one reused packet, the version check,
// dtmfDedupe) in the order p1, p1, p2, p3, p1: a first delivery, a
// retransmission, two more packets and a late copy of the first. Every
// digit must be the event code's digit, and the digits must be exactly
// those of dedupeModel: one per event (SSRC and start timestamp).
func FuzzDTMFReceive(f *testing.F) {
	f.Add(rtpEvent(1000, 5, false), rtpEvent(1000, 5, true), rtpEvent(2000, 7, false))
	f.Fuzz(func(t *testing.T, p1, p2, p3 []byte) {
		var (
			pkt   rtp.Packet
			dd    dtmfDedupe
			model dedupeModel
		)
		for i, dgram := range [][]byte{p1, p1, p2, p3, p1} {
			buf := bytes.Clone(dgram) // receive reuses its buffer
			if pkt.Unmarshal(buf) != nil || pkt.Version != 2 {
				continue
			}
			again := roundTrip(t, &pkt)
			d, ok := dd.digit(&pkt)
			if want, wantOK := model.digit(again); d != want || ok != wantOK {
				t.Fatalf("datagram %d (ssrc %d ts %d payload % x): digit %q %v, want %q %v",
					i, pkt.SSRC, pkt.Timestamp, pkt.Payload, d, ok, want, wantOK)
			}
			if ok && (!strings.ContainsRune(rtpDigits, d) || len(pkt.Payload) < 4) {
				t.Fatalf("digit %q from payload % x", d, pkt.Payload)
			}
		}
	})
}

// roundTrip checks that what the relay would send (pkt marshalled again)
// reads back with the fields DTMF depends on, and returns that copy.
func roundTrip(t *testing.T, pkt *rtp.Packet) rtp.Packet {
	t.Helper()
	raw, err := pkt.Marshal()
	if err != nil {
		t.Fatalf("marshal a packet we read: %v", err)
	}
	var back rtp.Packet
	if err := back.Unmarshal(raw); err != nil {
		t.Fatalf("unmarshal a packet we wrote: %v", err)
	}
	if back.SSRC != pkt.SSRC || back.Timestamp != pkt.Timestamp || back.PayloadType != pkt.PayloadType ||
		!bytes.Equal(back.Payload, pkt.Payload) {
		t.Fatalf("round trip: %v, want %v", back.Header, pkt.Header)
	}
	return back
}

// dedupeModel is the specification of dtmfDedupe for a few packets: a
// packet with an event code 0..15 gives that digit unless an earlier one of
// the same SSRC, with no other SSRC in between, had its timestamp.
type dedupeModel struct {
	ssrc uint32
	have bool
	seen []uint32
}

func (m *dedupeModel) digit(p rtp.Packet) (rune, bool) {
	if len(p.Payload) < 4 || p.Payload[0] > 15 {
		return 0, false
	}
	if !m.have || m.ssrc != p.SSRC {
		m.have, m.ssrc, m.seen = true, p.SSRC, nil
	}
	if slices.Contains(m.seen, p.Timestamp) {
		return 0, false
	}
	m.seen = append(m.seen, p.Timestamp)
	return rune(rtpDigits[p.Payload[0]]), true
}

// rtpEvent is an RFC 4733 packet of event ev starting at ts, as a phone
// sends it (payload type 101, volume 10, duration 160).
func rtpEvent(ts uint32, ev byte, end bool) []byte {
	flags := byte(10)
	if end {
		flags |= 0x80
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: DefaultDTMFPT, SequenceNumber: 1, Timestamp: ts, SSRC: 0x1234}, Payload: []byte{ev, flags, 0, 160}}
	b, _ := p.Marshal()
	return b
}

// FuzzParseWAV checks ParseWAV, which LoadWAV runs on every prompt and
// music-on-hold file. An error must say what is wrong; an accepted image
// must have every fmt chunk before its data chunk saying 8 kHz, mono,
// 16-bit linear PCM, hold the samples it returns, and a canonical WAV of
// those samples must parse back to them.
func FuzzParseWAV(f *testing.F) {
	f.Add(wavImage(wavFormatPCM, 1, 8000, 16, []byte{1, 0, 0xff, 0x7f}))
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, err := ParseWAV(b)
		if err != nil {
			if pcm != nil || err.Error() == "" {
				t.Fatalf("error %q with %d samples", err, len(pcm))
			}
			return
		}
		fmts := wavFmtChunks(b)
		if len(fmts) == 0 {
			t.Fatal("accepted without a fmt chunk before the data")
		}
		for _, c := range fmts {
			if c.format != wavFormatPCM || c.channels != 1 || c.rate != 8000 || c.bits != 16 {
				t.Fatalf("accepted fmt %+v, want PCM mono 8000 Hz 16-bit", c)
			}
		}
		if least := 12 + 8 + 16 + 8 + 2*len(pcm); len(b) < least {
			t.Fatalf("%d samples from %d bytes", len(pcm), len(b))
		}
		data := make([]byte, 0, 2*len(pcm))
		for _, s := range pcm {
			data = binary.LittleEndian.AppendUint16(data, uint16(s))
		}
		back, err := ParseWAV(wavImage(wavFormatPCM, 1, 8000, 16, data))
		if err != nil || !slices.Equal(back, pcm) {
			t.Fatalf("canonical image of the samples: %d samples, err %v; want %d", len(back), err, len(pcm))
		}
	})
}

// wavFmt is what a fmt chunk says, the extensible format tag resolved.
type wavFmt struct {
	format, channels uint16
	rate             uint32
	bits             uint16
}

// wavFmtChunks lists the fmt chunks of a RIFF image up to its first data
// chunk, walking the chunks independently of ParseWAV.
func wavFmtChunks(b []byte) []wavFmt {
	var out []wavFmt
	for off := uint64(12); off+8 <= uint64(len(b)); {
		id := string(b[off : off+4])
		size := uint64(binary.LittleEndian.Uint32(b[off+4:]))
		if id == "data" || off+8+size > uint64(len(b)) {
			break
		}
		if c := b[off+8 : off+8+size]; id == "fmt " && len(c) >= 16 {
			w := wavFmt{binary.LittleEndian.Uint16(c), binary.LittleEndian.Uint16(c[2:]), binary.LittleEndian.Uint32(c[4:]), binary.LittleEndian.Uint16(c[14:])}
			if w.format == wavFormatExtensible && len(c) >= 26 {
				w.format = binary.LittleEndian.Uint16(c[24:])
			}
			out = append(out, w)
		}
		off += 8 + size + size&1
	}
	return out
}
