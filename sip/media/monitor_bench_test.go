//go:build linux

package media

import (
	"flag"
	"net/netip"
	"testing"

	"github.com/hotline-cc/hotline/sip"
)

var benchMonitored = flag.Int("media.monitored", 100, "BenchmarkMonitorLoad: bridged calls, each with a supervisor")

// BenchmarkMonitorLoad: N bridged calls (caller and agent peers sending 50
// packets/s each way) and N supervisors' streams (their peers sending too),
// with no monitor ("none": the supervisors' streams idle), every call
// monitored in listen, or in barge (three mixes per call). The caller and
// agent peers are one load generator, the supervisors' another, so the
// jitter the call's two sides see is measured apart from the
// supervisors'. docs/benchmarks.md has the figures and the command.
func BenchmarkMonitorLoad(b *testing.B) {
	n := *benchMonitored
	for _, mode := range []string{"none", "listen", "barge"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				calls := startLoadgen(b, 2*n)
				sups := startLoadgen(b, n)
				e := testEngine(b, 3*n+16, nil)
				streams := make([]*Stream, 2*n)
				supStreams := make([]*Stream, n)
				for i := range streams {
					s, err := e.NewStream(StreamConfig{Remote: calls.ports[i], Codec: PCMU, DTMFPT: DefaultDTMFPT})
					if err != nil {
						b.Fatal(err)
					}
					streams[i] = s
				}
				for i := range supStreams {
					s, err := e.NewStream(StreamConfig{Remote: sups.ports[i], Codec: PCMA})
					if err != nil {
						b.Fatal(err)
					}
					supStreams[i] = s
				}
				for i := 0; i < len(streams); i += 2 {
					streams[i].Bridge(streams[i+1])
				}
				calls.send(b, targetsLine(streams))
				sups.send(b, targetsLine(supStreams))
				if mode != "none" {
					m := sip.MonitorListen
					if mode == "barge" {
						m = sip.MonitorBarge
					}
					for i := range supStreams {
						if _, err := streams[2*i+1].Monitor(supStreams[i], m); err != nil {
							b.Fatal(err)
						}
					}
				}
				sups.send(b, "start")
				cpu, st, wall := measure(b, calls, nil)
				sst := sups.stop(b)
				perCall := cpu / float64(n) * 1e6
				b.ReportMetric(perCall, "cpu-µs/call-s")
				b.ReportMetric(st.P99us, "call-jitter-p99-µs")
				b.ReportMetric(st.P50us, "call-jitter-p50-µs")
				b.ReportMetric(float64(st.Received)/float64(max(st.Sent, 1)), "call-delivered-ratio")
				b.ReportMetric(sst.P99us, "sup-jitter-p99-µs")
				b.ReportMetric(float64(sst.Received)/max(sst.Seconds, 1e-9)/float64(n), "sup-pps")
				b.Logf("%s, %d calls, %.1f s: engine CPU %.1f%% of a core; call peers sent %d, got %d (jitter p50 %.0f µs, p99 %.0f µs); supervisors got %d (p99 %.0f µs)",
					mode, n, wall.Seconds(), cpu*100, st.Sent, st.Received, st.P50us, st.P99us, sst.Received, sst.P99us)
				e.Close()
			}
		})
	}
}

// BenchmarkMonitorMix is the CPU cost of one mixed packet without the
// syscalls: two sources' 20 ms decoded onto their FIFOs (as their receive
// goroutines do) and one pacer tick that sums, saturates and encodes them
// (the stream points at an unspecified address, so nothing is sent).
func BenchmarkMonitorMix(b *testing.B) {
	e := testEngine(b, 8, nil)
	s, err := e.NewStream(StreamConfig{Remote: netip.MustParseAddrPort("0.0.0.0:9"), Codec: PCMA})
	if err != nil {
		b.Fatal(err)
	}
	e.Close() // stop the real pacer; tick by hand
	s.closed.Store(false)
	a, c := &pcmFIFO{}, &pcmFIFO{}
	s.setMix([]*pcmFIFO{a, c})
	payload := PCMU.Encode(nil, tone(samplesPerPacket, 8000).PCM)
	a.push(PCMU.PT, payload)
	c.push(PCMU.PT, payload)
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		a.push(PCMU.PT, payload)
		c.push(PCMU.PT, payload)
		s.tick(i)
	}
}
