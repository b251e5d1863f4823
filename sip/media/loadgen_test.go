//go:build linux

package media

// A load generator for the benchmarks, run as a separate process (the test
// binary re-executed) so that the engine's CPU time can be measured alone
// with getrusage and the two can be pinned to different cores.
//
// Protocol on stdin/stdout, one line each:
//
//	→ "ports P1 P2 ..."        the loadgen's peer sockets on 127.0.0.1
//	← "targets T1 T2 ..."      where each peer sends 50 packets/s
//	← "start"                  begin measuring
//	← "stop"                   → one JSON line of loadgenStats, exit

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
)

type loadgenStats struct {
	Received  uint64  // packets received while measuring
	Sent      uint64  // packets sent while measuring
	Intervals int     // inter-arrival intervals measured
	P50us     float64 // |interval − 20 ms|, percentiles, µs
	P99us     float64
	P999us    float64
	MaxUs     float64
	Seconds   float64
}

func TestLoadgenHelper(t *testing.T) {
	if os.Getenv("MEDIA_LOADGEN") != "1" {
		t.Skip("helper process for the benchmarks")
	}
	n, err := strconv.Atoi(os.Getenv("MEDIA_LOADGEN_N"))
	if err != nil {
		t.Fatal(err)
	}
	if err := runLoadgen(n, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

type lgPeer struct {
	conn   *net.UDPConn
	target netip.AddrPort

	mu   sync.Mutex
	last int64 // kernel receive time of the previous packet, ns
	devs []int32
	recv uint64
}

func runLoadgen(n int, in io.Reader, out io.Writer) error {
	peers := make([]*lgPeer, n)
	ports := make([]string, n)
	for i := range peers {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		raw, err := conn.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
		}); err != nil || serr != nil {
			return fmt.Errorf("SO_TIMESTAMPNS: %v %v", err, serr)
		}
		peers[i] = &lgPeer{conn: conn}
		ports[i] = strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port)
	}
	fmt.Fprintln(out, "ports", strings.Join(ports, " "))

	sc := bufio.NewScanner(in)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		return fmt.Errorf("no targets")
	}
	f := strings.Fields(sc.Text())
	if len(f) != n+1 || f[0] != "targets" {
		return fmt.Errorf("bad targets line")
	}
	for i, p := range f[1:] {
		port, err := strconv.Atoi(p)
		if err != nil {
			return err
		}
		peers[i].target = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	}

	var measuring atomic.Bool
	var sent atomic.Uint64
	for _, p := range peers {
		go p.receive(&measuring)
	}
	stop := make(chan struct{})
	go func() { // 50 packets/s from every peer, paced from absolute deadlines
		pkt := make([]byte, 12+160)
		hdr := rtp.Header{Version: 2, PayloadType: 0, SSRC: 1}
		start := time.Now()
		for k := int64(1); ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			time.Sleep(time.Until(start.Add(time.Duration(k) * packetDuration)))
			hdr.SequenceNumber = uint16(k)
			hdr.Timestamp = uint32(k) * samplesPerPacket
			for i, p := range peers {
				hdr.SSRC = uint32(i + 1)
				hdr.Marker = k == 1
				_, _ = hdr.MarshalTo(pkt)
				if _, err := p.conn.WriteToUDPAddrPort(pkt, p.target); err == nil && measuring.Load() {
					sent.Add(1)
				}
			}
		}
	}()

	var t0 time.Time
	for sc.Scan() {
		switch sc.Text() {
		case "start":
			for _, p := range peers {
				p.mu.Lock()
				p.last, p.recv, p.devs = 0, 0, p.devs[:0]
				p.mu.Unlock()
			}
			t0 = time.Now()
			measuring.Store(true)
		case "stop":
			measuring.Store(false)
			close(stop)
			st := loadgenStats{Sent: sent.Load(), Seconds: time.Since(t0).Seconds()}
			var all []int32
			for _, p := range peers {
				p.mu.Lock()
				all = append(all, p.devs...)
				st.Received += p.recv
				p.mu.Unlock()
			}
			slices.Sort(all)
			st.Intervals = len(all)
			if len(all) > 0 {
				q := func(f float64) float64 { return float64(all[min(len(all)-1, int(f*float64(len(all))))]) / 1000 }
				st.P50us, st.P99us, st.P999us, st.MaxUs = q(0.5), q(0.99), q(0.999), float64(all[len(all)-1])/1000
			}
			return json.NewEncoder(out).Encode(st)
		}
	}
	return sc.Err()
}

// receive reads packets with their kernel receive timestamps and records
// how far each inter-arrival interval is from 20 ms.
func (p *lgPeer) receive(measuring *atomic.Bool) {
	buf := make([]byte, 1500)
	oob := make([]byte, 128)
	for {
		_, oobn, _, _, err := p.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return
		}
		ts := kernelTimestamp(oob[:oobn])
		if !measuring.Load() || ts == 0 {
			continue
		}
		p.mu.Lock()
		p.recv++
		if p.last != 0 {
			dev := ts - p.last - int64(packetDuration)
			if dev < 0 {
				dev = -dev
			}
			p.devs = append(p.devs, int32(min(dev, 1<<31-1)))
		}
		p.last = ts
		p.mu.Unlock()
	}
}

func kernelTimestamp(oob []byte) int64 {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:]))
			return sec*1e9 + nsec
		}
	}
	return 0
}
