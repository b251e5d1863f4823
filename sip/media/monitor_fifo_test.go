package media

import "testing"

// TestPCMFIFO: a listener gets nothing until two packets are queued, then
// one packet per tick; a FIFO that runs dry gives what it has and primes
// again; more than five packets queued drop the oldest back to two (the
// newest audio is kept).
func TestPCMFIFO(t *testing.T) {
	pkt := func(v int16) []byte { // one packet of constant v, µ-law
		pcm := make([]int16, samplesPerPacket)
		for i := range pcm {
			pcm[i] = v
		}
		return PCMU.Encode(nil, pcm)
	}
	take := func(f *pcmFIFO) (first int32, n int) {
		var acc [samplesPerPacket]int32
		f.addTo(&acc)
		for _, v := range acc {
			if v != 0 {
				n++
			}
		}
		return acc[0], n
	}
	near := func(got int32, want int16) bool { d := got - int32(want); return d > -200 && d < 200 }
	tests := []struct {
		name   string
		pushes []int16 // one packet each, in order
		takes  []int16 // what each take's first sample is near (0: nothing)
		counts []int   // non-zero samples of each take
	}{
		{"one packet is not enough", []int16{1000}, []int16{0}, []int{0}},
		{"two prime it", []int16{1000, 2000}, []int16{1000, 2000, 0}, []int{160, 160, 0}},
		{"overflow keeps the newest two", []int16{1000, 2000, 3000, 4000, 5000, 6000}, []int16{5000, 6000, 0}, []int{160, 160, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &pcmFIFO{}
			for _, v := range tc.pushes {
				f.push(PCMU.PT, pkt(v))
			}
			for i, want := range tc.takes {
				got, n := take(f)
				if n != tc.counts[i] || (want != 0 && !near(got, want)) || (want == 0 && got != 0) {
					t.Fatalf("take %d: first sample %d, %d non-zero; want ≈%d, %d", i, got, n, want, tc.counts[i])
				}
			}
		})
	}
	t.Run("runs dry, then waits to prime again", func(t *testing.T) {
		f := &pcmFIFO{}
		f.push(PCMU.PT, pkt(1000))
		f.push(PCMU.PT, pkt(1000)[:80])
		f.push(PCMU.PT, pkt(1000)[:80]) // 2 packets: primed
		if _, n := take(f); n != 160 {
			t.Fatalf("first take: %d", n)
		}
		if _, n := take(f); n != 160 {
			t.Fatalf("second take: %d", n)
		}
		f.push(PCMU.PT, pkt(1000)[:80])
		if _, n := take(f); n != 0 {
			t.Fatalf("unprimed after running dry, yet gave %d samples", n)
		}
	})
}
