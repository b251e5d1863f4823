package reporting

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// EWTFigures is the accuracy of the estimated wait announced to callers
// (eventlog.KeyEWT) against their actual wait, for one queue: over the
// answered visits that were given an estimate, error = actual wait −
// announced wait; MAE is the mean of |error|, P90 the 90th percentile of
// |error| (linear interpolation, as Percentile), Bias the mean signed
// error (> 0: callers waited longer than announced). Seconds.
type EWTFigures struct {
	Queue   string   `json:"queue"`
	Checked int      `json:"checked"`
	MAE     Ratio    `json:"mae_s"`
	P90     *float64 `json:"p90_abs_error_s"`
	Bias    Ratio    `json:"bias_s"`
}

// EWTError is a visit's announced-wait error in seconds (actual −
// announced), and whether the visit counts: answered with an estimate.
// Abandoned and lost visits do not count (their actual wait is unknown).
func EWTError(v Visit) (float64, bool) {
	if v.Outcome != OutcomeAnswered || !v.HasEWT {
		return 0, false
	}
	return (v.Wait - v.EWT).Seconds(), true
}

// ComputeEWT computes EWT accuracy per queue over visits.
func ComputeEWT(visits []Visit) []EWTFigures {
	errs := map[string][]float64{}
	for _, v := range visits {
		if e, ok := EWTError(v); ok {
			errs[v.Queue] = append(errs[v.Queue], e)
		}
	}
	out := make([]EWTFigures, 0, len(errs))
	for q, es := range errs {
		out = append(out, ewtFigures(q, es))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue < out[j].Queue })
	return out
}

// ewtFigures summarizes the signed errors of one queue.
func ewtFigures(q string, errs []float64) EWTFigures {
	f := EWTFigures{Queue: q, Checked: len(errs)}
	abs := make([]float64, len(errs))
	for i, e := range errs {
		abs[i] = math.Abs(e)
		f.MAE.Num += abs[i]
		f.Bias.Num += e
	}
	f.MAE.Den, f.Bias.Den = float64(len(errs)), float64(len(errs))
	f.P90 = Percentile(abs, 0.9)
	return f
}

// EWTReport computes EWT accuracy per queue for the visits that joined
// and were answered in [from, to), folding the stored events (the
// announced wait is not in the call records).
func (s *Store) EWTReport(ctx context.Context, from, to time.Time) ([]EWTFigures, error) {
	by := map[string][]eventlog.Event{}
	if err := s.shownEvents(ctx, from, to, func(e eventlog.Event) error {
		if e.CallID != "" {
			by[e.CallID] = append(by[e.CallID], e)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var vs []Visit
	for _, evs := range by {
		_, cv := BuildCall(evs, s.cfg)
		for _, v := range cv {
			if !v.JoinedAt.Before(from) {
				vs = append(vs, v)
			}
		}
	}
	return ComputeEWT(vs), nil
}

// EWTTable flattens EWT figures.
func EWTTable(fs []EWTFigures) Table {
	t := Table{Header: []string{"queue", "checked", "mae_s", "p90_abs_error_s", "bias_s"}}
	for _, f := range fs {
		p90 := ""
		if f.P90 != nil {
			p90 = fmtSec(*f.P90)
		}
		t.Rows = append(t.Rows, []string{f.Queue, itoa(f.Checked), fmtRatioSec(f.MAE), p90, fmtRatioSec(f.Bias)})
	}
	return t
}

func fmtRatioSec(r Ratio) string {
	if v, ok := r.Value(); ok {
		return fmtSec(v)
	}
	return ""
}
