package media

import (
	"testing"

	"github.com/pion/rtp"
)

func TestDTMFDedupe(t *testing.T) {
	// pkt builds an RFC 4733 packet: event, end bit, start timestamp.
	pkt := func(ssrc, ts uint32, ev byte, end bool) rtp.Packet {
		flags := byte(10) // volume
		if end {
			flags |= 0x80
		}
		return rtp.Packet{Header: rtp.Header{PayloadType: 101, SSRC: ssrc, Timestamp: ts}, Payload: []byte{ev, flags, 0, 160}}
	}
	event := func(ssrc, ts uint32, ev byte) []rtp.Packet {
		// start, two updates, three end packets: all with one timestamp
		return []rtp.Packet{pkt(ssrc, ts, ev, false), pkt(ssrc, ts, ev, false), pkt(ssrc, ts, ev, false),
			pkt(ssrc, ts, ev, true), pkt(ssrc, ts, ev, true), pkt(ssrc, ts, ev, true)}
	}
	cat := func(ps ...[]rtp.Packet) []rtp.Packet {
		var out []rtp.Packet
		for _, p := range ps {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		pkts []rtp.Packet
		want string
	}{
		{"one event, repeated end packets", event(1, 1000, 5), "5"},
		{"two events in order", cat(event(1, 1000, 5), event(1, 3000, 7)), "57"},
		// SIPp replays dtmf_2833_4.pcap (ts 37120) then dtmf_2833_1.pcap
		// (ts 13280) under the same SSRC: the second is a new event.
		{"a later event with a lower timestamp (SIPp pcaps)", cat(event(1, 37120, 4), event(1, 13280, 1)), "41"},
		{"a late packet of the previous event", cat(event(1, 1000, 5), event(1, 3000, 7), []rtp.Packet{pkt(1, 1000, 5, true)}), "57"},
		{"same digit twice", cat(event(1, 1000, 5), event(1, 2000, 5)), "55"},
		{"new SSRC starts afresh", cat(event(1, 1000, 5), event(2, 1000, 5)), "55"},
		{"payload too short", []rtp.Packet{{Header: rtp.Header{PayloadType: 101}, Payload: []byte{1}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d dtmfDedupe
			var got []rune
			for i := range tc.pkts {
				if r, ok := d.digit(&tc.pkts[i]); ok {
					got = append(got, r)
				}
			}
			if string(got) != tc.want {
				t.Fatalf("digits = %q, want %q", string(got), tc.want)
			}
		})
	}
}
