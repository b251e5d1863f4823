package media

import (
	"errors"
	"sync"

	"github.com/hotline-cc/hotline/sip"
)

// Monitoring (listen, whisper, barge): a supervisor's stream joins a bridge.
//
// Nothing changes on the plain relay path while nobody monitors: each stream
// has one atomic pointer (mon) that the receive goroutine loads after
// relaying, and one field (mix) the pacer and the relay read under the
// stream's lock; both are nil then.
//
// While a monitor is on, every stream that feeds someone (the caller, the
// agent and the supervisor) decodes what it receives into one small FIFO of
// linear samples per listener (pcmFIFO), from its receive goroutine. Every
// stream whose peer must hear a mix (always the supervisor; the agent in
// whisper and barge; the caller in barge) gets a mixOut: on each of its
// pacer ticks it takes 20 ms from each of its FIFOs, sums them with
// saturation, encodes the sum in its own codec and sends it with its own
// SSRC and numbering. A stream with a mixOut receives no relayed packets
// (the mix carries the other side instead), so in listen mode the caller
// and agent keep the direct relay untouched; in whisper the caller→agent
// direction goes through the mix (one FIFO's worth of delay, 20-40 ms) and
// in barge both directions do. RFC 4733 digits are not relayed to a stream
// that hears a mix (OnDigit still fires on the receiving stream).

// fifoPrime is how much audio a FIFO holds before its listener takes from
// it (absorbs the phase between the peer's packets and our pacer), and
// fifoMax how much it may hold before the oldest is dropped back to
// fifoPrime (peer clock faster than ours, a burst).
const (
	fifoPrime = 2 * samplesPerPacket
	fifoMax   = 5 * samplesPerPacket
	fifoCap   = fifoMax + maxPacket // room for one more packet past fifoMax
)

// pcmFIFO is the audio one source sends to one listener, decoded.
type pcmFIFO struct {
	mu     sync.Mutex
	buf    [fifoCap]int16
	r, n   int
	primed bool
}

// push decodes one G.711 payload (pt 0 or 8) onto the FIFO.
func (f *pcmFIFO) push(pt uint8, payload []byte) {
	tab := &ulawDecTable
	if pt == PCMA.PT {
		tab = &alawDecTable
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(payload) > fifoCap-f.n { // keep the newest: drop the oldest first
		drop := min(f.n, len(payload)-(fifoCap-f.n))
		f.r = (f.r + drop) % fifoCap
		f.n -= drop
		payload = payload[max(0, len(payload)-fifoCap):]
	}
	w := (f.r + f.n) % fifoCap
	for _, b := range payload {
		f.buf[w] = tab[b]
		if w++; w == fifoCap {
			w = 0
		}
	}
	f.n += len(payload)
	if f.n > fifoMax {
		drop := f.n - fifoPrime
		f.r = (f.r + drop) % fifoCap
		f.n -= drop
	}
	if f.n >= fifoPrime {
		f.primed = true
	}
}

// addTo takes up to one packet of samples and adds them to acc. An unprimed
// FIFO gives nothing; one that runs dry gives what it has and primes again.
func (f *pcmFIFO) addTo(acc *[samplesPerPacket]int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.primed {
		return
	}
	k := min(f.n, samplesPerPacket)
	r := f.r
	for i := range k {
		acc[i] += int32(f.buf[r])
		if r++; r == fifoCap {
			r = 0
		}
	}
	f.r = r
	f.n -= k
	if f.n < samplesPerPacket {
		f.primed = false
	}
}

// monTap is where a stream's received audio goes while monitored.
type monTap struct{ outs []*pcmFIFO }

// tap is the receive goroutine's hook (after the relay).
func (t *monTap) tap(pt uint8, payload []byte) {
	if pt != PCMU.PT && pt != PCMA.PT {
		return
	}
	for _, f := range t.outs {
		f.push(pt, payload)
	}
}

// mixOut is what a stream's pacer mixes instead of relayed audio.
type mixOut struct {
	ins []*pcmFIFO
	acc [samplesPerPacket]int32
	pcm [samplesPerPacket]int16
	out [samplesPerPacket]byte
}

// mixTick sends one mixed packet at tick n. Called with s.mu held.
func (s *Stream) mixTick(n int64, mo *mixOut) {
	clear(mo.acc[:])
	for _, f := range mo.ins {
		f.addTo(&mo.acc)
	}
	for i, v := range mo.acc {
		mo.pcm[i] = int16(min(max(v, -32768), 32767))
	}
	payload := s.codec.Encode(mo.out[:0], mo.pcm[:])
	marker := s.advance(n)
	s.send(s.codec.PT, marker, s.lastTs, payload)
}

// Monitor is a supervisor's stream joined to a bridge (see sip.Monitor).
type Monitor struct {
	agent, peer, sup *Stream
	link             *bridgeLink

	mu      sync.Mutex
	mode    sip.MonitorMode
	stopped bool
}

// ErrNotBridged is returned by Stream.Monitor when the stream is not bridged.
var ErrNotBridged = errors.New("media: stream is not bridged")

// Monitor joins sup to the bridge s is in, in mode: sup's peer hears both
// sides; in whisper s's peer also hears sup, in barge both sides do. s is
// the agent's stream (the one whisper reaches). sup must not be bridged;
// what it was playing stops. Stop (or the end of the bridge, which the
// caller watches) undoes it.
func (s *Stream) Monitor(sup *Stream, mode sip.MonitorMode) (*Monitor, error) {
	l := s.link.Load()
	if l == nil {
		return nil, ErrNotBridged
	}
	if sup == nil || sup == s || sup == l.other(s) || sup.link.Load() != nil {
		return nil, errors.New("media: the supervisor's stream must be a third, unbridged stream")
	}
	sup.Stop()
	m := &Monitor{agent: s, peer: l.other(s), sup: sup, link: l}
	if err := m.SetMode(mode); err != nil {
		return nil, err
	}
	return m, nil
}

// Mode is the current mode.
func (m *Monitor) Mode() sip.MonitorMode {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mode
}

// SetMode switches the mode (fresh FIFOs: nothing of the old mode's audio
// is carried over).
func (m *Monitor) SetMode(mode sip.MonitorMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return ErrClosed
	}
	var agentMix, peerMix, supMix []*pcmFIFO
	var agentTap, peerTap, supTap []*pcmFIFO
	f := func(from, to *[]*pcmFIFO) {
		q := &pcmFIFO{}
		*from = append(*from, q)
		*to = append(*to, q)
	}
	f(&peerTap, &supMix)  // caller → supervisor
	f(&agentTap, &supMix) // agent → supervisor
	switch mode {
	case sip.MonitorListen:
	case sip.MonitorWhisper:
		f(&peerTap, &agentMix) // caller → agent, now mixed
		f(&supTap, &agentMix)  // supervisor → agent
	case sip.MonitorBarge:
		f(&peerTap, &agentMix)
		f(&supTap, &agentMix)
		f(&agentTap, &peerMix) // agent → caller, now mixed
		f(&supTap, &peerMix)   // supervisor → caller
	default:
		return errors.New("media: unknown monitor mode " + mode.String())
	}
	// Listeners first (a mix with no input yet is silence), then the taps.
	m.agent.setMix(agentMix)
	m.peer.setMix(peerMix)
	m.sup.setMix(supMix)
	m.agent.setTap(agentTap)
	m.peer.setTap(peerTap)
	m.sup.setTap(supTap)
	m.mode = mode
	return nil
}

// Stop leaves the bridge: the caller and agent are relayed directly again
// and the supervisor's stream goes quiet. Idempotent.
func (m *Monitor) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	m.stopped = true
	for _, s := range []*Stream{m.agent, m.peer, m.sup} {
		s.setTap(nil)
		s.setMix(nil)
	}
}

// Bridged reports whether the bridge the monitor joined is still up.
func (m *Monitor) Bridged() bool {
	return m.agent.link.Load() == m.link && !m.agent.closed.Load() && !m.peer.closed.Load()
}

func (s *Stream) setTap(outs []*pcmFIFO) {
	if len(outs) == 0 {
		s.mon.Store(nil)
		return
	}
	s.mon.Store(&monTap{outs: outs})
}

func (s *Stream) setMix(ins []*pcmFIFO) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(ins) == 0 {
		s.mix = nil
		return
	}
	s.mix = &mixOut{ins: ins}
}
