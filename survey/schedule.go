package survey

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"time"
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
// (weekends and holidays as configured; a weekend day the production
// calendar makes a working day is one).
func (p *Planner) Allowed(mid time.Time) bool {
	if p.cfg.SkipWeekends {
		ww, ok := p.holidays.(interface{ IsWorkingWeekend(time.Time) bool })
		if wd := mid.Weekday(); (wd == time.Saturday || wd == time.Sunday) && !(ok && ww.IsWorkingWeekend(mid)) {
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

// InWindowAll reports whether t is inside a calling window in every zone
// of zones: the rule for a number whose zone is ambiguous or unknown.
func (p *Planner) InWindowAll(t time.Time, zones []*time.Location) bool {
	for _, loc := range zones {
		if !p.InWindow(t, loc) {
			return false
		}
	}
	return len(zones) > 0
}

// windowEndAll is the end of the window holding t in every zone: the
// earliest of the zones' window ends on t's local day.
func (p *Planner) windowEndAll(t time.Time, zones []*time.Location) time.Time {
	var end time.Time
	for i, loc := range zones {
		_, to := p.windowOn(midnight(t, loc))
		if i == 0 || to.Before(end) {
			end = to
		}
	}
	return end
}

// Deadline is the end of the last day on which a survey of a call that
// ended at ended may be made: midnight after LastDay local days.
func (p *Planner) Deadline(ended time.Time, loc *time.Location) time.Time {
	return addDays(midnight(ended, loc), p.cfg.LastDay+1)
}

// DeadlineAll is the earliest Deadline of the zones.
func (p *Planner) DeadlineAll(ended time.Time, zones []*time.Location) time.Time {
	var d time.Time
	for i, loc := range zones {
		if x := p.Deadline(ended, loc); i == 0 || x.Before(d) {
			d = x
		}
	}
	return d
}

// NextAllowed returns the first instant at or after t inside a calling
// window in loc, and false when there is none before deadline.
func (p *Planner) NextAllowed(t time.Time, loc *time.Location, deadline time.Time) (time.Time, bool) {
	return p.NextAllowedAll(t, []*time.Location{loc}, deadline)
}

// NextAllowedAll returns the first instant at or after t inside a calling
// window in every zone of zones, and false when there is none before
// deadline. Such an instant is t itself or the opening of some zone's
// window (where the windows' intersection starts), so those are tried in
// order.
func (p *Planner) NextAllowedAll(t time.Time, zones []*time.Location, deadline time.Time) (time.Time, bool) {
	cands := []time.Time{t}
	for _, loc := range zones {
		mid := midnight(t, loc)
		for i := 0; i < 370; i++ {
			day := addDays(mid, i)
			if !day.Before(deadline) {
				break
			}
			if from, _ := p.windowOn(day); from.After(t) {
				cands = append(cands, from)
			}
		}
	}
	slices.SortFunc(cands, func(a, b time.Time) int { return a.Compare(b) })
	for _, c := range cands {
		if !c.Before(deadline) {
			return time.Time{}, false
		}
		if p.InWindowAll(c, zones) {
			return c, true
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
	return p.FirstAll(callID, ended, []*time.Location{loc})
}

// FirstAll is First for a caller who may be in any of zones: the call is
// made only when it is inside the window in every one of them, on a day
// that is at least Delay local days after the call in each.
func (p *Planner) FirstAll(callID string, ended time.Time, zones []*time.Location) (time.Time, bool) {
	if len(zones) == 0 {
		return time.Time{}, false
	}
	deadline := p.DeadlineAll(ended, zones)
	var start time.Time
	var ok bool
	if p.cfg.Delay >= 24*time.Hour {
		days := int((p.cfg.Delay + 24*time.Hour - 1) / (24 * time.Hour))
		var earliest time.Time
		for _, loc := range zones {
			if d := addDays(midnight(ended, loc), days); d.After(earliest) {
				earliest = d
			}
		}
		start, ok = p.NextAllowedAll(earliest, zones, deadline)
	} else {
		earliest := ended.Add(p.cfg.Delay)
		start, ok = p.NextAllowedAll(earliest, zones, deadline)
		if ok && start.Equal(earliest) {
			return start, true
		}
	}
	if !ok {
		return time.Time{}, false
	}
	to := p.windowEndAll(start, zones)
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
	return p.NextAllowedAll(now.Add(p.cfg.RetryDelay), []*time.Location{loc}, deadline)
}

// NextRetryAll is NextRetry for a caller who may be in any of zones.
func (p *Planner) NextRetryAll(now time.Time, zones []*time.Location, deadline time.Time) (time.Time, bool) {
	return p.NextAllowedAll(now.Add(p.cfg.RetryDelay), zones, deadline)
}

// fraction maps (id, salt) to [0, 1) deterministically.
func fraction(id, salt string) float64 {
	sum := sha256.Sum256([]byte(salt + "\x00" + id))
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / float64(1<<53)
}
