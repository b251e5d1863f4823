package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Dist is a distribution of durations, parsed from a flag such as
// "exp:60s", "lognormal:180s:0.5", "normal:60s:15s", "uniform:2s-8s" or
// "fixed:10s". A bare duration ("45s") is fixed.
type Dist struct {
	Kind  string        // exp, lognormal, normal, uniform, fixed
	Mean  time.Duration // exp, lognormal, normal, fixed
	Sigma float64       // lognormal: σ of the underlying normal
	SD    time.Duration // normal: standard deviation
	Min   time.Duration // uniform
	Max   time.Duration // uniform
}

// ParseDist parses a distribution spec (see Dist).
func ParseDist(s string) (Dist, error) {
	kind, rest, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		d, err := time.ParseDuration(kind)
		if err != nil {
			return Dist{}, fmt.Errorf("distribution %q: want KIND:PARAMS (exp:60s, lognormal:180s:0.5, normal:60s:15s, uniform:2s-8s, fixed:10s) or a duration", s)
		}
		return checkDist(s, Dist{Kind: "fixed", Mean: d})
	}
	dur := func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return 0, fmt.Errorf("distribution %q: %v", s, err)
		}
		return d, nil
	}
	var d Dist
	var err error
	switch kind {
	case "exp", "fixed":
		d.Kind = kind
		d.Mean, err = dur(rest)
	case "lognormal":
		m, sg, ok := strings.Cut(rest, ":")
		if !ok {
			return Dist{}, fmt.Errorf("distribution %q: want lognormal:MEAN:SIGMA", s)
		}
		d.Kind = kind
		if d.Mean, err = dur(m); err == nil {
			d.Sigma, err = strconv.ParseFloat(sg, 64)
		}
	case "normal":
		m, sd, ok := strings.Cut(rest, ":")
		if !ok {
			return Dist{}, fmt.Errorf("distribution %q: want normal:MEAN:SD", s)
		}
		d.Kind = kind
		if d.Mean, err = dur(m); err == nil {
			d.SD, err = dur(sd)
		}
	case "uniform":
		lo, hi, ok := strings.Cut(rest, "-")
		if !ok {
			return Dist{}, fmt.Errorf("distribution %q: want uniform:MIN-MAX", s)
		}
		d.Kind = kind
		if d.Min, err = dur(lo); err == nil {
			d.Max, err = dur(hi)
		}
	default:
		return Dist{}, fmt.Errorf("distribution %q: unknown kind %q (want exp, lognormal, normal, uniform or fixed)", s, kind)
	}
	if err != nil {
		return Dist{}, fmt.Errorf("distribution %q: %v", s, err)
	}
	return checkDist(s, d)
}

func checkDist(s string, d Dist) (Dist, error) {
	switch {
	case d.Mean < 0 || d.Min < 0 || d.SD < 0:
		return Dist{}, fmt.Errorf("distribution %q: negative duration", s)
	case d.Kind == "uniform" && d.Max < d.Min:
		return Dist{}, fmt.Errorf("distribution %q: max is below min", s)
	case d.Kind == "lognormal" && (d.Sigma < 0 || d.Sigma > 3 || math.IsNaN(d.Sigma)):
		return Dist{}, fmt.Errorf("distribution %q: sigma must be in 0..3", s)
	}
	return d, nil
}

// MustDist is ParseDist for specs known to be valid (defaults).
func MustDist(s string) Dist {
	d, err := ParseDist(s)
	if err != nil {
		panic(err)
	}
	return d
}

// String gives the spec back.
func (d Dist) String() string {
	switch d.Kind {
	case "exp", "fixed":
		return d.Kind + ":" + d.Mean.String()
	case "lognormal":
		return fmt.Sprintf("lognormal:%s:%g", d.Mean, d.Sigma)
	case "normal":
		return fmt.Sprintf("normal:%s:%s", d.Mean, d.SD)
	case "uniform":
		return fmt.Sprintf("uniform:%s-%s", d.Min, d.Max)
	}
	return ""
}

// Expected is the distribution's mean (normal draws are cut at 0, which
// the mean ignores).
func (d Dist) Expected() time.Duration {
	if d.Kind == "uniform" {
		return (d.Min + d.Max) / 2
	}
	return d.Mean
}

// Draw returns one value, never negative.
func (d Dist) Draw(r *rand.Rand) time.Duration {
	var v float64
	m := float64(d.Mean)
	switch d.Kind {
	case "exp":
		v = r.ExpFloat64() * m
	case "lognormal":
		// E[X] = exp(µ + σ²/2) = mean.
		mu := math.Log(m) - d.Sigma*d.Sigma/2
		v = math.Exp(mu + d.Sigma*r.NormFloat64())
	case "normal":
		v = m + float64(d.SD)*r.NormFloat64()
	case "uniform":
		v = float64(d.Min) + r.Float64()*float64(d.Max-d.Min)
	default:
		v = m
	}
	if v < 0 || math.IsNaN(v) {
		return 0
	}
	if v > float64(24*time.Hour) {
		return 24 * time.Hour
	}
	return time.Duration(v)
}

// Mix is a discrete choice with weights, such as a rating mix
// "5:45,4:25,3:12,2:6,1:12" or a menu mix "1:65,2:30,none:5".
type Mix struct {
	Keys    []string
	Weights []float64
	total   float64
}

// ParseMix parses KEY:WEIGHT pairs separated by commas. Weights are
// relative (they need not sum to 1 or 100).
func ParseMix(s string) (Mix, error) {
	var m Mix
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, w, ok := strings.Cut(part, ":")
		if !ok || k == "" {
			return Mix{}, fmt.Errorf("mix %q: want KEY:WEIGHT,... (e.g. 5:45,4:25,3:12,2:6,1:12)", s)
		}
		f, err := strconv.ParseFloat(w, 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return Mix{}, fmt.Errorf("mix %q: weight %q is not a non-negative number", s, w)
		}
		if seen[k] {
			return Mix{}, fmt.Errorf("mix %q: %q given twice", s, k)
		}
		seen[k] = true
		m.Keys = append(m.Keys, k)
		m.Weights = append(m.Weights, f)
		m.total += f
	}
	if m.total <= 0 {
		return Mix{}, fmt.Errorf("mix %q: weights sum to 0", s)
	}
	return m, nil
}

// MustMix is ParseMix for specs known to be valid (defaults).
func MustMix(s string) Mix {
	m, err := ParseMix(s)
	if err != nil {
		panic(err)
	}
	return m
}

// Pick draws one key.
func (m Mix) Pick(r *rand.Rand) string {
	x := r.Float64() * m.total
	for i, w := range m.Weights {
		if x < w {
			return m.Keys[i]
		}
		x -= w
	}
	return m.Keys[len(m.Keys)-1]
}

// Share is the weight of key over the total.
func (m Mix) Share(key string) float64 {
	for i, k := range m.Keys {
		if k == key {
			return m.Weights[i] / m.total
		}
	}
	return 0
}

// String gives the spec back.
func (m Mix) String() string {
	parts := make([]string, len(m.Keys))
	for i, k := range m.Keys {
		parts[i] = k + ":" + strconv.FormatFloat(m.Weights[i], 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// Profile scales the call rate by hour of day: 24 factors, hour 0..23 in
// the simulator's clock zone.
type Profile [24]float64

// profiles are the named hourly profiles.
var profiles = map[string]string{
	"flat": "0-23:1",
	// A support line's working day: quiet at night, peaks at 10-12 and 14-16.
	"office": "0-6:0.1,7:0.3,8:0.7,9:1.2,10-11:1.6,12:1.2,13:1.1,14-15:1.4,16:1.2,17:1,18:0.7,19:0.5,20-21:0.4,22-23:0.2",
}

// ParseProfile parses "flat", "office" or HOUR[-HOUR]:FACTOR pairs
// ("9-18:1.5,0-8:0.2"); hours not named keep factor 1.
func ParseProfile(s string) (Profile, error) {
	var p Profile
	for i := range p {
		p[i] = 1
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return p, nil
	}
	if named, ok := profiles[s]; ok {
		s = named
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		hours, f, ok := strings.Cut(part, ":")
		if !ok {
			return Profile{}, fmt.Errorf("hourly profile %q: want flat, office or HOUR[-HOUR]:FACTOR,...", s)
		}
		factor, err := strconv.ParseFloat(f, 64)
		if err != nil || factor < 0 || math.IsNaN(factor) || math.IsInf(factor, 0) {
			return Profile{}, fmt.Errorf("hourly profile %q: factor %q is not a non-negative number", s, f)
		}
		lo, hi, isRange := strings.Cut(hours, "-")
		from, err1 := strconv.Atoi(lo)
		to := from
		var err2 error
		if isRange {
			to, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || from < 0 || to > 23 || to < from {
			return Profile{}, fmt.Errorf("hourly profile %q: hours %q: want H or H-H within 0-23", s, hours)
		}
		for h := from; h <= to; h++ {
			p[h] = factor
		}
	}
	return p, nil
}

// String lists the factors compactly (runs of equal factors as ranges).
func (p Profile) String() string {
	var parts []string
	for h := 0; h < 24; {
		e := h
		for e+1 < 24 && p[e+1] == p[h] {
			e++
		}
		f := strconv.FormatFloat(p[h], 'g', -1, 64)
		if e == h {
			parts = append(parts, fmt.Sprintf("%d:%s", h, f))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d:%s", h, e, f))
		}
		h = e + 1
	}
	return strings.Join(parts, ",")
}

// NextArrival returns the gap to the next call of a Poisson process whose
// rate is perMinute × the profile's factor for the hour of now. It returns
// false when the rate is zero at now (the caller should look again later).
func (p Profile) NextArrival(r *rand.Rand, perMinute float64, now time.Time) (time.Duration, bool) {
	rate := perMinute * p[now.Hour()] / 60 // calls per second
	if rate <= 0 {
		return 0, false
	}
	return time.Duration(r.ExpFloat64() / rate * float64(time.Second)), true
}

// sortedKeys returns a map's keys in order (for stable output).
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
