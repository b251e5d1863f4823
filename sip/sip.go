// Package sip is the contract between hotline's call logic (IVR, queues, survey)
// and a telephony switch. A Switch hands over inbound call legs and dials
// outbound ones; a Leg answers, plays prompts, reads DTMF, holds with music,
// bridges to another leg and hangs up.
//
// Two implementations exist: sip/native (hotline's own SIP stack) and
// sip/asterisk (an existing Asterisk driven over ARI). The contract uses the
// standard library only and stays small enough to be implemented over ARI.
package sip

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Switch is a telephony switch as seen by call logic.
type Switch interface {
	// Incoming delivers inbound legs that are not yet answered. The channel is
	// closed when the switch shuts down.
	Incoming() <-chan Leg
	// Dial places an outbound call and returns the answered leg. A call that
	// is not answered returns a *DialError with its Cause. Cancelling ctx
	// before the answer cancels the call (CauseCancelled).
	Dial(ctx context.Context, t Target) (Leg, error)
}

// Target says whom to dial: exactly one of Agent or Number is set.
type Target struct {
	// Agent is the SIP user of a registered agent; all its contacts ring and
	// the first to answer wins.
	Agent string
	// Browser rings only Agent's contacts registered from the desk's
	// browser softphone (SIP over WebSocket): a supervisor who chose to
	// monitor "in the browser". A switch without such contacts (Asterisk
	// mode) fails the dial as unreachable.
	Browser bool
	// Number is a phone number (E.164 preferred) dialled through Trunk.
	Number string
	// Trunk names the trunk for Number; empty means the switch's default.
	Trunk string
	// CallerID is presented to the callee (From user and P-Asserted-Identity
	// on SIP). Empty means the switch's configured default.
	CallerID string
	// CallerName is the display name presented to the callee.
	CallerName string
	// RingTimeout bounds the ringing; zero means the switch's default.
	RingTimeout time.Duration
	// Headers carries extra information for the callee's display, such as
	// the queue name; implementations may ignore it.
	Headers map[string]string
}

func (t Target) String() string {
	if t.Agent != "" {
		return "agent:" + t.Agent
	}
	return "number:" + t.Number
}

// Direction tells who placed a call.
type Direction int

const (
	Inbound  Direction = iota // the peer called hotline
	Outbound                  // hotline dialled the peer
)

func (d Direction) String() string {
	if d == Outbound {
		return "outbound"
	}
	return "inbound"
}

// CallInfo describes a leg. It does not change after the leg is created.
type CallInfo struct {
	ID        string    // unique within the switch, stable for the leg's life
	Direction Direction //
	From      string    // calling party: the caller's number (trunk) or agent user
	FromName  string    // display name, if any
	To        string    // called party: the dialled number or extension
	Trunk     string    // trunk name for legs that came in over a trunk
	Agent     string    // authenticated agent user for legs from or to an agent phone
	Codec     string    // negotiated audio codec, "PCMU" or "PCMA"
	Created   time.Time // when the switch saw the leg first
	// Resumed: the call was in progress before this switch instance took
	// it over (Asterisk mode: re-adopted after a hotline restart). Its
	// history so far is in the event log, written by the earlier process.
	Resumed bool
}

// Leg is one call leg between hotline and a peer. Methods that wait (Play,
// ReadDigits, Bridge) return early with ErrHangup once the leg has ended,
// and with ctx.Err() when ctx is cancelled.
type Leg interface {
	Info() CallInfo
	// Answer answers an inbound leg (200 OK with SDP). Outbound legs are
	// answered already; Answer on them is a no-op.
	Answer(ctx context.Context) error
	// Play plays prompts in order. With opts.StopOnDigit, a digit pressed
	// during playback stops it and is returned (and left unread in the digit
	// buffer for ReadDigits, which is what barge-in into a menu needs).
	// It returns 0 when the playback ran to its end.
	Play(ctx context.Context, opts PlayOptions) (rune, error)
	// ReadDigits collects DTMF digits from the leg's digit buffer (digits
	// pressed before the call reached ReadDigits count too).
	ReadDigits(ctx context.Context, opts DigitOptions) (string, error)
	// FlushDigits discards digits pressed so far.
	FlushDigits()
	// StartMOH plays the music-on-hold class in a loop until StopMOH, Play,
	// Bridge or Hangup. An unknown class is an error.
	StartMOH(class string) error
	// StopMOH stops music on hold; it is a no-op without music.
	StopMOH() error
	// Bridge connects the audio (and DTMF) of this leg and other until either
	// leg ends or ctx is cancelled. It returns nil when other ended,
	// ErrHangup when this leg ended, and ctx.Err() on cancellation, after
	// which both legs are still up and unbridged.
	Bridge(ctx context.Context, other Leg) error
	// Hangup ends the leg with cause. It is idempotent.
	Hangup(cause Cause) error
	// Done is closed when the leg has ended, whoever ended it.
	Done() <-chan struct{}
	// Ended reports why and by which side the leg ended; ok is false while
	// the leg is up.
	Ended() (end End, ok bool)
	// Events delivers what the peer does out of band: every DTMF digit (also
	// during a bridge, for feature codes) and transfer requests. The channel
	// is buffered; digits are dropped (never blocking the media path) when
	// nobody reads it, transfer requests are not. It is closed after Done.
	Events() <-chan Event
}

// PlayOptions says what to play.
type PlayOptions struct {
	Prompts     []Prompt
	StopOnDigit bool
}

// DigitOptions bounds ReadDigits.
type DigitOptions struct {
	Max          int           // stop after this many digits (≥ 1)
	FirstTimeout time.Duration // wait for the first digit; 0 means 5 s
	InterTimeout time.Duration // wait between digits; 0 means 3 s
	Terminator   rune          // ends input early and is not returned; 0 for none
}

// Prompt is something to play: a named sound or silence.
type Prompt struct {
	// Name is a sound name relative to a language's prompt set, e.g.
	// "queue-thereare", "digits/5" or a custom "hotline/greeting".
	Name string
	// Lang selects the prompt set: "ru" (default) or "en".
	Lang string
	// Silence plays this much silence instead of a sound when Name is empty.
	Silence time.Duration
}

func (p Prompt) String() string {
	if p.Name == "" {
		return fmt.Sprintf("silence:%s", p.Silence)
	}
	lang := p.Lang
	if lang == "" {
		lang = "ru"
	}
	return lang + "/" + p.Name
}

// Cause says why a call ended or was not answered.
type Cause int

const (
	CauseNormal       Cause = iota // normal clearing (BYE)
	CauseBusy                      // 486/600, user busy
	CauseNoAnswer                  // ring timeout, 408/480
	CauseRejected                  // 403/603 and other definite refusals
	CauseUnreachable               // no registration, transport error, 404, 5xx
	CauseCancelled                 // the caller gave up before the answer
	CauseMediaTimeout              // no RTP for the inactivity timeout
	CauseShutdown                  // the switch is shutting down
	CauseFailure                   // protocol or internal failure
)

var causeNames = [...]string{"normal", "busy", "no-answer", "rejected", "unreachable", "cancelled", "media-timeout", "shutdown", "failure"}

func (c Cause) String() string {
	if int(c) >= 0 && int(c) < len(causeNames) {
		return causeNames[c]
	}
	return fmt.Sprintf("cause(%d)", int(c))
}

// Side says which side ended a leg.
type Side int

const (
	SideRemote Side = iota // the peer hung up or refused
	SideLocal              // hotline hung up
)

func (s Side) String() string {
	if s == SideLocal {
		return "local"
	}
	return "remote"
}

// End records how a leg ended.
type End struct {
	Cause Cause
	Side  Side
	At    time.Time
	// Detached: the switch let go of the leg without ending the call, which
	// goes on outside this process (Asterisk mode, hotline stopping; a
	// restarted hotline resumes it). Call logic records no outcome for it.
	Detached bool
}

// DialError is returned by Switch.Dial when the call was not answered.
type DialError struct {
	Target Target
	Cause  Cause
	Status int // SIP status code when there was one
}

func (e *DialError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("dial %s: %s (SIP %d)", e.Target, e.Cause, e.Status)
	}
	return fmt.Sprintf("dial %s: %s", e.Target, e.Cause)
}

// CauseOf returns the Cause carried by a *DialError in err, or CauseFailure.
func CauseOf(err error) Cause {
	var de *DialError
	if errors.As(err, &de) {
		return de.Cause
	}
	if errors.Is(err, context.Canceled) {
		return CauseCancelled
	}
	return CauseFailure
}

// Errors shared by implementations.
var (
	ErrHangup         = errors.New("sip: leg has hung up")
	ErrNotAnswered    = errors.New("sip: leg is not answered")
	ErrUnknownPrompt  = errors.New("sip: unknown prompt")
	ErrUnknownMOH     = errors.New("sip: unknown music-on-hold class")
	ErrForeignLeg     = errors.New("sip: cannot bridge legs of different switches")
	ErrAlreadyBridged = errors.New("sip: leg is already bridged")
)

// Event is something the peer did out of band; see Leg.Events.
type Event interface{ isEvent() }

// DigitEvent is one DTMF digit received (RFC 4733 or SIP INFO).
type DigitEvent struct {
	Digit rune
	At    time.Time
}

// TransferEvent is a transfer request from the peer (SIP REFER, or a blind
// transfer inside Asterisk). Target is the dialled user or number. The
// receiver must call Reply exactly once: true when it has taken over the
// call being transferred, false to refuse.
type TransferEvent struct {
	Target string
	At     time.Time
	Reply  func(accepted bool)
}

// HoldEvent reports that the peer put the call on hold (Hold true) or
// resumed it.
type HoldEvent struct {
	Hold bool
	At   time.Time
}

func (DigitEvent) isEvent()    {}
func (TransferEvent) isEvent() {}
func (HoldEvent) isEvent()     {}
