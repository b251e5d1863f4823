package staffing_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/hotline-cc/hotline/reporting/staffing"
)

// The smallest staffing that answers 80 % of the calls within 20 s, for
// 100 calls in half an hour at a 3-minute handle time (10 Erlangs), with
// callers who never hang up (Erlang C).
func ExampleRequired() {
	traffic := staffing.Traffic{Calls: 100, Interval: 30 * time.Minute, AHT: 180 * time.Second}
	target := staffing.Target{ServiceLevel: 0.80, Threshold: 20 * time.Second}

	p, err := staffing.Required(traffic, target)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Printf("%s, %.2f Erlangs\n", p.Model, p.Erlangs)
	fmt.Println("agents:", p.Agents)
	fmt.Printf("service level: %.1f%% within %v\n", 100*p.ServiceLevel, target.Threshold)
	fmt.Printf("ASA: %.1fs\n", p.ASA.Seconds())
	fmt.Printf("occupancy: %.1f%%\n", 100*p.Occupancy)
	fmt.Printf("probability of waiting: %.1f%%\n", 100*p.ProbWait)
	// Output:
	// erlang-c, 10.00 Erlangs
	// agents: 14
	// service level: 88.8% within 20s
	// ASA: 7.8s
	// occupancy: 71.4%
	// probability of waiting: 17.4%
}

// The same traffic with callers whose mean patience is two minutes (Erlang
// A): abandons shorten the queue, so fewer agents meet the target. The
// target is measured by the offered formula (the default, and the
// strictest); the prediction carries all three SL families.
func ExampleRequired_erlangA() {
	traffic := staffing.Traffic{
		Calls:    100,
		Interval: 30 * time.Minute,
		AHT:      180 * time.Second,
		Patience: 2 * time.Minute,
	}
	target, err := staffing.ParseTarget("80/20") // 80 % within 20 s
	if err != nil {
		fmt.Println("error:", err)
		return
	}

	p, err := staffing.Required(traffic, target)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Printf("%s: %d agents\n", p.Model, p.Agents)
	fmt.Printf("SL answered %.1f%%, offered %.1f%%, removed %.1f%%\n",
		100*p.ServiceLevels.Answered, 100*p.ServiceLevels.Offered, 100*p.ServiceLevels.Removed)
	fmt.Printf("ASA %.1fs, abandonment %.1f%%, occupancy %.1f%%\n", p.ASA.Seconds(), 100*p.Abandon, 100*p.Occupancy)
	// Output:
	// erlang-a: 12 agents
	// SL answered 88.0%, offered 82.6%, removed 86.0%
	// ASA 6.3s, abandonment 6.2%, occupancy 78.2%
}

// Service level and ASA for staffings chosen by hand: what 11 to 15 agents
// would deliver for 10 Erlangs. At 10 agents or fewer Erlang C has no
// steady state and Predict says so with ErrOverloaded.
func ExamplePredict() {
	traffic := staffing.Traffic{Calls: 100, Interval: 30 * time.Minute, AHT: 180 * time.Second}
	target := staffing.Target{Threshold: 20 * time.Second} // only T matters to Predict

	fmt.Println("agents  SL(20s)     ASA  occupancy")
	for n := 11; n <= 15; n++ {
		p, err := staffing.Predict(traffic, n, target)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%6d  %6.1f%% %6.1fs  %8.1f%%\n", n, 100*p.ServiceLevel, p.ASA.Seconds(), 100*p.Occupancy)
	}

	_, err := staffing.Predict(traffic, 10, target)
	fmt.Println("10 agents overloaded:", errors.Is(err, staffing.ErrOverloaded))
	// Output:
	// agents  SL(20s)     ASA  occupancy
	//     11    39.0%  122.8s      90.9%
	//     12    64.0%   40.4s      83.3%
	//     13    79.6%   17.1s      76.9%
	//     14    88.8%    7.8s      71.4%
	//     15    94.1%    3.7s      66.7%
	// 10 agents overloaded: true
}

// The live staffing need of a queue, as hotline_agents_required computes it:
// the last hour's four 15-minute rollups become the traffic (calls over the
// hour, AHT from the handled calls), then Required gives the agents.
func ExampleLiveTraffic() {
	start := time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC)
	recent := []staffing.IntervalRecord{
		{Start: start, Offered: 40, Handled: 38, HandleSeconds: 38 * 200},
		{Start: start.Add(15 * time.Minute), Offered: 55, Handled: 52, HandleSeconds: 52 * 190},
		{Start: start.Add(30 * time.Minute), Offered: 60, Handled: 60, HandleSeconds: 60 * 185},
		{Start: start.Add(45 * time.Minute), Offered: 45, Handled: 44, HandleSeconds: 44 * 195},
	}
	// Patience 0: Erlang C. The default AHT is used only when nothing was
	// handled.
	tr, err := staffing.LiveTraffic(recent, 15*time.Minute, 0, 180*time.Second)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Printf("%g calls in %v, AHT %v, %.2f Erlangs\n", tr.Calls, tr.Interval, tr.AHT.Round(time.Second), tr.Erlangs())

	p, err := staffing.Required(tr, staffing.Target{
		ServiceLevel: 0.8,
		Threshold:    20 * time.Second,
		ShortAbandon: 5 * time.Second,
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("agents required:", p.Agents)
	// Output:
	// 200 calls in 1h0m0s, AHT 3m12s, 10.64 Erlangs
	// agents required: 14
}

// Tomorrow's staffing per hour from the same weekday of the last weeks: the
// newest week weighs most (4, 3, 2, 1 over four weeks), AHT comes from the
// same slots, and every slot with calls is staffed for the target.
func ExampleForecastDay() {
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC) // a Monday
	var history []staffing.IntervalRecord
	for week, calls := range []int{120, 100, 100, 80} { // 1, 2, 3, 4 weeks ago
		monday := day.AddDate(0, 0, -7*(week+1))
		history = append(history,
			staffing.IntervalRecord{Start: monday.Add(9 * time.Hour), Offered: calls, Handled: calls, HandleSeconds: float64(calls) * 180},
			staffing.IntervalRecord{Start: monday.Add(10 * time.Hour), Offered: calls / 2, Handled: calls / 2, HandleSeconds: float64(calls/2) * 240},
		)
	}

	fc, err := staffing.ForecastDay(history, day, staffing.ForecastOptions{
		Interval: time.Hour,
		Target:   staffing.Target{ServiceLevel: 0.8, Threshold: 20 * time.Second},
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(len(fc), "slots, from", fc[0].Source, "over", fc[0].Days, "days")
	for _, f := range fc {
		if f.Calls > 0 {
			fmt.Printf("%s  %5.1f calls  AHT %v  %d agents\n", f.Start.Format("15:04"), f.Calls, f.AHT, f.Agents)
		}
	}
	// Output:
	// 24 slots, from same-weekday over 4 days
	// 09:00  106.0 calls  AHT 3m0s  8 agents
	// 10:00   53.0 calls  AHT 4m0s  6 agents
}

// The Erlang formulas themselves: blocking probability without a queue
// (Erlang B) and probability of waiting with one (Erlang C).
func ExampleErlangC() {
	fmt.Printf("Erlang B, 10 trunks, 5 Erlangs: %.5f\n", staffing.ErlangB(10, 5))
	fmt.Printf("Erlang C, 14 agents, 10 Erlangs: %.4f\n", staffing.ErlangC(14, 10))
	fmt.Printf("Erlang C, 10 agents, 10 Erlangs: %.0f (every call waits)\n", staffing.ErlangC(10, 10))
	// Output:
	// Erlang B, 10 trunks, 5 Erlangs: 0.01838
	// Erlang C, 14 agents, 10 Erlangs: 0.1741
	// Erlang C, 10 agents, 10 Erlangs: 1 (every call waits)
}
