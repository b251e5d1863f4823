package staffing

import (
	"errors"
	"fmt"
	"time"
)

// IntervalRecord is one past interval of one queue, as reporting's interval
// rollups hold it.
type IntervalRecord struct {
	// Start is the start of the interval.
	Start time.Time
	// Offered is the number of calls offered in the interval.
	Offered int
	// Handled is the number of calls answered and finished.
	Handled int
	// HandleSeconds is the total talk plus wrap-up time of the handled
	// calls, in seconds.
	HandleSeconds float64
}

// ForecastOptions configures ForecastDay.
type ForecastOptions struct {
	// Interval is the forecast granularity; it must divide 24 h. Zero means
	// 30 minutes.
	Interval time.Duration
	// Weeks is how many past same weekdays are averaged. Zero means 4.
	Weeks int
	// Target is the service-level goal the agents are computed for.
	Target Target
	// Patience, when positive, selects Erlang A with that mean patience.
	Patience time.Duration
	// DefaultAHT is used when the history holds no handled call at all.
	DefaultAHT time.Duration
}

// Forecast sources, from best to weakest.
const (
	// SourceSameWeekday: weighted average of the last Weeks same weekdays.
	SourceSameWeekday = "same-weekday"
	// SourceRecentDays: no same weekday in the window; plain average of the
	// last 7 days with data.
	SourceRecentDays = "recent-days"
)

// IntervalForecast is the forecast for one interval of the forecast day.
type IntervalForecast struct {
	Start time.Time
	// Calls is the predicted number of offered calls.
	Calls float64
	// AHT is the predicted average handle time.
	AHT time.Duration
	// Agents is the number of agents the target needs for Calls and AHT.
	Agents int
	// Prediction is the full staffing prediction at Agents.
	Prediction Prediction
	// Source says which method produced Calls (SourceSameWeekday or
	// SourceRecentDays); Days is how many past days it averaged.
	Source string
	Days   int
}

// ErrNoHistory is returned by ForecastDay when no usable past day exists.
var ErrNoHistory = errors.New("staffing: no history to forecast from")

// ForecastDay forecasts every interval of the calendar day of `day` (in
// day's location) from history, and staffs each interval for opts.Target.
//
// Method, per interval slot (wall-clock time of day in day's location):
//
//   - Calls: weighted average of the offered calls in the same slot on the
//     last opts.Weeks same weekdays before day (day−7, day−14, …). The most
//     recent week weighs Weeks, the next Weeks−1, …, the oldest 1, so the
//     forecast follows trends without being swung by a single day. A past
//     day counts as present when the history has any record on it; a slot
//     without a record on a present day counts as 0 calls. Missing weeks
//     are skipped and the remaining weights renormalised.
//   - Fallback: when none of those weekdays is present, the plain average
//     of the same slot over the (up to) 7 most recent present days in the
//     28 days before day.
//   - AHT: handle seconds / handled calls over the same weighted days and
//     slot; if those handled nothing, over the whole of those days; then
//     over the whole history; then opts.DefaultAHT.
//
// Records at or after the start of day are ignored, so passing tomorrow's
// date with today's partial data is safe.
func ForecastDay(history []IntervalRecord, day time.Time, opts ForecastOptions) ([]IntervalForecast, error) {
	if opts.Interval == 0 {
		opts.Interval = 30 * time.Minute
	}
	if opts.Weeks == 0 {
		opts.Weeks = 4
	}
	if opts.Interval < time.Minute || (24*time.Hour)%opts.Interval != 0 || opts.Interval%time.Minute != 0 {
		return nil, fmt.Errorf("forecast interval %v must be whole minutes dividing 24h", opts.Interval)
	}
	if opts.Weeks < 0 || opts.Weeks > 52 {
		return nil, fmt.Errorf("forecast weeks %d out of range 1..52", opts.Weeks)
	}
	if err := opts.Target.Validate(); err != nil {
		return nil, err
	}
	if opts.Patience < 0 || opts.DefaultAHT < 0 {
		return nil, fmt.Errorf("patience and default AHT must not be negative")
	}

	loc := day.Location()
	y, m, d := day.Date()
	dayStart := time.Date(y, m, d, 0, 0, 0, 0, loc)
	slotMin := int(opts.Interval / time.Minute)
	slots := int(24 * time.Hour / opts.Interval)

	type cell struct {
		offered, handled int
		handleSec        float64
	}
	type date struct {
		y int
		m time.Month
		d int
	}
	days := map[date][]cell{}
	var allHandled int
	var allSec float64
	for _, r := range history {
		lt := r.Start.In(loc)
		if !lt.Before(dayStart) {
			continue
		}
		ry, rm, rd := lt.Date()
		k := date{ry, rm, rd}
		row := days[k]
		if row == nil {
			row = make([]cell, slots)
			days[k] = row
		}
		s := (lt.Hour()*60 + lt.Minute()) / slotMin
		row[s].offered += r.Offered
		row[s].handled += r.Handled
		row[s].handleSec += r.HandleSeconds
		allHandled += r.Handled
		allSec += r.HandleSeconds
	}

	type used struct {
		row []cell
		w   float64
	}
	var picked []used
	source := SourceSameWeekday
	for k := 1; k <= opts.Weeks; k++ {
		py, pm, pd := dayStart.AddDate(0, 0, -7*k).Date()
		if row, ok := days[date{py, pm, pd}]; ok {
			picked = append(picked, used{row: row, w: float64(opts.Weeks - k + 1)})
		}
	}
	if len(picked) == 0 {
		source = SourceRecentDays
		for k := 1; k <= 28 && len(picked) < 7; k++ {
			py, pm, pd := dayStart.AddDate(0, 0, -k).Date()
			if row, ok := days[date{py, pm, pd}]; ok {
				picked = append(picked, used{row: row, w: 1})
			}
		}
	}
	if len(picked) == 0 {
		return nil, ErrNoHistory
	}

	// Day-level AHT of the picked days, the first AHT fallback.
	var dayHandled, daySec float64
	for _, p := range picked {
		for _, c := range p.row {
			dayHandled += p.w * float64(c.handled)
			daySec += p.w * c.handleSec
		}
	}
	fallbackAHT := opts.DefaultAHT
	switch {
	case dayHandled > 0:
		fallbackAHT = seconds(daySec / dayHandled)
	case allHandled > 0:
		fallbackAHT = seconds(allSec / float64(allHandled))
	}

	out := make([]IntervalForecast, 0, slots)
	for s := 0; s < slots; s++ {
		var wsum, calls, handled, sec float64
		for _, p := range picked {
			c := p.row[s]
			wsum += p.w
			calls += p.w * float64(c.offered)
			handled += p.w * float64(c.handled)
			sec += p.w * c.handleSec
		}
		calls /= wsum
		aht := fallbackAHT
		if handled > 0 {
			aht = seconds(sec / handled)
		}
		f := IntervalForecast{
			Start:  time.Date(y, m, d, 0, s*slotMin, 0, 0, loc),
			Calls:  calls,
			AHT:    aht,
			Source: source,
			Days:   len(picked),
		}
		if calls > 0 {
			if aht <= 0 {
				return nil, fmt.Errorf("interval %s: no handled calls in history and no default AHT", f.Start.Format("15:04"))
			}
			p, err := Required(Traffic{Calls: calls, Interval: opts.Interval, AHT: aht, Patience: opts.Patience}, opts.Target)
			if err != nil {
				return nil, fmt.Errorf("interval %s: %w", f.Start.Format("15:04"), err)
			}
			f.Agents, f.Prediction = p.Agents, p
		} else {
			f.Prediction = idle(Traffic{Patience: opts.Patience}, 0)
		}
		out = append(out, f)
	}
	return out, nil
}

// LiveTraffic turns the last few interval records of a queue into the
// Traffic to staff for now: calls offered over their total length, AHT from
// their handled calls (defaultAHT when they handled none), with the given
// patience (zero for Erlang C). Pass its result to Required for the
// hotline_agents_required gauge.
func LiveTraffic(recent []IntervalRecord, interval, patience, defaultAHT time.Duration) (Traffic, error) {
	if len(recent) == 0 {
		return Traffic{}, ErrNoHistory
	}
	if interval <= 0 {
		return Traffic{}, fmt.Errorf("interval %v must be positive", interval)
	}
	var offered, handled int
	var sec float64
	for _, r := range recent {
		offered += r.Offered
		handled += r.Handled
		sec += r.HandleSeconds
	}
	aht := defaultAHT
	if handled > 0 {
		aht = seconds(sec / float64(handled))
	}
	t := Traffic{
		Calls:    float64(offered),
		Interval: time.Duration(len(recent)) * interval,
		AHT:      aht,
		Patience: patience,
	}
	return t, t.Validate()
}
