package media

import (
	"bytes"
	"testing"
)

// TestTap: a tap on one stream of a bridge gets both directions (near: its
// peer, far: what is relayed to its peer) and the bridge's marks; when
// nobody drains it, the relay goes on at full rate and the tap counts
// what it dropped.
func TestTap(t *testing.T) {
	e := testEngine(t, 10, nil)
	pa, pb := newPeer(t), newPeer(t)
	a := newStream(t, e, pa, StreamConfig{Codec: PCMA})
	b := newStream(t, e, pb, StreamConfig{Codec: PCMU})
	tap := NewTap(4)
	a.SetTap(tap)
	unbridge := a.Bridge(b)

	sentA := sendAudio(pa, a, PCMA, 0xA, 100, 1000, 2)
	pb.take(2)
	sentB := sendAudio(pb, b, PCMU, 0xB, 500, 9000, 2)
	pa.take(2)
	var got []TapPacket
	for range 4 {
		got = append(got, <-tap.Packets())
	}
	for i, p := range got {
		want, side, pt := sentA, TapNear, PCMA.PT
		if i >= 2 {
			want, side, pt = sentB, TapFar, PCMU.PT
		}
		if p.Side != side || p.PT != pt || !bytes.Equal(p.Payload(), want[i%2]) || p.TS != uint32(1000+(i%2)*160) && side == TapNear {
			t.Errorf("packet %d: side %d pt %d ts %d, payload equal %v", i, p.Side, p.PT, p.TS, bytes.Equal(p.Payload(), want[i%2]))
		}
	}
	marks := tap.TakeMarks()
	if len(marks) != 1 || !marks[0].Start || marks[0].Peer != b.ssrc {
		t.Fatalf("marks %+v, want one bridge start with peer %#x", marks, b.ssrc)
	}

	// Nobody drains the tap now: every packet is still relayed.
	sendAudio(pa, a, PCMA, 0xA, 102, 1320, 50)
	pb.take(50)
	if d := tap.Dropped(); d != 46 {
		t.Errorf("dropped %d, want 46 (50 sent, 4 fit)", d)
	}
	unbridge()
	if m := tap.TakeMarks(); len(m) != 1 || m[0].Start || m[0].Peer != b.ssrc {
		t.Errorf("marks after unbridge %+v", m)
	}
	a.SetTap(nil)
	// Without a tap nothing is offered.
	b2 := newStream(t, e, newPeer(t), StreamConfig{Codec: PCMA})
	a.Bridge(b2)
	if len(tap.TakeMarks()) != 0 {
		t.Error("a removed tap got a mark")
	}
}
