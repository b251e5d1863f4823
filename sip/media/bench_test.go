//go:build linux

package media

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
)

var (
	benchStreams = flag.Int("media.streams", 1000, "BenchmarkPacing: concurrent prompt/MOH streams")
	benchCalls   = flag.Int("media.calls", 500, "BenchmarkRelayLoad: concurrent bridged calls")
	benchSeconds = flag.Duration("media.window", 10*time.Second, "measurement window of the load benchmarks")
	benchLoadCPU = flag.String("media.loadcpu", "", "pin the load generator to this CPU list with taskset (e.g. 0)")
	benchGather  = flag.Duration("media.gather", muxGather, "with -media.mux: how long a shared socket lets datagrams gather after a short batch")
	benchPrecise = flag.Bool("media.precise", false, "BenchmarkPacing: EngineConfig.PrecisePacing (timerfd-kicked wake-ups)")
)

// loadgen is the handle on a load generator process.
type loadgen struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	ports []netip.AddrPort
}

func startLoadgen(b *testing.B, n int) *loadgen {
	b.Helper()
	args := []string{os.Args[0], "-test.run=^TestLoadgenHelper$", "-test.v=false"}
	if *benchLoadCPU != "" {
		args = append([]string{"taskset", "-c", *benchLoadCPU}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "MEDIA_LOADGEN=1", "MEDIA_LOADGEN_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	lg := &loadgen{cmd: cmd, in: in, out: bufio.NewScanner(outp)}
	lg.out.Buffer(nil, 1<<20)
	b.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	for lg.out.Scan() {
		f := strings.Fields(lg.out.Text())
		if len(f) == 0 || f[0] != "ports" {
			continue // "PASS" and the like
		}
		for _, p := range f[1:] {
			port, _ := strconv.Atoi(p)
			lg.ports = append(lg.ports, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
		}
		break
	}
	if len(lg.ports) != n {
		b.Fatalf("loadgen gave %d ports, want %d", len(lg.ports), n)
	}
	return lg
}

func (lg *loadgen) send(b *testing.B, line string) {
	if _, err := io.WriteString(lg.in, line+"\n"); err != nil {
		b.Fatal(err)
	}
}

func (lg *loadgen) stop(b *testing.B) loadgenStats {
	lg.send(b, "stop")
	for lg.out.Scan() {
		if line := lg.out.Text(); strings.HasPrefix(line, "{") {
			var st loadgenStats
			if err := json.Unmarshal([]byte(line), &st); err != nil {
				b.Fatal(err)
			}
			return st
		}
	}
	b.Fatal("loadgen ended without stats")
	return loadgenStats{}
}

func targetsLine(streams []*Stream) string {
	var sb strings.Builder
	sb.WriteString("targets")
	for _, s := range streams {
		fmt.Fprintf(&sb, " %d", s.LocalAddr().Port())
	}
	return sb.String()
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs the load for the window and returns the engine's CPU time
// per wall second and the load generator's statistics.
func measure(b *testing.B, lg *loadgen, atStart func()) (cpuPerSec float64, st loadgenStats, wall time.Duration) {
	return measureWindow(b, lg, atStart, nil)
}

// measureWindow is measure with a hook called when the window closes.
func measureWindow(b *testing.B, lg *loadgen, atStart, atEnd func()) (cpuPerSec float64, st loadgenStats, wall time.Duration) {
	time.Sleep(2 * time.Second) // warm up: latching, caches, GC
	if atStart != nil {
		atStart()
	}
	lg.send(b, "start")
	c0, t0 := cpuTime(b), time.Now()
	time.Sleep(*benchSeconds)
	c1, t1 := cpuTime(b), time.Now()
	if atEnd != nil {
		atEnd()
	}
	st = lg.stop(b)
	wall = t1.Sub(t0)
	return (c1 - c0).Seconds() / wall.Seconds(), st, wall
}

func benchSounds(b *testing.B) []*Sound {
	c, err := NewCatalog(CatalogConfig{MOH: map[string]string{"default": systemMOH}})
	if err != nil {
		b.Logf("no system MOH (%v): using a tone", err)
		return []*Sound{tone(8000*60, 8000)}
	}
	s, _ := c.MOH("default")
	return s
}

// BenchmarkPacing: N streams loop music on hold to loopback peers which
// send 50 packets/s back to each; the peers measure the inter-arrival
// jitter from kernel receive timestamps, and the engine's CPU time is
// measured with getrusage.
func BenchmarkPacing(b *testing.B) {
	n := *benchStreams
	sounds := benchSounds(b)
	for range b.N {
		lg := startLoadgen(b, n)
		var ticks tickRecorder
		e := testEngine(b, n+16, func(e *Engine) {
			e.onTick, e.cfg.PrecisePacing, e.muxGather = ticks.record, *benchPrecise, *benchGather
		})
		streams := make([]*Stream, n)
		for i := range streams {
			s, err := e.NewStream(StreamConfig{Remote: lg.ports[i], Codec: PCMU, DTMFPT: DefaultDTMFPT})
			if err != nil {
				b.Fatal(err)
			}
			s.Loop(sounds)
			streams[i] = s
		}
		lg.send(b, targetsLine(streams))
		var s0, s1 uint64
		cpu, st, wall := measureWindow(b, lg, func() { ticks.reset(); s0 = relayed(streams) }, func() { s1 = relayed(streams) })
		late, took := ticks.summary()
		b.ReportMetric(late, "tick-late-p99-µs")
		b.ReportMetric(took, "tick-work-p99-µs")
		var recv uint64
		for _, s := range streams {
			recv += s.Stats().PacketsReceived
		}
		// µs CPU per stream-second, from the packets really sent in the
		// window (50 per stream-second): a starved pacer that skips ticks
		// does not look cheaper.
		perStream := cpu * wall.Seconds() / (float64(max(s1-s0, 1)) / 50) * 1e6
		b.ReportMetric(st.P50us, "jitter-p50-µs")
		b.ReportMetric(st.P99us, "jitter-p99-µs")
		b.ReportMetric(st.P999us, "jitter-p99.9-µs")
		b.ReportMetric(st.MaxUs, "jitter-max-µs")
		b.ReportMetric(perStream, "cpu-µs/stream-s")
		b.ReportMetric(0.8e6/perStream, "streams/core@80%")
		b.ReportMetric(float64(st.Received)/(float64(n)*50*wall.Seconds()), "delivered-ratio")
		reportBatch(b, e)
		b.Logf("%d streams, %.1f s: engine CPU %.1f%% of a core; peers got %d packets (%d intervals), sent %d; engine received %d in total",
			n, wall.Seconds(), cpu*100, st.Received, st.Intervals, st.Sent, recv)
		e.Close()
	}
}

// BenchmarkRelayLoad: N bridged calls (2N streams); each of the 2N loopback
// peers sends 50 packets/s, which the engine relays to the other peer.
func BenchmarkRelayLoad(b *testing.B) {
	n := *benchCalls
	for range b.N {
		lg := startLoadgen(b, 2*n)
		runtime.GC()
		rss0 := rssKiB()
		e := testEngine(b, 2*n+16, func(e *Engine) { e.muxGather = *benchGather })
		streams := make([]*Stream, 2*n)
		for i := range streams {
			codec := PCMU
			if i%2 == 1 && i%4 == 3 {
				codec = PCMA // half the calls transcode
			}
			s, err := e.NewStream(StreamConfig{Remote: lg.ports[i], Codec: codec, DTMFPT: DefaultDTMFPT})
			if err != nil {
				b.Fatal(err)
			}
			streams[i] = s
		}
		for i := 0; i < len(streams); i += 2 {
			streams[i].Bridge(streams[i+1])
		}
		lg.send(b, targetsLine(streams))
		var s0, s1 uint64
		var rss1 int64
		cpu, st, wall := measureWindow(b, lg, func() { s0 = relayed(streams) }, func() { s1, rss1 = relayed(streams), rssKiB() })
		if rss0 > 0 && rss1 > 0 {
			// The engine's resident memory per bridged call (two streams),
			// under load; the load generator is another process.
			b.ReportMetric(float64(rss1-rss0)/float64(n), "rss-KiB/call")
		}
		pkts := s1 - s0
		// CPU per call-second from the packets really relayed in the window
		// (100 per call-second), so a starved load generator does not make
		// calls look cheaper than they are.
		perCall := cpu * wall.Seconds() / float64(pkts) * 100 * 1e6
		b.ReportMetric(perCall, "cpu-µs/call-s")
		b.ReportMetric(0.8e6/perCall, "calls/core@80%")
		b.ReportMetric(cpu*wall.Seconds()*1e9/float64(pkts), "cpu-ns/relayed-pkt")
		b.ReportMetric(st.P99us, "jitter-p99-µs")
		b.ReportMetric(float64(st.Received)/float64(max(st.Sent, 1)), "delivered-ratio")
		reportBatch(b, e)
		b.Logf("%d calls, %.1f s: engine CPU %.1f%% of a core, ~%d packets relayed; peers sent %d, got %d",
			n, wall.Seconds(), cpu*100, pkts, st.Sent, st.Received)
		e.Close()
	}
}

// rssKiB is the process's resident set size (0 where /proc is missing).
func rssKiB() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

// reportBatch reports the mean datagrams per recvmmsg with -media.mux.
func reportBatch(b *testing.B, e *Engine) {
	var reads, recvd uint64
	for _, m := range e.mux {
		reads += m.reads.Load()
		recvd += m.recvd.Load()
	}
	if reads > 0 {
		b.ReportMetric(float64(recvd)/float64(reads), "pkts/recvmmsg")
	}
}

func relayed(streams []*Stream) uint64 {
	var n uint64
	for _, s := range streams {
		n += s.Stats().PacketsSent
	}
	return n
}

// BenchmarkRelayPacket is the in-process cost of one relayed packet: a
// client sends to A, A's receive goroutine relays (PCMU→PCMA) to B's peer.
// It includes the client's send syscall; allocs/op shows the path does not
// allocate.
func BenchmarkRelayPacket(b *testing.B) {
	e := testEngine(b, 8, nil)
	pa, pb := newPeer(b), newPeer(b)
	pb.conn.Close() // nobody reads: the kernel drops what B sends
	a := newStream(b, e, pa, StreamConfig{Codec: PCMU})
	bs := newStream(b, e, pb, StreamConfig{Codec: PCMA})
	a.Bridge(bs)
	pkt := make([]byte, 12+160)
	h := rtp.Header{Version: 2, PayloadType: 0, SSRC: 5}
	to := a.LocalAddr()
	const window = 32
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.SequenceNumber, h.Timestamp = uint16(i), uint32(i)*160
		h.MarshalTo(pkt)
		pa.conn.WriteToUDPAddrPort(pkt, to)
		if i%window == window-1 {
			for a.Stats().PacketsReceived < uint64(i+1)-window/2 {
				runtime.Gosched()
			}
		}
	}
}

// BenchmarkPacerTick is the pacer's CPU cost per stream and tick without
// the send syscall (streams point at an unspecified address).
func BenchmarkPacerTick(b *testing.B) {
	e := testEngine(b, 8, nil)
	s, err := e.NewStream(StreamConfig{Remote: netip.MustParseAddrPort("0.0.0.0:9"), Codec: PCMA})
	if err != nil {
		b.Fatal(err)
	}
	e.Close() // stop the real pacer; tick by hand
	s.closed.Store(false)
	s.Loop([]*Sound{tone(8000*10, 1000)})
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		s.tick(i)
	}
}

// tickRecorder collects the pacers' tick lateness and work time.
type tickRecorder struct {
	mu         sync.Mutex
	late, took []time.Duration
}

func (r *tickRecorder) record(_ int, late, took time.Duration) {
	r.mu.Lock()
	r.late = append(r.late, late)
	r.took = append(r.took, took)
	r.mu.Unlock()
}

func (r *tickRecorder) reset() {
	r.mu.Lock()
	r.late, r.took = r.late[:0], r.took[:0]
	r.mu.Unlock()
}

// summary returns the p99 of lateness and work, in µs.
func (r *tickRecorder) summary() (late, took float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p99 := func(d []time.Duration) float64 {
		if len(d) == 0 {
			return 0
		}
		d = slices.Clone(d)
		slices.Sort(d)
		return float64(d[len(d)*99/100]) / 1e3
	}
	return p99(r.late), p99(r.took)
}
