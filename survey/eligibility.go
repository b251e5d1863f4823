package survey

import (
	"time"

	"github.com/hotline-cc/hotline/ivr"
)

// Skip reasons recorded in survey.skipped events and survey rows.
const (
	SkipAnonymous  = "anonymous"   // no callable E.164 number
	SkipOptedOut   = "opted-out"   // the number asked never to be called
	SkipCooldown   = "cooldown"    // surveyed within CooldownDays
	SkipNoSurvey   = "no-survey"   // the agent marked the call "do not survey"
	SkipSampledOut = "sampled-out" // not in the queue's sample
	SkipNoWindow   = "no-window"   // no calling window before the last day (in every zone the number could be in)
	// SkipZoneUnknown: the number's zone is ambiguous or unknown and
	// survey.unknown_zone is skip.
	SkipZoneUnknown = "zone-unknown"
	// SkipDialRefused: the dialling policy refuses the number (premium
	// rate, not a configured country, not from a trunk call; a dial.refused
	// event says why).
	SkipDialRefused = "dial-refused"
)

// Candidate is an answered call whose survey is being decided.
type Candidate struct {
	CallID   string
	Caller   string // as in call.arrived: E.164 or "anonymous"
	Queue    string // queue of the last answered visit (sampling)
	NoSurvey bool
	Ended    time.Time
}

// History is what the database knows about the caller's number.
type History struct {
	OptedOut bool
	// LastSurvey is when the call of the number's latest survey (not
	// skipped, not cancelled) ended; zero for none.
	LastSurvey time.Time
}

// Decide returns the normalized number and "" when the call is to be
// surveyed, or the reason it is not. It is pure: the same call gives the
// same answer every time (sampling hashes the call id).
func Decide(cfg Config, c Candidate, h History) (number, reason string) {
	cfg = cfg.withDefaults()
	caller := ivr.NormalizeCaller(c.Caller, cfg.Region)
	if caller.Anonymous {
		return "", SkipAnonymous
	}
	number = caller.E164
	switch {
	case c.NoSurvey:
		return number, SkipNoSurvey
	case h.OptedOut:
		return number, SkipOptedOut
	case cfg.CooldownDays > 0 && !h.LastSurvey.IsZero() &&
		c.Ended.Sub(h.LastSurvey) < time.Duration(cfg.CooldownDays)*24*time.Hour:
		return number, SkipCooldown
	case !Sampled(cfg, c.CallID, c.Queue):
		return number, SkipSampledOut
	}
	return number, ""
}

// Sampled reports whether callID falls in queue's sample. The draw is a
// hash of the call id, so re-processing a call gives the same answer.
func Sampled(cfg Config, callID, queue string) bool {
	rate, ok := cfg.Sampling[queue]
	if !ok {
		rate, ok = cfg.Sampling["default"]
	}
	if !ok {
		return true
	}
	if rate >= 1 {
		return true
	}
	return fraction(callID, "sample") < rate
}

// CalendarHolidays adapts the production calendar of package ivr (the
// one calendar serve builds from the calendar section): holidays and
// transferred days off are holidays, and a weekend day made a working day
// is a working day for SkipWeekends.
func CalendarHolidays(c *ivr.Calendar) Holidays { return calendarDays{c} }

type calendarDays struct{ c *ivr.Calendar }

func (d calendarDays) IsHoliday(day time.Time) bool {
	e, ok := d.c.Day(ivr.DateOf(day))
	return ok && (e.Kind == ivr.DayHoliday || e.Kind == ivr.DayOff)
}

// IsWorkingWeekend reports a Saturday or Sunday the calendar makes a
// working day.
func (d calendarDays) IsWorkingWeekend(day time.Time) bool {
	e, ok := d.c.Day(ivr.DateOf(day))
	return ok && e.Kind == ivr.DayWork
}
