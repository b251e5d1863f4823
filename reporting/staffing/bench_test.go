package staffing

import (
	"testing"
	"time"
)

// bench500 is a load that needs about 500 agents at 80/20: 4,700 calls per
// 30 minutes with AHT 180 s is 470 Erlangs.
var bench500 = Traffic{Calls: 4700, Interval: 30 * time.Minute, AHT: 180 * time.Second}

var benchTarget = Target{ServiceLevel: 0.8, Threshold: 20 * time.Second}

func BenchmarkRequiredErlangC500(b *testing.B) {
	for b.Loop() {
		if p, err := Required(bench500, benchTarget); err != nil || p.Agents < 470 {
			b.Fatal(p, err)
		}
	}
}

func BenchmarkRequiredErlangA500(b *testing.B) {
	tr := bench500
	tr.Patience = 2 * time.Minute
	for b.Loop() {
		if p, err := Required(tr, benchTarget); err != nil || p.Agents < 400 {
			b.Fatal(p, err)
		}
	}
}

func BenchmarkPredictErlangC500(b *testing.B) {
	for b.Loop() {
		if _, err := Predict(bench500, 500, benchTarget); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPredictErlangA500(b *testing.B) {
	tr := bench500
	tr.Patience = 2 * time.Minute
	for b.Loop() {
		if _, err := Predict(tr, 500, benchTarget); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkForecastDay: four weeks of 48 half-hour intervals, staffed per
// interval with Erlang A.
func BenchmarkForecastDay(b *testing.B) {
	loc := time.UTC
	day := time.Date(2026, 3, 25, 0, 0, 0, 0, loc)
	var history []IntervalRecord
	for d := 1; d <= 28; d++ {
		for s := 0; s < 48; s++ {
			calls := 50 + 40*(s%24)
			history = append(history, IntervalRecord{
				Start:         day.AddDate(0, 0, -d).Add(time.Duration(s) * 30 * time.Minute),
				Offered:       calls,
				Handled:       calls,
				HandleSeconds: float64(calls) * 200,
			})
		}
	}
	opts := ForecastOptions{Target: benchTarget, Patience: 2 * time.Minute}
	for b.Loop() {
		if _, err := ForecastDay(history, day, opts); err != nil {
			b.Fatal(err)
		}
	}
}
