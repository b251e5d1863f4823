package staffing

import (
	"errors"
	"testing"
	"time"
)

var msk = time.FixedZone("MSK", 3*60*60)

// rec builds a record at local wall time on the given date in msk, stored in
// UTC as reporting stores it.
func rec(y int, m time.Month, d, hh, mm, offered, handled int, handleSec float64) IntervalRecord {
	return IntervalRecord{
		Start:         time.Date(y, m, d, hh, mm, 0, 0, msk).UTC(),
		Offered:       offered,
		Handled:       handled,
		HandleSeconds: handleSec,
	}
}

func TestForecastDay(t *testing.T) {
	// Forecast Wednesday 2026-03-25. Same weekdays: 18 (1 week back),
	// 11, 4 March and 25 February.
	day := time.Date(2026, 3, 25, 15, 0, 0, 0, msk)
	tg := Target{ServiceLevel: 0.8, Threshold: 20 * time.Second}
	history := []IntervalRecord{
		// 09:00 slot: 40, 30, 20, 10 calls from newest to oldest, AHT 200 s
		// on the newest, 100 s elsewhere.
		rec(2026, 3, 18, 9, 0, 40, 40, 40*200),
		rec(2026, 3, 11, 9, 0, 30, 30, 30*100),
		rec(2026, 3, 4, 9, 0, 20, 20, 20*100),
		rec(2026, 2, 25, 9, 0, 10, 10, 10*100),
		// 09:30 slot only on the newest week: 8 calls, none handled yet;
		// on other weeks it counts as 0.
		rec(2026, 3, 18, 9, 30, 8, 0, 0),
		// Other weekdays and days beyond the window are ignored.
		rec(2026, 3, 24, 9, 0, 1000, 1000, 1000*60),
		rec(2026, 2, 18, 9, 0, 1000, 1000, 1000*60),
		// Records on or after the forecast day are ignored.
		rec(2026, 3, 25, 9, 0, 1000, 1000, 1000*60),
	}
	got, err := ForecastDay(history, day, ForecastOptions{Target: tg})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 48 {
		t.Fatalf("%d intervals, want 48", len(got))
	}
	for i, f := range got {
		want := time.Date(2026, 3, 25, 0, 30*i, 0, 0, msk)
		if !f.Start.Equal(want) {
			t.Fatalf("interval %d starts %v, want %v", i, f.Start, want)
		}
		if f.Source != SourceSameWeekday || f.Days != 4 {
			t.Fatalf("interval %d source %s/%d, want same-weekday/4", i, f.Source, f.Days)
		}
	}
	nine := got[18]
	// (4·40 + 3·30 + 2·20 + 1·10) / (4+3+2+1) = 30 calls.
	near(t, "09:00 calls", nine.Calls, 30, 1e-12)
	// AHT = Σ w·sec / Σ w·handled = (4·8000 + 3·3000 + 2·2000 + 1000) / 300.
	wantAHT := (4*8000.0 + 3*3000 + 2*2000 + 1000) / 300
	near(t, "09:00 AHT", nine.AHT.Seconds(), wantAHT, 1e-6)
	p, err := Required(Traffic{Calls: 30, Interval: 30 * time.Minute, AHT: nine.AHT}, tg)
	if err != nil {
		t.Fatal(err)
	}
	if nine.Agents != p.Agents || nine.Agents == 0 {
		t.Errorf("09:00 agents %d, Required says %d", nine.Agents, p.Agents)
	}
	// 09:30: 4·8/10 calls; AHT falls back to the four days' overall AHT.
	half := got[19]
	near(t, "09:30 calls", half.Calls, 3.2, 1e-12)
	near(t, "09:30 AHT (day fallback)", half.AHT.Seconds(), wantAHT, 1e-6)
	if half.Agents < 1 {
		t.Errorf("09:30 needs agents, got %d", half.Agents)
	}
	// Night: no calls, no agents.
	if got[2].Calls != 0 || got[2].Agents != 0 || got[2].Prediction.ServiceLevel != 1 {
		t.Errorf("01:00 = %+v, want 0 calls and 0 agents", got[2])
	}
}

func TestForecastDayMissingWeeks(t *testing.T) {
	day := time.Date(2026, 3, 25, 0, 0, 0, 0, msk)
	// Only 2 and 4 weeks back are present: weights 3 and 1.
	history := []IntervalRecord{
		rec(2026, 3, 11, 10, 0, 20, 20, 20*120),
		rec(2026, 2, 25, 10, 0, 60, 60, 60*120),
	}
	got, err := ForecastDay(history, day, ForecastOptions{Target: Target{ServiceLevel: 0.9, Threshold: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "10:00 calls", got[20].Calls, (3*20+1*60)/4.0, 1e-12)
	if got[20].Days != 2 {
		t.Errorf("days %d, want 2", got[20].Days)
	}
}

func TestForecastDayFallbacks(t *testing.T) {
	day := time.Date(2026, 3, 25, 0, 0, 0, 0, msk)
	tg := Target{ServiceLevel: 0.8, Threshold: 20 * time.Second}

	// No Wednesday at all: the plain average of the recent days.
	history := []IntervalRecord{
		rec(2026, 3, 24, 12, 0, 10, 0, 0),
		rec(2026, 3, 23, 12, 0, 30, 0, 0),
		rec(2026, 1, 1, 12, 0, 500, 100, 100*90), // outside 28 days: only its AHT is used
	}
	got, err := ForecastDay(history, day, ForecastOptions{Target: tg, Patience: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	noon := got[24]
	if noon.Source != SourceRecentDays || noon.Days != 2 {
		t.Errorf("source %s/%d, want recent-days/2", noon.Source, noon.Days)
	}
	near(t, "12:00 calls", noon.Calls, 20, 1e-12)
	near(t, "12:00 AHT (whole-history fallback)", noon.AHT.Seconds(), 90, 1e-9)
	if noon.Prediction.Model != ErlangAModel || noon.Agents < 1 {
		t.Errorf("12:00 prediction %+v, want Erlang A with agents", noon.Prediction)
	}

	// No handled call anywhere: DefaultAHT, and an error without it.
	history = []IntervalRecord{rec(2026, 3, 18, 8, 0, 5, 0, 0)}
	got, err = ForecastDay(history, day, ForecastOptions{Target: tg, DefaultAHT: 4 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got[16].AHT != 4*time.Minute {
		t.Errorf("AHT %v, want the 4m default", got[16].AHT)
	}
	if _, err := ForecastDay(history, day, ForecastOptions{Target: tg}); err == nil {
		t.Error("no AHT anywhere must be an error")
	}

	// Nothing at all.
	if _, err := ForecastDay(nil, day, ForecastOptions{Target: tg}); !errors.Is(err, ErrNoHistory) {
		t.Errorf("err = %v, want ErrNoHistory", err)
	}
}

func TestForecastDayOptions(t *testing.T) {
	day := time.Date(2026, 3, 25, 0, 0, 0, 0, msk)
	tg := Target{ServiceLevel: 0.8, Threshold: 20 * time.Second}
	history := []IntervalRecord{rec(2026, 3, 18, 8, 0, 5, 5, 500)}
	got, err := ForecastDay(history, day, ForecastOptions{Target: tg, Interval: time.Hour})
	if err != nil || len(got) != 24 {
		t.Fatalf("hourly: %d intervals, %v", len(got), err)
	}
	bad := []ForecastOptions{
		{Target: tg, Interval: 7 * time.Minute},
		{Target: tg, Interval: 90 * time.Second},
		{Target: tg, Weeks: -1},
		{Target: Target{ServiceLevel: 1.5}},
	}
	for _, o := range bad {
		if _, err := ForecastDay(history, day, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestLiveTraffic(t *testing.T) {
	recent := []IntervalRecord{
		{Offered: 40, Handled: 38, HandleSeconds: 38 * 200},
		{Offered: 60, Handled: 62, HandleSeconds: 62 * 150},
	}
	tr, err := LiveTraffic(recent, 15*time.Minute, time.Minute, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Calls != 100 || tr.Interval != 30*time.Minute || tr.Patience != time.Minute {
		t.Errorf("traffic %+v", tr)
	}
	near(t, "AHT", tr.AHT.Seconds(), (38*200+62*150)/100.0, 1e-9)
	near(t, "Erlangs", tr.Erlangs(), 100*tr.AHT.Seconds()/1800, 1e-12)
	if _, err := LiveTraffic(nil, time.Minute, 0, time.Minute); !errors.Is(err, ErrNoHistory) {
		t.Errorf("err = %v", err)
	}
	quiet, err := LiveTraffic([]IntervalRecord{{}}, 15*time.Minute, 0, 3*time.Minute)
	if err != nil || quiet.AHT != 3*time.Minute || quiet.Calls != 0 {
		t.Errorf("quiet queue: %+v %v", quiet, err)
	}
	if p, _ := Required(quiet, Target{ServiceLevel: 0.8, Threshold: 20 * time.Second}); p.Agents != 0 {
		t.Errorf("quiet queue needs %d agents", p.Agents)
	}
}
