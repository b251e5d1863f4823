package staffing

import (
	"fmt"
	"math"
	"testing"
	"time"
)

var propertyModels = []struct {
	name     string
	patience time.Duration
	formula  Formula
}{
	{"erlang-c", 0, ""},
	{"erlang-a/answered", 90 * time.Second, FormulaAnswered},
	{"erlang-a/offered", 90 * time.Second, FormulaOffered},
	{"erlang-a/removed", 90 * time.Second, FormulaRemoved},
	{"erlang-a/offered, patient", 20 * time.Minute, FormulaOffered},
}

func TestMoreTrafficNeverNeedsFewerAgents(t *testing.T) {
	for _, m := range propertyModels {
		t.Run(m.name, func(t *testing.T) {
			tg := Target{ServiceLevel: 0.8, Threshold: 20 * time.Second, Formula: m.formula}
			prev := 0
			for calls := 0.5; calls < 5000; calls *= 1.07 {
				p, err := Required(Traffic{Calls: calls, Interval: 30 * time.Minute, AHT: 4 * time.Minute, Patience: m.patience}, tg)
				if err != nil {
					t.Fatal(err)
				}
				if p.Agents < prev {
					t.Fatalf("%.2f calls need %d agents, fewer calls needed %d", calls, p.Agents, prev)
				}
				prev = p.Agents
			}
		})
	}
}

func TestStricterTargetNeverNeedsFewerAgents(t *testing.T) {
	for _, m := range propertyModels {
		for _, calls := range []float64{20, 300, 2500} {
			t.Run(fmt.Sprintf("%s/%v calls", m.name, calls), func(t *testing.T) {
				tr := Traffic{Calls: calls, Interval: 30 * time.Minute, AHT: 3 * time.Minute, Patience: m.patience}
				// Higher share at a fixed threshold.
				prev := 0
				for _, sl := range []float64{0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99} {
					p, err := Required(tr, Target{ServiceLevel: sl, Threshold: 20 * time.Second, Formula: m.formula})
					if err != nil {
						t.Fatal(err)
					}
					if p.Agents < prev {
						t.Fatalf("SL %v needs %d agents, a laxer SL needed %d", sl, p.Agents, prev)
					}
					prev = p.Agents
				}
				// Shorter threshold at a fixed share.
				prev = 0
				for _, thr := range []time.Duration{5 * time.Minute, time.Minute, 30 * time.Second, 20 * time.Second, 10 * time.Second, time.Second, 0} {
					p, err := Required(tr, Target{ServiceLevel: 0.8, Threshold: thr, Formula: m.formula})
					if err != nil {
						t.Fatal(err)
					}
					if p.Agents < prev {
						t.Fatalf("T=%v needs %d agents, a longer T needed %d", thr, p.Agents, prev)
					}
					prev = p.Agents
				}
			})
		}
	}
}

func TestServiceLevelRisesWithAgents(t *testing.T) {
	for _, m := range propertyModels {
		for _, calls := range []float64{10, 200, 3000} {
			t.Run(fmt.Sprintf("%s/%v calls", m.name, calls), func(t *testing.T) {
				tr := Traffic{Calls: calls, Interval: 30 * time.Minute, AHT: 3 * time.Minute, Patience: m.patience}
				tg := Target{Threshold: 20 * time.Second, ShortAbandon: 5 * time.Second, Formula: m.formula}
				a := tr.Erlangs()
				first := 1
				if m.patience == 0 {
					first = int(math.Floor(a)) + 1
				}
				var prev ServiceLevels
				prevWait := 1.0
				for n := first; n <= int(2*a)+10; n++ {
					p, err := Predict(tr, n, tg)
					if err != nil {
						t.Fatal(err)
					}
					s := p.ServiceLevels
					const slack = 1e-12
					if s.Answered < prev.Answered-slack || s.Offered < prev.Offered-slack || s.Removed < prev.Removed-slack {
						t.Fatalf("n=%d: SL %+v fell from %+v", n, s, prev)
					}
					if p.ProbWait > prevWait+slack {
						t.Fatalf("n=%d: P(wait) %v rose from %v", n, p.ProbWait, prevWait)
					}
					if m.patience > 0 && tg.ShortAbandon == 0 && (s.Offered > s.Answered+slack || s.Offered > s.Removed+slack) {
						t.Fatalf("n=%d: offered SL %v must be the smallest of %+v", n, s.Offered, s)
					}
					prev, prevWait = s, p.ProbWait
				}
			})
		}
	}
}

// TestOfferedIsStrictest: with S = 0 the offered family is never above the
// other two, which is why it is the default formula.
func TestOfferedIsStrictest(t *testing.T) {
	for _, n := range []int{3, 8, 12, 20} {
		p, err := Predict(Traffic{Calls: 100, Interval: 30 * time.Minute, AHT: 3 * time.Minute, Patience: time.Minute}, n,
			Target{Threshold: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s := p.ServiceLevels
		if s.Offered > s.Answered || s.Offered > s.Removed {
			t.Errorf("n=%d: %+v", n, s)
		}
	}
}
