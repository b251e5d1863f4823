package media

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Multiplexed RTP (EngineConfig.Mux): instead of one UDP socket per stream,
// the engine opens one socket per pacer (one per CPU) and puts many streams
// on each; SDP then advertises the same port for many calls. A stream is
// told apart by the address its peer sends from. What it buys: one
// goroutine per socket instead of one per stream, and batched system calls
// (recvmmsg/sendmmsg, batch_linux.go) for receiving, relaying and pacing —
// the two system calls per relayed packet were 76 % of the relay's CPU.
//
// Demultiplexing, strict (a third party cannot hijack a stream by sending
// first, because nothing is latched to an unknown source):
//
//  1. a packet from the address a stream expects (its SDP address, or the
//     source it latched to) belongs to that stream;
//  2. otherwise, if exactly one not-yet-latched stream on the socket expects
//     that IP address (the phone sends from another port than its SDP
//     says) and the packet carries a payload type the stream accepts, the
//     stream latches to the new source;
//  3. anything else is dropped (counted in muxSock.dropped).
//
// Trade-offs (docs/configuration.md, media.rtp_mux): a phone behind NAT
// whose SDP carries its private address never matches (use per-stream ports
// or an SBC/ALG that rewrites SDP); two calls whose SDP names the same
// address on one socket are ambiguous (the second call is given its own
// port when known at NewStream, else it hears nothing); SRTP streams always
// get their own port.

// muxBatch is how many datagrams one system call reads or writes.
const muxBatch = 64

// muxGather is how long a multiplexed socket's goroutine lets datagrams
// gather after a batch that was not full, before reading again: without it,
// a fast reader wakes for nearly every datagram and the batch system calls
// save nothing. It delays relayed packets by at most about this much (the
// receiving phone's jitter buffer absorbs far more); an idle socket still
// blocks in its read.
const muxGather = time.Millisecond

// muxSock is one multiplexed RTP socket and its receive goroutine.
type muxSock struct {
	e     *Engine
	conn  *net.UDPConn
	raw   syscall.RawConn
	port  int
	local netip.AddrPort
	rd    *batchReader
	tx    *txQueue // the receive goroutine's relay output
	out   []byte   // relay buffer towards streams with their own socket
	done  chan struct{}

	dropped atomic.Uint64 // datagrams from no stream's peer
	reads   atomic.Uint64 // recvmmsg calls that returned datagrams (batch size = received/reads)
	recvd   atomic.Uint64 // datagrams received
	gather  time.Duration // muxGather (benchmarks vary it)

	mu      sync.Mutex
	byAddr  map[netip.AddrPort]*Stream // expected or latched source → stream
	pending map[netip.Addr][]*Stream   // registered, not yet latched, by IP
	count   int                        // streams on the socket
	targets [muxBatch]*Stream          // receive goroutine: the batch's streams
}

// openMux binds the engine's multiplexed sockets (one per pacer).
func (e *Engine) openMux(n int) error {
	for range n {
		conn, port, err := e.listen()
		if err != nil {
			e.closeMux()
			return fmt.Errorf("media: multiplexed RTP socket: %w", err)
		}
		// A shared socket needs room for bursts while its goroutine is not
		// running (capped by net.core.rmem_max / wmem_max).
		_ = conn.SetReadBuffer(4 << 20)
		_ = conn.SetWriteBuffer(4 << 20)
		raw, err := conn.SyscallConn()
		if err != nil {
			conn.Close()
			e.closeMux()
			return err
		}
		rd, err := newBatchReader(conn, muxBatch)
		if err != nil {
			conn.Close()
			e.closeMux()
			return err
		}
		m := &muxSock{
			e: e, conn: conn, raw: raw, port: port,
			local:   netip.AddrPortFrom(e.cfg.IP, uint16(port)),
			rd:      rd,
			tx:      newTxQueue(),
			out:     make([]byte, maxPacket),
			done:    make(chan struct{}),
			gather:  e.muxGather,
			byAddr:  make(map[netip.AddrPort]*Stream),
			pending: make(map[netip.Addr][]*Stream),
		}
		e.mux = append(e.mux, m)
		go m.serve()
	}
	return nil
}

// closeMux closes the multiplexed sockets and waits for their goroutines.
func (e *Engine) closeMux() {
	for _, m := range e.mux {
		m.conn.Close()
		<-m.done
		e.pool.put(m.port)
	}
	e.mux = nil
}

// pickMux chooses the least loaded socket on which remote is not already
// expected by another stream; nil when there is none (the stream then gets
// its own port).
func (e *Engine) pickMux(remote netip.AddrPort) *muxSock {
	remote = unmapAP(remote)
	var best *muxSock
	bestN := 0
	for _, m := range e.mux {
		m.mu.Lock()
		n, taken := m.count, validDest(remote) && m.byAddr[remote] != nil
		m.mu.Unlock()
		if !taken && (best == nil || n < bestN) {
			best, bestN = m, n
		}
	}
	return best
}

func unmapAP(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }

// add puts s on the socket, expecting packets from remote.
func (m *muxSock) add(s *Stream, remote netip.AddrPort) {
	m.mu.Lock()
	m.count++
	m.registerLocked(s, remote)
	m.mu.Unlock()
}

// remove takes s off the socket (Close).
func (m *muxSock) remove(s *Stream) {
	m.mu.Lock()
	m.unregisterLocked(s)
	m.count--
	m.mu.Unlock()
}

// expect re-keys s to a new remote (re-INVITE, or the answer to our offer):
// it is not latched until a packet comes from there (or its IP).
func (m *muxSock) expect(s *Stream, remote netip.AddrPort) {
	m.mu.Lock()
	m.unregisterLocked(s)
	m.registerLocked(s, remote)
	m.mu.Unlock()
}

func (m *muxSock) registerLocked(s *Stream, remote netip.AddrPort) {
	remote = unmapAP(remote)
	if !validDest(remote) {
		return // on hold (0.0.0.0) or not known yet: hears nothing
	}
	if other := m.byAddr[remote]; other != nil && other != s {
		m.e.log.Warn("multiplexed RTP: two streams expect the same peer address on one socket; the newer one hears nothing",
			"local", m.local, "remote", remote)
		return
	}
	m.byAddr[remote] = s
	s.muxKey = remote
	m.pending[remote.Addr()] = append(m.pending[remote.Addr()], s)
	s.muxPending = true
}

func (m *muxSock) unregisterLocked(s *Stream) {
	if s.muxKey.IsValid() && m.byAddr[s.muxKey] == s {
		delete(m.byAddr, s.muxKey)
	}
	if s.muxPending {
		m.dropPendingLocked(s)
	}
	s.muxKey = netip.AddrPort{}
}

func (m *muxSock) dropPendingLocked(s *Stream) {
	ip := s.muxKey.Addr()
	l := m.pending[ip]
	for i, x := range l {
		if x == s {
			l[i] = l[len(l)-1]
			l[len(l)-1] = nil
			l = l[:len(l)-1]
			break
		}
	}
	if len(l) == 0 {
		delete(m.pending, ip)
	} else {
		m.pending[ip] = l
	}
	s.muxPending = false
}

// lookup finds the stream a datagram from from belongs to (rules in the
// comment at the top); m.mu is held.
func (m *muxSock) lookupLocked(from netip.AddrPort, data []byte) *Stream {
	if len(data) < 12 || data[0]>>6 != 2 {
		return nil // not RTP (RTCP goes to port+1; STUN, junk)
	}
	s := m.byAddr[from]
	if s == nil {
		l := m.pending[from.Addr()]
		if len(l) != 1 {
			return nil // unknown, or ambiguous: drop rather than guess
		}
		s = l[0]
		if !s.acceptsPT(data[1] & 0x7f) {
			return nil // RTCP on the RTP port, or media we did not negotiate: no latching on it
		}
		delete(m.byAddr, s.muxKey)
		s.muxKey = from
		m.byAddr[from] = s
	}
	if s.muxPending {
		m.dropPendingLocked(s) // latched: stays keyed to from
	}
	return s
}

// serve is the socket's receive goroutine: read a batch, find each
// datagram's stream, handle them (relays queue into tx), send the batch.
func (m *muxSock) serve() {
	defer close(m.done)
	pause := time.NewTimer(time.Hour)
	pause.Stop()
	for {
		n, err := m.rd.read()
		if err != nil {
			if errIsClosed(err) {
				return
			}
			continue
		}
		m.mu.Lock()
		for i := range n {
			data, from := m.rd.packet(i)
			m.targets[i] = m.lookupLocked(from, data)
		}
		m.mu.Unlock()
		for i := range n {
			s := m.targets[i]
			m.targets[i] = nil
			if s == nil {
				m.dropped.Add(1)
				continue
			}
			data, from := m.rd.packet(i)
			s.handle(data, from, nil, m.tx, m.out)
		}
		m.tx.flush()
		m.reads.Add(1)
		m.recvd.Add(uint64(n))
		if n < muxBatch && m.gather > 0 {
			pause.Reset(m.gather)
			select {
			case <-m.e.stop:
				pause.Stop()
			case <-pause.C:
			}
		}
	}
}

// txQueue collects outgoing datagrams of one goroutine (a mux receiver or a
// pacer) for any of the multiplexed sockets and sends them per socket with
// one sendmmsg each.
type txQueue struct {
	w    *batchWriter
	buf  []byte // muxBatch slots of maxPacket bytes
	ents [muxBatch]txEnt
	n    int
}

type txEnt struct {
	m   *muxSock
	len int
	to  netip.AddrPort
}

func newTxQueue() *txQueue {
	return &txQueue{w: newBatchWriter(muxBatch), buf: make([]byte, muxBatch*maxPacket)}
}

// slot returns the buffer for the next datagram (sending the queue first
// when it is full); push commits it.
func (q *txQueue) slot() []byte {
	if q.n == muxBatch {
		q.flush()
	}
	return q.buf[q.n*maxPacket : (q.n+1)*maxPacket]
}

func (q *txQueue) push(m *muxSock, n int, to netip.AddrPort) {
	q.ents[q.n] = txEnt{m: m, len: n, to: to}
	q.n++
}

// flush sends the queue, one system call per socket (per batch).
func (q *txQueue) flush() {
	for i := range q.n {
		m := q.ents[i].m
		if m == nil {
			continue
		}
		c := 0
		for j := i; j < q.n; j++ {
			if ent := &q.ents[j]; ent.m == m {
				q.w.set(c, q.buf[j*maxPacket:j*maxPacket+ent.len], ent.to)
				c++
				ent.m = nil
			}
		}
		q.w.write(m.conn, m.raw, c)
	}
	q.n = 0
}

// MuxStats counts the datagrams the multiplexed sockets received and those
// they dropped because no stream expects their source (strict RTP, NAT);
// zeros without EngineConfig.Mux.
func (e *Engine) MuxStats() (received, dropped uint64) {
	for _, m := range e.mux {
		received += m.recvd.Load()
		dropped += m.dropped.Load()
	}
	return received, dropped
}
