package media

import (
	"bytes"
	"context"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

func srtpKey(t *testing.T) []byte {
	t.Helper()
	k, err := NewSRTPKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSRTPOnTheWire: what an SRTP stream sends is encrypted and
// authenticated with its local key (a separate pion/srtp context with that
// key recovers the exact G.711 payload); before the keys are set it sends
// nothing.
func TestSRTPOnTheWire(t *testing.T) {
	e := testEngine(t, 4, nil)
	p := newPeer(t)
	s := newStream(t, e, p, StreamConfig{Codec: PCMU, SRTP: true})
	snd := tone(1600, 20000) // 10 packets

	if err := s.Play(context.Background(), []*Sound{snd}); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.PacketsSent != 0 || !p.quiet() {
		t.Fatalf("sent %d packets before the keys were set", st.PacketsSent)
	}

	local, remote := srtpKey(t), srtpKey(t)
	if err := s.SetSRTPKeys(local, remote); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSRTPKeys(local[:29], remote); err != ErrSRTPKey {
		t.Fatalf("short key: %v", err)
	}
	if err := s.Play(context.Background(), []*Sound{snd}); err != nil {
		t.Fatal(err)
	}
	pkts := p.take(snd.Packets())
	dec, err := srtp.CreateContext(local[:16], local[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		t.Fatal(err)
	}
	want := snd.encoded(PCMU)
	for i, pkt := range pkts {
		plainPayload := want[i*samplesPerPacket : (i+1)*samplesPerPacket]
		if len(pkt.Payload) != samplesPerPacket+10 || bytes.Equal(pkt.Payload[:samplesPerPacket], plainPayload) {
			t.Fatalf("packet %d: %d bytes of payload, in clear: %v", i, len(pkt.Payload), bytes.Equal(pkt.Payload[:samplesPerPacket], plainPayload))
		}
		raw, _ := pkt.Marshal()
		out, err := dec.DecryptRTP(nil, raw, nil)
		if err != nil {
			t.Fatalf("packet %d does not authenticate with the local key: %v", i, err)
		}
		var back rtp.Packet
		if err := back.Unmarshal(out); err != nil || !bytes.Equal(back.Payload, plainPayload) {
			t.Fatalf("packet %d: decrypted payload differs (%v)", i, err)
		}
	}
}

// TestSRTPBetweenStreams: two SRTP streams with crossed keys hear each
// other; a plain RTP packet, or one protected with another key, is not
// media (not counted, not latched to), and a bridge relays from an SRTP
// stream to a plain one in clear.
func TestSRTPBetweenStreams(t *testing.T) {
	e := testEngine(t, 8, nil)
	ka, kb := srtpKey(t), srtpKey(t)
	pa, pb := newPeer(t), newPeer(t)
	a := newStream(t, e, pa, StreamConfig{Codec: PCMU, SRTP: true})
	b := newStream(t, e, pb, StreamConfig{Codec: PCMU, SRTP: true})
	a.Update(b.LocalAddr(), PCMU, 0)
	b.Update(a.LocalAddr(), PCMU, 0)
	if err := a.SetSRTPKeys(ka, kb); err != nil {
		t.Fatal(err)
	}
	if err := b.SetSRTPKeys(kb, ka); err != nil {
		t.Fatal(err)
	}
	snd := tone(1600, 20000)
	if err := a.Play(context.Background(), []*Sound{snd}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b receives a's 10 packets", func() bool { return b.Stats().PacketsReceived == 10 })

	// Plain RTP and SRTP under a stranger's key, then one genuine packet:
	// only the genuine one counts (loopback keeps one sender's order).
	pa.send(b.LocalAddr(), rtp.Header{PayloadType: 0, SequenceNumber: 1, SSRC: 7}, make([]byte, 160))
	stranger, _ := srtp.CreateContext(srtpKey(t)[:16], srtpKey(t)[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	raw, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 2, SSRC: 7}, Payload: make([]byte, 160)}).Marshal()
	forged, _ := stranger.EncryptRTP(nil, raw, nil)
	if _, err := pa.conn.WriteToUDPAddrPort(forged, b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if err := a.Play(context.Background(), []*Sound{tone(160, 1000)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b receives a's next packet", func() bool { return b.Stats().PacketsReceived >= 11 })
	if got := b.Stats().PacketsReceived; got != 11 {
		t.Fatalf("b counted %d packets; want 11 (plain and forged ones dropped)", got)
	}

	// Bridge b to a plain stream c: what a sends (SRTP) reaches c's peer
	// decrypted and re-stamped.
	pc := newPeer(t)
	c := newStream(t, e, pc, StreamConfig{Codec: PCMU})
	defer b.Bridge(c)()
	if err := a.Play(context.Background(), []*Sound{snd}); err != nil {
		t.Fatal(err)
	}
	want := snd.encoded(PCMU)
	for i, pkt := range pc.take(snd.Packets()) {
		if pkt.SSRC != c.SSRC() || !bytes.Equal(pkt.Payload, want[i*samplesPerPacket:(i+1)*samplesPerPacket]) {
			t.Fatalf("relayed packet %d: ssrc %x (want %x), payload in clear %v", i, pkt.SSRC, c.SSRC(), bytes.Equal(pkt.Payload, want[i*samplesPerPacket:(i+1)*samplesPerPacket]))
		}
	}
}
