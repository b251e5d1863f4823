package recording

import (
	"flag"
	"io"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/hotline-cc/hotline/sip/media"
)

var (
	benchCalls = flag.Int("bench.calls", 100, "bridged calls in BenchmarkRecordedCalls")
	benchFor   = flag.Duration("bench.for", 10*time.Second, "how long BenchmarkRecordedCalls measures")
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecordedCalls: N bridged calls relayed by sip/media, each side
// sending 50 packets/s (A-law tone) from loopback peers in this process,
// unrecorded and then recorded (a tap on each caller's stream and a
// Recorder writing its WAV under a temporary directory). It reports the
// process's CPU per call-second in both runs; the peers' own cost is in
// both, so the difference is the recording's.
//
//	go test ./recording -run '^$' -bench BenchmarkRecordedCalls -benchtime 1x -bench.calls 100
func BenchmarkRecordedCalls(b *testing.B) {
	for _, rec := range []bool{false, true} {
		b.Run("recorded="+strconv.FormatBool(rec), func(b *testing.B) {
			for range b.N {
				cpu, bytes, pkts, dropped := runCalls(b, *benchCalls, rec, *benchFor)
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(pkts, 1)), "cpu-ns/relayed-pkt")
				b.ReportMetric(float64(pkts)/benchFor.Seconds()/float64(2**benchCalls*50), "relayed-ratio")
				b.ReportMetric(cpu.Seconds()/benchFor.Seconds()*100, "cpu-%-of-core")
				b.ReportMetric(float64(cpu.Microseconds())/benchFor.Seconds()/float64(*benchCalls), "cpu-µs/call-s")
				if rec {
					b.ReportMetric(float64(bytes)/benchFor.Seconds()/1e6, "disk-MB/s")
					b.ReportMetric(float64(dropped), "dropped-pkts")
				}
			}
		})
	}
}

// runCalls returns the CPU and the packets relayed during d, the bytes the
// recorders wrote to disk during d, and the packets their taps dropped.
func runCalls(b *testing.B, n int, record bool, d time.Duration) (cpu time.Duration, written int64, pkts, dropped uint64) {
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr("127.0.3.14"), PortMin: 47000, PortMax: 47000 + 4*n + 16})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 3, 15)})
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	go func() { // the peers hear the relayed audio
		buf := make([]byte, 1500)
		for {
			if _, _, err := peer.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	streams := make([]*media.Stream, 2*n)
	for i := range streams {
		if streams[i], err = eng.NewStream(media.StreamConfig{Remote: peer.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: media.PCMA}); err != nil {
			b.Fatal(err)
		}
		defer streams[i].Close()
	}
	dir := b.TempDir()
	var recs []*Recorder
	for i := 0; i < len(streams); i += 2 {
		if record {
			tap := media.NewTap(500)
			r, err := Record(filepath.Join(dir, strconv.Itoa(i)+".wav"), tap, nil)
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, r)
			streams[i].SetTap(tap)
		}
		streams[i].Bridge(streams[i+1])
	}
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = media.EncodeAlaw(int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000)))
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() { // every 20 ms one packet to each stream
		defer close(done)
		pkt := make([]byte, 12+160)
		start := time.Now()
		for tick := 0; !stop.Load(); tick++ {
			for i, s := range streams {
				h := rtp.Header{Version: 2, PayloadType: media.PCMA.PT, SequenceNumber: uint16(tick), Timestamp: uint32(tick * 160), SSRC: uint32(i + 1)}
				h.MarshalTo(pkt)
				copy(pkt[12:], payload)
				_, _ = peer.WriteToUDPAddrPort(pkt, s.LocalAddr())
			}
			time.Sleep(time.Until(start.Add(time.Duration(tick+1) * 20 * time.Millisecond)))
		}
	}()
	time.Sleep(time.Second) // latched, recorders running
	relayed := func() (n uint64) {
		for _, s := range streams {
			n += s.Stats().PacketsSent
		}
		return n
	}
	onDisk := func() (n int64) {
		_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				if fi, err := e.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
		return n
	}
	c0, p0, w0 := cpuNow(), relayed(), onDisk()
	time.Sleep(d)
	cpu, pkts, written = cpuNow()-c0, relayed()-p0, onDisk()-w0
	stop.Store(true)
	<-done
	for _, r := range recs {
		res := r.Stop()
		if res.Err != nil {
			b.Fatal(res.Err)
		}
		dropped += res.Dropped
	}
	return cpu, written, pkts, dropped
}

// BenchmarkTimeline is the recorder's own CPU per packet (placing and
// decoding it, writing the frames), without the tap or the relay: both
// directions of a call, 20 ms packets, into io.Discard.
func BenchmarkTimeline(b *testing.B) {
	tl := newTimeline(io.Discard)
	tl.mark(media.TapMark{Start: true, Peer: 1})
	var near, far media.TapPacket
	near.Side, near.PT, near.N, near.SSRC = media.TapNear, media.PCMA.PT, 160, 1
	far.Side, far.PT, far.N, far.SSRC = media.TapFar, media.PCMU.PT, 160, 2
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := &near
		if i%2 == 1 {
			p = &far
		}
		k := i / 2
		p.At = time.Duration(k+1) * 20 * time.Millisecond
		p.TS = uint32(k * 160)
		tl.packet(p)
	}
}
