// Package audiotest tells which tones are in a stretch of audio, so tests can
// check by frequency (not by packet counts) what a peer heard: a caller's
// tone on one side of a bridge, a supervisor's whisper reaching the agent
// only, a recording's channels, the browser softphone's microphone.
//
// It uses the Goertzel filter (one DFT bin per asked frequency) on 16-bit
// linear PCM; G.711 payloads are decoded with sip/media's tables first
// (Decode). It imports nothing of hotline but sip/media, and only tests use it.
package audiotest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/hotline-cc/hotline/sip/media"
)

// Power is the share of the signal's energy at freq (0..1): the Goertzel
// bin's power normalised by the block's energy, so a pure tone at freq gives
// about 1 and silence or another tone about 0, whatever the level.
func Power(samples []int16, rate int, freq float64) float64 {
	n := len(samples)
	if n == 0 || rate <= 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, x := range samples {
		v := float64(x)
		energy += v * v
		s0 := v + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if energy == 0 {
		return 0
	}
	bin := s1*s1 + s2*s2 - coeff*s1*s2
	// For a pure sinusoid of amplitude A over N samples, |X|² ≈ (N·A/2)²
	// and the energy is N·A²/2, so |X|²/(energy·N/2) ≈ 1.
	return bin / (energy * float64(n) / 2)
}

// Present lists which of candidates are in samples: those whose Power is at
// least min (0.1 finds a tone mixed with one or two others at like levels
// and ignores G.711 quantisation noise and silence).
func Present(samples []int16, rate int, min float64, candidates ...float64) []float64 {
	var out []float64
	for _, f := range candidates {
		if Power(samples, rate, f) >= min {
			out = append(out, f)
		}
	}
	return out
}

// Decode turns G.711 payloads into linear samples: payload type 0 is µ-law,
// 8 is A-law; others return nil.
func Decode(pt uint8, payload []byte) []int16 {
	out := make([]int16, len(payload))
	switch pt {
	case 0:
		for i, b := range payload {
			out[i] = media.DecodeUlaw(b)
		}
	case 8:
		for i, b := range payload {
			out[i] = media.DecodeAlaw(b)
		}
	default:
		return nil
	}
	return out
}

// Capture collects the audio a peer received, decoded (its Add has the
// shape of media.StreamConfig.OnAudio), so a test can wait for a stretch
// received after some moment (an event: so many samples arrived) and ask
// which tones are in it.
type Capture struct {
	mu      sync.Mutex
	samples []int16
	grew    chan struct{} // closed and replaced on every Add
}

// NewCapture returns an empty capture.
func NewCapture() *Capture { return &Capture{grew: make(chan struct{})} }

// Add appends a G.711 payload (pt 0 or 8; others are ignored).
func (c *Capture) Add(pt uint8, payload []byte) {
	s := Decode(pt, payload)
	if s == nil {
		return
	}
	c.mu.Lock()
	c.samples = append(c.samples, s...)
	close(c.grew)
	c.grew = make(chan struct{})
	c.mu.Unlock()
}

// Mark is the number of samples received so far.
func (c *Capture) Mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.samples)
}

// Next waits until n samples have arrived after mark and returns them; it
// returns what there is and ctx's error if ctx ends first.
func (c *Capture) Next(ctx context.Context, mark, n int) ([]int16, error) {
	for {
		c.mu.Lock()
		if len(c.samples) >= mark+n {
			out := slices.Clone(c.samples[mark : mark+n])
			c.mu.Unlock()
			return out, nil
		}
		grew := c.grew
		c.mu.Unlock()
		select {
		case <-grew:
		case <-ctx.Done():
			c.mu.Lock()
			defer c.mu.Unlock()
			return slices.Clone(c.samples[min(mark, len(c.samples)):]), ctx.Err()
		}
	}
}

// HeardTogether returns which of tones each capture (8 kHz) heard over the
// same stretch, from one mark taken on all of them now (HeardSince).
func HeardTogether(ctx context.Context, caps []*Capture, tones ...float64) ([][]float64, int, error) {
	marks := make([]int, len(caps))
	for i, c := range caps {
		marks[i] = c.Mark()
	}
	return HeardSince(ctx, caps, marks, tones...)
}

// HeardSince returns which of tones each capture (8 kHz) heard after its
// mark: the first 200 ms are skipped (a change settling) and the next
// 500 ms are analysed with Present (min 0.1). When ctx ends first it
// returns the error and the index of the capture still waited for.
func HeardSince(ctx context.Context, caps []*Capture, marks []int, tones ...float64) ([][]float64, int, error) {
	const rate, settle, window = 8000, 1600, 4000
	out := make([][]float64, len(caps))
	for i, c := range caps {
		s, err := c.Next(ctx, marks[i], settle+window)
		if err != nil {
			return nil, i, fmt.Errorf("waiting for audio: %w (got %d samples)", err, len(s))
		}
		out[i] = Present(s[settle:], rate, 0.1, tones...)
	}
	return out, 0, nil
}
