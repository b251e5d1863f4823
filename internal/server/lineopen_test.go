package server

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/survey"
)

// gather returns the single-series gauges of reg by name and first label
// value ("" without labels).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			k := mf.GetName()
			if ls := m.GetLabel(); len(ls) > 0 {
				k += "/" + ls[0].GetValue()
			}
			out[k] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestLineOpen: hotline_line_open follows the IVR schedules and the
// production calendar, at the injected time.
func TestLineOpen(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	cal, err := ivr.LoadRussianCalendar()
	if err != nil {
		t.Fatal(err)
	}
	office := &ivr.Schedule{Name: "office", Zone: msk, Calendar: cal}
	for wd := time.Monday; wd <= time.Friday; wd++ {
		office.Weekly[wd] = []ivr.Span{{From: 9 * 60, To: 18 * 60}}
	}
	scheds := map[string]*ivr.Schedule{"office": office, "support": {Name: "support", Always: true}}
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, msk) // Friday 10:00
	reg := prometheus.NewRegistry()
	reg.MustRegister(lineOpen{schedules: func() map[string]*ivr.Schedule { return scheds }, now: func() time.Time { return now }})
	for _, tc := range []struct {
		at     time.Time
		office float64
	}{
		{time.Date(2026, 12, 4, 10, 0, 0, 0, msk), 1}, // Friday, working hours
		{time.Date(2026, 12, 4, 18, 0, 0, 0, msk), 0}, // 18:00: closed
		{time.Date(2026, 12, 5, 10, 0, 0, 0, msk), 0}, // Saturday
		{time.Date(2026, 1, 5, 10, 0, 0, 0, msk), 0},  // Monday, New Year holidays (calendar)
		{time.Date(2026, 1, 12, 10, 0, 0, 0, msk), 1}, // Monday after them
		{time.Date(2026, 12, 7, 8, 59, 0, 0, msk), 0}, // before opening
	} {
		now = tc.at
		got := gather(t, reg)
		if got["hotline_line_open/office"] != tc.office || got["hotline_line_open/support"] != 1 {
			t.Errorf("%v: %v, want office %v, support 1", tc.at, got, tc.office)
		}
	}
}

// TestSurveyBacklog: hotline_survey_due counts scheduled and retry survey
// calls whose time has come; hotline_survey_pending all of them.
func TestSurveyBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	db := pgtest.New(t)
	ctx := context.Background()
	if err := survey.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for i, r := range []struct {
		state string
		next  time.Time
	}{
		{"scheduled", now.Add(-time.Hour)}, {"retry", now.Add(-time.Minute)}, {"scheduled", now.Add(time.Hour)},
		{"completed", now.Add(-time.Hour)}, {"failed", now.Add(-time.Hour)}, {"in_progress", now.Add(-time.Hour)},
	} {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO survey (call_id, state, call_at, ended_at, next_at) VALUES ($1, $2, $3, $3, $4)`,
			"c"+string(rune('0'+i)), r.state, now.Add(-24*time.Hour), r.next); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(surveyBacklog{pool: db.Pool, now: func() time.Time { return now }})
	got := gather(t, reg)
	if got["hotline_survey_due"] != 2 || got["hotline_survey_pending"] != 3 {
		t.Errorf("%v, want due 2, pending 3", got)
	}
}
