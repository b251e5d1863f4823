package staffing

import (
	"math"
	"math/big"
	"testing"
	"time"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.10g, want %.10g ± %g", what, got, want, tol)
	}
}

// TestPublishedErlangC checks published worked examples.
func TestPublishedErlangC(t *testing.T) {
	tests := []struct {
		name    string
		source  string
		traffic Traffic
		target  Target
		agents  int     // required agents
		sl      float64 // predicted SL at agents
		pWait   float64
		asa     float64 // seconds
		occ     float64
		tol     float64
	}{
		{
			name: "100 calls/30 min, AHT 180 s, 80/20",
			// Issue 8's acceptance case. Published with more digits in the
			// README of the R package ErlangC 0.1.0 (CRAN, 2024-12:
			// wait_probability 0.1741319, service_level 0.88835, ASA
			// 7.83593701177724 s, occupancy 0.7142857, agents 14) and in the
			// README of the Python package pyworkforce 0.1.0 (PyPI:
			// service_level 0.8883500191794669, waiting_probability
			// 0.1741319335950498, occupancy 0.7142857142857143,
			// raw_positions 14).
			source:  "issue 8; CRAN ErlangC 0.1.0; pyworkforce 0.1.0",
			traffic: Traffic{Calls: 100, Interval: 30 * time.Minute, AHT: 180 * time.Second},
			target:  Target{ServiceLevel: 0.80, Threshold: 20 * time.Second},
			agents:  14, sl: 0.8883500191794669, pWait: 0.1741319335950498, asa: 7.83593701177724, occ: 0.7142857142857143,
			tol: 1e-9,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Required(tc.traffic, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if p.Agents != tc.agents {
				t.Fatalf("agents = %d, want %d (%s)", p.Agents, tc.agents, tc.source)
			}
			near(t, "SL", p.ServiceLevel, tc.sl, tc.tol)
			near(t, "P(wait)", p.ProbWait, tc.pWait, tc.tol)
			near(t, "ASA", p.ASA.Seconds(), tc.asa, 1e-6)
			near(t, "occupancy", p.Occupancy, tc.occ, tc.tol)
			near(t, "Erlangs", p.Erlangs, 10, 1e-12)
			if p.Model != ErlangCModel || p.Abandon != 0 {
				t.Errorf("model %s abandon %v, want erlang-c and 0", p.Model, p.Abandon)
			}
		})
	}

	// The "process" table of the CRAN ErlangC 0.1.0 README lists the same
	// traffic (A = 10 Erlangs, AHT 180 s, T = 20 s) at 11 agents.
	p, err := Predict(Traffic{Calls: 100, Interval: 30 * time.Minute, AHT: 180 * time.Second}, 11,
		Target{Threshold: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "P(wait) at 11 agents", p.ProbWait, 0.6821182, 5e-8)
	near(t, "SL at 11 agents", p.ServiceLevel, 0.3896138, 5e-8)
	// 13 agents: one short of the 80 % target (14 is the answer above).
	p, _ = Predict(Traffic{Calls: 100, Interval: 30 * time.Minute, AHT: 180 * time.Second}, 13,
		Target{Threshold: 20 * time.Second})
	if p.ServiceLevel >= 0.8 {
		t.Errorf("SL at 13 agents = %v, want below 80%%", p.ServiceLevel)
	}
}

// TestPublishedErlangB checks the Erlang B table value for 5 Erlangs on 10
// trunks, 0.01838, as printed in standard Erlang B (blocking) tables; the
// big.Float test below checks Erlang C, which is derived from B, to 1e-12.
func TestPublishedErlangB(t *testing.T) {
	near(t, "B(10, 5)", ErlangB(10, 5), 0.018385, 5e-6)
	near(t, "B(0, a)", ErlangB(0, 3), 1, 0)
}

// bigErlangC computes Erlang C by its textbook definition with factorials and
// powers in 256-bit floating point: an independent check of the recursion.
func bigErlangC(n int, a float64) float64 {
	const prec = 256
	A := new(big.Float).SetPrec(prec).SetFloat64(a)
	term := new(big.Float).SetPrec(prec).SetInt64(1) // a^k/k!
	sum := new(big.Float).SetPrec(prec)
	for k := 0; k < n; k++ {
		sum.Add(sum, term)
		term.Mul(term, A)
		term.Quo(term, new(big.Float).SetPrec(prec).SetInt64(int64(k+1)))
	}
	// term = a^n/n!; last = a^n/n! · n/(n−a)
	nf := new(big.Float).SetPrec(prec).SetInt64(int64(n))
	last := new(big.Float).SetPrec(prec).Mul(term, nf)
	last.Quo(last, new(big.Float).SetPrec(prec).Sub(nf, A))
	den := new(big.Float).SetPrec(prec).Add(sum, last)
	c, _ := new(big.Float).SetPrec(prec).Quo(last, den).Float64()
	return c
}

func TestErlangCAgainstBigFloat(t *testing.T) {
	tests := []struct {
		n int
		a float64
	}{
		{1, 0.5}, {2, 1.5}, {14, 10}, {11, 10}, {50, 42.3},
		{200, 180}, {500, 480}, {500, 420}, {800, 777.7}, {1200, 1150},
	}
	for _, tc := range tests {
		got, want := ErlangC(tc.n, tc.a), bigErlangC(tc.n, tc.a)
		if math.Abs(got-want) > 1e-12*math.Max(1, want) {
			t.Errorf("ErlangC(%d, %v) = %.15g, big.Float says %.15g", tc.n, tc.a, got, want)
		}
	}
	if ErlangC(10, 10) != 1 || ErlangC(5, 10) != 1 {
		t.Error("ErlangC must be 1 when agents ≤ load")
	}
}

// TestLargeCentres: thousands of calls per hour and hundreds of agents give
// finite, sane answers for both models.
func TestLargeCentres(t *testing.T) {
	target := Target{ServiceLevel: 0.9, Threshold: 15 * time.Second}
	for _, calls := range []float64{500, 3000, 10000, 40000} {
		for _, pat := range []time.Duration{0, 10 * time.Second, 3 * time.Minute, time.Hour} {
			tr := Traffic{Calls: calls, Interval: time.Hour, AHT: 240 * time.Second, Patience: pat}
			p, err := Required(tr, target)
			if err != nil {
				t.Fatalf("%v calls/h, patience %v: %v", calls, pat, err)
			}
			for name, v := range map[string]float64{"SL": p.ServiceLevel, "P(wait)": p.ProbWait,
				"occupancy": p.Occupancy, "abandon": p.Abandon} {
				if math.IsNaN(v) || v < 0 || v > 1 {
					t.Errorf("%v calls/h, patience %v: %s = %v", calls, pat, name, v)
				}
			}
			if p.ServiceLevel < target.ServiceLevel {
				t.Errorf("%v calls/h, patience %v: SL %v below target", calls, pat, p.ServiceLevel)
			}
			if pat == 0 && float64(p.Agents) <= p.Erlangs {
				t.Errorf("%v calls/h: Erlang C staffing %d ≤ load %v", calls, p.Agents, p.Erlangs)
			}
			if p.Agents < 1 || p.ASA < 0 {
				t.Errorf("%v calls/h, patience %v: agents %d ASA %v", calls, pat, p.Agents, p.ASA)
			}
		}
	}
}

func TestZeroTraffic(t *testing.T) {
	for _, pat := range []time.Duration{0, time.Minute} {
		p, err := Required(Traffic{Interval: 30 * time.Minute, AHT: time.Minute, Patience: pat},
			Target{ServiceLevel: 0.8, Threshold: 20 * time.Second})
		if err != nil || p.Agents != 0 || p.ServiceLevel != 1 {
			t.Errorf("patience %v: %+v, %v; want 0 agents, SL 1", pat, p, err)
		}
	}
}

func TestBadInput(t *testing.T) {
	ok := Traffic{Calls: 10, Interval: time.Hour, AHT: time.Minute}
	tg := Target{ServiceLevel: 0.8, Threshold: 20 * time.Second}
	tests := []struct {
		name string
		tr   Traffic
		tg   Target
	}{
		{"negative calls", Traffic{Calls: -1, Interval: time.Hour, AHT: time.Minute}, tg},
		{"NaN calls", Traffic{Calls: math.NaN(), Interval: time.Hour, AHT: time.Minute}, tg},
		{"zero interval", Traffic{Calls: 1, AHT: time.Minute}, tg},
		{"zero AHT", Traffic{Calls: 1, Interval: time.Hour}, tg},
		{"negative patience", Traffic{Calls: 1, Interval: time.Hour, AHT: time.Minute, Patience: -1}, tg},
		{"SL 100%", ok, Target{ServiceLevel: 1, Threshold: time.Second}},
		{"SL 0", ok, Target{ServiceLevel: 0, Threshold: time.Second}},
		{"negative T", ok, Target{ServiceLevel: 0.8, Threshold: -time.Second}},
		{"bad formula", ok, Target{ServiceLevel: 0.8, Threshold: time.Second, Formula: "nope"}},
	}
	for _, tc := range tests {
		if _, err := Required(tc.tr, tc.tg); err == nil {
			t.Errorf("%s: Required accepted it", tc.name)
		}
	}
	if _, err := Predict(ok, 0, tg); err == nil {
		t.Error("Predict with 0 agents for Erlang C must fail (overloaded)")
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		sl      float64
		thr     time.Duration
		wantErr bool
	}{
		{"80/20", 0.8, 20 * time.Second, false},
		{"80%/20s", 0.8, 20 * time.Second, false},
		{" 90.5 / 1m ", 0.905, time.Minute, false},
		{"95/0", 0.95, 0, false},
		{"80", 0, 0, true},
		{"x/20", 0, 0, true},
		{"80/y", 0, 0, true},
		{"100/20", 0, 0, true},
		{"0/20", 0, 0, true},
		{"80/-5", 0, 0, true},
	}
	for _, tc := range tests {
		got, err := ParseTarget(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseTarget(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && (math.Abs(got.ServiceLevel-tc.sl) > 1e-12 || got.Threshold != tc.thr) {
			t.Errorf("ParseTarget(%q) = %+v", tc.in, got)
		}
	}
}
