//go:build linux

package native

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/hotline-cc/hotline/sip/media"
)

// The browser-call benchmark runs hotline's side — the media engine, the
// relay, the WebRTC gateways with their pion PeerConnections on the shared
// ICE port — in the test process, and the simulated peers — the plain RTP
// callers and the browsers (pion PeerConnections: ICE, DTLS-SRTP) — in a
// helper process (the test binary re-executed, TestWebRTCLoadgenHelper),
// so that the CPU measured with getrusage is hotline's alone. Run the test
// binary pinned to one CPU and the helper to the other
// (HOTLINE_BENCH_WEBRTC_LOADCPU), as sip/media's benchmarks do
// (docs/benchmarks.md).
//
// The helper's protocol, one line each on its stdin/stdout:
//
//	← "callers P1 ... PN"          its callers' sockets (and in plain mode
//	← "agents P1 ... PN"           its agents' phones' sockets)
//	→ "offer I BASE64"             browser mode: the gateway's offer for call I
//	← "answer I BASE64"            the browser's answer
//	→ "targets T1 ... TN"          where each caller (and plain agent) sends
//	→ "targets2 T1 ... TN"
//	← "connected"                  every browser's DTLS is up (browser mode)
//	→ "go"                         start talking: 50 packets/s each way
//	→ "start"                      begin counting
//	→ "stop"                       ← one JSON line of webrtcLoadStats, exit

const (
	loadHotlineIP = "127.0.21.20" // hotline's media and ICE address
	loadPeerIP    = "127.0.21.21" // the simulated callers and browsers
)

type webrtcLoadStats struct {
	AtCallers, AtAgents uint64 // packets received while counting
	Sent                uint64 // packets each side sent while counting
	Seconds             float64
	CPU                 float64 // the helper's own CPU seconds while counting
}

// TestWebRTCRelayLoad measures N bridged calls whose agent is a browser
// (HOTLINE_BENCH_WEBRTC=N): per call a plain RTP caller ↔ media.Stream ↔
// relay ↔ media.Stream ↔ WebRTC gateway ↔ a simulated browser, 50 packets/s
// each way; or the same calls with a plain RTP agent in place of the
// gateway and the browser (HOTLINE_BENCH_WEBRTC_MODE=plain), for the plain
// SIP figure measured the same way. The CPU is this process's, over 10 s
// (HOTLINE_BENCH_WEBRTC_SECONDS) after 2 s of warm-up.
func TestWebRTCRelayLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HOTLINE_BENCH_WEBRTC"))
	if n <= 0 {
		t.Skip("set HOTLINE_BENCH_WEBRTC=N to measure N browser calls")
	}
	mode := os.Getenv("HOTLINE_BENCH_WEBRTC_MODE")
	switch mode {
	case "":
		mode = "browser"
	case "browser", "plain":
	default:
		t.Fatalf("HOTLINE_BENCH_WEBRTC_MODE=%q: want browser or plain", mode)
	}
	secs := 10
	if s, err := strconv.Atoi(os.Getenv("HOTLINE_BENCH_WEBRTC_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	ip := netip.MustParseAddr(loadHotlineIP)
	eng, err := media.NewEngine(media.EngineConfig{IP: ip, PortMin: 42000, PortMax: 42000 + 4*n + 10})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	s, err := newSwitch(Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var closer interface{ Close() error }
	s.rtcAPI, closer, err = newWebRTCAPI(ip, WebRTCConfig{}, s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()

	lg := startWebRTCLoadgen(t, n, mode)
	callers := lg.ports(t, "callers", n)
	var agents []netip.AddrPort
	if mode == "plain" {
		agents = lg.ports(t, "agents", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	callerStreams := make([]*media.Stream, n)
	agentStreams := make([]*media.Stream, n)
	gws := make([]*rtcGateway, n)
	for i := range n {
		callerStreams[i], err = eng.NewStream(media.StreamConfig{Remote: callers[i], Codec: media.PCMU})
		if err != nil {
			t.Fatal(err)
		}
		if mode == "plain" {
			agentStreams[i], err = eng.NewStream(media.StreamConfig{Remote: agents[i], Codec: media.PCMU, DTMFPT: media.DefaultDTMFPT})
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		gws[i], err = s.newGateway(ip)
		if err != nil {
			t.Fatal(err)
		}
		defer gws[i].Close()
		agentStreams[i], err = eng.NewStream(media.StreamConfig{Remote: gws[i].Addr(), Codec: media.PCMU, DTMFPT: media.DefaultDTMFPT})
		if err != nil {
			t.Fatal(err)
		}
		gws[i].attach(plainSide(agentStreams[i].LocalAddr()))
		offer, err := gws[i].offer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lg.send(t, fmt.Sprintf("offer %d %s", i, base64.StdEncoding.EncodeToString(offer)))
		f := lg.expect(t, "answer")
		j, _ := strconv.Atoi(f[0])
		ans, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil || j != i {
			t.Fatalf("helper: bad answer line for call %d", i)
		}
		if err := gws[i].accept(ans); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		defer callerStreams[i].Close()
		defer agentStreams[i].Close()
		unbridge := callerStreams[i].Bridge(agentStreams[i])
		defer unbridge()
	}
	lg.send(t, "targets "+addrList(callerStreams))
	if mode == "plain" {
		lg.send(t, "targets2 "+addrList(agentStreams))
	} else {
		lg.expect(t, "connected")
		for i, g := range gws { // the browsers see DTLS up; so must hotline
			for g.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
				if ctx.Err() != nil {
					t.Fatalf("call %d: the gateway never connected (%s)", i, g.pc.ConnectionState())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	lg.send(t, "go")
	time.Sleep(2 * time.Second) // warm up
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	start := time.Now()
	lg.send(t, "start")
	time.Sleep(time.Duration(secs) * time.Second)
	lg.send(t, "stop")
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	wall := time.Since(start).Seconds()
	line := lg.expect(t, "stats")
	var st webrtcLoadStats
	if err := json.Unmarshal([]byte(line[0]), &st); err != nil {
		t.Fatal(err)
	}
	cpu := (time.Duration(r1.Utime.Nano()+r1.Stime.Nano()) - time.Duration(r0.Utime.Nano()+r0.Stime.Nano())).Seconds()
	want := float64(st.Sent) // delivered: of what the peers sent (a starved helper sends less than 50/s)
	perCallUs := cpu / wall / float64(n) * 1e6
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("RESULT mode=%s calls=%d seconds=%.0f hotline_cpu=%.1f%% us_per_call_s=%.0f calls_per_core_80=%.0f delivered_callers=%.1f%% delivered_agents=%.1f%% peers_sent=%.1f%% peers_cpu=%.1f%% GOMAXPROCS=%d loadavg=%q",
		mode, n, wall, cpu/wall*100, perCallUs, 0.8e6/perCallUs, float64(st.AtCallers)/want*100, float64(st.AtAgents)/want*100,
		float64(st.Sent)/(float64(n)*50*st.Seconds)*100, st.CPU/st.Seconds*100,
		runtime.GOMAXPROCS(0), strings.TrimSpace(string(load)))
	if float64(st.AtCallers) < 0.9*want || float64(st.AtAgents) < 0.9*want {
		t.Errorf("packets lost: callers got %d, agents %d of %.0f", st.AtCallers, st.AtAgents, want)
	}
}

func addrList(ss []*media.Stream) string {
	f := make([]string, len(ss))
	for i, s := range ss {
		f[i] = s.LocalAddr().String()
	}
	return strings.Join(f, " ")
}

// webrtcLoadgen is the handle on the helper process.
type webrtcLoadgen struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startWebRTCLoadgen(t *testing.T, n int, mode string) *webrtcLoadgen {
	t.Helper()
	args := []string{os.Args[0], "-test.run=^TestWebRTCLoadgenHelper$", "-test.v=false"}
	if cpu := os.Getenv("HOTLINE_BENCH_WEBRTC_LOADCPU"); cpu != "" {
		args = append([]string{"taskset", "-c", cpu}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "WEBRTC_LOADGEN="+mode, "WEBRTC_LOADGEN_N="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close() // the helper ends at EOF
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &webrtcLoadgen{cmd: cmd, in: in, out: sc}
}

func (l *webrtcLoadgen) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(l.in, line+"\n"); err != nil {
		t.Fatalf("helper: %v", err)
	}
}

// expect reads the helper's next line, which must start with word, and
// returns the rest split once more (in two at most).
func (l *webrtcLoadgen) expect(t *testing.T, word string) []string {
	t.Helper()
	got := make(chan bool, 1)
	go func() { got <- l.out.Scan() }()
	select {
	case ok := <-got:
		if !ok {
			t.Fatalf("helper ended before %q: %v", word, l.out.Err())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("helper: no %q line within 2 minutes", word)
	}
	w, rest, _ := strings.Cut(l.out.Text(), " ")
	if w != word {
		t.Fatalf("helper said %q, want %q", l.out.Text(), word)
	}
	return strings.SplitN(rest, " ", 2)
}

func (l *webrtcLoadgen) ports(t *testing.T, word string, n int) []netip.AddrPort {
	t.Helper()
	f := l.expect(t, word)
	var all []string
	for _, s := range f {
		all = append(all, strings.Fields(s)...)
	}
	if len(all) != n {
		t.Fatalf("helper: %d %s, want %d", len(all), word, n)
	}
	aps := make([]netip.AddrPort, n)
	for i, s := range all {
		aps[i] = netip.MustParseAddrPort(s)
	}
	return aps
}

// TestWebRTCLoadgenHelper is the simulated callers and browsers (the helper
// process of TestWebRTCRelayLoad).
func TestWebRTCLoadgenHelper(t *testing.T) {
	mode := os.Getenv("WEBRTC_LOADGEN")
	if mode == "" {
		t.Skip("helper process for TestWebRTCRelayLoad")
	}
	n, _ := strconv.Atoi(os.Getenv("WEBRTC_LOADGEN_N"))
	if err := runWebRTCLoadgen(mode, n, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "webrtc loadgen:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

type lgCall struct {
	caller, agent *net.UDPConn // plain sockets (agent: plain mode)
	to, toAgent   netip.AddrPort
	track         *webrtc.TrackLocalStaticRTP // the browser's microphone
	pc            *webrtc.PeerConnection
	connected     chan struct{}
}

func runWebRTCLoadgen(mode string, n int, in io.Reader, out io.Writer) error {
	ip := netip.MustParseAddr(loadPeerIP)
	var counting atomic.Bool
	var atCallers, atAgents atomic.Uint64
	count := func(c *atomic.Uint64) {
		if counting.Load() {
			c.Add(1)
		}
	}
	drain := func(conn *net.UDPConn, c *atomic.Uint64) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := conn.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			count(c)
		}
	}
	listen := func() (*net.UDPConn, error) {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	}
	calls := make([]*lgCall, n)
	var callerPorts, agentPorts []string
	for i := range calls {
		c := &lgCall{connected: make(chan struct{})}
		var err error
		if c.caller, err = listen(); err != nil {
			return err
		}
		defer c.caller.Close()
		go drain(c.caller, &atCallers)
		callerPorts = append(callerPorts, c.caller.LocalAddr().String())
		if mode == "plain" {
			if c.agent, err = listen(); err != nil {
				return err
			}
			defer c.agent.Close()
			go drain(c.agent, &atAgents)
			agentPorts = append(agentPorts, c.agent.LocalAddr().String())
		}
		calls[i] = c
	}
	w := bufio.NewWriter(out)
	say := func(s string) { fmt.Fprintln(w, s); w.Flush() }
	say("callers " + strings.Join(callerPorts, " "))
	if mode == "plain" {
		say("agents " + strings.Join(agentPorts, " "))
	}
	api := loadBrowserAPI()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	targets := func(line string) ([]netip.AddrPort, error) {
		f := strings.Fields(line)
		if len(f) != n {
			return nil, fmt.Errorf("%d targets, want %d", len(f), n)
		}
		aps := make([]netip.AddrPort, n)
		for i, s := range f {
			ap, err := netip.ParseAddrPort(s)
			if err != nil {
				return nil, err
			}
			aps[i] = ap
		}
		return aps, nil
	}
	stop := make(chan struct{})
	var start time.Time
	var ru0 syscall.Rusage
	var sent atomic.Uint64
	for sc.Scan() {
		word, rest, _ := strings.Cut(sc.Text(), " ")
		switch word {
		case "offer":
			is, b64, _ := strings.Cut(rest, " ")
			i, _ := strconv.Atoi(is)
			offer, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || i < 0 || i >= n {
				return fmt.Errorf("bad offer line")
			}
			ans, err := calls[i].answer(api, offer, &atAgents, count)
			if err != nil {
				return err
			}
			say(fmt.Sprintf("answer %d %s", i, base64.StdEncoding.EncodeToString(ans)))
		case "targets", "targets2":
			aps, err := targets(rest)
			if err != nil {
				return err
			}
			for i, c := range calls {
				if word == "targets" {
					c.to = aps[i]
				} else {
					c.toAgent = aps[i]
				}
			}
			if word == "targets" && mode == "browser" {
				for i, c := range calls {
					select {
					case <-c.connected:
					case <-time.After(time.Minute):
						return fmt.Errorf("browser %d: DTLS not up within a minute", i)
					}
				}
				say("connected")
			}
		case "go":
			go talk(calls, stop, func() {
				if counting.Load() {
					sent.Add(uint64(n))
				}
			})
		case "start":
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			sent.Store(0)
			atCallers.Store(0)
			atAgents.Store(0)
			counting.Store(true)
			start = time.Now()
		case "stop":
			counting.Store(false)
			close(stop)
			var ru1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			b, _ := json.Marshal(webrtcLoadStats{AtCallers: atCallers.Load(), AtAgents: atAgents.Load(), Sent: sent.Load(), Seconds: time.Since(start).Seconds(),
				CPU: (time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()) - time.Duration(ru0.Utime.Nano()+ru0.Stime.Nano())).Seconds()})
			say("stats " + string(b))
			for _, c := range calls {
				if c.pc != nil {
					_ = c.pc.Close()
				}
			}
			return nil
		default:
			return fmt.Errorf("unknown line %q", sc.Text())
		}
	}
	return sc.Err()
}

// answer makes call c's browser answer the gateway's offer.
func (c *lgCall) answer(api *webrtc.API, offer []byte, at *atomic.Uint64, count func(*atomic.Uint64)) ([]byte, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	c.pc = pc
	c.track, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "mic", "browser")
	if _, err := pc.AddTrack(c.track); err != nil {
		return nil, err
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
			count(at)
		}
	})
	var once atomic.Bool
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected && once.CompareAndSwap(false, true) {
			close(c.connected)
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		return nil, err
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return nil, err
	}
	select {
	case <-gathered:
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("ICE gathering took over 30 s")
	}
	return []byte(pc.LocalDescription().SDP), nil
}

// talk sends 50 PCMU packets/s each way per call until stop: the caller
// to its stream, the browser (or the plain agent) to its side.
func talk(calls []*lgCall, stop <-chan struct{}, tick func()) {
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = 0xff
	}
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	var seq uint16
	var ts uint32
	buf := make([]byte, 0, 200)
	t0, done := time.Now(), 0
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
		}
		// Every 20 ms due since t0, late ones too (a ticker drops the ticks
		// a starved process missed; a phone's packets would be late, not lost).
		for due := int(time.Since(t0) / (20 * time.Millisecond)); done < due; done++ {
			seq++
			ts += 160
			tick()
			send(calls, payload, buf, seq, ts)
		}
	}
}

func send(calls []*lgCall, payload, buf []byte, seq uint16, ts uint32) {
	for i, c := range calls {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: ts, SSRC: uint32(1000 + i)}, Payload: payload}
		b, _ := p.Header.MarshalTo(buf[:12])
		_, _ = c.caller.WriteToUDPAddrPort(append(buf[:b], payload...), c.to)
		if c.track != nil {
			_ = c.track.WriteRTP(&p)
			continue
		}
		p.SSRC += 100000
		b, _ = p.Header.MarshalTo(buf[:12])
		_, _ = c.agent.WriteToUDPAddrPort(append(buf[:b], payload...), c.toAgent)
	}
}

// loadBrowserAPI is the simulated browsers' pion API: G.711, a loopback
// host candidate each (127.0.0.1: the only address of the loopback
// interface pion gathers from), a port of its own per browser as real
// browsers have (a shared mux here would look like one address to the
// switch's).
func loadBrowserAPI() *webrtc.API {
	m := &webrtc.MediaEngine{}
	for _, c := range gatewayCodecs {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			panic(err)
		}
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(a net.IP) bool { return a.Equal(net.IPv4(127, 0, 0, 1)) })
	se.LoggerFactory = pionLog{slog.New(slog.DiscardHandler)}
	// No interceptors: the simulated browsers need not simulate a real
	// one's RTCP, and the lighter they are the less they starve the
	// machine hotline is measured on.
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(nil))
}
