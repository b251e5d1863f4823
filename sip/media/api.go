// Package media moves audio for sip/native: RTP sessions on pion/rtp with a
// port pool, 20 ms pacing from a monotonic clock, G.711 µ-law/A-law, WAV
// prompts, music on hold, RFC 4733 DTMF in and out, a relay that bridges two
// streams, and an inactivity timeout for dead calls.
//
// # Design
//
// An Engine owns the RTP port pool and a small set of pacer goroutines (one
// per CPU). Every stream is assigned to one pacer; on each 20 ms tick (tick n
// is due at start+n·20 ms of the monotonic clock, so sleeps never accumulate
// drift) the pacer sends the next packet of every stream that plays a prompt,
// loops music or sends an RFC 4733 event. Prompts are encoded once per codec
// and cached on the Sound, so a tick costs a header and a send per stream.
// The pacers also run the inactivity check once a second.
//
// Each stream has one goroutine reading its UDP socket (Go's netpoller makes
// that cheap). It latches the destination to the source of the first valid
// RTP packet (symmetric RTP), deduplicates RFC 4733 events and, while the
// stream is bridged, relays each packet at once to the other stream's peer
// with that stream's SSRC, sequence numbers and timestamps, transcoding
// PCMU↔PCMA by table when the codecs differ. The receive and relay path does
// not allocate.
//
// An outgoing stream keeps one SSRC for its life and one sequence number
// space across prompts, music, DTMF and relayed audio. RTP timestamps follow
// the pacer clock: they advance by 160 per packet within a talkspurt and by
// the elapsed time across a pause, and the first packet after a pause (or a
// switch between relayed and local audio) carries the marker bit.
package media

import (
	"errors"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"
)

// Codec is an RTP audio codec hotline speaks.
type Codec struct {
	Name string // "PCMU" or "PCMA"
	PT   uint8  // static payload type: 0 or 8
}

var (
	PCMU = Codec{Name: "PCMU", PT: 0}
	PCMA = Codec{Name: "PCMA", PT: 8}
)

// DefaultDTMFPT is the payload type hotline offers for telephone-event.
const DefaultDTMFPT = 101

// Packetisation: 20 ms of 8 kHz audio per packet.
const (
	packetDuration   = 20 * time.Millisecond
	samplesPerPacket = 160
)

// Errors returned by streams, in addition to the sip package's.
var (
	// ErrClosed is returned by Play and SendDTMF when the stream is (or
	// gets) closed, and by NewStream after Engine.Close.
	ErrClosed = errors.New("media: stream closed")
	// ErrStopped is returned by Play when Stop, another Play, Loop or
	// Bridge replaced the playback.
	ErrStopped = errors.New("media: playback stopped")
	// ErrPortsExhausted is wrapped by NewStream when no RTP port is free.
	ErrPortsExhausted = errors.New("media: RTP port pool exhausted")
	// ErrNoDTMF is returned by SendDTMF when the peer negotiated no
	// telephone-event payload type.
	ErrNoDTMF = errors.New("media: peer has no telephone-event payload type")
)

// Sound is decoded audio: 8 kHz, 16-bit, mono linear PCM. A Sound must not
// be modified once it has been played: its encodings are cached.
type Sound struct {
	Name string
	PCM  []int16

	enc [2]atomic.Pointer[[]byte] // per codec (index codecIndex), padded to whole packets
}

// Duration is the sound's length.
func (s *Sound) Duration() time.Duration {
	return time.Duration(len(s.PCM)) * time.Second / 8000
}

// Packets is the number of 20 ms packets the sound is sent as (the last
// partial packet padded with silence).
func (s *Sound) Packets() int {
	return (len(s.PCM) + samplesPerPacket - 1) / samplesPerPacket
}

func codecIndex(c Codec) int {
	if c.PT == PCMA.PT {
		return 1
	}
	return 0
}

// encoded returns the sound encoded in c, padded with silence to whole
// packets, encoding it on first use.
func (s *Sound) encoded(c Codec) []byte {
	slot := &s.enc[codecIndex(c)]
	if p := slot.Load(); p != nil {
		return *p
	}
	n := s.Packets() * samplesPerPacket
	b := c.Encode(make([]byte, 0, n), s.PCM)
	for len(b) < n {
		b = append(b, c.silenceByte())
	}
	slot.CompareAndSwap(nil, &b)
	return *slot.Load()
}

// CatalogConfig says where sounds live.
type CatalogConfig struct {
	// Langs maps a language ("ru", "en") to directories searched in order for
	// "<dir>/<name>.wav" (e.g. a custom prompt dir, then
	// /usr/share/asterisk/sounds/ru).
	Langs map[string][]string
	// DefaultLang is used for prompts with no Lang; "ru" when empty.
	DefaultLang string
	// MOH maps a class name to a directory of WAV files played in a loop in
	// name order. Every file is loaded and checked by NewCatalog.
	MOH map[string]string
}

// EngineConfig configures the media engine.
type EngineConfig struct {
	IP                netip.Addr    // local address RTP sockets bind to
	PortMin, PortMax  int           // RTP port range (even ports used for RTP)
	InactivityTimeout time.Duration // no RTP received for this long → OnTimeout; 0 disables
	Logger            *slog.Logger
	// PrecisePacing (Linux) kicks the pacers' wake-ups with a timerfd so an
	// idle process does not oversleep by up to 1 ms: pacing jitter p99
	// ≈ 0.3–0.5 ms instead of ≈ 1.1 ms at 1,000 streams, for ≈ 5 % more CPU
	// per stream (docs/bench-media.md). Elsewhere it has no effect.
	PrecisePacing bool
	// Mux multiplexes RTP: one UDP socket per pacer (per CPU) carries many
	// streams, told apart by the peer's address, with batched receive and
	// send (mux.go). ≈ N× the bridged calls per core, but a phone behind NAT
	// whose SDP names its private address hears nothing (docs/bench-media.md,
	// docs/configuration.md media.rtp_mux). SRTP streams, and streams whose
	// peer address another stream on every socket already expects, get
	// their own port as without Mux.
	Mux bool
}

// StreamConfig describes one RTP stream with one peer.
type StreamConfig struct {
	// Remote is where the peer's SDP says to send; the stream latches to the
	// address packets really come from (symmetric RTP) after the first one.
	Remote netip.AddrPort
	Codec  Codec
	// DTMFPT is the peer's telephone-event payload type; 0 if it offered none
	// (digits are then not sent as RFC 4733; received events on the common
	// payload type 101 are still accepted, as many phones send them anyway).
	DTMFPT uint8
	// OnDigit is called once per RFC 4733 event (end packets deduplicated),
	// from the stream's receive goroutine; it must not block.
	OnDigit func(d rune)
	// OnTimeout is called once when no RTP arrived for the engine's
	// InactivityTimeout (not while on hold).
	OnTimeout func()
	// OnAudio, when set, is called with each received G.711 payload (pt 0
	// or 8), from the stream's receive goroutine; it must not block or keep
	// payload (tests use it to hear what a peer received).
	OnAudio func(pt uint8, payload []byte)
	// SRTP makes the stream SRTP only (srtp.go): it sends and accepts
	// nothing until Stream.SetSRTPKeys.
	SRTP bool
}

// Stats counts packets, for tests and metrics.
type Stats struct {
	PacketsSent, PacketsReceived uint64
	BytesSent, BytesReceived     uint64
	LastReceived                 time.Time
}
