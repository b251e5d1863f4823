package media

import (
	"context"
	"testing"

	"github.com/pion/rtp"
)

// sendAudio sends n packets of tone from p to s, starting at seq/ts.
func sendAudio(p *peer, to *Stream, c Codec, ssrc uint32, seq uint16, ts uint32, n int) [][]byte {
	var sent [][]byte
	snd := tone(n*samplesPerPacket, 12000)
	for i := range n {
		payload := c.Encode(nil, snd.PCM[i*samplesPerPacket:(i+1)*samplesPerPacket])
		p.send(to.LocalAddr(), rtp.Header{Marker: i == 0, PayloadType: c.PT, SequenceNumber: seq + uint16(i),
			Timestamp: ts + uint32(i*samplesPerPacket), SSRC: ssrc}, payload)
		sent = append(sent, payload)
	}
	return sent
}

func transcode(b []byte, from, to Codec) []byte {
	out := append([]byte(nil), b...)
	for i, c := range out {
		switch {
		case from == PCMU && to == PCMA:
			out[i] = UlawToAlaw(c)
		case from == PCMA && to == PCMU:
			out[i] = AlawToUlaw(c)
		}
	}
	return out
}

func TestRelay(t *testing.T) {
	tests := []struct {
		name           string
		codecA, codecB Codec
		dtmfA, dtmfB   uint8
	}{
		{"PCMU to PCMA", PCMU, PCMA, 101, 96},
		{"PCMA to PCMU", PCMA, PCMU, 101, 101},
		{"same codec", PCMU, PCMU, 101, 101},
		{"B without DTMF", PCMA, PCMU, 101, 0},
	}
	e := testEngine(t, 20, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pa, pb := newPeer(t), newPeer(t)
			digitsA := make(chan rune, 10)
			a := newStream(t, e, pa, StreamConfig{Codec: tt.codecA, DTMFPT: tt.dtmfA, OnDigit: func(d rune) { digitsA <- d }})
			b := newStream(t, e, pb, StreamConfig{Codec: tt.codecB, DTMFPT: tt.dtmfB})

			// Both streams played a prompt before the bridge.
			if err := b.Play(context.Background(), []*Sound{tone(480, 3000)}); err != nil {
				t.Fatal(err)
			}
			beforeB := pb.take(3)
			if err := a.Play(context.Background(), []*Sound{tone(320, 3000)}); err != nil {
				t.Fatal(err)
			}
			beforeA := pa.take(2)

			unbridge := a.Bridge(b)
			if !a.Bridged() || !b.Bridged() {
				t.Fatal("not bridged")
			}

			// A → B: audio, transcoded, renumbered into B's stream.
			sent := sendAudio(pa, a, tt.codecA, 0xAAAA, 1000, 50000, 5)
			got := pb.take(5)
			lastB := beforeB[len(beforeB)-1]
			if got[0].SequenceNumber != lastB.SequenceNumber+1 || got[0].SSRC != lastB.SSRC || !got[0].Marker {
				t.Fatalf("first relayed packet seq %d SSRC %#x marker %v; prompt ended with seq %d SSRC %#x",
					got[0].SequenceNumber, got[0].SSRC, got[0].Marker, lastB.SequenceNumber, lastB.SSRC)
			}
			if d := got[0].Timestamp - lastB.Timestamp; d < samplesPerPacket || d > uint32(8*wait.Milliseconds()) {
				t.Fatalf("timestamp moved by %d from the prompt to the bridge", d)
			}
			checkContinuous(t, got)
			for i, pkt := range got {
				if pkt.PayloadType != tt.codecB.PT || string(pkt.Payload) != string(transcode(sent[i], tt.codecA, tt.codecB)) {
					t.Fatalf("packet %d: PT %d, payload not the transcoded audio", i, pkt.PayloadType)
				}
			}

			// A → B: an RFC 4733 event passes through on B's PT (or not at
			// all), and A's OnDigit fires once.
			ev := dtmfPackets(tt.dtmfA, 7, 1005, 50000+5*160)
			for _, pkt := range ev {
				pa.send(a.LocalAddr(), pkt.Header, pkt.Payload)
			}
			if d := <-digitsA; d != '7' {
				t.Fatalf("OnDigit %q during bridge", d)
			}
			lastRelayed := got[len(got)-1]
			if tt.dtmfB != 0 {
				dt := pb.take(len(ev))
				lastRelayed = dt[len(dt)-1]
				for i, pkt := range dt {
					if pkt.PayloadType != tt.dtmfB || pkt.SSRC != b.SSRC() || string(pkt.Payload) != string(ev[i].Payload) {
						t.Fatalf("relayed event packet %d: PT %d SSRC %#x payload %x", i, pkt.PayloadType, pkt.SSRC, pkt.Payload)
					}
					if pkt.Timestamp != got[4].Timestamp+samplesPerPacket {
						t.Fatalf("event timestamp %d, audio ended at %d", pkt.Timestamp, got[4].Timestamp)
					}
				}
			}
			// B → A, the other way round, continues A's stream.
			sentB := sendAudio(pb, b, tt.codecB, 0xBBBB, 7, 123, 3)
			gotA := pa.take(3)
			lastA := beforeA[len(beforeA)-1]
			if gotA[0].SequenceNumber != lastA.SequenceNumber+1 || gotA[0].SSRC != a.SSRC() {
				t.Fatalf("B→A seq %d SSRC %#x, A's prompt ended at seq %d", gotA[0].SequenceNumber, gotA[0].SSRC, lastA.SequenceNumber)
			}
			checkContinuous(t, gotA)
			for i, pkt := range gotA {
				if pkt.PayloadType != tt.codecA.PT || string(pkt.Payload) != string(transcode(sentB[i], tt.codecB, tt.codecA)) {
					t.Fatalf("B→A packet %d not transcoded", i)
				}
			}
			if tt.dtmfB == 0 && len(pb.pkts) != 0 {
				t.Fatalf("%d event packets reached a peer without telephone-event", len(pb.pkts))
			}

			// Unbridge: nothing more is relayed, and B's next prompt
			// continues B's numbering after the relayed packets.
			unbridge()
			unbridge()
			recv := a.Stats().PacketsReceived
			sendAudio(pa, a, tt.codecA, 0xAAAA, 2000, 90000, 1)
			eventually(t, "packet after unbridge", func() bool { return a.Stats().PacketsReceived > recv })
			after := tone(160, 321)
			if err := b.Play(context.Background(), []*Sound{after}); err != nil {
				t.Fatal(err)
			}
			pkt := pb.next()
			if string(pkt.Payload) != string(tt.codecB.Encode(nil, after.PCM)) {
				t.Fatal("audio relayed after unbridge")
			}
			if pkt.SequenceNumber != lastRelayed.SequenceNumber+1 || !pkt.Marker || pkt.SSRC != b.SSRC() ||
				int32(pkt.Timestamp-lastRelayed.Timestamp) <= 0 {
				t.Fatalf("prompt after bridge: seq %d ts %d marker %v; last relayed seq %d ts %d",
					pkt.SequenceNumber, pkt.Timestamp, pkt.Marker, lastRelayed.SequenceNumber, lastRelayed.Timestamp)
			}
		})
	}
}

func TestBridgeReplacesAndClose(t *testing.T) {
	e := testEngine(t, 10, nil)
	pa, pb, pc := newPeer(t), newPeer(t), newPeer(t)
	a := newStream(t, e, pa, StreamConfig{})
	b := newStream(t, e, pb, StreamConfig{})
	c := newStream(t, e, pc, StreamConfig{})
	music := playAsync(a, context.Background(), tone(8000*60, 100))
	pa.next()
	a.Bridge(b)
	if err := waitErr(t, music); err != ErrStopped {
		t.Fatalf("Play during Bridge returned %v", err)
	}
	a.Bridge(c) // ends a↔b
	if b.Bridged() || !c.Bridged() {
		t.Fatal("re-bridge did not move the bridge")
	}
	c.Close()
	if a.Bridged() {
		t.Fatal("closing c left a bridged")
	}
	if f := a.Bridge(a); f == nil {
		t.Fatal("nil unbridge")
	}
}
