package asterisk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/hotline-cc/hotline/sip"
)

// Monitoring over ARI: a snoop channel on the agent's channel (spy both:
// the supervisor hears what the agent hears and says), in a mixing bridge
// of its own with the supervisor's channel. The mode is the snoop's
// whisper direction: none (listen), out (whisper: into what the agent
// hears) or both (barge: also into what the agent sends to the caller).
// ARI cannot change a snoop's directions, so a mode switch makes a new
// snoop channel, adds it and hangs up the old one. The call's own bridge
// is never touched.

var _ sip.Monitorer = (*Switch)(nil)

// snoopPrefix names the snoop channels hotline makes; their StasisStart is
// not a call (switch.go), and one left by a process that is gone is hung up.
const snoopPrefix = "hl-snoop-"

func isSnoop(id string) bool { return strings.HasPrefix(id, snoopPrefix) }

// whisperOf is the snoop's whisper direction for a mode.
func whisperOf(mode sip.MonitorMode) (ari.Direction, error) {
	switch mode {
	case sip.MonitorListen:
		return ari.DirectionNone, nil
	case sip.MonitorWhisper:
		return ari.DirectionOut, nil
	case sip.MonitorBarge:
		return ari.DirectionBoth, nil
	}
	return "", fmt.Errorf("asterisk: unknown monitor mode %v", mode)
}

// ownsSnoop reports whether snoop channel id belongs to a live monitor or
// recording.
func (s *Switch) ownsSnoop(id string) bool {
	if s.recordings.ownsSnoop(id) {
		return true
	}
	return s.mons.Any(func(m *monitor) bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.snoop == id
	})
}

// monitor is one supervisor's channel on one agent's call (sip.Monitor).
type monitor struct {
	sw          *Switch
	target, sup *leg
	bridge      *ari.Key
	done        chan struct{}
	once        sync.Once

	mu    sync.Mutex
	mode  sip.MonitorMode
	snoop string // the current snoop channel
}

// Monitor implements sip.Monitorer with a snoop channel and a bridge.
func (s *Switch) Monitor(ctx context.Context, target, supervisor sip.Leg, mode sip.MonitorMode) (sip.Monitor, error) {
	t, ok1 := target.(*leg)
	sp, ok2 := supervisor.(*leg)
	if !ok1 || !ok2 || t.sw != s || sp.sw != s {
		return nil, sip.ErrForeignLeg
	}
	if t == sp {
		return nil, errors.New("asterisk: a leg cannot monitor itself")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := whisperOf(mode); err != nil {
		return nil, err
	}
	cl, err := t.client(true)
	if err != nil {
		return nil, err
	}
	if _, err := sp.client(true); err != nil {
		return nil, fmt.Errorf("asterisk: monitor: supervisor's leg: %w", err)
	}
	s.bridgeMu.Lock()
	if !t.isBridged() {
		s.bridgeMu.Unlock()
		return nil, sip.ErrNotBridged
	}
	if sp.isBridged() {
		s.bridgeMu.Unlock()
		return nil, sip.ErrAlreadyBridged
	}
	sp.setBridged(true)
	s.bridgeMu.Unlock()
	sp.stopMOH(cl)

	id := s.newID("hl-mon-")
	m := &monitor{sw: s, target: t, sup: sp, bridge: ari.NewKey(ari.BridgeKey, id), done: make(chan struct{}), mode: mode}
	fail := func(err error) (sip.Monitor, error) {
		m.cleanup(cl)
		sp.setBridged(false)
		return nil, err
	}
	if _, err := cl.Bridge().Create(m.bridge, "mixing", id); err != nil {
		return fail(fmt.Errorf("asterisk: monitor bridge: %w", err))
	}
	if err := cl.Bridge().AddChannel(m.bridge, sp.info.ID); err != nil {
		return fail(fmt.Errorf("asterisk: supervisor into the monitor bridge: %w", err))
	}
	if err := m.addSnoop(cl, mode); err != nil {
		return fail(err)
	}
	if err := s.mons.Watch(t, m, t.isBridged, t.done, sp.done); err != nil {
		return nil, err
	}
	s.log.Info("ari monitor started", "leg", t.info.ID, "supervisor_leg", sp.info.ID, "mode", mode.String())
	return m, nil
}

// WaitBridged implements sip.Monitorer.
func (s *Switch) WaitBridged(ctx context.Context, l sip.Leg) error {
	x, ok := l.(*leg)
	if !ok || x.sw != s {
		return sip.ErrForeignLeg
	}
	return s.mons.WaitBridged(ctx, x, x.done)
}

// addSnoop makes a snoop channel on the agent's channel for mode, adds it
// to the monitor bridge and makes it the current one. Called with m.mu
// held, or before the monitor is shared.
func (m *monitor) addSnoop(cl ari.Client, mode sip.MonitorMode) error {
	whisper, err := whisperOf(mode)
	if err != nil {
		return err
	}
	id := m.sw.newID(snoopPrefix)
	// A channel joins a bridge only once in the application: wait for
	// the snoop's StasisStart (record.go keeps the waiters).
	up := m.sw.recordings.addSnoop(id)
	defer m.sw.recordings.dropSnoop(id)
	if _, err := cl.Channel().Snoop(m.target.key, id, &ari.SnoopOptions{
		App: m.sw.cfg.Application, AppArgs: "snoop", Spy: ari.DirectionBoth, Whisper: whisper,
	}); err != nil {
		return fmt.Errorf("asterisk: snoop on %s: %w", m.target.info.ID, err)
	}
	select {
	case <-up:
	case <-time.After(snoopWait):
		_ = cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, id), "normal")
		return fmt.Errorf("asterisk: snoop %s did not enter the application", id)
	}
	if err := cl.Bridge().AddChannel(m.bridge, id); err != nil {
		_ = cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, id), "normal")
		return fmt.Errorf("asterisk: snoop into the monitor bridge: %w", err)
	}
	m.snoop = id
	return nil
}

func (m *monitor) Mode() sip.MonitorMode {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mode
}

// SetMode replaces the snoop channel with one whispering in mode's
// direction (the new one is in the bridge before the old one goes).
func (m *monitor) SetMode(mode sip.MonitorMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.done:
		return sip.ErrHangup
	default:
	}
	if mode == m.mode {
		return nil
	}
	cl := m.sw.current()
	if cl == nil {
		return errors.New("asterisk: not connected")
	}
	old := m.snoop
	if err := m.addSnoop(cl, mode); err != nil {
		return err
	}
	_ = cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, old), "normal")
	m.mode = mode
	m.sw.log.Info("ari monitor mode", "leg", m.target.info.ID, "mode", mode.String())
	return nil
}

// Stop hangs up the snoop channel and removes the monitor bridge; the
// supervisor's channel stays up, the call's bridge as it was.
func (m *monitor) Stop() error {
	m.once.Do(func() {
		m.sw.mons.Remove(m.target, m) // before m.mu: ownsSnoop takes them the other way round
		m.mu.Lock()
		if cl := m.sw.current(); cl != nil && !m.sw.closing() {
			m.cleanup(cl)
		}
		m.mu.Unlock()
		m.sup.setBridged(false)
		close(m.done)
		m.sw.log.Info("ari monitor stopped", "leg", m.target.info.ID, "supervisor_leg", m.sup.info.ID)
	})
	return nil
}

// cleanup removes what Monitor made in Asterisk.
func (m *monitor) cleanup(cl ari.Client) {
	if m.snoop != "" {
		_ = cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, m.snoop), "normal")
	}
	if !m.sup.isEnded() {
		_ = cl.Bridge().RemoveChannel(m.bridge, m.sup.info.ID)
	}
	_ = cl.Bridge().Delete(m.bridge)
}

func (m *monitor) Done() <-chan struct{} { return m.done }
