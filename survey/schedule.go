package survey

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Holidays tells whether a date is a non-working holiday. The date is given
// as local midnight in the caller's zone. See CalendarHolidays for the
// production calendar of package ivr.
type Holidays interface {
	IsHoliday(day time.Time) bool
}

// HolidayFunc adapts a function to Holidays.
type HolidayFunc func(time.Time) bool

// IsHoliday calls f(day).
func (f HolidayFunc) IsHoliday(day time.Time) bool { return f(day) }

// zoneOverrides fix libphonenumber's zone for Russian prefixes where it
// names a foreign representative zone or several zones. Longest prefix wins.
var zoneOverrides = map[string]string{
	"+7401": "Europe/Kaliningrad", // libphonenumber: Europe/Bucharest (UTC+2 in winter but with DST)
	"+7840": "Europe/Moscow",      // Abkhazia: Europe/Bucharest or Europe/Moscow
	"+7940": "Europe/Moscow",
}

// ZoneFor returns the time zone of an E.164 number and how it was found:
// "prefix" (hotline's own table for Russian prefixes), "number"
// (libphonenumber), or "fallback" (the service zone: unparseable numbers,
// numbers without a geographic zone, such as most mobile ranges, where
// libphonenumber answers the country's main zone). When libphonenumber
// names several zones the service zone is taken if it is one of them, else
// the first.
func ZoneFor(number string, region string, service *time.Location) (*time.Location, string) {
	best := ""
	for p := range zoneOverrides {
		if strings.HasPrefix(number, p) && len(p) > len(best) {
			best = p
		}
	}
	if best != "" {
		if loc, err := time.LoadLocation(zoneOverrides[best]); err == nil {
			return loc, "prefix"
		}
	}
	num, err := phonenumbers.Parse(number, region)
	if err != nil {
		return service, "fallback"
	}
	zones, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil {
		return service, "fallback"
	}
	var locs []*time.Location
	for _, z := range zones {
		if z == "" || strings.HasPrefix(z, "Etc/") {
			continue
		}
		if loc, err := time.LoadLocation(z); err == nil {
			if loc.String() == service.String() {
				return service, "number"
			}
			locs = append(locs, loc)
		}
	}
	if len(locs) == 0 {
		return service, "fallback"
	}
	return locs[0], "number"
}

// Planner computes survey times. It is pure: every method takes the
// relevant instant; nothing reads a clock.
type Planner struct {
	cfg      Config
	holidays Holidays
}

// NewPlanner returns a planner for cfg (defaults applied) and holidays
// (may be nil).
func NewPlanner(cfg Config, holidays Holidays) *Planner {
	return &Planner{cfg: cfg.withDefaults(), holidays: holidays}
}

// midnight returns the start of t's day in loc.
func midnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func addDays(mid time.Time, n int) time.Time {
	y, m, d := mid.Date()
	return time.Date(y, m, d+n, 0, 0, 0, 0, mid.Location())
}

// clockOn returns the local time off after mid's midnight, counted on the
// wall clock (so DST days keep 10:00 at 10:00).
func clockOn(mid time.Time, off time.Duration) time.Time {
	y, m, d := mid.Date()
	return time.Date(y, m, d, int(off/time.Hour), int(off%time.Hour/time.Minute), int(off%time.Minute/time.Second), 0, mid.Location())
}

// windowOn returns the calling window of the day starting at mid.
func (p *Planner) windowOn(mid time.Time) (from, to time.Time) {
	return clockOn(mid, p.cfg.Window.From), clockOn(mid, p.cfg.Window.To)
}

// Allowed reports whether calls may be made on the day starting at mid
// (weekends and holidays as configured).
func (p *Planner) Allowed(mid time.Time) bool {
	if p.cfg.SkipWeekends {
		if wd := mid.Weekday(); wd == time.Saturday || wd == time.Sunday {
			return false
		}
	}
	if p.cfg.SkipHolidays && p.holidays != nil && p.holidays.IsHoliday(mid) {
		return false
	}
	return true
}

// InWindow reports whether t is inside a calling window in loc.
func (p *Planner) InWindow(t time.Time, loc *time.Location) bool {
	mid := midnight(t, loc)
	if !p.Allowed(mid) {
		return false
	}
	from, to := p.windowOn(mid)
	return !t.Before(from) && t.Before(to)
}

// Deadline is the end of the last day on which a survey of a call that
// ended at ended may be made: midnight after LastDay local days.
func (p *Planner) Deadline(ended time.Time, loc *time.Location) time.Time {
	return addDays(midnight(ended, loc), p.cfg.LastDay+1)
}

// NextAllowed returns the first instant at or after t inside a calling
// window in loc, and false when there is none before deadline.
func (p *Planner) NextAllowed(t time.Time, loc *time.Location, deadline time.Time) (time.Time, bool) {
	mid := midnight(t, loc)
	for i := 0; i < 370; i++ {
		day := addDays(mid, i)
		if !day.Before(deadline) {
			return time.Time{}, false
		}
		if !p.Allowed(day) {
			continue
		}
		from, to := p.windowOn(day)
		start := from
		if t.After(start) {
			start = t
		}
		if start.Before(to) {
			if !start.Before(deadline) {
				return time.Time{}, false
			}
			return start, true
		}
	}
	return time.Time{}, false
}

// First returns when to make the first survey call for a call that ended
// at ended, for a caller in loc, and false when no window is left before
// the deadline. With a Delay of whole days the call goes to the day that
// many local days after the call's local date (or the next allowed day),
// spread over its window by a deterministic jitter from callID, so that
// survey calls do not all start at the window's opening. With a shorter
// Delay (demos) the call is made at ended+Delay if that is inside a
// window, else spread over the next window.
func (p *Planner) First(callID string, ended time.Time, loc *time.Location) (time.Time, bool) {
	deadline := p.Deadline(ended, loc)
	var start time.Time
	var ok bool
	if p.cfg.Delay >= 24*time.Hour {
		days := int((p.cfg.Delay + 24*time.Hour - 1) / (24 * time.Hour))
		start, ok = p.NextAllowed(addDays(midnight(ended, loc), days), loc, deadline)
	} else {
		earliest := ended.Add(p.cfg.Delay)
		start, ok = p.NextAllowed(earliest, loc, deadline)
		if ok && start.Equal(earliest) {
			return start, true
		}
	}
	if !ok {
		return time.Time{}, false
	}
	_, to := p.windowOn(midnight(start, loc))
	if deadline.Before(to) {
		to = deadline
	}
	span := to.Sub(start)
	margin := min(5*time.Minute, span/2) // leave room for the call itself
	at := start.Add(time.Duration(fraction(callID, "spread") * float64(span-margin)))
	return at.Truncate(time.Second), true
}

// NextRetry returns when to retry after an unanswered attempt at now: now
// plus RetryDelay, moved into the next window when it falls outside, and
// false when that is past deadline.
func (p *Planner) NextRetry(now time.Time, loc *time.Location, deadline time.Time) (time.Time, bool) {
	return p.NextAllowed(now.Add(p.cfg.RetryDelay), loc, deadline)
}

// fraction maps (id, salt) to [0, 1) deterministically.
func fraction(id, salt string) float64 {
	sum := sha256.Sum256([]byte(salt + "\x00" + id))
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / float64(1<<53)
}
