package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/ivr"
)

const calendarBase = `
sip: {trunks: [{name: provider, allow: ["127.0.0.2"]}]}
agents: [{id: a1, password: pw}]
queues: [{name: q1}]
`

const ivrSection = `ivr:
  flows:
    main:
      nodes:
        bye: {type: hangup}
`

// The one calendar: whichever way a file writes it, package ivr builds
// one calendar from IVRSection, and the survey gets that same calendar
// (internal/server). Old forms load with a warning naming file:line.
func TestOneCalendar(t *testing.T) {
	tests := []struct {
		name, src   string
		holiday     string // a date the calendar must call a holiday
		work        string // a weekend date it must call a working day
		warnings    []string
		nonHolidays []string
	}{
		{"top-level calendar", calendarBase + "calendar:\n  builtin: ru\n  dates:\n    \"2026-12-30\": holiday\n    \"2026-12-26\": work\n" + ivrSection,
			"2026-12-30", "2026-12-26", nil, nil},
		{"old holidays and workdays are migrated", calendarBase + "calendar:\n  holidays: [\"2026-12-30\"]\n  workdays: [\"2026-12-26\"]\n" + ivrSection,
			"2026-12-30", "2026-12-26", []string{"test.yaml:6: calendar.holidays: deprecated", "test.yaml:7: calendar.workdays: deprecated"}, nil},
		{"old ivr.calendar still loads", calendarBase + ivrSection + "  calendar:\n    dates: {\"2026-12-30\": holiday, \"2026-12-26\": work}\n",
			"2026-12-30", "2026-12-26", []string{"test.yaml:10: ivr.calendar: deprecated: move this section to the top-level calendar"}, nil},
		{"old top-level holidays join an old ivr.calendar", calendarBase + "calendar: {holidays: [\"2026-12-30\"], workdays: []}\n" + ivrSection + "  calendar:\n    builtin: ru\n",
			"2026-12-30", "", []string{"test.yaml:5: calendar.holidays: deprecated", "test.yaml:11: ivr.calendar: deprecated"}, nil},
		{"builtin none", calendarBase + "calendar: {builtin: none}\n" + ivrSection, "", "", nil, []string{"2026-01-01"}},
		{"builtin by default", calendarBase + ivrSection, "2026-01-01", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse("test.yaml", []byte(tt.src), testEnv())
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) != len(tt.warnings) {
				t.Fatalf("warnings %q, want %d", c.Warnings, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				if !strings.HasPrefix(c.Warnings[i], w) {
					t.Errorf("warning %q, want %q…", c.Warnings[i], w)
				}
			}
			flows, err := ivr.ParseFlows(c.File, c.IVRSection())
			if err != nil {
				t.Fatal(err)
			}
			day := func(s string) (ivr.CalendarDay, bool) {
				d, err := ivr.ParseDate(s)
				if err != nil {
					t.Fatal(err)
				}
				return flows.Calendar.Day(d)
			}
			if tt.holiday != "" {
				if d, ok := day(tt.holiday); !ok || d.Kind != ivr.DayHoliday {
					t.Errorf("%s: %+v %v, want a holiday", tt.holiday, d, ok)
				}
			}
			if tt.work != "" {
				if d, ok := day(tt.work); !ok || d.Kind != ivr.DayWork {
					t.Errorf("%s: %+v %v, want a working day", tt.work, d, ok)
				}
			}
			for _, s := range tt.nonHolidays {
				if d, ok := day(s); ok {
					t.Errorf("%s: %+v with builtin none", s, d)
				}
			}
			// The file's own nodes are untouched: the printed config
			// reads back the same.
			if _, v := mappingValue(c.IVR, "calendar"); v != nil && tt.name == "top-level calendar" {
				t.Error("the ivr node as written gained a calendar")
			}
		})
	}
}

func TestCalendarErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      string
	}{
		{"configured twice", calendarBase + "calendar:\n  dates: {\"2026-12-30\": holiday}\n" + ivrSection + "  calendar: {builtin: ru}\n",
			"test.yaml:12: ivr.calendar: the calendar is configured twice: here and in the top-level calendar section (line 5)"},
		{"year_data", calendarBase + "calendar:\n  year_data: cal.txt\n" + ivrSection,
			"test.yaml:6: calendar.year_data: no longer supported"},
		{"old holiday also in dates", calendarBase + "calendar:\n  dates: {\"2026-12-30\": off}\n  holidays: [\"2026-12-30\"]\n" + ivrSection,
			"test.yaml:7: calendar.holidays[0]: 2026-12-30 is also in calendar.dates"},
		{"reporting.intervals other than 15m", calendarBase + "reporting:\n  intervals: 30m\n" + ivrSection,
			"test.yaml:6: reporting.intervals: 30m0s is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("test.yaml", []byte(tt.src), testEnv())
			var l ErrorList
			if !errors.As(err, &l) || !strings.HasPrefix(l[0].Error(), tt.want) {
				t.Fatalf("err = %v, want %s…", err, tt.want)
			}
		})
	}
	c, err := parse("test.yaml", []byte(calendarBase+"reporting: {intervals: 15m}\n"+ivrSection), testEnv())
	if err != nil || len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], "test.yaml:5: reporting.intervals: deprecated") {
		t.Fatalf("intervals 15m: %v %q", err, c.Warnings)
	}
}
