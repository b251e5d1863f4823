package survey

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/numbering"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Without a numbering plan: hotline's prefix table and libphonenumber for
// landlines; a mobile number could be anywhere in Russia.
func TestZonesForWithoutPlan(t *testing.T) {
	msk := mustLoc(t, "Europe/Moscow")
	tests := []struct {
		number, zones, status, source string
	}{
		{"+74232123456", "Asia/Vladivostok", ZoneKnown, "number"},
		{"+74012123456", "Europe/Kaliningrad", ZoneKnown, "prefix"},
		{"+73432123456", "Asia/Yekaterinburg", ZoneKnown, "number"},
		{"+74152123456", "Asia/Kamchatka", ZoneKnown, "number"},
		{"+74951234567", "Europe/Moscow", ZoneKnown, "number"},
		// issue 15: libphonenumber says Moscow for every mobile.
		{"+79141234567", strings.Join(numbering.RussianZones, ","), ZoneUnknown, "country"},
		{"+77011234567", "Asia/Almaty,Asia/Aqtobe", ZoneAmbiguous, "number"},
		{"garbage", "Europe/Moscow", ZoneUnknown, "service"},
	}
	for _, tt := range tests {
		z := ZonesFor(tt.number, "RU", nil, msk)
		if z.String() != tt.zones || z.Status != tt.status || z.Source != tt.source {
			t.Errorf("ZonesFor(%s) = %s (%s, %s), want %s (%s, %s)", tt.number, z, z.Status, z.Source, tt.zones, tt.status, tt.source)
		}
	}
}

// With the numbering plan (numbering/testdata, the regulator's format):
// mobile ranges get their region's zone; Yakutia is ambiguous; a range of
// a region the table does not know could be anywhere in Russia.
func TestZonesForWithPlan(t *testing.T) {
	msk := mustLoc(t, "Europe/Moscow")
	plan, err := numbering.Load("../numbering/testdata/DEF-9xx.csv", "../numbering/testdata/ABC-3xx.csv")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		number, zones, status, source string
	}{
		{"+79141234567", "Asia/Vladivostok", ZoneKnown, "plan"},
		{"+79217123456", "Europe/Kaliningrad", ZoneKnown, "plan"},
		{"+79272345678", "Europe/Samara", ZoneKnown, "plan"},
		{"+79122345678", "Asia/Yekaterinburg", ZoneKnown, "plan"},
		{"+79136345678", "Asia/Omsk", ZoneKnown, "plan"},
		{"+79139345678", "Asia/Novosibirsk", ZoneKnown, "plan"},
		{"+79232345678", "Asia/Krasnoyarsk", ZoneKnown, "plan"},
		{"+79148712345", "Asia/Irkutsk", ZoneKnown, "plan"},
		{"+79145512345", "Asia/Yakutsk", ZoneKnown, "plan"},
		{"+79148512345", "Asia/Magadan", ZoneKnown, "plan"},
		{"+79147812345", "Asia/Kamchatka", ZoneKnown, "plan"},
		{"+79142212345", "Asia/Srednekolymsk,Asia/Ust-Nera,Asia/Yakutsk", ZoneAmbiguous, "plan"},
		{"+79400012345", strings.Join(numbering.RussianZones, ","), ZoneUnknown, "country"},
		{"+79150000000", strings.Join(numbering.RussianZones, ","), ZoneUnknown, "country"}, // not in the sample
		{"+74232123456", "Asia/Vladivostok", ZoneKnown, "plan"},
		{"+74152123456", "Asia/Kamchatka", ZoneKnown, "number"}, // not in the sample: libphonenumber
	}
	for _, tt := range tests {
		z := ZonesFor(tt.number, "RU", plan, msk)
		if z.String() != tt.zones || z.Status != tt.status || z.Source != tt.source {
			t.Errorf("ZonesFor(%s) = %s (%s, %s), want %s (%s, %s)", tt.number, z, z.Status, z.Source, tt.zones, tt.status, tt.source)
		}
	}
}

// A caller who called at 23:00 Moscow time is called the next day (in
// their own zone) between 10:00 and 20:00 local time.
func TestFirstNextDayInCallersZone(t *testing.T) {
	msk := mustLoc(t, "Europe/Moscow")
	ended := time.Date(2026, 3, 10, 23, 0, 0, 0, msk) // Tuesday
	p := NewPlanner(Config{}, nil)
	tests := []struct {
		name, number, zone string
		wantDay            int // local day of month
	}{
		// 23:00 MSK is 06:00 on the 11th in Vladivostok (UTC+10): the next local day is the 12th.
		{"vladivostok", "+74232123456", "Asia/Vladivostok", 12},
		// 23:00 MSK is 22:00 on the 10th in Kaliningrad (UTC+2): the 11th.
		{"kaliningrad", "+74012123456", "Europe/Kaliningrad", 11},
		{"moscow", "+74951234567", "Europe/Moscow", 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := ZonesFor(tt.number, "RU", nil, msk)
			loc := z.Locs[0]
			if z.String() != tt.zone {
				t.Fatalf("zone %s, want %s", loc, tt.zone)
			}
			for i := range 50 {
				id := fmt.Sprintf("%s-%d", tt.name, i)
				at, ok := p.First(id, ended, loc)
				if !ok {
					t.Fatalf("%s: no time", id)
				}
				local := at.In(loc)
				if local.Day() != tt.wantDay || local.Hour() < 10 || local.Hour() >= 20 {
					t.Fatalf("%s: survey at %s local, want the %dth 10:00–20:00", id, local, tt.wantDay)
				}
				if local.Day() != ended.In(loc).Day()+1 {
					t.Fatalf("%s: not the next local day: call %s, survey %s", id, ended.In(loc), local)
				}
				again, _ := p.First(id, ended, loc)
				if !again.Equal(at) {
					t.Fatalf("%s: not deterministic: %s then %s", id, at, again)
				}
			}
		})
	}
}

func TestFirstSpreadsOverWindow(t *testing.T) {
	msk := mustLoc(t, "Europe/Moscow")
	p := NewPlanner(Config{}, nil)
	ended := time.Date(2026, 3, 10, 12, 0, 0, 0, msk)
	lo, hi := 24*time.Hour, time.Duration(0)
	for i := range 500 {
		at, _ := p.First(fmt.Sprint("call-", i), ended, msk)
		off := at.Sub(midnight(at, msk))
		lo, hi = min(lo, off), max(hi, off)
	}
	if lo < 10*time.Hour || lo > 10*time.Hour+30*time.Minute || hi >= 20*time.Hour || hi < 19*time.Hour+25*time.Minute {
		t.Fatalf("500 surveys spread over %s..%s, want most of 10:00..19:55", lo, hi)
	}
}

func TestRetryMovesIntoWindow(t *testing.T) {
	vlad := mustLoc(t, "Asia/Vladivostok")
	p := NewPlanner(Config{}, nil)
	ended := time.Date(2026, 3, 10, 12, 0, 0, 0, vlad)
	deadline := p.Deadline(ended, vlad)
	tests := []struct {
		now, want time.Time
		ok        bool
	}{
		{time.Date(2026, 3, 11, 15, 0, 0, 0, vlad), time.Date(2026, 3, 11, 17, 0, 0, 0, vlad), true},
		{time.Date(2026, 3, 11, 19, 30, 0, 0, vlad), time.Date(2026, 3, 12, 10, 0, 0, 0, vlad), true},  // near 20:00: next day
		{time.Date(2026, 3, 11, 17, 59, 0, 0, vlad), time.Date(2026, 3, 11, 19, 59, 0, 0, vlad), true}, // still inside
		{time.Date(2026, 3, 13, 19, 0, 0, 0, vlad), time.Time{}, false},                                // past the last day (3 days)
	}
	for _, tt := range tests {
		got, ok := p.NextRetry(tt.now, vlad, deadline)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("NextRetry(%s) = %s %v, want %s %v", tt.now, got, ok, tt.want, tt.ok)
		}
	}
}

func TestHolidaysAndWeekendsSkipped(t *testing.T) {
	msk := mustLoc(t, "Europe/Moscow")
	hol := HolidayFunc(func(d time.Time) bool { return d.Month() == 3 && d.Day() == 11 })
	ended := time.Date(2026, 3, 10, 15, 0, 0, 0, msk) // Tuesday
	tests := []struct {
		name    string
		cfg     Config
		wantDay int
	}{
		{"no skipping", Config{}, 11},
		{"holiday skipped", Config{SkipHolidays: true}, 12},
		{"holiday configured off", Config{SkipHolidays: false}, 11},
	}
	for _, tt := range tests {
		at, ok := NewPlanner(tt.cfg, hol).First("c1", ended, msk)
		if !ok || at.In(msk).Day() != tt.wantDay {
			t.Errorf("%s: %s %v, want the %dth", tt.name, at, ok, tt.wantDay)
		}
	}
	// Friday call with weekends skipped: Monday.
	fri := time.Date(2026, 3, 13, 15, 0, 0, 0, msk)
	at, ok := NewPlanner(Config{SkipWeekends: true}, nil).First("c2", fri, msk)
	if !ok || at.In(msk).Weekday() != time.Monday {
		t.Errorf("friday call: %s %v, want Monday", at, ok)
	}
	// The real production calendar: Friday 20 Feb 2026, Monday the 23rd is
	// Defender of the Fatherland Day, so Tuesday the 24th.
	cal, err := ivr.LoadRussianCalendar()
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlanner(Config{SkipWeekends: true, SkipHolidays: true, LastDay: 5}, CalendarHolidays(cal))
	at, ok = p.First("c3", time.Date(2026, 2, 20, 15, 0, 0, 0, msk), msk)
	if !ok || at.In(msk).Day() != 24 {
		t.Errorf("before 23 February: %s %v, want the 24th", at, ok)
	}
	// With the default last day (3) nothing is left: skipped as no-window.
	p = NewPlanner(Config{SkipWeekends: true, SkipHolidays: true}, CalendarHolidays(cal))
	if at, ok := p.First("c3", time.Date(2026, 2, 20, 15, 0, 0, 0, msk), msk); ok {
		t.Errorf("last day 3 over a long weekend: got %s, want none", at)
	}
}

func TestDemoDelay(t *testing.T) {
	msk := mustLoc(t, "Europe/Moscow")
	p := NewPlanner(Config{Delay: 30 * time.Second, Window: Window{0, 23*time.Hour + 59*time.Minute}}, nil)
	ended := time.Date(2026, 3, 10, 23, 59, 45, 0, msk)
	at, ok := p.First("x", ended, msk)
	if !ok || !at.Equal(ended.Add(30*time.Second)) {
		t.Fatalf("demo: %s %v, want 30 s after the call", at, ok)
	}
	if got, _ := p.NextRetry(ended, msk, p.Deadline(ended, msk)); !got.Equal(ended.Add(2 * time.Hour)) {
		t.Fatalf("demo retry %s", got)
	}
	// A short delay that lands outside the window goes to the next window.
	p = NewPlanner(Config{Delay: 30 * time.Second}, nil)
	at, ok = p.First("x", time.Date(2026, 3, 10, 21, 0, 0, 0, msk), msk)
	if !ok || at.Day() != 11 || at.Hour() < 10 || at.Hour() >= 20 {
		t.Fatalf("short delay at night: %s %v", at, ok)
	}
}

func TestInWindow(t *testing.T) {
	msk := mustLoc(t, "Europe/Moscow")
	p := NewPlanner(Config{SkipWeekends: true}, nil)
	for _, tt := range []struct {
		t    time.Time
		want bool
	}{
		{time.Date(2026, 3, 10, 9, 59, 0, 0, msk), false},
		{time.Date(2026, 3, 10, 10, 0, 0, 0, msk), true},
		{time.Date(2026, 3, 10, 19, 59, 59, 0, msk), true},
		{time.Date(2026, 3, 10, 20, 0, 0, 0, msk), false},
		{time.Date(2026, 3, 14, 12, 0, 0, 0, msk), false}, // Saturday
	} {
		if got := p.InWindow(tt.t, msk); got != tt.want {
			t.Errorf("InWindow(%s) = %v", tt.t, got)
		}
	}
}
