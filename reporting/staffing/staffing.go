package staffing

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxAgents bounds every search for the required number of agents. A traffic
// that needs more is reported as an error rather than searched for ever.
const MaxAgents = 1_000_000

// Formula names one of the three service-level families hotline reports
// (see docs/staffing.md and the architecture brief).
type Formula string

const (
	// FormulaAnswered is answered within T / answered.
	FormulaAnswered Formula = "answered"
	// FormulaOffered is answered within T / (answered + abandoned after S).
	FormulaOffered Formula = "offered"
	// FormulaRemoved is (answered within T + abandoned within T) /
	// (answered + abandoned).
	FormulaRemoved Formula = "removed"
)

// ParseFormula accepts "answered", "offered" or "removed".
func ParseFormula(s string) (Formula, error) {
	switch f := Formula(strings.ToLower(strings.TrimSpace(s))); f {
	case FormulaAnswered, FormulaOffered, FormulaRemoved:
		return f, nil
	}
	return "", fmt.Errorf("unknown service level formula %q (want answered, offered or removed)", s)
}

// Target is a service-level goal such as 80/20: ServiceLevel of the calls
// answered within Threshold, measured by Formula.
type Target struct {
	// ServiceLevel is the share to reach, strictly between 0 and 1.
	ServiceLevel float64
	// Threshold is T, the answer-time threshold.
	Threshold time.Duration
	// Formula selects the SL family the goal is measured by. It only
	// matters for Erlang A (with abandonment); under Erlang C the three
	// families coincide. Empty means FormulaOffered, the strictest of the
	// three when ShortAbandon is zero.
	Formula Formula
	// ShortAbandon is S, used by FormulaOffered: callers who abandon within
	// S are left out of its denominator. Zero counts every abandon.
	ShortAbandon time.Duration
}

// ParseTarget parses "80/20" (percent / seconds). The percent may have a
// fraction and a trailing "%"; the threshold may be plain seconds or a Go
// duration ("20s", "1m"). The Formula is left empty (FormulaOffered).
func ParseTarget(s string) (Target, error) {
	pct, thr, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Target{}, fmt.Errorf("target %q: want PERCENT/SECONDS, e.g. 80/20", s)
	}
	p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(pct), "%"), 64)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: service level %q is not a number", s, pct)
	}
	thr = strings.TrimSpace(thr)
	var d time.Duration
	if secs, err := strconv.ParseFloat(thr, 64); err == nil {
		if math.IsNaN(secs) || math.IsInf(secs, 0) || secs > 1e9 {
			return Target{}, fmt.Errorf("target %q: threshold %q out of range", s, thr)
		}
		d = time.Duration(secs * float64(time.Second))
	} else if d, err = time.ParseDuration(thr); err != nil {
		return Target{}, fmt.Errorf("target %q: threshold %q is neither seconds nor a duration", s, thr)
	}
	t := Target{ServiceLevel: p / 100, Threshold: d}
	if err := t.Validate(); err != nil {
		return Target{}, fmt.Errorf("target %q: %w", s, err)
	}
	return t, nil
}

// Validate reports whether the target can be staffed for.
func (t Target) Validate() error {
	if !(t.ServiceLevel > 0 && t.ServiceLevel < 1) {
		return fmt.Errorf("service level %.6g%% must be above 0%% and below 100%%", t.ServiceLevel*100)
	}
	if t.Threshold < 0 {
		return fmt.Errorf("threshold %v must not be negative", t.Threshold)
	}
	if t.ShortAbandon < 0 {
		return fmt.Errorf("short-abandon threshold %v must not be negative", t.ShortAbandon)
	}
	if t.Formula != "" {
		if _, err := ParseFormula(string(t.Formula)); err != nil {
			return err
		}
	}
	return nil
}

// formula returns the effective formula (empty means offered).
func (t Target) formula() Formula {
	if t.Formula == "" {
		return FormulaOffered
	}
	return t.Formula
}

// Traffic is the load offered to one queue in one interval.
type Traffic struct {
	// Calls is the number of calls offered in Interval (may be fractional,
	// as forecasts are).
	Calls float64
	// Interval is the length of the period the calls arrive in.
	Interval time.Duration
	// AHT is the average handle time: talk plus wrap-up.
	AHT time.Duration
	// Patience is the callers' mean patience. Zero means infinitely patient
	// callers, i.e. Erlang C; a positive value selects Erlang A.
	Patience time.Duration
}

// Erlangs returns the offered load A = λ·AHT in Erlangs.
func (t Traffic) Erlangs() float64 {
	return t.Calls * t.AHT.Seconds() / t.Interval.Seconds()
}

// Validate reports whether the traffic is usable.
func (t Traffic) Validate() error {
	switch {
	case math.IsNaN(t.Calls) || math.IsInf(t.Calls, 0) || t.Calls < 0:
		return fmt.Errorf("calls %v must be a finite number ≥ 0", t.Calls)
	case t.Interval <= 0:
		return fmt.Errorf("interval %v must be positive", t.Interval)
	case t.AHT <= 0:
		return fmt.Errorf("AHT %v must be positive", t.AHT)
	case t.Patience < 0:
		return fmt.Errorf("patience %v must not be negative (0 means Erlang C)", t.Patience)
	}
	return nil
}

// Model names the queueing model used for a prediction.
type Model string

const (
	// ErlangCModel is M/M/n: callers never abandon.
	ErlangCModel Model = "erlang-c"
	// ErlangAModel is M/M/n+M: callers abandon after an exponential patience.
	ErlangAModel Model = "erlang-a"
)

// ServiceLevels holds the predicted service level under each SL family.
type ServiceLevels struct {
	Answered float64 `json:"answered"`
	Offered  float64 `json:"offered"`
	Removed  float64 `json:"removed"`
}

// Of returns the service level of formula f (empty means offered).
func (s ServiceLevels) Of(f Formula) float64 {
	switch f {
	case FormulaAnswered:
		return s.Answered
	case FormulaRemoved:
		return s.Removed
	}
	return s.Offered
}

// Prediction is the steady-state behaviour of a queue with Agents agents.
// Probabilities and shares are in [0,1].
type Prediction struct {
	Model  Model
	Agents int
	// Erlangs is the offered load A.
	Erlangs float64
	// ProbWait is the probability that a call has to wait (finds all
	// agents busy).
	ProbWait float64
	// ServiceLevel is the predicted SL under the target's formula.
	ServiceLevel float64
	// ServiceLevels is the predicted SL under each family; all equal under
	// Erlang C.
	ServiceLevels ServiceLevels
	// ASA is the average speed of answer: the mean wait of answered calls.
	ASA time.Duration
	// Occupancy is the share of agent time spent handling calls.
	Occupancy float64
	// Abandon is the share of offered calls that abandon (0 for Erlang C).
	Abandon float64
}

// ErrOverloaded is returned by Predict for Erlang C when the agents cannot
// carry the offered load (agents ≤ Erlangs): the queue grows without bound.
var ErrOverloaded = errors.New("staffing: agents cannot carry the offered load (Erlang C queue is unstable)")

// ErlangB returns the Erlang B blocking probability for n servers and offered
// load a Erlangs, by the recursion B(0)=1, B(k) = a·B(k−1)/(k + a·B(k−1)),
// which never overflows.
func ErlangB(n int, a float64) float64 {
	b := 1.0
	for k := 1; k <= n; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return b
}

// ErlangC returns the Erlang C probability of waiting for n agents and
// offered load a, computed from Erlang B as C = n·B / (n − a·(1 − B)).
// It returns 1 when n ≤ a (every call waits).
func ErlangC(n int, a float64) float64 {
	if float64(n) <= a {
		return 1
	}
	return erlangCFromB(n, a, ErlangB(n, a))
}

func erlangCFromB(n int, a, b float64) float64 {
	return float64(n) * b / (float64(n) - a*(1-b))
}

// Predict returns the behaviour of the queue with the given number of agents:
// Erlang C when t.Patience is zero, Erlang A otherwise. The target supplies
// the threshold T, the short-abandon threshold S and the formula reported as
// Prediction.ServiceLevel; its ServiceLevel share is not used.
func Predict(t Traffic, agents int, target Target) (Prediction, error) {
	if err := t.Validate(); err != nil {
		return Prediction{}, err
	}
	if target.Threshold < 0 || target.ShortAbandon < 0 {
		return Prediction{}, fmt.Errorf("thresholds must not be negative")
	}
	if agents < 0 || agents > MaxAgents {
		return Prediction{}, fmt.Errorf("agents %d out of range [0, %d]", agents, MaxAgents)
	}
	a := t.Erlangs()
	if a == 0 {
		return idle(t, agents), nil
	}
	if t.Patience == 0 {
		if float64(agents) <= a {
			return Prediction{}, fmt.Errorf("%d agents for %.4g Erlangs: %w", agents, a, ErrOverloaded)
		}
		return predictC(t, agents, ErlangB(agents, a), target), nil
	}
	if agents == 0 {
		return Prediction{}, fmt.Errorf("Erlang A needs at least one agent for a non-zero load")
	}
	m := newModelA(t, target)
	p, err := m.full(agents, ErlangB(agents, a))
	if err != nil {
		return Prediction{}, err
	}
	return p, nil
}

// Required returns the prediction for the smallest number of agents whose
// service level (under target.Formula for Erlang A) reaches
// target.ServiceLevel. Zero traffic needs zero agents.
func Required(t Traffic, target Target) (Prediction, error) {
	if err := t.Validate(); err != nil {
		return Prediction{}, err
	}
	if err := target.Validate(); err != nil {
		return Prediction{}, err
	}
	a := t.Erlangs()
	if a == 0 {
		return idle(t, 0), nil
	}
	if a >= MaxAgents {
		return Prediction{}, fmt.Errorf("offered load %.4g Erlangs exceeds the %d-agent search limit", a, MaxAgents)
	}
	if t.Patience == 0 {
		return requiredC(t, a, target)
	}
	return requiredA(t, a, target)
}

func idle(t Traffic, agents int) Prediction {
	m := ErlangCModel
	if t.Patience > 0 {
		m = ErlangAModel
	}
	return Prediction{
		Model:         m,
		Agents:        agents,
		ServiceLevel:  1,
		ServiceLevels: ServiceLevels{Answered: 1, Offered: 1, Removed: 1},
	}
}

// slC returns the Erlang C service level 1 − C·e^{−(n−a)·T/AHT} and C.
func slC(n int, a, b, tOverAHT float64) (sl, c float64) {
	c = erlangCFromB(n, a, b)
	return 1 - c*math.Exp(-(float64(n)-a)*tOverAHT), c
}

func predictC(t Traffic, n int, b float64, target Target) Prediction {
	a := t.Erlangs()
	sl, c := slC(n, a, b, target.Threshold.Seconds()/t.AHT.Seconds())
	asa := c * t.AHT.Seconds() / (float64(n) - a)
	return Prediction{
		Model:         ErlangCModel,
		Agents:        n,
		Erlangs:       a,
		ProbWait:      c,
		ServiceLevel:  sl,
		ServiceLevels: ServiceLevels{Answered: sl, Offered: sl, Removed: sl},
		ASA:           seconds(asa),
		Occupancy:     a / float64(n),
	}
}

// requiredC scans upwards from the first stable staffing ⌊a⌋+1, carrying
// Erlang B along with its recursion: O(n) in total.
func requiredC(t Traffic, a float64, target Target) (Prediction, error) {
	n := int(math.Floor(a)) + 1
	b := ErlangB(n, a)
	tOverAHT := target.Threshold.Seconds() / t.AHT.Seconds()
	for ; n <= MaxAgents; n++ {
		if n > int(math.Floor(a))+1 {
			b = a * b / (float64(n) + a*b)
		}
		if sl, _ := slC(n, a, b, tOverAHT); sl >= target.ServiceLevel {
			return predictC(t, n, b, target), nil
		}
	}
	return Prediction{}, fmt.Errorf("target not reachable within %d agents", MaxAgents)
}

// seconds converts float seconds to a Duration, saturating instead of
// overflowing.
func seconds(s float64) time.Duration {
	const limit = float64(math.MaxInt64) / float64(time.Second)
	if s >= limit {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Round(s * float64(time.Second)))
}
