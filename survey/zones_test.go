package survey

import (
	"testing"
	"time"

	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/numbering"
)

// The window rule for numbers whose zone is ambiguous or unknown: a call
// only at instants inside the window in every zone the number could be
// in. The planner takes the clock as an argument (the injected clock).
func TestWindowRuleForSeveralZones(t *testing.T) {
	yakutia := []*time.Location{mustLoc(t, "Asia/Yakutsk"), mustLoc(t, "Asia/Ust-Nera"), mustLoc(t, "Asia/Srednekolymsk")}
	russia := loadLocs(numbering.RussianZones)
	utc := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, time.UTC) } // 2026-03-10 is a Tuesday
	std := Config{}                                                                           // 10:00–20:00
	wide := Config{Window: Window{From: 9 * time.Hour, To: 21 * time.Hour}}
	weekdays := Config{Window: Window{From: 9 * time.Hour, To: 21 * time.Hour}, SkipWeekends: true}
	tests := []struct {
		name  string
		cfg   Config
		zones []*time.Location
		now   time.Time
		want  bool
	}{
		// Yakutia, UTC+9..+11, 10:00–20:00: 01:00–09:00 UTC.
		{"yakutia 00:59 UTC: 09:59 in Yakutsk", std, yakutia, utc(10, 0, 59), false},
		{"yakutia 01:00 UTC: 10:00 in Yakutsk", std, yakutia, utc(10, 1, 0), true},
		{"yakutia 08:59 UTC: 19:59 in Srednekolymsk", std, yakutia, utc(10, 8, 59), true},
		{"yakutia 09:00 UTC: 20:00 in Srednekolymsk", std, yakutia, utc(10, 9, 0), false},
		{"yakutia alone would allow 10:00 UTC (19:00 Yakutsk)", std, yakutia[:1], utc(10, 10, 0), true},
		// Anywhere in Russia, UTC+2..+12: a 10-hour window fits nowhere.
		{"russia 08:00 UTC, 10:00–20:00", std, russia, utc(10, 8, 0), false},
		{"russia 07:59 UTC, 10:00–20:00", std, russia, utc(10, 7, 59), false},
		// 09:00–21:00: 07:00–09:00 UTC (09:00 Kaliningrad, 19:00–21:00 Kamchatka).
		{"russia 06:59 UTC, 09:00–21:00", wide, russia, utc(10, 6, 59), false},
		{"russia 07:00 UTC, 09:00–21:00", wide, russia, utc(10, 7, 0), true},
		{"russia 08:59 UTC, 09:00–21:00", wide, russia, utc(10, 8, 59), true},
		{"russia 09:00 UTC, 09:00–21:00", wide, russia, utc(10, 9, 0), false},
		// A working day must be a working day in every zone too.
		{"russia Friday 08:00 UTC", weekdays, russia, utc(13, 8, 0), true},
		{"russia Saturday 07:00 UTC", weekdays, russia, utc(14, 7, 0), false},
		{"no zones", std, nil, utc(10, 8, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewPlanner(tt.cfg, nil).InWindowAll(tt.now, tt.zones); got != tt.want {
				t.Fatalf("InWindowAll(%s) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}

// The first survey call of an ambiguous number lands where the windows of
// all its zones meet, on a day after the call in each; an unknown Russian
// number with a window too short for eleven zones gets none.
func TestFirstForSeveralZones(t *testing.T) {
	yakutia := []*time.Location{mustLoc(t, "Asia/Yakutsk"), mustLoc(t, "Asia/Ust-Nera"), mustLoc(t, "Asia/Srednekolymsk")}
	russia := loadLocs(numbering.RussianZones)
	ended := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC) // Tuesday, 19:00–21:00 in Yakutia, 22:00 in Kamchatka
	tests := []struct {
		name       string
		cfg        Config
		zones      []*time.Location
		from, till time.Time // UTC bounds of the expected time
		ok         bool
	}{
		{"yakutia next day", Config{}, yakutia,
			time.Date(2026, 3, 11, 1, 0, 0, 0, time.UTC), time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC), true},
		{"russia 10:00–20:00: never", Config{}, russia, time.Time{}, time.Time{}, false},
		// The next day starts at 12:00 UTC on the 10th in Kamchatka (UTC+12),
		// at 22:00 UTC in Kaliningrad (UTC+2): the 11th, 07:00–09:00 UTC.
		{"russia 09:00–21:00", Config{Window: Window{From: 9 * time.Hour, To: 21 * time.Hour}}, russia,
			time.Date(2026, 3, 11, 7, 0, 0, 0, time.UTC), time.Date(2026, 3, 11, 9, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPlanner(tt.cfg, nil)
			for _, id := range []string{"a", "b", "c", "d", "e"} {
				at, ok := p.FirstAll(id, ended, tt.zones)
				if ok != tt.ok {
					t.Fatalf("FirstAll ok = %v (%s)", ok, at)
				}
				if !ok {
					continue
				}
				if at.Before(tt.from) || !at.Before(tt.till) || !p.InWindowAll(at, tt.zones) {
					t.Fatalf("%s: %s, want in [%s, %s) and inside every window", id, at.UTC(), tt.from, tt.till)
				}
			}
		})
	}
	// A retry after an unanswered attempt stays inside every window.
	p := NewPlanner(Config{}, nil)
	now := time.Date(2026, 3, 11, 8, 30, 0, 0, time.UTC)
	next, ok := p.NextRetryAll(now, yakutia, p.DeadlineAll(ended, yakutia))
	if want := time.Date(2026, 3, 12, 1, 0, 0, 0, time.UTC); !ok || !next.Equal(want) {
		t.Fatalf("NextRetryAll = %s %v, want %s", next.UTC(), ok, want)
	}
}

// The survey's working days are the calendar's: a Saturday the
// production calendar makes a working day is a calling day with
// skip_weekends, a configured holiday is not.
func TestWorkingWeekendFromTheCalendar(t *testing.T) {
	msk := mustLoc(t, "Europe/Moscow")
	cal, err := ivr.LoadRussianCalendar()
	if err != nil {
		t.Fatal(err)
	}
	sat, _ := ivr.ParseDate("2026-11-28")
	cal.Set(sat, ivr.CalendarDay{Kind: ivr.DayWork, As: time.Monday})
	tue, _ := ivr.ParseDate("2026-11-24")
	cal.Set(tue, ivr.CalendarDay{Kind: ivr.DayHoliday})
	p := NewPlanner(Config{SkipWeekends: true, SkipHolidays: true}, CalendarHolidays(cal))
	for _, c := range []struct {
		day  int
		want bool
	}{{23, true}, {24, false}, {28, true}, {29, false}} {
		if got := p.Allowed(time.Date(2026, 11, c.day, 0, 0, 0, 0, msk)); got != c.want {
			t.Errorf("November %d: Allowed = %v, want %v", c.day, got, c.want)
		}
	}
}
