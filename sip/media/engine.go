package media

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// maxLag is how far a pacer may fall behind before it skips ticks instead
// of sending the missed packets in a burst.
const maxLag = 200 * time.Millisecond

// inactivityEvery is how often (in ticks) the pacers check for dead streams.
const inactivityEvery = 50

// Engine owns the port pool and the pacer that sends every stream's next
// 20 ms packet from one monotonic clock.
type Engine struct {
	cfg   EngineConfig
	log   *slog.Logger
	epoch time.Time // tick n is due at epoch + n·20 ms (monotonic)
	pool  *portPool

	shards    []*shard
	mux       []*muxSock // EngineConfig.Mux: the shared sockets
	muxGather time.Duration
	nextShard atomic.Uint32
	stop      chan struct{}
	wg        sync.WaitGroup

	mu      sync.Mutex
	streams map[*Stream]struct{}
	closed  bool

	// onSend, when set (benchmarks), is called after every paced send.
	onSend func(s *Stream, tick int64)
	// onTick, when set (benchmarks), gets each tick's lateness and duration.
	onTick func(shard int, late, took time.Duration)
	// checkEvery is how often (in ticks) the pacers look for dead streams;
	// 0 leaves the checks to the caller of checkInactivity (tests).
	checkEvery int64
	// recvClock, when set (tests), replaces mono as the clock of the
	// inactivity timeout: when a packet was last received, and now.
	recvClock func() int64
}

// slotsPerTick divides each 20 ms tick into 1 ms slots. Every stream keeps
// one slot for its life and is sent at that offset into every tick, so a
// pacer wakes every millisecond for a twentieth of its streams instead of
// sending all of them in one burst: a stream's packet then leaves at a
// steady offset, whatever the number of streams (pacing jitter).
const slotsPerTick = 20

// shard is the set of streams one pacer goroutine serves.
type shard struct {
	idx     int
	mu      sync.Mutex
	slots   [slotsPerTick][]*Stream
	scratch []*Stream // pacer-owned copy of one slot's streams
	tx      *txQueue  // EngineConfig.Mux: the pacer's batched sends
}

// count is the number of streams in the shard; sh.mu must be held.
func (sh *shard) count() int {
	n := 0
	for i := range sh.slots {
		n += len(sh.slots[i])
	}
	return n
}

// NewEngine starts the engine's pacer.
func NewEngine(cfg EngineConfig) (*Engine, error) { return newEngine(cfg, nil) }

// newEngine is NewEngine with a hook that adjusts the engine before its
// pacers start (tests and benchmarks).
func newEngine(cfg EngineConfig, tune func(*Engine)) (*Engine, error) {
	if cfg.PortMin <= 0 || cfg.PortMax > 65535 || cfg.PortMin > cfg.PortMax {
		return nil, fmt.Errorf("media: bad RTP port range %d-%d", cfg.PortMin, cfg.PortMax)
	}
	if !cfg.IP.IsValid() {
		cfg.IP = netip.IPv4Unspecified()
	}
	pool := newPortPool(cfg.PortMin, cfg.PortMax)
	if pool.size == 0 {
		return nil, fmt.Errorf("media: RTP port range %d-%d has no even port", cfg.PortMin, cfg.PortMax)
	}
	if cfg.InactivityTimeout < 0 {
		cfg.InactivityTimeout = 0
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		cfg:     cfg,
		log:     log.With("component", "media"),
		epoch:   time.Now(),
		pool:    pool,
		stop:    make(chan struct{}),
		streams: make(map[*Stream]struct{}),

		checkEvery: inactivityEvery,
		muxGather:  muxGather,
	}
	if tune != nil {
		tune(e)
	}
	n := runtime.GOMAXPROCS(0)
	if e.cfg.Mux {
		if err := e.openMux(n); err != nil {
			return nil, err
		}
	}
	for i := range n {
		sh := &shard{idx: i}
		if e.cfg.Mux {
			sh.tx = newTxQueue()
		}
		e.shards = append(e.shards, sh)
		e.wg.Add(1)
		// Shards wake at evenly spread phases within a slot so their work
		// does not pile up at the same instant.
		go e.pace(sh, time.Duration(i)*packetDuration/slotsPerTick/time.Duration(n))
	}
	return e, nil
}

// Close stops the pacer and closes every stream.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	streams := make([]*Stream, 0, len(e.streams))
	for s := range e.streams {
		streams = append(streams, s)
	}
	e.mu.Unlock()
	close(e.stop)
	e.wg.Wait()
	for _, s := range streams {
		_ = s.Close()
	}
	e.closeMux()
	return nil
}

// Streams returns the number of open streams.
func (e *Engine) Streams() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.streams)
}

// mono is the monotonic time since the engine's epoch.
func (e *Engine) mono() int64 { return int64(time.Since(e.epoch)) }

// recvNow is the clock of the inactivity timeout (mono unless a test
// injects one).
func (e *Engine) recvNow() int64 {
	if e.recvClock != nil {
		return e.recvClock()
	}
	return e.mono()
}

// tickAt is the pacer tick that time t (as mono) falls in.
func tickAt(mono int64) int64 { return mono / int64(packetDuration) }

// pace is one pacer goroutine.
func (e *Engine) pace(sh *shard, phase time.Duration) {
	defer e.wg.Done()
	var w waiter
	if e.cfg.PrecisePacing {
		w = newWaiter()
	} else {
		w = newTimerWaiter()
	}
	defer w.close()
	n := tickAt(e.mono()) + 1
	slot := 0
	for {
		due := e.epoch.Add(time.Duration(n)*packetDuration + phase + time.Duration(slot)*packetDuration/slotsPerTick)
		if time.Until(due) > 0 {
			if !w.wait(due, e.stop) {
				return
			}
		} else {
			select {
			case <-e.stop:
				return
			default:
			}
		}
		if late := time.Since(due); late > maxLag {
			skip := int64(late / packetDuration)
			e.log.Warn("RTP pacer fell behind; skipping ticks", "late", late, "ticks", skip, "shard", sh.idx)
			n += skip
			slot = 0
		}
		began := time.Now()
		sh.mu.Lock()
		sh.scratch = append(sh.scratch[:0], sh.slots[slot]...)
		sh.mu.Unlock()
		for _, s := range sh.scratch {
			s.tick(n)
		}
		clear(sh.scratch)
		if sh.tx != nil {
			sh.tx.flush()
		}
		if slot == 0 && e.cfg.InactivityTimeout > 0 && e.checkEvery > 0 && n%e.checkEvery == int64(sh.idx)%e.checkEvery {
			sh.mu.Lock()
			sh.scratch = sh.scratch[:0]
			for i := range sh.slots {
				sh.scratch = append(sh.scratch, sh.slots[i]...)
			}
			sh.mu.Unlock()
			e.checkInactivity(sh.scratch)
			clear(sh.scratch)
		}
		if e.onTick != nil {
			e.onTick(sh.idx, began.Sub(due), time.Since(began))
		}
		if slot++; slot == slotsPerTick {
			slot = 0
			n++
		}
	}
}

// checkInactivity times out the streams that have received nothing for the
// inactivity timeout (unless on hold), each once.
func (e *Engine) checkInactivity(streams []*Stream) {
	now := e.recvNow()
	limit := int64(e.cfg.InactivityTimeout)
	for _, s := range streams {
		if s.onTimeout == nil || s.hold.Load() || s.timedOut.Load() || s.closed.Load() {
			continue
		}
		if now-s.lastRecv.Load() > limit {
			s.timedOut.Store(true)
			e.log.Info("RTP inactivity timeout", "local", s.local, "timeout", e.cfg.InactivityTimeout)
			go s.onTimeout()
		}
	}
}

// NewStream allocates a port and starts receiving. Sending starts with the
// first Play/Loop/Bridge (silence is not sent before that).
func (e *Engine) NewStream(cfg StreamConfig) (*Stream, error) {
	if _, ok := codecByPT(cfg.Codec.PT); !ok || (cfg.Codec != PCMU && cfg.Codec != PCMA) {
		return nil, fmt.Errorf("media: unsupported codec %q/%d", cfg.Codec.Name, cfg.Codec.PT)
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	var (
		m    *muxSock
		conn *net.UDPConn
		port int
	)
	if len(e.mux) > 0 && !cfg.SRTP {
		m = e.pickMux(cfg.Remote)
	}
	if m != nil {
		conn, port = m.conn, m.port
	} else {
		var err error
		if conn, port, err = e.listen(); err != nil {
			return nil, err
		}
	}
	s := &Stream{
		e:         e,
		conn:      conn,
		mux:       m,
		port:      port,
		local:     netip.AddrPortFrom(e.cfg.IP, uint16(port)),
		onDigit:   cfg.OnDigit,
		onTimeout: cfg.OnTimeout,
		onAudio:   cfg.OnAudio,
		ssrc:      rand.Uint32(),
		remote:    cfg.Remote,
		dest:      cfg.Remote,
		codec:     cfg.Codec,
		dtmfPT:    cfg.DTMFPT,
		seq:       uint16(rand.Uint32()),
		lastTs:    rand.Uint32(),
		dtmfSem:   make(chan struct{}, 1),
		recvDone:  make(chan struct{}),
	}
	if rc, err := conn.SyscallConn(); err == nil {
		s.sender.init(conn, rc)
	}
	if cfg.SRTP {
		s.srtp = &srtpState{buf: make([]byte, 0, maxPacket+16)}
	}
	s.media.Store(packMedia(cfg.Codec, cfg.DTMFPT))
	s.lastRecv.Store(e.recvNow())
	s.hdr = rtp.Header{Version: 2, SSRC: s.ssrc}

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		if m == nil {
			conn.Close()
			e.pool.put(port)
		}
		return nil, ErrClosed
	}
	e.streams[s] = struct{}{}
	e.mu.Unlock()

	sh := e.shards[int(e.nextShard.Add(1))%len(e.shards)]
	s.sh = sh
	sh.mu.Lock()
	// The least used slot keeps the slots even as calls come and go.
	for i := range sh.slots {
		if len(sh.slots[i]) < len(sh.slots[s.slot]) {
			s.slot = i
		}
	}
	s.shIdx = len(sh.slots[s.slot])
	sh.slots[s.slot] = append(sh.slots[s.slot], s)
	sh.mu.Unlock()

	if m != nil {
		close(s.recvDone) // the socket's goroutine receives for it
		m.add(s, cfg.Remote)
	} else {
		go s.receive()
	}
	return s, nil
}

// listen binds a socket on the next free pool port, skipping (and keeping
// in the pool) ports some other process holds.
func (e *Engine) listen() (*net.UDPConn, int, error) {
	var lastErr error
	for range e.pool.size {
		port, ok := e.pool.get()
		if !ok {
			break
		}
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.cfg.IP, uint16(port))))
		if err == nil {
			return conn, port, nil
		}
		lastErr = err
		e.pool.put(port)
	}
	if lastErr != nil {
		return nil, 0, fmt.Errorf("%w: no port of %d-%d could be bound on %s (last error: %v)",
			ErrPortsExhausted, e.cfg.PortMin, e.cfg.PortMax, e.cfg.IP, lastErr)
	}
	return nil, 0, fmt.Errorf("%w: all %d RTP ports of %d-%d are in use", ErrPortsExhausted, e.pool.size, e.cfg.PortMin, e.cfg.PortMax)
}

// forget removes a closed stream from its shard and the engine.
func (e *Engine) forget(s *Stream) {
	sh := s.sh
	sh.mu.Lock()
	if l := sh.slots[s.slot]; s.shIdx >= 0 && s.shIdx < len(l) && l[s.shIdx] == s {
		i, last := s.shIdx, len(l)-1
		l[i] = l[last]
		l[i].shIdx = i
		l[last] = nil
		sh.slots[s.slot] = l[:last]
		s.shIdx = -1
	}
	sh.mu.Unlock()
	e.mu.Lock()
	delete(e.streams, s)
	e.mu.Unlock()
}

// portPool hands out the even ports of a range, least recently used first,
// so a port just released is not reused while stray packets may still
// arrive for the old call (unless it is the only free one).
type portPool struct {
	mu   sync.Mutex
	free []int
	size int
}

func newPortPool(lo, hi int) *portPool {
	p := &portPool{}
	for port := lo + lo%2; port <= hi; port += 2 {
		p.free = append(p.free, port)
	}
	p.size = len(p.free)
	return p
}

func (p *portPool) get() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return 0, false
	}
	port := p.free[0]
	p.free = p.free[1:]
	return port, true
}

func (p *portPool) put(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = append(p.free, port)
}

// errIsClosed reports whether a socket error means the socket was closed.
func errIsClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// IP is the address RTP sockets bind to (unspecified: every address).
func (e *Engine) IP() netip.Addr { return e.cfg.IP }
