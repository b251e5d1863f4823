package survey

import (
	"time"
)

// Config configures the survey bot. Zero values take the defaults noted on
// each field (those of docs/configuration.md), except CooldownDays where 0
// means "no limit".
type Config struct {
	// Trunk is the trunk survey calls go out on ("" = the switch's default).
	Trunk string
	// CallerID is presented to the customer ("" = the trunk's caller ID).
	CallerID string
	// Delay is the minimum time between the call and the survey call,
	// default 24h. Whole days (24h, 48h, ...) mean calendar days in the
	// caller's zone: 24h is "the next local day", any time in its window. A
	// shorter delay (demos, e.g. 30s) is taken literally.
	Delay time.Duration
	// Window is the daily calling window in the caller's local time,
	// default 10:00–20:00.
	Window Window
	// SkipWeekends avoids Saturdays and Sundays.
	SkipWeekends bool
	// SkipHolidays avoids days for which Deps.Holidays reports a holiday.
	SkipHolidays bool
	// Sampling maps a queue name (or "default") to the share of answered
	// calls surveyed, 0..1. A queue not listed takes "default"; without
	// "default" every call is surveyed.
	Sampling map[string]float64
	// MaxConcurrent bounds survey calls at once (default 5).
	MaxConcurrent int
	// PerMinute bounds survey calls started per minute (default 10).
	PerMinute int
	// DailyCap bounds survey calls started per day in ServiceZone
	// (default 500).
	DailyCap int
	// Attempts is the number of dial attempts per survey (default 3).
	Attempts int
	// RetryDelay spaces the attempts (default 2h).
	RetryDelay time.Duration
	// CooldownDays: a number is not surveyed again within this many days
	// of a previous survey's call (0: no limit).
	CooldownDays int
	// LastDay: give up when the survey could not be made by the end of
	// this many days after the call (local calendar days, default 3).
	LastDay int
	// Language of the prompts, "ru" (default) or "en".
	Language string
	// ServiceZone is the fallback zone for numbers without one and the
	// zone of the daily cap (default Europe/Moscow).
	ServiceZone *time.Location
	// Region is the default region for national numbers (default "RU").
	Region string
	// RingTimeout bounds the ringing of a survey call (default 30s).
	RingTimeout time.Duration
	// InputTimeout is the wait for a digit after a question (default 6s).
	InputTimeout time.Duration
	// Teams maps an agent to a team, for the review list.
	Teams map[string]string
	// QueueLines maps a queue to its support line (1 or 2). A queue not
	// listed is line 2 when the call reached it through an escalation,
	// line 1 otherwise.
	QueueLines map[string]int
	// UnknownZone says what happens to a number whose zone is ambiguous or
	// unknown (see ZonesFor): UnknownZoneIntersect (default) calls it only
	// at hours inside the window in every zone it could be in;
	// UnknownZoneSkip does not survey it.
	UnknownZone string
	// SayDate speaks the date of the original call after the greeting
	// (Russian ordinal day and month prompts).
	SayDate bool
}

// Window is a daily window as offsets from local midnight.
type Window struct {
	From, To time.Duration
}

// AnyTime reports whether the window covers the whole day (To at 23:59 or
// later and From at midnight).
func (w Window) AnyTime() bool { return w.From <= 0 && w.To >= 23*time.Hour+59*time.Minute }

// ParseClock parses "HH:MM" into an offset from midnight, for the wiring.
func ParseClock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// withDefaults returns c with the zero values replaced by defaults.
func (c Config) withDefaults() Config {
	if c.Delay <= 0 {
		c.Delay = 24 * time.Hour
	}
	if c.Window.From == 0 && c.Window.To == 0 {
		c.Window = Window{From: 10 * time.Hour, To: 20 * time.Hour}
	}
	if c.Window.To <= c.Window.From {
		c.Window.To = 24 * time.Hour
	}
	if c.Window.To >= 23*time.Hour+59*time.Minute {
		c.Window.To = 24 * time.Hour // "23:59" means to the end of the day
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 5
	}
	if c.PerMinute <= 0 {
		c.PerMinute = 10
	}
	if c.DailyCap <= 0 {
		c.DailyCap = 500
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 2 * time.Hour
	}
	if c.CooldownDays < 0 {
		c.CooldownDays = 0
	}
	if c.LastDay <= 0 {
		c.LastDay = 3
	}
	if c.Language == "" {
		c.Language = "ru"
	}
	if c.ServiceZone == nil {
		if loc, err := time.LoadLocation("Europe/Moscow"); err == nil {
			c.ServiceZone = loc
		} else {
			c.ServiceZone = time.FixedZone("MSK", 3*3600)
		}
	}
	if c.UnknownZone == "" {
		c.UnknownZone = UnknownZoneIntersect
	}
	if c.Region == "" {
		c.Region = "RU"
	}
	if c.RingTimeout <= 0 {
		c.RingTimeout = 30 * time.Second
	}
	if c.InputTimeout <= 0 {
		c.InputTimeout = 6 * time.Second
	}
	return c
}
