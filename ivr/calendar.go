package ivr

import (
	"bufio"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed calendar/*.txt
var calendarFS embed.FS

// DayKind classifies a date in the production calendar.
type DayKind int

const (
	// DayNormal is an ordinary day: Monday to Friday work, weekends off.
	DayNormal DayKind = iota
	// DayHoliday is a non-working public holiday.
	DayHoliday
	// DayOff is a non-working day by transfer.
	DayOff
	// DayWork is a Saturday or Sunday that is a working day.
	DayWork
	// DayShort is a pre-holiday working day, one hour shorter.
	DayShort
)

var dayKindNames = [...]string{"normal", "holiday", "off", "work", "short"}

func (k DayKind) String() string {
	if int(k) >= 0 && int(k) < len(dayKindNames) {
		return dayKindNames[k]
	}
	return fmt.Sprintf("daykind(%d)", int(k))
}

// Date is a calendar date without a zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns t's date in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("bad date %q, want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// CalendarDay is one entry of the production calendar.
type CalendarDay struct {
	Kind DayKind
	// As is the weekday whose hours a DayWork date keeps (Monday when the
	// data does not say).
	As time.Weekday
	// Short is set on a working day that is one hour shorter.
	Short bool
	// Note is the comment from the data file or config, for people.
	Note string
}

// Calendar is the production calendar: which dates are holidays, transferred
// days off and working weekend days. Dates not listed follow the weekday.
type Calendar struct {
	days  map[Date]CalendarDay
	years map[int]string // year → Status*
}

// CalendarYearStatus values.
const (
	StatusOfficial   = "official"   // checked against the government decree
	StatusSecondary  = "secondary"  // from reputable derived data; the decree itself was not checked
	StatusUnverified = "unverified" // statutory holidays and the weekend rule only
	StatusConfig     = "config"     // config lists the year's dates itself (ivr.calendar.years)
)

// LoadRussianCalendar loads the embedded Russian production calendar
// (ivr/calendar/ru-*.txt).
func LoadRussianCalendar() (*Calendar, error) {
	c := &Calendar{days: map[Date]CalendarDay{}, years: map[int]string{}}
	names, err := fs.Glob(calendarFS, "calendar/ru-*.txt")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	for _, name := range names {
		data, err := calendarFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		if err := c.parse(path.Base(name), string(data)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Calendar) parse(name, data string) error {
	sc := bufio.NewScanner(strings.NewReader(data))
	line := 0
	year, status := 0, ""
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(text, "#"); ok {
			k, v, ok := strings.Cut(strings.TrimSpace(rest), ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "year":
				y, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					return fmt.Errorf("%s:%d: bad year", name, line)
				}
				year = y
			case "status":
				status = strings.TrimSpace(v)
			}
			continue
		}
		if text == "" {
			continue
		}
		entry, note, _ := strings.Cut(text, "#")
		fields := strings.Fields(entry)
		d, err := ParseDate(fields[0])
		if err != nil {
			return fmt.Errorf("%s:%d: %v", name, line, err)
		}
		if len(fields) < 2 {
			return fmt.Errorf("%s:%d: missing day kind", name, line)
		}
		day, err := parseDaySpec(fields[1:])
		if err != nil {
			return fmt.Errorf("%s:%d: %v", name, line, err)
		}
		day.Note = strings.TrimSpace(note)
		if year != 0 && d.Year != year {
			return fmt.Errorf("%s:%d: date %s outside year %d", name, line, d, year)
		}
		c.days[d] = day
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if year == 0 {
		return fmt.Errorf("%s: no \"# year:\" header", name)
	}
	switch status {
	case StatusOfficial, StatusSecondary, StatusUnverified:
	default:
		return fmt.Errorf("%s: bad or missing \"# status:\" header %q", name, status)
	}
	c.years[year] = status
	return nil
}

var weekdayNames = map[string]time.Weekday{
	"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday,
}

// parseDaySpec parses "holiday", "off", "work [WEEKDAY] [short]", "short"
// and "normal".
func parseDaySpec(fields []string) (CalendarDay, error) {
	var d CalendarDay
	switch fields[0] {
	case "holiday":
		d.Kind = DayHoliday
	case "off":
		d.Kind = DayOff
	case "work":
		d.Kind, d.As = DayWork, time.Monday
	case "short":
		d.Kind, d.Short = DayShort, true
	case "normal":
		d.Kind = DayNormal
	default:
		return d, fmt.Errorf("unknown day kind %q (want holiday, off, work, short or normal)", fields[0])
	}
	for _, f := range fields[1:] {
		if wd, ok := weekdayNames[f]; ok && d.Kind == DayWork && wd >= time.Monday && wd <= time.Friday {
			d.As = wd
			continue
		}
		if f == "short" && d.Kind == DayWork {
			d.Short = true
			continue
		}
		return d, fmt.Errorf("unexpected %q after %q", f, fields[0])
	}
	return d, nil
}

// Set adds or overrides a date (from config). Kind DayNormal removes a
// listed date.
func (c *Calendar) Set(d Date, day CalendarDay) {
	if day.Kind == DayNormal {
		delete(c.days, d)
		return
	}
	c.days[d] = day
}

// Day returns the calendar entry for d; ok is false for an unlisted date.
func (c *Calendar) Day(d Date) (CalendarDay, bool) {
	if c == nil {
		return CalendarDay{}, false
	}
	day, ok := c.days[d]
	return day, ok
}

// Covers reports whether the calendar has data for year, and its status.
func (c *Calendar) Covers(year int) (status string, ok bool) {
	if c == nil {
		return "", false
	}
	status, ok = c.years[year]
	return status, ok
}

// Warnings returns what an operator should know at start-up: the current
// or the coming year is not covered (so holidays are not known and
// transferred days are wrong), or is covered by data not checked against
// the decree.
func (c *Calendar) Warnings(now time.Time) []string {
	var w []string
	for _, y := range []int{now.Year(), now.Year() + 1} {
		status, ok := c.Covers(y)
		switch {
		case !ok:
			w = append(w, fmt.Sprintf("ivr: the production calendar does not cover %d: public holidays and transferred days are unknown for it; add ivr/calendar/ru-%d.txt or list the dates under ivr.calendar", y, y))
		case status == StatusSecondary:
			w = append(w, fmt.Sprintf("ivr: the production calendar for %d comes from secondary sources, not checked against the government decree; verify ivr/calendar/ru-%d.txt", y, y))
		case status == StatusUnverified:
			w = append(w, fmt.Sprintf("ivr: the production calendar for %d is unverified (statutory holidays and the weekend rule only, no decree transfers); override dates under ivr.calendar", y))
		}
	}
	return w
}
