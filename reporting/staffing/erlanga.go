package staffing

import (
	"fmt"
	"math"
)

// modelA evaluates Erlang A (M/M/n+M) for one traffic and target at any
// number of agents. Rates are per second.
type modelA struct {
	a      float64 // offered load λ/μ in Erlangs
	lambda float64 // arrival rate λ
	mu     float64 // service rate μ = 1/AHT
	theta  float64 // abandonment rate θ = 1/patience
	tT     float64 // SL threshold T, seconds
	tS     float64 // short-abandon threshold S, seconds
	target Target
}

func newModelA(t Traffic, target Target) modelA {
	return modelA{
		a:      t.Erlangs(),
		lambda: t.Calls / t.Interval.Seconds(),
		mu:     1 / t.AHT.Seconds(),
		theta:  1 / t.Patience.Seconds(),
		tT:     target.Threshold.Seconds(),
		tS:     target.ShortAbandon.Seconds(),
		target: target,
	}
}

// stateA is the part of an Erlang A evaluation shared by all thresholds for
// n agents: x = nμ/θ, y = λ/θ, P(x,y), P(x+1,y) and the probability of
// waiting.
type stateA struct {
	x, y  float64
	gy0   logGammaPQ // P(x, y)
	gy1   logGammaPQ // P(x+1, y)
	pWait float64
}

// levelsA is what an evaluation at n agents yields for the SL formulas.
type levelsA struct {
	pWait    float64
	answered float64 // share of offered calls that are eventually answered
	sl       ServiceLevels
}

// state computes x, y, the incomplete gammas at y and P(wait) for n ≥ 1
// agents given b = ErlangB(n, a):
//
//	A(x,y)  = 1 + Σ_{j≥1} y^j / ((x+1)…(x+j)) = e^y y^{-x} Γ(x+1) P(x,y)
//	P(W>0)  = A·B / (1 + (A−1)·B) = 1 / (1 + (1/B − 1)/A)
//
// with log A kept in log space (A can be e^thousands when λ ≫ nμ).
func (m modelA) state(n int, b float64) stateA {
	x := float64(n) * m.mu / m.theta
	y := m.lambda / m.theta
	gy0 := incGamma(x, y)
	lgx1, _ := math.Lgamma(x + 1)
	logA := y - x*math.Log(y) + lgx1 + gy0.lp
	return stateA{
		x:     x,
		y:     y,
		gy0:   gy0,
		gy1:   incGamma(x+1, y),
		pWait: 1 / (1 + (1/b-1)*math.Exp(-logA)),
	}
}

// within returns, for a threshold t seconds, the share of offered calls
// answered within t and the share whose wait min(V, patience) is ≤ t, where V
// is the offered (virtual) wait:
//
//	P(V > t)             = P(W>0) · P(x, y·e^{−θt}) / P(x, y)
//	P(answered in queue  = P(W>0) · (x/y) · [P(x+1, y) − P(x+1, y·e^{−θt})] / P(x, y)
//	  within t)
//	P(wait ≤ t)          = 1 − e^{−θt} · P(V > t)
func (m modelA) within(s stateA, t float64) (answered, settled float64) {
	if t <= 0 {
		return 1 - s.pWait, 1 - s.pWait
	}
	z := s.y * math.Exp(-m.theta*t)
	gz0 := incGamma(s.x, z)
	gz1 := incGamma(s.x+1, z)
	served := s.pWait * (s.x / s.y) * math.Exp(logGammaDiff(s.gy1, gz1)-s.gy0.lp)
	pVgt := s.pWait * math.Exp(gz0.lp-s.gy0.lp)
	return (1 - s.pWait) + served, 1 - math.Exp(-m.theta*t)*pVgt
}

// levels evaluates the three SL families at n agents (b = ErlangB(n, a)).
func (m modelA) levels(n int, b float64) levelsA {
	s := m.state(n, b)
	// Eventually answered: those who never wait plus those who wait and
	// are served, P(served | wait) = (x/y)·P(x+1,y)/P(x,y). A sum of
	// positive terms: no cancellation even when abandonment is tiny.
	answered := (1 - s.pWait) + s.pWait*(s.x/s.y)*math.Exp(s.gy1.lp-s.gy0.lp)
	answeredT, settledT := m.within(s, m.tT)
	answeredS, settledS := m.within(s, m.tS)
	abandonedS := math.Max(0, settledS-answeredS)
	return levelsA{
		pWait:    s.pWait,
		answered: answered,
		sl: ServiceLevels{
			Answered: clamp01(answeredT / answered),
			Offered:  clamp01(answeredT / (1 - abandonedS)),
			Removed:  clamp01(settledT),
		},
	}
}

// seriesMaxTerms bounds the queue-length series in full. It needs about
// max(0, y−x) + 40·√y terms (y = λ·patience); the bound is reached only for
// absurd inputs such as a patience of years.
const seriesMaxTerms = 50_000_000

// full returns the complete prediction at n agents. Abandonment and ASA come
// from the series over j, the number of calls already queued that an
// arriving caller finds (probability ∝ w_j = y^j/((x+1)…(x+j))):
//
//	P(served | j)         = x/(x+j+1)
//	E[V·1{served} | j]    = x/(θ(x+j+1)) · Σ_{i=0..j} 1/(x+i+1)
//
// The weights are rescaled as they go, so nothing overflows.
func (m modelA) full(n int, b float64) (Prediction, error) {
	lv := m.levels(n, b)
	s := m.state(n, b)
	x, y := s.x, s.y
	var sw, sAb, sV, h float64
	w := 1.0
	for j := 0; ; j++ {
		if j >= seriesMaxTerms {
			return Prediction{}, fmt.Errorf("Erlang A series did not converge (λ·patience = %.3g)", y)
		}
		xj1 := x + float64(j) + 1
		h += 1 / xj1
		sw += w
		sAb += w * float64(j+1) / xj1
		sV += w * x / xj1 * h
		w *= y / xj1
		if sw > 1e280 {
			sw, sAb, sV, w = sw*1e-280, sAb*1e-280, sV*1e-280, w*1e-280
		}
		if float64(j+1) > y-x && w < 1e-17*sw {
			break
		}
	}
	pAb := lv.pWait * sAb / sw
	asa := lv.pWait * sV / sw / m.theta / (1 - pAb)
	return Prediction{
		Model:         ErlangAModel,
		Agents:        n,
		Erlangs:       m.a,
		ProbWait:      lv.pWait,
		ServiceLevel:  lv.sl.Of(m.target.formula()),
		ServiceLevels: lv.sl,
		ASA:           seconds(asa),
		Occupancy:     m.a * (1 - pAb) / float64(n),
		Abandon:       pAb,
	}, nil
}

// bTable caches Erlang B values B(0..n) for one load, filled by the
// recursion on demand.
type bTable struct {
	a float64
	b []float64
}

func (t *bTable) at(n int) float64 {
	if len(t.b) == 0 {
		t.b = append(t.b, 1)
	}
	for k := len(t.b); k <= n; k++ {
		p := t.b[k-1]
		t.b = append(t.b, t.a*p/(float64(k)+t.a*p))
	}
	return t.b[n]
}

// requiredA finds the smallest n whose SL reaches the target by galloping
// then bisecting: the SL is increasing in n, and each evaluation costs a few
// incomplete gamma functions, so O(log n) evaluations beat a linear scan.
func requiredA(t Traffic, a float64, target Target) (Prediction, error) {
	m := newModelA(t, target)
	f := target.formula()
	bt := &bTable{a: a, b: make([]float64, 1, 2*int(a)+16)}
	bt.b[0] = 1
	meets := func(n int) bool {
		return m.levels(n, bt.at(n)).sl.Of(f) >= target.ServiceLevel
	}
	lo, hi := 0, max(1, int(math.Ceil(a)))
	for !meets(hi) {
		if hi >= MaxAgents {
			return Prediction{}, fmt.Errorf("target not reachable within %d agents", MaxAgents)
		}
		lo, hi = hi, min(2*hi, MaxAgents)
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if meets(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return m.full(hi, bt.at(hi))
}

func clamp01(v float64) float64 {
	return math.Min(1, math.Max(0, v))
}
