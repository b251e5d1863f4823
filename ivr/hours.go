package ivr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Span is a daily opening interval [From, To) in minutes since midnight;
// To may be 24*60.
type Span struct{ From, To int }

func (s Span) contains(min int) bool { return min >= s.From && min < s.To }

// Schedule is a weekly opening schedule in a zone with date exceptions,
// optionally following a production calendar (holidays closed, transferred
// working days open, pre-holiday days one hour shorter when asked).
type Schedule struct {
	Name string
	// Always is a 24/7 schedule: open every minute, calendar ignored.
	Always bool
	// Weekly holds the spans per weekday; a weekday without spans is closed.
	Weekly [7][]Span
	// Exceptions replaces the hours of a date; an empty slice closes it.
	// Exceptions win over the calendar.
	Exceptions map[Date][]Span
	// Calendar, when set, closes holidays and transferred days off and opens
	// working weekend days with the hours of the weekday they stand for.
	Calendar *Calendar
	// ShortenPreholiday ends the last span of a pre-holiday day an hour early.
	ShortenPreholiday bool
	// Zone is the schedule's time zone (the service zone by default).
	Zone *time.Location
}

// Open reports whether the schedule is open at t.
func (s *Schedule) Open(t time.Time) bool {
	if s.Always {
		return true
	}
	local := t.In(s.zone())
	min := local.Hour()*60 + local.Minute()
	for _, sp := range s.SpansOn(DateOf(local)) {
		if sp.contains(min) {
			return true
		}
	}
	return false
}

func (s *Schedule) zone() *time.Location {
	if s.Zone == nil {
		return time.UTC
	}
	return s.Zone
}

// SpansOn returns the opening spans of date d, after exceptions and the
// calendar.
func (s *Schedule) SpansOn(d Date) []Span {
	if s.Always {
		return []Span{{0, 24 * 60}}
	}
	if sp, ok := s.Exceptions[d]; ok {
		return sp
	}
	day, listed := s.Calendar.Day(d)
	if !listed {
		return s.Weekly[d.Weekday()]
	}
	switch day.Kind {
	case DayHoliday, DayOff:
		return nil
	case DayWork:
		return s.shorten(s.Weekly[day.As], day.Short)
	case DayShort:
		return s.shorten(s.Weekly[d.Weekday()], true)
	}
	return s.Weekly[d.Weekday()]
}

func (s *Schedule) shorten(spans []Span, short bool) []Span {
	if !short || !s.ShortenPreholiday || len(spans) == 0 {
		return spans
	}
	out := append([]Span(nil), spans...)
	last := &out[len(out)-1]
	last.To -= 60
	if last.To <= last.From {
		out = out[:len(out)-1]
	}
	return out
}

// parseSpans parses "closed", "24h", or "09:00-13:00, 14:00-18:00".
func parseSpans(s string) ([]Span, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "closed", "off":
		return []Span{}, nil
	case "24h", "00:00-24:00":
		return []Span{{0, 24 * 60}}, nil
	}
	var out []Span
	for part := range strings.SplitSeq(s, ",") {
		from, to, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return nil, fmt.Errorf("bad hours %q, want HH:MM-HH:MM[, HH:MM-HH:MM] or closed", s)
		}
		f, err := parseClock(from)
		if err != nil {
			return nil, err
		}
		t, err := parseClock(to)
		if err != nil {
			return nil, err
		}
		if t <= f {
			return nil, fmt.Errorf("bad hours %q: %s is not after %s (a span cannot cross midnight; split it over two days)", s, strings.TrimSpace(to), strings.TrimSpace(from))
		}
		if n := len(out); n > 0 && f < out[n-1].To {
			return nil, fmt.Errorf("bad hours %q: spans overlap or are out of order", s)
		}
		out = append(out, Span{f, t})
	}
	return out, nil
}

func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad time %q, want HH:MM", s)
	}
	return hh*60 + mm, nil
}

// parseWeekdays parses "mon", "mon-fri", "sat,sun", "daily"/"mon-sun".
func parseWeekdays(s string) ([]time.Weekday, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "daily" || s == "every day" {
		s = "mon-sun"
	}
	var out []time.Weekday
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		a, b, isRange := strings.Cut(part, "-")
		from, ok1 := weekdayNames[strings.TrimSpace(a)]
		if !isRange {
			if !ok1 {
				return nil, fmt.Errorf("bad weekday %q, want mon..sun, a range like mon-fri, or daily", part)
			}
			out = append(out, from)
			continue
		}
		to, ok2 := weekdayNames[strings.TrimSpace(b)]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("bad weekday range %q", part)
		}
		// Monday-based order so that mon-sun and fri-mon work.
		i := (int(from) + 6) % 7
		j := (int(to) + 6) % 7
		for {
			out = append(out, time.Weekday((i+1)%7))
			if i == j {
				break
			}
			i = (i + 1) % 7
		}
	}
	return out, nil
}
