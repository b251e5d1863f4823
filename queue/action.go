package queue

import (
	"strconv"
	"time"
)

// Action is a decision of the Engine that the Runner carries out on the
// switch, in the order given. It is one of the types below; a Runner
// type-switches on it.
type Action interface{ action() }

// Purpose says why an agent's phone rings.
type Purpose int

const (
	// ForCall: a waiting caller. On answer the Engine says Bridge.
	ForCall Purpose = iota
	// ForCallback: a queued callback; the agent answers first, then the
	// Engine says DialCallback.
	ForCallback
	// ForConsult: a warm escalation; on answer the Engine says ConsultBridge.
	ForConsult
)

func (p Purpose) String() string {
	switch p {
	case ForCallback:
		return "callback"
	case ForConsult:
		return "consult"
	}
	return "call"
}

// RingAgent: ring Agent's phone for CallID for at most Timeout. Report the
// outcome with RingAnswered or RingFailed. The Engine also times the ring
// itself and sends StopRinging when Timeout passes first.
type RingAgent struct {
	CallID  string
	Agent   string
	Queue   string
	Caller  string // for the agent's display
	Purpose Purpose
	Timeout time.Duration
}

// StopRinging: cancel the ringing of Agent for CallID (the caller left,
// another agent answered, or the Engine's ring timer expired).
type StopRinging struct {
	CallID string
	Agent  string
}

// Bridge: connect the caller's leg of CallID with Agent's answered leg.
// Music on hold is stopped by a StopMOH just before.
type Bridge struct {
	CallID string
	Agent  string
}

// StartMOH: play music on hold to the caller of CallID (Class "" is the
// switch default). Also sent after an overflow or escalation, with the new
// queue's class.
type StartMOH struct {
	CallID string
	Class  string
}

// StopMOH: stop the caller's music on hold.
type StopMOH struct{ CallID string }

// Announce: tell the caller their position and estimated wait, then resume
// music on hold. EWT is in seconds; 0 means unknown (say only the position).
// AnnouncementPrompts builds the prompt names.
type Announce struct {
	CallID   string
	Queue    string
	Position int
	EWT      int
	Lang     string
}

// Overflow is informational: CallID left From for To (max wait, max length
// or no agents). A StartMOH for the new queue follows.
type Overflow struct {
	CallID   string
	From, To string
	Reason   string
}

// HangupCaller: play Prompt (if not empty, in Lang) to the caller, then
// hang up the caller's leg. Sent for max-wait messages, rejected callers
// and callback confirmations.
type HangupCaller struct {
	CallID string
	Prompt string
	Lang   string
	Reason string // max-wait | full | no-agents | callback | hops
	// Callback is the callback the caller asked for (Reason callback):
	// what a durable store must keep to hand it back after a restart
	// (Engine.EnqueueCallback). Nil otherwise.
	Callback *CallbackCall
}

// OfferCallback: tell the waiting caller of CallID that they can ask for a
// callback with their queue's key (the callback-offer prompt), then resume
// music on hold.
type OfferCallback struct {
	CallID string
	Queue  string
	Lang   string
}

// DialCallback: dial the caller back on Number (the agent is reserved and
// has answered already); report CallbackAnswered or CallbackFailed.
type DialCallback struct {
	CallID  string
	Number  string
	Trunk   string // the trunk the caller's call came in on (for the dialling policy)
	Agent   string
	Attempt int // 1-based
	Timeout time.Duration
}

// ReleaseAgent: the agent's leg leaves CallID while the caller stays (after
// an escalation or a returned consultation). The Runner unbridges and hangs
// up that agent leg unless the switch already did (REFER).
type ReleaseAgent struct {
	CallID string
	Agent  string
}

// ConsultBridge: connect the first-line Agent's leg with the Consultant's
// answered leg while the caller of CallID hears music on hold.
type ConsultBridge struct {
	CallID     string
	Agent      string
	Consultant string
}

// SetTimer: call Engine.Tick at At (replacing any earlier SetTimer). A zero
// At means nothing is pending. It is appended whenever the earliest
// deadline changes. A Tick may find nothing to do (the deadline was
// cancelled meanwhile); that is harmless.
type SetTimer struct{ At time.Time }

func (RingAgent) action()     {}
func (StopRinging) action()   {}
func (Bridge) action()        {}
func (StartMOH) action()      {}
func (StopMOH) action()       {}
func (Announce) action()      {}
func (Overflow) action()      {}
func (HangupCaller) action()  {}
func (DialCallback) action()  {}
func (OfferCallback) action() {}
func (ReleaseAgent) action()  {}
func (ConsultBridge) action() {}
func (SetTimer) action()      {}

// AnnouncementPrompts returns the sound names (relative to the language's
// prompt set, Asterisk core sounds) that say a position and an estimated
// wait: "queue-thereare", the number, "queue-callswaiting", then, when ewt
// > 0, "queue-holdtime", the minutes (at least 1) and "minutes".
func AnnouncementPrompts(position, ewtSeconds int) []string {
	p := []string{"queue-thereare"}
	p = append(p, numberPrompts(position)...)
	p = append(p, "queue-callswaiting")
	if ewtSeconds > 0 {
		m := (ewtSeconds + 59) / 60
		p = append(p, "queue-holdtime")
		p = append(p, numberPrompts(m)...)
		p = append(p, "minutes")
	}
	return p
}

// numberPrompts says n with digits/N files: 0..20, tens, hundreds.
func numberPrompts(n int) []string {
	if n < 0 {
		n = 0
	}
	var out []string
	if n >= 1000 {
		out = append(out, numberPrompts(n/1000)...)
		out = append(out, "digits/thousand")
		n %= 1000
		if n == 0 {
			return out
		}
	}
	if n >= 100 {
		out = append(out, "digits/"+strconv.Itoa((n/100)*100))
		n %= 100
		if n == 0 {
			return out
		}
	}
	if n > 20 {
		out = append(out, "digits/"+strconv.Itoa((n/10)*10))
		n %= 10
		if n == 0 {
			return out
		}
	}
	return append(out, "digits/"+strconv.Itoa(n))
}
