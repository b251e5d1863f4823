package simulate

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseDist(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    Dist
		wantErr string
	}{
		{spec: "exp:60s", want: Dist{Kind: "exp", Mean: time.Minute}},
		{spec: "45s", want: Dist{Kind: "fixed", Mean: 45 * time.Second}},
		{spec: "fixed:2m", want: Dist{Kind: "fixed", Mean: 2 * time.Minute}},
		{spec: "lognormal:180s:0.5", want: Dist{Kind: "lognormal", Mean: 3 * time.Minute, Sigma: 0.5}},
		{spec: "normal:60s:15s", want: Dist{Kind: "normal", Mean: time.Minute, SD: 15 * time.Second}},
		{spec: "uniform:2s-8s", want: Dist{Kind: "uniform", Min: 2 * time.Second, Max: 8 * time.Second}},
		{spec: "weibull:3s", wantErr: "unknown kind"},
		{spec: "exp:soon", wantErr: "invalid duration"},
		{spec: "lognormal:3s", wantErr: "want lognormal:MEAN:SIGMA"},
		{spec: "lognormal:3s:9", wantErr: "sigma"},
		{spec: "uniform:8s-2s", wantErr: "max is below min"},
		{spec: "uniform:2s", wantErr: "want uniform:MIN-MAX"},
		{spec: "exp:-1s", wantErr: "negative"},
		{spec: "", wantErr: "want KIND:PARAMS"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseDist(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseDist(%q) error = %v, want one containing %q", tc.spec, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("ParseDist(%q) = %+v, want %+v", tc.spec, got, tc.want)
			}
			back, err := ParseDist(got.String())
			if err != nil || back != got {
				t.Fatalf("round trip of %q via %q = %+v, %v", tc.spec, got.String(), back, err)
			}
		})
	}
}

// TestDistDraw checks the sample mean and the range of every kind with a
// fixed seed (deterministic: no clock involved).
func TestDistDraw(t *testing.T) {
	const n = 50000
	for _, spec := range []string{"exp:60s", "lognormal:50s:0.5", "normal:60s:10s", "uniform:2s-8s", "fixed:10s"} {
		t.Run(spec, func(t *testing.T) {
			d := MustDist(spec)
			r := rand.New(rand.NewPCG(1, 2))
			var sum float64
			for i := 0; i < n; i++ {
				v := d.Draw(r)
				if v < 0 {
					t.Fatalf("negative draw %s", v)
				}
				if d.Kind == "uniform" && (v < d.Min || v > d.Max) {
					t.Fatalf("draw %s outside %s", v, spec)
				}
				sum += float64(v)
			}
			mean := sum / n
			want := float64(d.Expected())
			if math.Abs(mean-want)/want > 0.03 {
				t.Fatalf("mean of %d draws = %s, want %s ± 3%%", n, time.Duration(mean), d.Expected())
			}
		})
	}
}

func TestMix(t *testing.T) {
	m, err := ParseMix("5:45, 4:25,3:12,2:6,1:12")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Share("5"); math.Abs(got-0.45) > 1e-9 {
		t.Fatalf("share of 5 = %g", got)
	}
	r := rand.New(rand.NewPCG(3, 4))
	counts := map[string]int{}
	const n = 100000
	for i := 0; i < n; i++ {
		counts[m.Pick(r)]++
	}
	for _, k := range m.Keys {
		got := float64(counts[k]) / n
		if math.Abs(got-m.Share(k)) > 0.01 {
			t.Errorf("key %s picked %.3f of the time, want %.3f", k, got, m.Share(k))
		}
	}
	if back := MustMix(m.String()); back.String() != m.String() {
		t.Fatalf("round trip %q → %q", m.String(), back.String())
	}
	for _, bad := range []string{"", "5", "5:x", "5:-1", "5:0", "5:1,5:2", ":3"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}

func TestProfile(t *testing.T) {
	p, err := ParseProfile("0-8:0.2,9-18:1.5")
	if err != nil {
		t.Fatal(err)
	}
	if p[3] != 0.2 || p[9] != 1.5 || p[18] != 1.5 || p[20] != 1 {
		t.Fatalf("profile = %v", p)
	}
	if got := p.String(); got != "0-8:0.2,9-18:1.5,19-23:1" {
		t.Fatalf("String = %q", got)
	}
	for _, name := range []string{"", "flat", "office"} {
		if _, err := ParseProfile(name); err != nil {
			t.Errorf("ParseProfile(%q): %v", name, err)
		}
	}
	for _, bad := range []string{"25:1", "9-3:1", "x:1", "9:-1", "9"} {
		if _, err := ParseProfile(bad); err == nil {
			t.Errorf("ParseProfile(%q) accepted", bad)
		}
	}
}

// TestNextArrival counts the arrivals of the Poisson process over
// simulated hours (the clock is advanced by the gaps, not slept).
func TestNextArrival(t *testing.T) {
	p, _ := ParseProfile("10:2,11:0")
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		hour int
		want float64 // calls in the hour at 6/min
	}{{9, 360}, {10, 720}} {
		now := time.Date(2026, 3, 2, tc.hour, 0, 0, 0, time.UTC)
		end := now.Add(time.Hour)
		n := 0
		for {
			gap, ok := p.NextArrival(r, 6, now)
			if !ok {
				t.Fatal("no rate")
			}
			now = now.Add(gap)
			if !now.Before(end) {
				break
			}
			n++
		}
		// Poisson: sd = sqrt(mean); allow 4 sd.
		if math.Abs(float64(n)-tc.want) > 4*math.Sqrt(tc.want) {
			t.Errorf("hour %d: %d arrivals, want about %g", tc.hour, n, tc.want)
		}
	}
	if _, ok := p.NextArrival(r, 6, time.Date(2026, 3, 2, 11, 30, 0, 0, time.UTC)); ok {
		t.Error("a zero factor gave an arrival")
	}
}
