package survey

import (
	"fmt"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	ended := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	base := Candidate{CallID: "c1", Caller: "+79123456789", Queue: "sales", Ended: ended}
	cfg := Config{CooldownDays: 30}
	tests := []struct {
		name   string
		cfg    Config
		mut    func(*Candidate)
		hist   History
		number string
		reason string
	}{
		{"eligible", cfg, nil, History{}, "+79123456789", ""},
		{"national form normalized", cfg, func(c *Candidate) { c.Caller = "8 (912) 345-67-89" }, History{}, "+79123456789", ""},
		{"anonymous", cfg, func(c *Candidate) { c.Caller = "anonymous" }, History{}, "", SkipAnonymous},
		{"empty", cfg, func(c *Candidate) { c.Caller = "" }, History{}, "", SkipAnonymous},
		{"invalid", cfg, func(c *Candidate) { c.Caller = "12" }, History{}, "", SkipAnonymous},
		{"opted out", cfg, nil, History{OptedOut: true}, "+79123456789", SkipOptedOut},
		{"cooldown", cfg, nil, History{LastSurvey: ended.Add(-29 * 24 * time.Hour)}, "+79123456789", SkipCooldown},
		{"cooldown over", cfg, nil, History{LastSurvey: ended.Add(-31 * 24 * time.Hour)}, "+79123456789", ""},
		{"no cooldown limit", Config{}, nil, History{LastSurvey: ended.Add(-time.Hour)}, "+79123456789", ""},
		{"no_survey", cfg, func(c *Candidate) { c.NoSurvey = true }, History{}, "+79123456789", SkipNoSurvey},
		{"sampled out", Config{Sampling: map[string]float64{"sales": 0}}, nil, History{}, "+79123456789", SkipSampledOut},
		{"default rate", Config{Sampling: map[string]float64{"default": 0}}, nil, History{}, "+79123456789", SkipSampledOut},
		{"other queue rate", Config{Sampling: map[string]float64{"support": 0}}, nil, History{}, "+79123456789", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			if tt.mut != nil {
				tt.mut(&c)
			}
			number, reason := Decide(tt.cfg, c, tt.hist)
			if number != tt.number || reason != tt.reason {
				t.Errorf("Decide = %q, %q; want %q, %q", number, reason, tt.number, tt.reason)
			}
		})
	}
}

func TestSamplingDeterministicAndProportional(t *testing.T) {
	cfg := Config{Sampling: map[string]float64{"default": 0.25}}
	n := 0
	for i := range 4000 {
		id := fmt.Sprint("call-", i)
		s := Sampled(cfg, id, "q")
		if s != Sampled(cfg, id, "q") {
			t.Fatal("not deterministic")
		}
		if s {
			n++
		}
	}
	if n < 850 || n > 1150 {
		t.Fatalf("sampled %d of 4000 at 0.25", n)
	}
}
