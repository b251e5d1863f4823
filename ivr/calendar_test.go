package ivr

import (
	"strings"
	"testing"
	"time"
)

func TestRussianCalendar(t *testing.T) {
	cal, err := LoadRussianCalendar()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		date  string
		kind  DayKind
		as    time.Weekday
		short bool
	}{
		{"2026-01-01", DayHoliday, 0, false},
		{"2026-01-07", DayHoliday, 0, false},
		{"2026-01-08", DayHoliday, 0, false},
		{"2026-01-09", DayOff, 0, false}, // from 3 January
		{"2026-01-12", DayNormal, 0, false},
		{"2026-02-23", DayHoliday, 0, false},
		{"2026-03-09", DayOff, 0, false}, // 8 March was a Sunday
		{"2026-04-30", DayShort, 0, true},
		{"2026-05-11", DayOff, 0, false}, // 9 May was a Saturday
		{"2026-06-12", DayHoliday, 0, false},
		{"2026-11-04", DayHoliday, 0, false},
		{"2026-12-31", DayOff, 0, false}, // from 4 January
		{"2027-01-08", DayHoliday, 0, false},
		{"2027-01-11", DayNormal, 0, false},
		{"2027-02-20", DayWork, time.Monday, true},
		{"2027-02-22", DayOff, 0, false},
		{"2027-05-03", DayOff, 0, false},
		{"2027-05-10", DayOff, 0, false},
		{"2027-06-14", DayOff, 0, false},
		{"2027-11-05", DayOff, 0, false},
		{"2027-11-13", DayNormal, 0, false}, // a preliminary plan had it working; the data does not
		{"2027-12-31", DayOff, 0, false},
	}
	for _, tt := range tests {
		d, _ := ParseDate(tt.date)
		day, _ := cal.Day(d)
		if day.Kind != tt.kind || day.Short != tt.short || (tt.kind == DayWork && day.As != tt.as) {
			t.Errorf("%s: %+v, want %s short=%v as=%s", tt.date, day, tt.kind, tt.short, tt.as)
		}
	}
	// 2026 has 247 working days as published (penza-news.net, 2026-01-13, citing Penzastat);
	// 2027 is pinned at what the data gives, so an edit that changes it is noticed.
	for year, want := range map[int]int{2026: 247, 2027: 247} {
		if got := workingDays(cal, year); got != want {
			t.Errorf("%d: %d working days, want %d", year, got, want)
		}
	}
}

func workingDays(cal *Calendar, year int) int {
	n := 0
	for d := time.Date(year, 1, 1, 12, 0, 0, 0, time.UTC); d.Year() == year; d = d.AddDate(0, 0, 1) {
		day, listed := cal.Day(DateOf(d))
		switch {
		case listed && (day.Kind == DayHoliday || day.Kind == DayOff):
		case listed && day.Kind == DayWork:
			n++
		case d.Weekday() != time.Saturday && d.Weekday() != time.Sunday:
			n++
		}
	}
	return n
}

func TestCalendarWarnings(t *testing.T) {
	cal, err := LoadRussianCalendar()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		now  time.Time
		want []string // substrings, one per warning
	}{
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), []string{"2027 comes from secondary sources"}},
		{time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), []string{"2027 comes from secondary sources", "does not cover 2028"}},
		{time.Date(2029, 3, 1, 0, 0, 0, 0, time.UTC), []string{"does not cover 2029", "does not cover 2030"}},
	}
	for _, tt := range tests {
		got := cal.Warnings(tt.now)
		if len(got) != len(tt.want) {
			t.Errorf("%s: warnings %q, want %q", tt.now, got, tt.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tt.want[i]) {
				t.Errorf("%s: warning %q, want %q", tt.now, got[i], tt.want[i])
			}
		}
	}
}

func TestCalendarConfig(t *testing.T) {
	src := `ivr:
  default_queue: q
  calendar:
    years: [2028]
    dates:
      "2027-12-30": off
      "2027-02-20": normal
      "2028-01-01": holiday
      "2028-03-11": work fri
  schedules:
    office:
      weekly:
        mon-thu: "09:00-18:00"
        fri: "09:00-16:45"
      exceptions:
        "2027-11-05": "10:00-14:00"
        "2027-03-01": closed
  flows:
    main:
      nodes:
        q:
          type: queue
          queue: q
`
	f := mustParse(t, src)
	s := f.Schedules["office"]
	tests := []struct {
		at   time.Time
		open bool
	}{
		{time.Date(2027, 12, 30, 12, 0, 0, 0, msk), false}, // added day off
		{time.Date(2027, 2, 20, 12, 0, 0, 0, msk), false},  // working Saturday removed: plain Saturday
		{time.Date(2028, 3, 11, 16, 30, 0, 0, msk), true},  // Saturday working as a Friday
		{time.Date(2028, 3, 11, 16, 45, 0, 0, msk), false}, // Friday hours end 16:45
		{time.Date(2027, 11, 5, 11, 0, 0, 0, msk), true},   // exception wins over the calendar's day off
		{time.Date(2027, 11, 5, 14, 0, 0, 0, msk), false},  // exception hours end 14:00
		{time.Date(2027, 3, 1, 12, 0, 0, 0, msk), false},   // closed by exception on a Monday
		{time.Date(2027, 3, 2, 12, 0, 0, 0, msk), true},    // ordinary Tuesday
	}
	for _, tt := range tests {
		if got := s.Open(tt.at); got != tt.open {
			t.Errorf("Open(%s) = %v, want %v", tt.at, got, tt.open)
		}
	}
	// 2028 is declared covered by config: only the 2027 note remains.
	w := f.Warnings(time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC))
	if len(w) != 1 || !strings.Contains(w[0], "2027") {
		t.Errorf("warnings %q", w)
	}
}

func TestScheduleParsing(t *testing.T) {
	tests := []struct {
		spans string
		want  []Span
		err   bool
	}{
		{"09:00-18:00", []Span{{540, 1080}}, false},
		{"09:00-13:00, 14:00-18:00", []Span{{540, 780}, {840, 1080}}, false},
		{"00:00-24:00", []Span{{0, 1440}}, false},
		{"closed", []Span{}, false},
		{"22:00-02:00", nil, true},
		{"09:00-13:00, 12:00-18:00", nil, true},
		{"9-18", nil, true},
		{"09:60-18:00", nil, true},
	}
	for _, tt := range tests {
		got, err := parseSpans(tt.spans)
		if (err != nil) != tt.err || !tt.err && !spansEqual(got, tt.want) {
			t.Errorf("parseSpans(%q) = %v, %v; want %v err=%v", tt.spans, got, err, tt.want, tt.err)
		}
	}
	days := []struct {
		in   string
		want []time.Weekday
	}{
		{"mon-fri", []time.Weekday{1, 2, 3, 4, 5}},
		{"sat,sun", []time.Weekday{6, 0}},
		{"fri-mon", []time.Weekday{5, 6, 0, 1}},
		{"daily", []time.Weekday{1, 2, 3, 4, 5, 6, 0}},
	}
	for _, tt := range days {
		got, err := parseWeekdays(tt.in)
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("parseWeekdays(%q) = %v, %v", tt.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("parseWeekdays(%q) = %v, want %v", tt.in, got, tt.want)
				break
			}
		}
	}
}

func spansEqual(a, b []Span) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestShortenPreholiday(t *testing.T) {
	cal, _ := LoadRussianCalendar()
	s := &Schedule{Zone: msk, Calendar: cal, ShortenPreholiday: true}
	s.Weekly[time.Thursday] = []Span{{9 * 60, 18 * 60}}
	s.Weekly[time.Monday] = []Span{{9 * 60, 18 * 60}}
	if s.Open(time.Date(2026, 4, 30, 17, 30, 0, 0, msk)) {
		t.Error("30 April 2026 is a short day: closed at 17:30")
	}
	if !s.Open(time.Date(2026, 4, 30, 16, 59, 0, 0, msk)) {
		t.Error("30 April 2026 16:59 should be open")
	}
	if s.Open(time.Date(2027, 2, 20, 17, 0, 0, 0, msk)) || !s.Open(time.Date(2027, 2, 20, 9, 0, 0, 0, msk)) {
		t.Error("Saturday 20 February 2027 works Monday hours minus an hour")
	}
}
