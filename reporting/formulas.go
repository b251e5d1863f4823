package reporting

import (
	"encoding/json"
	"math"
	"sort"
	"time"
)

// Ratio is a fraction kept as numerator and denominator so that "no data"
// (denominator 0) stays distinguishable from 0 %.
type Ratio struct {
	Num float64 `json:"num"`
	Den float64 `json:"den"`
}

// Value returns Num/Den and false when Den is 0.
func (r Ratio) Value() (float64, bool) {
	if r.Den == 0 {
		return 0, false
	}
	return r.Num / r.Den, true
}

// MarshalJSON writes {"num","den","value"} with value null when undefined.
func (r Ratio) MarshalJSON() ([]byte, error) {
	v, ok := r.Value()
	var p *float64
	if ok {
		p = &v
	}
	return json.Marshal(struct {
		Num   float64  `json:"num"`
		Den   float64  `json:"den"`
		Value *float64 `json:"value"`
	}{r.Num, r.Den, p})
}

// Counts are the additive counters of queue visits; rollups store them and
// every queue figure derives from them (except the percentiles).
type Counts struct {
	Offered          int           `json:"offered"`
	Answered         int           `json:"answered"`
	AnsweredWithinT  int           `json:"answered_within_t"`
	Abandoned        int           `json:"abandoned"`
	ShortAbandoned   int           `json:"short_abandoned"`
	AbandonedWithinT int           `json:"abandoned_within_t"`
	Overflowed       int           `json:"overflowed"`
	TimedOut         int           `json:"timed_out"`
	Callbacks        int           `json:"callbacks"`
	Escalated        int           `json:"escalated"`
	WaitAnswered     time.Duration `json:"wait_answered_ns"`
	WaitAbandoned    time.Duration `json:"wait_abandoned_ns"`
	MaxWait          time.Duration `json:"max_wait_ns"`
	Talk             time.Duration `json:"talk_ns"`
	Wrapup           time.Duration `json:"wrapup_ns"`
}

// Add accumulates o into c.
func (c *Counts) Add(o Counts) {
	c.Offered += o.Offered
	c.Answered += o.Answered
	c.AnsweredWithinT += o.AnsweredWithinT
	c.Abandoned += o.Abandoned
	c.ShortAbandoned += o.ShortAbandoned
	c.AbandonedWithinT += o.AbandonedWithinT
	c.Overflowed += o.Overflowed
	c.TimedOut += o.TimedOut
	c.Callbacks += o.Callbacks
	c.Escalated += o.Escalated
	c.WaitAnswered += o.WaitAnswered
	c.WaitAbandoned += o.WaitAbandoned
	c.Talk += o.Talk
	c.Wrapup += o.Wrapup
	if o.MaxWait > c.MaxWait {
		c.MaxWait = o.MaxWait
	}
}

// CountVisit adds one visit to the counters.
func (c *Counts) CountVisit(v Visit) {
	c.Offered++
	if v.Outcome != OutcomeWaiting && v.Wait > c.MaxWait {
		c.MaxWait = v.Wait
	}
	switch v.Outcome {
	case OutcomeAnswered:
		c.Answered++
		c.WaitAnswered += v.Wait
		c.Talk += v.Talk
		c.Wrapup += v.Wrapup
		if v.WithinT {
			c.AnsweredWithinT++
		}
		if v.EscalatedTo != "" {
			c.Escalated++
		}
	case OutcomeAbandoned:
		c.Abandoned++
		c.WaitAbandoned += v.Wait
		if v.ShortAbandon {
			c.ShortAbandoned++
		}
		if v.AbandonWithinT {
			c.AbandonedWithinT++
		}
	case OutcomeOverflowed:
		c.Overflowed++
	case OutcomeTimeout:
		c.TimedOut++
	case OutcomeCallback:
		c.Callbacks++
	}
}

// ServiceLevel holds the three service-level families (docs/metrics.md).
type ServiceLevel struct {
	Answered Ratio `json:"answered"`
	Offered  Ratio `json:"offered"`
	Removed  Ratio `json:"removed"`
}

// SL computes the three service-level families from counters. Overflowed
// and timed-out visits count as not answered within T in every denominator;
// callbacks and visits still waiting are in none.
func (c Counts) SL() ServiceLevel {
	lost := float64(c.Overflowed + c.TimedOut)
	awt := float64(c.AnsweredWithinT)
	return ServiceLevel{
		Answered: Ratio{awt, float64(c.Answered) + lost},
		Offered:  Ratio{awt, float64(c.Answered+c.Abandoned-c.ShortAbandoned) + lost},
		Removed:  Ratio{awt + float64(c.AbandonedWithinT), float64(c.Answered+c.Abandoned) + lost},
	}
}

// RealTimeSL is the real-time service level (formula "realtime",
// docs/metrics.md): a caller is a hit when answered within T and a miss
// the moment their wait passes T, so callers still waiting longer than T
// (overT) count as misses before their call ends:
//
//	AWT / (A + (Ab − Ab≤T) + L + W>T)
//
// Abandons within T are neither; lost (overflowed, timed out) visits are
// misses, as in the other formulas.
func RealTimeSL(c Counts, overT int) Ratio {
	lost := c.Overflowed + c.TimedOut
	return Ratio{float64(c.AnsweredWithinT), float64(c.Answered + c.Abandoned - c.AbandonedWithinT + lost + overT)}
}

// Figures are the derived queue figures.
type Figures struct {
	Counts
	SL ServiceLevel `json:"service_level"`
	// ASA is the mean wait of answered visits (seconds).
	ASA Ratio `json:"asa_s"`
	// AHT is (talk + wrap-up) / answered (seconds).
	AHT        Ratio `json:"aht_s"`
	AvgTalk    Ratio `json:"avg_talk_s"`
	AvgWrapup  Ratio `json:"avg_wrapup_s"`
	AvgAbandon Ratio `json:"avg_abandon_wait_s"`
	// AbandonRate = abandoned / offered; AbandonRateExShort excludes short
	// abandons from both sides.
	AbandonRate        Ratio `json:"abandon_rate"`
	AbandonRateExShort Ratio `json:"abandon_rate_ex_short"`
	// EscalationRate = answered visits escalated / answered visits.
	EscalationRate Ratio   `json:"escalation_rate"`
	LongestWaitS   float64 `json:"longest_wait_s"`
}

// Figures derives the ratios from the counters.
func (c Counts) Figures() Figures {
	a := float64(c.Answered)
	return Figures{
		Counts:             c,
		SL:                 c.SL(),
		ASA:                Ratio{c.WaitAnswered.Seconds(), a},
		AHT:                Ratio{(c.Talk + c.Wrapup).Seconds(), a},
		AvgTalk:            Ratio{c.Talk.Seconds(), a},
		AvgWrapup:          Ratio{c.Wrapup.Seconds(), a},
		AvgAbandon:         Ratio{c.WaitAbandoned.Seconds(), float64(c.Abandoned)},
		AbandonRate:        Ratio{float64(c.Abandoned), float64(c.Offered)},
		AbandonRateExShort: Ratio{float64(c.Abandoned - c.ShortAbandoned), float64(c.Offered - c.ShortAbandoned)},
		EscalationRate:     Ratio{float64(c.Escalated), a},
		LongestWaitS:       c.MaxWait.Seconds(),
	}
}

// QueueFigures are the figures of one queue plus wait percentiles.
type QueueFigures struct {
	Queue string `json:"queue"`
	Figures
	// MedianWaitS and P90WaitS are over answered visits (linear
	// interpolation between closest ranks, like percentile_cont); nil when
	// nothing was answered.
	MedianWaitS *float64 `json:"median_wait_s"`
	P90WaitS    *float64 `json:"p90_wait_s"`
}

// ComputeQueues computes per-queue figures from visits, sorted by queue.
func ComputeQueues(visits []Visit) []QueueFigures {
	counts := map[string]*Counts{}
	waits := map[string][]float64{}
	for _, v := range visits {
		c := counts[v.Queue]
		if c == nil {
			c = &Counts{}
			counts[v.Queue] = c
		}
		c.CountVisit(v)
		if v.Outcome == OutcomeAnswered {
			waits[v.Queue] = append(waits[v.Queue], v.Wait.Seconds())
		}
	}
	out := make([]QueueFigures, 0, len(counts))
	for q, c := range counts {
		f := QueueFigures{Queue: q, Figures: c.Figures()}
		f.MedianWaitS = Percentile(waits[q], 0.5)
		f.P90WaitS = Percentile(waits[q], 0.9)
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Queue < out[j].Queue })
	return out
}

// Percentile returns the p-quantile (0..1) of xs by linear interpolation
// between closest ranks (rank = p·(n−1), 0-based), as PostgreSQL's
// percentile_cont; nil for no data. xs is sorted in place.
func Percentile(xs []float64, p float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	sort.Float64s(xs)
	r := p * float64(len(xs)-1)
	lo := int(math.Floor(r))
	hi := int(math.Ceil(r))
	v := xs[lo] + (xs[hi]-xs[lo])*(r-float64(lo))
	return &v
}
