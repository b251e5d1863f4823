package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/dialpolicy"
	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/survey"
)

const diallingConfig = `
sip:
  trunks:
    - {name: provider, allow: ["127.0.0.51"]}
    - {name: backup, allow: ["127.0.0.52"]}
agents: [{id: a1, password: pw}]
queues: [{name: q1}]
calendar:
  dates: {"2026-12-29": holiday}
dialling: {per_number: 1}
ivr:
  schedules:
    office: {weekly: {mon-fri: "09:00-18:00"}}
  flows:
    main:
      nodes:
        bye: {type: hangup}
`

// The policy serve builds from the config: trunks default to every
// configured trunk; the spoofed premium numbers of issue 17 are refused
// for the survey and callbacks alike, each refusal an event that
// hotline_dial_refused_total counts.
func TestServeDialPolicy(t *testing.T) {
	cfg, err := config.Parse("dialling.yaml", []byte(diallingConfig))
	if err != nil {
		t.Fatal(err)
	}
	pc := dialPolicyConfig(cfg)
	if len(pc.Trunks) != 2 || pc.PerNumber != 1 {
		t.Fatalf("policy config %+v", pc)
	}
	reg := prometheus.NewRegistry()
	refusals, err := newDialRefusals(reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(refusalSeries(t, reg)); got != 2*len(dialpolicy.Reasons) {
		t.Fatalf("%d series at start, want every purpose and reason", got)
	}
	policy, err := dialpolicy.New(pc, dialpolicy.Deps{Publisher: refusals, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		purpose, number, trunk string
		want                   dialpolicy.Reason
	}{
		{dialpolicy.PurposeSurvey, "+78091234567", "provider", dialpolicy.Denied},
		{dialpolicy.PurposeCallback, "+78031234567", "backup", dialpolicy.Denied},
		{dialpolicy.PurposeCallback, "+449091234567", "provider", dialpolicy.Denied},
		{dialpolicy.PurposeSurvey, "+19005551234", "provider", dialpolicy.Denied},
		{dialpolicy.PurposeSurvey, "+79141234567", "unknown-trunk", dialpolicy.NotInbound},
		{dialpolicy.PurposeSurvey, "+79141234567", "provider", ""},
		{dialpolicy.PurposeCallback, "+79141234567", "provider", dialpolicy.PerNumber}, // one dial a day, shared
	} {
		err := policy.Permit(ctx, dialpolicy.Request{Purpose: c.purpose, Number: c.number, Trunk: c.trunk, CallID: "c"})
		ref, _ := dialpolicy.AsRefusal(err)
		if c.want == "" && err != nil || c.want != "" && (ref == nil || ref.Reason != c.want) {
			t.Errorf("%s %s via %s: %v, want %q", c.purpose, c.number, c.trunk, err, c.want)
		}
	}
	series := refusalSeries(t, reg)
	for _, c := range []struct {
		purpose string
		reason  dialpolicy.Reason
		want    float64
	}{
		{"survey", dialpolicy.Denied, 2}, {"callback", dialpolicy.Denied, 2},
		{"survey", dialpolicy.NotInbound, 1}, {"callback", dialpolicy.PerNumber, 1}, {"survey", dialpolicy.DailyCap, 0},
	} {
		if got := series[c.purpose+"/"+string(c.reason)]; got != c.want {
			t.Errorf("hotline_dial_refused_total{purpose=%q,reason=%q} = %v, want %v", c.purpose, c.reason, got, c.want)
		}
	}
	refusals.Publish(eventlog.Event{Type: eventlog.CallArrived}) // other events are not counted
}

// refusalSeries gathers hotline_dial_refused_total by "purpose/reason".
func refusalSeries(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "hotline_dial_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out[l["purpose"]+"/"+l["reason"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

// One calendar: the calendar section is the IVR's (its schedules close on
// the configured holiday) and the survey's (serve passes the IVR's
// calendar as the survey's holidays).
func TestOneCalendarForIVRAndSurvey(t *testing.T) {
	cfg, err := config.Parse("dialling.yaml", []byte(diallingConfig))
	if err != nil {
		t.Fatal(err)
	}
	flows, err := ivr.ParseFlows(cfg.File, cfg.IVRSection())
	if err != nil {
		t.Fatal(err)
	}
	msk, _ := time.LoadLocation("Europe/Moscow")
	tuesday := time.Date(2026, 12, 29, 12, 0, 0, 0, msk) // a working Tuesday made a holiday in config
	if flows.Schedules["office"].Open(tuesday) {
		t.Error("the IVR's office schedule is open on the configured holiday")
	}
	holidays := survey.CalendarHolidays(flows.Calendar)
	if !holidays.IsHoliday(time.Date(2026, 12, 29, 0, 0, 0, 0, msk)) {
		t.Error("the survey does not see the configured holiday")
	}
	if holidays.IsHoliday(time.Date(2026, 12, 28, 0, 0, 0, 0, msk)) || !holidays.IsHoliday(time.Date(2026, 1, 1, 0, 0, 0, 0, msk)) {
		t.Error("the survey's calendar is not the built-in one plus the configured dates")
	}
}

// hotline_survey_numbers counts the numbers by zone certainty and outcome.
func TestSurveyNumbersGauge(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	db := pgtest.New(t)
	ctx := context.Background()
	if err := survey.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, r := range []struct{ status, state, reason string }{
		{"known", "scheduled", ""}, {"known", "completed", ""}, {"ambiguous", "skipped", "zone-unknown"},
		{"unknown", "skipped", "no-window"}, {"", "skipped", "opted-out"},
	} {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO survey (call_id, state, reason, zone_status, call_at, ended_at) VALUES ($1, $2, $3, $4, $5, $5)`,
			"c"+string(rune('0'+i)), r.state, r.reason, r.status, now); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(surveyBacklog{pool: db.Pool, now: func() time.Time { return now }})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	series := 0
	for _, mf := range mfs {
		if mf.GetName() != "hotline_survey_numbers" {
			continue
		}
		for _, m := range mf.GetMetric() {
			series++
			got[m.GetLabel()[1].GetValue()+"/"+m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue() // zone/outcome (labels sort by name)
		}
	}
	if series != 9 || got["known/scheduled"] != 2 || got["ambiguous/zone-unknown"] != 1 || got["unknown/no-window"] != 1 || got["unknown/scheduled"] != 0 {
		t.Errorf("%d series %v", series, got)
	}
}

// The survey reads the calendar of the flows in use: a reload (SIGHUP)
// that changes the calendar section reaches the survey at once.
func TestSurveyCalendarFollowsReload(t *testing.T) {
	parse := func(extra string) *ivr.Calendar {
		cfg, err := config.Parse("dialling.yaml", []byte(strings.Replace(diallingConfig, `  dates: {"2026-12-29": holiday}`, extra, 1)))
		if err != nil {
			t.Fatal(err)
		}
		flows, err := ivr.ParseFlows(cfg.File, cfg.IVRSection())
		if err != nil {
			t.Fatal(err)
		}
		return flows.Calendar
	}
	s := &Server{}
	s.flows.Store(&callFlows{calendar: parse(`  dates: {"2026-12-29": holiday}`)})
	c := currentCalendar{s}
	msk, _ := time.LoadLocation("Europe/Moscow")
	tue, sat := time.Date(2026, 12, 29, 0, 0, 0, 0, msk), time.Date(2026, 12, 26, 0, 0, 0, 0, msk)
	if !c.IsHoliday(tue) || c.IsWorkingWeekend(sat) {
		t.Fatal("before the reload")
	}
	s.flows.Store(&callFlows{calendar: parse(`  dates: {"2026-12-26": work}`)})
	if c.IsHoliday(tue) || !c.IsWorkingWeekend(sat) {
		t.Fatal("after the reload the survey still has the old calendar")
	}
}
