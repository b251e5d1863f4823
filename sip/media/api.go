// Package media moves audio for sip/native: RTP sessions on pion/rtp with a
// port pool, 20 ms pacing from a monotonic clock, G.711 µ-law/A-law, WAV
// prompts, music on hold, RFC 4733 DTMF in and out, a relay that bridges two
// streams, and an inactivity timeout for dead calls.
//
// THIS FILE IS THE AGREED API. Bodies marked TODO are filled in by the media
// work; signatures change only by agreement with sip/native.
package media

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/hotline-cc/hotline/sip"
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

// Sound is decoded audio: 8 kHz, 16-bit, mono linear PCM.
type Sound struct {
	Name string
	PCM  []int16
}

// Duration is the sound's length.
func (s *Sound) Duration() time.Duration {
	return time.Duration(len(s.PCM)) * time.Second / 8000
}

// LoadWAV reads an 8 kHz 16-bit mono PCM WAV file. Any other format is an
// error that names the file and what is wrong with it.
func LoadWAV(path string) (*Sound, error) { panic("TODO") }

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

// Catalog resolves prompts and music-on-hold classes to sounds, loading each
// file once and caching it (safe for concurrent use).
type Catalog struct{}

// NewCatalog loads the music-on-hold classes and checks the directories.
func NewCatalog(cfg CatalogConfig) (*Catalog, error) { panic("TODO") }

// Prompt returns the sound for p (silence for a Silence prompt). A missing
// file wraps sip.ErrUnknownPrompt and names what was searched.
func (c *Catalog) Prompt(p sip.Prompt) (*Sound, error) { panic("TODO") }

// Check resolves every prompt, for validation at start.
func (c *Catalog) Check(ps []sip.Prompt) error { panic("TODO") }

// MOH returns a class's sounds; an unknown class wraps sip.ErrUnknownMOH.
func (c *Catalog) MOH(class string) ([]*Sound, error) { panic("TODO") }

// EngineConfig configures the media engine.
type EngineConfig struct {
	IP                netip.Addr    // local address RTP sockets bind to
	PortMin, PortMax  int           // RTP port range (even ports used for RTP)
	InactivityTimeout time.Duration // no RTP received for this long → OnTimeout; 0 disables
	Logger            *slog.Logger
}

// Engine owns the port pool and the pacer that sends every stream's next
// 20 ms packet from one monotonic clock.
type Engine struct{}

// NewEngine starts the engine's pacer.
func NewEngine(cfg EngineConfig) (*Engine, error) { panic("TODO") }

// Close stops the pacer and closes every stream.
func (e *Engine) Close() error { panic("TODO") }

// StreamConfig describes one RTP stream with one peer.
type StreamConfig struct {
	// Remote is where the peer's SDP says to send; the stream latches to the
	// address packets really come from (symmetric RTP) after the first one.
	Remote netip.AddrPort
	Codec  Codec
	// DTMFPT is the peer's telephone-event payload type; 0 if it offered none
	// (digits are then neither sent as RFC 4733 nor expected).
	DTMFPT uint8
	// OnDigit is called once per RFC 4733 event (end packets deduplicated),
	// from the stream's receive goroutine; it must not block.
	OnDigit func(d rune)
	// OnTimeout is called once when no RTP arrived for the engine's
	// InactivityTimeout (not while on hold).
	OnTimeout func()
}

// Stream is one RTP session: a local port, a remote peer, what we send to it
// and what we receive from it.
type Stream struct{}

// NewStream allocates a port and starts receiving. Sending starts with the
// first Play/Loop/Bridge (silence is not sent before that).
func (e *Engine) NewStream(cfg StreamConfig) (*Stream, error) { panic("TODO") }

// LocalAddr is the address and port to put in our SDP.
func (s *Stream) LocalAddr() netip.AddrPort { panic("TODO") }

// Update applies a re-INVITE: new remote, codec, DTMF payload type.
func (s *Stream) Update(remote netip.AddrPort, codec Codec, dtmfPT uint8) { panic("TODO") }

// SetHold marks the peer on hold (it may stop sending: no inactivity timeout).
func (s *Stream) SetHold(hold bool) { panic("TODO") }

// Play sends sounds in order, paced, and returns when they have been sent,
// when ctx is cancelled (playback stops at once), or when the stream is
// closed. It replaces whatever the stream was sending.
func (s *Stream) Play(ctx context.Context, sounds []*Sound) error { panic("TODO") }

// Loop sends sounds in order, over and over, until Stop, Play, Bridge or Close.
func (s *Stream) Loop(sounds []*Sound) { panic("TODO") }

// Stop stops sending (Play returns, Loop ends).
func (s *Stream) Stop() { panic("TODO") }

// SendDTMF sends one RFC 4733 event of the given duration (with three end
// packets); an error if the peer has no telephone-event payload type.
func (s *Stream) SendDTMF(ctx context.Context, digit rune, d time.Duration) error { panic("TODO") }

// Bridge relays audio and DTMF between s and other in both directions,
// keeping each outgoing stream's SSRC and continuing its sequence numbers
// and timestamps, transcoding between µ-law and A-law when the codecs
// differ. It replaces whatever either stream was sending. The returned
// function undoes the bridge (both streams go quiet).
func (s *Stream) Bridge(other *Stream) (unbridge func()) { panic("TODO") }

// Stats counts packets, for tests and metrics.
type Stats struct {
	PacketsSent, PacketsReceived uint64
	BytesSent, BytesReceived     uint64
	LastReceived                 time.Time
}

// Stats returns the counters so far.
func (s *Stream) Stats() Stats { panic("TODO") }

// Close stops the stream and returns its port to the pool. Idempotent.
func (s *Stream) Close() error { panic("TODO") }
