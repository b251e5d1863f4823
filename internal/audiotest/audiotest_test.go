package audiotest

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/hotline-cc/hotline/sip/media"
)

func tone(rate int, n int, amp float64, freqs ...float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		var v float64
		for _, f := range freqs {
			v += amp * math.Sin(2*math.Pi*f*float64(i)/float64(rate))
		}
		out[i] = int16(v)
	}
	return out
}

func TestPresent(t *testing.T) {
	const rate = 8000
	cases := []struct {
		name string
		in   []int16
		want []float64
	}{
		{"one tone", tone(rate, 1600, 8000, 440), []float64{440}},
		{"two tones", tone(rate, 1600, 6000, 440, 1000), []float64{440, 1000}},
		{"three tones", tone(rate, 1600, 4000, 440, 1000, 1700), []float64{440, 1000, 1700}},
		{"other tone", tone(rate, 1600, 8000, 2500), nil},
		{"silence", make([]int16, 1600), nil},
		{"empty", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Present(c.in, rate, 0.1, 440, 1000, 1700)
			if len(got) != len(c.want) {
				t.Fatalf("Present = %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("Present = %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	in := tone(8000, 800, 8000, 1000)
	u := make([]byte, len(in))
	a := make([]byte, len(in))
	for i, s := range in {
		u[i] = media.EncodeUlaw(s)
		a[i] = media.EncodeAlaw(s)
	}
	for _, c := range []struct {
		pt uint8
		p  []byte
	}{{0, u}, {8, a}} {
		got := Decode(c.pt, c.p)
		if p := Power(got, 8000, 1000); p < 0.9 {
			t.Errorf("pt %d: power at 1000 Hz after G.711 = %.3f, want ≥ 0.9", c.pt, p)
		}
		if p := Power(got, 8000, 440); p > 0.01 {
			t.Errorf("pt %d: power at 440 Hz = %.3f, want ≈ 0", c.pt, p)
		}
	}
	if Decode(18, u) != nil {
		t.Error("Decode of G.729 should be nil")
	}
}

// TestHeardTogether: captures are judged over the same stretch after
// their marks: what came before a mark and the 200 ms settling are not in
// it; a capture that never fills names itself in the error.
func TestHeardTogether(t *testing.T) {
	ulaw := func(s []int16) []byte {
		p := make([]byte, len(s))
		for i, v := range s {
			p[i] = media.EncodeUlaw(v)
		}
		return p
	}
	a, b := NewCapture(), NewCapture()
	a.Add(0, ulaw(tone(8000, 4000, 8000, 1700))) // before the mark
	marks := []int{a.Mark(), b.Mark()}
	a.Add(0, ulaw(tone(8000, 1600, 8000, 1700))) // the settling
	a.Add(0, ulaw(tone(8000, 4000, 8000, 440)))
	b.Add(0, ulaw(tone(8000, 1600, 8000, 440)))
	b.Add(0, ulaw(tone(8000, 4000, 6000, 440, 1000)))
	got, _, err := HeardSince(context.Background(), []*Capture{a, b}, marks, 440, 1000, 1700)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0], []float64{440}) || !slices.Equal(got[1], []float64{440, 1000}) {
		t.Fatalf("heard %v, want [[440] [440 1000]]", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := NewCapture()
	c.Add(0, ulaw(tone(8000, 1000, 8000, 440)))
	if _, i, err := HeardSince(ctx, []*Capture{a, c}, []int{0, 0}, 440); err == nil || i != 1 {
		t.Fatalf("a capture short of audio: capture %d, err %v; want capture 1 and an error", i, err)
	}
}
