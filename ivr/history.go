package ivr

import (
	"context"
	"time"
)

// History answers questions about a caller's previous calls. The reporting
// store implements it; the IVR consumes it in lookup nodes, and the result
// travels with the call as the agent's caller card.
type History interface {
	// Lookup returns what is known about caller (E.164) since the given
	// time. A caller never seen returns a zero CallerHistory and no error.
	Lookup(ctx context.Context, caller string, since time.Time) (CallerHistory, error)
}

// CallerHistory is the caller card.
type CallerHistory struct {
	// Calls is the number of calls since the lookup's window start, the
	// current one excluded.
	Calls int
	// LastCallAt is when the previous call arrived; zero when none.
	LastCallAt time.Time
	// LastOutcome is the previous call's outcome as reporting names it,
	// e.g. resolved, not_resolved, escalated, abandoned.
	LastOutcome string
	// LastQueue and LastAgent are where and by whom the previous call was
	// answered, if it was.
	LastQueue string
	LastAgent string
	// OpenEscalation is set when an escalation of an earlier call is still
	// unresolved.
	OpenEscalation *Escalation
	// LastCSI is the caller's latest survey rating in the window (1-5);
	// 0 when none.
	LastCSI int
}

// Escalation is an unresolved escalation of an earlier call.
type Escalation struct {
	CallID string
	Queue  string // the queue it was escalated to
	At     time.Time
	Reason string
}

// Clock tells the time; tests use a fake one.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock returns the wall clock.
func SystemClock() Clock { return systemClock{} }
