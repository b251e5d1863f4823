package staffing

import (
	"math"
	"testing"
	"time"
)

// chainA computes Erlang A by brute force, independently of the incomplete
// gamma formulas and the series used by the package:
//
//   - the stationary distribution of the birth–death chain (births λ, deaths
//     min(k,n)·μ + max(k−n,0)·θ), truncated at K calls, by direct products;
//   - P(wait) = Σ_{k≥n} π_k and P(abandon) = θ·E[queue]/λ (rate balance);
//   - for the SL, the tagged caller's progress through the queue as a small
//     absorbing Markov chain solved by uniformisation at t = T and t = S;
//   - for ASA, first-step analysis of the same chain.
type chainResult struct {
	pWait, pAb, answered     float64
	answeredT, settledT      float64
	answeredS, settledS, asa float64
}

func chainA(n int, lambda, mu, theta, tT, tS float64, K int) chainResult {
	pi := make([]float64, K+1)
	pi[0] = 1
	for k := 1; k <= K; k++ {
		death := float64(min(k, n))*mu + float64(max(k-n, 0))*theta
		pi[k] = pi[k-1] * lambda / death
	}
	var sum float64
	for _, p := range pi {
		sum += p
	}
	for k := range pi {
		pi[k] /= sum
	}
	var r chainResult
	var eq, below float64
	for k, p := range pi {
		if k >= n {
			r.pWait += p
			eq += float64(k-n) * p
		} else {
			below += p
		}
	}
	r.pAb = theta * eq / lambda

	J := K - n // queue positions a caller may find ahead of him
	x := float64(n) * mu / theta
	// First-step analysis: s(j) = P(served | j ahead), m(j) = E[V·1{served} | j].
	s := make([]float64, J+1)
	m := make([]float64, J+1)
	prevS, prevM := 1.0, 0.0
	for j := 0; j <= J; j++ {
		rate := theta * (x + float64(j) + 1)
		up := (x + float64(j)) / (x + float64(j) + 1)
		s[j] = up * prevS
		m[j] = s[j]/rate + up*prevM
		prevS, prevM = s[j], m[j]
	}
	within := func(t float64) (answered, settled float64) {
		if t == 0 {
			return below, below
		}
		lam := theta * (x + float64(J) + 1)
		mean := lam * t
		steps := int(mean + 12*math.Sqrt(mean) + 30)
		f := make([]float64, J+1) // P(served within k jumps | j)
		g := make([]float64, J+1) // P(abandoned within k jumps | j)
		nf := make([]float64, J+1)
		ng := make([]float64, J+1)
		var pf, pg []float64 = make([]float64, J+1), make([]float64, J+1)
		logw := -mean // log Poisson(0; mean)
		for k := 0; k <= steps; k++ {
			w := math.Exp(logw)
			for j := range f {
				pf[j] += w * f[j]
				pg[j] += w * g[j]
			}
			for j := 0; j <= J; j++ {
				up := theta * (x + float64(j)) / lam
				ab := theta / lam
				stay := 1 - up - ab
				fUp, gUp := 1.0, 0.0
				if j > 0 {
					fUp, gUp = f[j-1], g[j-1]
				}
				nf[j] = up*fUp + stay*f[j]
				ng[j] = up*gUp + ab + stay*g[j]
			}
			f, nf = nf, f
			g, ng = ng, g
			logw += math.Log(mean) - math.Log(float64(k+1))
		}
		answered, settled = below, below
		for j := 0; j <= J; j++ {
			answered += pi[n+j] * pf[j]
			settled += pi[n+j] * (pf[j] + pg[j])
		}
		return answered, settled
	}
	r.answeredT, r.settledT = within(tT)
	r.answeredS, r.settledS = within(tS)
	var num, den float64
	den = below
	for j := 0; j <= J; j++ {
		num += pi[n+j] * m[j]
		den += pi[n+j] * s[j]
	}
	r.answered = den
	r.asa = num / den
	return r
}

func TestErlangAAgainstBirthDeathChain(t *testing.T) {
	tests := []struct {
		name    string
		traffic Traffic
		agents  int
		target  Target
	}{
		{"A=10, n=12, patience 2 min", Traffic{Calls: 100, Interval: 30 * time.Minute, AHT: 180 * time.Second, Patience: 2 * time.Minute},
			12, Target{Threshold: 20 * time.Second}},
		{"A=10, n=14, patience 1 min, S=5s", Traffic{Calls: 100, Interval: 30 * time.Minute, AHT: 180 * time.Second, Patience: time.Minute},
			14, Target{Threshold: 20 * time.Second, ShortAbandon: 5 * time.Second}},
		{"overloaded A=20 on n=10", Traffic{Calls: 200, Interval: 30 * time.Minute, AHT: 180 * time.Second, Patience: time.Minute},
			10, Target{Threshold: 30 * time.Second, ShortAbandon: 10 * time.Second}},
		{"non-integer nμ/θ, n=7", Traffic{Calls: 90, Interval: time.Hour, AHT: 200 * time.Second, Patience: 90 * time.Second},
			7, Target{Threshold: 15 * time.Second}},
		{"single agent", Traffic{Calls: 10, Interval: time.Hour, AHT: 300 * time.Second, Patience: 4 * time.Minute},
			1, Target{Threshold: 60 * time.Second, ShortAbandon: 3 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Predict(tc.traffic, tc.agents, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			lambda := tc.traffic.Calls / tc.traffic.Interval.Seconds()
			r := chainA(tc.agents, lambda, 1/tc.traffic.AHT.Seconds(), 1/tc.traffic.Patience.Seconds(),
				tc.target.Threshold.Seconds(), tc.target.ShortAbandon.Seconds(), tc.agents+400)
			const tol = 1e-9
			near(t, "P(wait)", p.ProbWait, r.pWait, tol)
			near(t, "P(abandon)", p.Abandon, r.pAb, tol)
			near(t, "SL answered", p.ServiceLevels.Answered, r.answeredT/r.answered, tol)
			near(t, "SL offered", p.ServiceLevels.Offered, r.answeredT/(1-(r.settledS-r.answeredS)), tol)
			near(t, "SL removed", p.ServiceLevels.Removed, r.settledT, tol)
			near(t, "ASA", p.ASA.Seconds(), r.asa, 1e-6)
			near(t, "occupancy", p.Occupancy, p.Erlangs*(1-r.pAb)/float64(tc.agents), tol)
			if p.ServiceLevel != p.ServiceLevels.Offered {
				t.Errorf("default formula must be offered: %v vs %v", p.ServiceLevel, p.ServiceLevels.Offered)
			}
		})
	}
}

// TestErlangAClosedFormsAgree checks the gamma-function abandonment against
// the series one, and the Mandelbaum–Zeltyn identity
// P(Ab | W>0) = 1/(ρ·A(x,y)) + 1 − 1/ρ, for a range of loads.
func TestErlangAClosedFormsAgree(t *testing.T) {
	for _, calls := range []float64{30, 100, 400, 2000} {
		for _, n := range []int{3, 10, 40, 200} {
			tr := Traffic{Calls: calls, Interval: 30 * time.Minute, AHT: 3 * time.Minute, Patience: 100 * time.Second}
			p, err := Predict(tr, n, Target{Threshold: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			m := newModelA(tr, Target{})
			s := m.state(n, ErlangB(n, tr.Erlangs()))
			served := s.pWait * (s.x / s.y) * math.Exp(s.gy1.lp-s.gy0.lp)
			near(t, "P(ab) gamma vs series", s.pWait-served, p.Abandon, 1e-10)
			rho := m.lambda / (float64(n) * m.mu)
			lg, _ := math.Lgamma(s.x + 1)
			bigA := math.Exp(s.y - s.x*math.Log(s.y) + lg + s.gy0.lp)
			if !math.IsInf(bigA, 0) {
				near(t, "P(ab|wait) Mandelbaum–Zeltyn", p.Abandon/p.ProbWait, 1/(rho*bigA)+1-1/rho, 1e-9)
			}
		}
	}
}

// TestErlangAToErlangC: with patience → ∞ Erlang A tends to Erlang C. The
// gap shrinks like 1/patience (abandonment ≈ E[wait]/patience), so near
// saturation (n=11, ρ=0.91, ASA ≈ 2 min) it takes a very long patience; this
// also exercises the gamma functions at nμ/θ ≈ 2·10⁷.
func TestErlangAToErlangC(t *testing.T) {
	base := Traffic{Calls: 100, Interval: 30 * time.Minute, AHT: 180 * time.Second}
	tg := Target{ServiceLevel: 0.8, Threshold: 20 * time.Second}
	for _, n := range []int{11, 14, 20} {
		c, err := Predict(base, n, tg)
		if err != nil {
			t.Fatal(err)
		}
		prevGap := math.Inf(1)
		for _, pat := range []time.Duration{10 * time.Minute, 2 * time.Hour, 24 * time.Hour, 1000 * time.Hour, 100_000 * time.Hour} {
			tr := base
			tr.Patience = pat
			a, err := Predict(tr, n, tg)
			if err != nil {
				t.Fatal(err)
			}
			gap := math.Abs(a.ServiceLevels.Answered-c.ServiceLevel) + math.Abs(a.ProbWait-c.ProbWait) +
				math.Abs(a.ASA.Seconds()-c.ASA.Seconds())/base.AHT.Seconds() + a.Abandon
			if gap > prevGap {
				t.Errorf("n=%d patience %v: gap to Erlang C %g grew from %g", n, pat, gap, prevGap)
			}
			prevGap = gap
		}
		if prevGap > 1e-4 {
			t.Errorf("n=%d: Erlang A with 100000 h patience is %g away from Erlang C", n, prevGap)
		}
	}
	a, _ := Required(Traffic{Calls: 100, Interval: 30 * time.Minute, AHT: 180 * time.Second, Patience: 1000 * time.Hour}, tg)
	if a.Agents != 14 {
		t.Errorf("Erlang A with endless patience needs %d agents, Erlang C 14", a.Agents)
	}
}

func TestIncGamma(t *testing.T) {
	// Exponential: P(1, z) = 1 − e^{−z}; Erlang: P(3, z) = 1 − e^{−z}(1+z+z²/2).
	for _, z := range []float64{1e-3, 0.5, 1, 2, 10, 50} {
		g := incGamma(1, z)
		near(t, "P(1,z)", math.Exp(g.lp), -math.Expm1(-z), 1e-14)
		near(t, "Q(1,z)", math.Exp(g.lq), math.Exp(-z), 1e-14*math.Max(1, math.Exp(-z)))
		g = incGamma(3, z)
		near(t, "Q(3,z)", math.Exp(g.lq), math.Exp(-z)*(1+z+z*z/2), 1e-13)
	}
	// Large a near the transition: P(a, a) → 1/2 as a grows.
	g := incGamma(1e6, 1e6)
	near(t, "P(1e6,1e6)", math.Exp(g.lp), 0.5+1/(3*math.Sqrt(2*math.Pi*1e6)), 1e-6)
}
