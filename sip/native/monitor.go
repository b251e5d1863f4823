package native

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
)

var _ sip.Monitorer = (*Switch)(nil)

// monitor is a supervisor's leg in a bridged call (sip.Monitor), mixed by
// sip/media.
type monitor struct {
	sw          *Switch
	target, sup *leg
	m           *media.Monitor
	done        chan struct{}
	once        sync.Once
}

// Monitor implements sip.Monitorer: the supervisor's leg hears the bridge
// target is in, and in whisper or barge is mixed into it (sip/media).
func (s *Switch) Monitor(ctx context.Context, target, supervisor sip.Leg, mode sip.MonitorMode) (sip.Monitor, error) {
	t, ok1 := target.(*leg)
	sp, ok2 := supervisor.(*leg)
	if !ok1 || !ok2 || t.sw != s || sp.sw != s {
		return nil, sip.ErrForeignLeg
	}
	if t == sp {
		return nil, errors.New("native: a leg cannot monitor itself")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ts, err := t.mediaReady()
	if err != nil {
		return nil, err
	}
	ss, err := sp.mediaReady()
	if err != nil {
		return nil, fmt.Errorf("native: monitor: supervisor's leg: %w", err)
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
	sp.setBridged(true) // the supervisor's leg is taken while it monitors
	s.bridgeMu.Unlock()
	mm, err := ts.Monitor(ss, mode)
	if err != nil {
		sp.setBridged(false)
		if errors.Is(err, media.ErrNotBridged) {
			return nil, sip.ErrNotBridged
		}
		return nil, err
	}
	m := &monitor{sw: s, target: t, sup: sp, m: mm, done: make(chan struct{})}
	if err := s.mons.Watch(t, m, mm.Bridged, t.done, sp.done); err != nil {
		return nil, err
	}
	s.log.Info("monitor started", "leg", t.info.ID, "supervisor_leg", sp.info.ID, "mode", mode.String())
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

func (m *monitor) Mode() sip.MonitorMode { return m.m.Mode() }

func (m *monitor) SetMode(mode sip.MonitorMode) error {
	select {
	case <-m.done:
		return sip.ErrHangup
	default:
	}
	if err := m.m.SetMode(mode); err != nil {
		return err
	}
	m.sw.log.Info("monitor mode", "leg", m.target.info.ID, "mode", mode.String())
	return nil
}

func (m *monitor) Stop() error {
	m.once.Do(func() {
		m.m.Stop()
		m.sw.mons.Remove(m.target, m)
		m.sup.setBridged(false)
		close(m.done)
		m.sw.log.Info("monitor stopped", "leg", m.target.info.ID, "supervisor_leg", m.sup.info.ID)
	})
	return nil
}

func (m *monitor) Done() <-chan struct{} { return m.done }
