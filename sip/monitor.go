package sip

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// MonitorMode says what a supervisor's leg does in a call it monitors.
type MonitorMode int

const (
	// MonitorListen: the supervisor hears both sides; nobody hears the
	// supervisor.
	MonitorListen MonitorMode = iota
	// MonitorWhisper: the supervisor hears both sides; only the monitored
	// leg's peer (the agent) hears the supervisor.
	MonitorWhisper
	// MonitorBarge: the supervisor hears both sides and both hear the
	// supervisor.
	MonitorBarge
)

var monitorModeNames = [...]string{"listen", "whisper", "barge"}

func (m MonitorMode) String() string {
	if m >= 0 && int(m) < len(monitorModeNames) {
		return monitorModeNames[m]
	}
	return fmt.Sprintf("monitor(%d)", int(m))
}

// ParseMonitorMode reads "listen", "whisper" or "barge".
func ParseMonitorMode(s string) (MonitorMode, error) {
	for i, n := range monitorModeNames {
		if n == s {
			return MonitorMode(i), nil
		}
	}
	return 0, fmt.Errorf("sip: monitor mode %q: want listen, whisper or barge", s)
}

// Monitorer is implemented by a Switch that lets a third leg monitor a
// bridged call (both switches do: sip/native mixes in sip/media,
// sip/asterisk uses ARI snoop channels). It is separate from Switch so
// that wrappers and test switches need not implement it.
type Monitorer interface {
	// Monitor joins supervisor (an answered leg of the same switch, not
	// bridged to anything) to the call that target (the agent's leg) is
	// bridged in, in mode. Whisper reaches target's peer only; barge both
	// sides of the bridge. The call itself is not disturbed: its legs stay
	// bridged when the monitor stops, and the supervisor's leg stays up
	// (the caller of Monitor hangs it up or reuses it).
	Monitor(ctx context.Context, target, supervisor Leg, mode MonitorMode) (Monitor, error)
	// WaitBridged returns when leg is in a bridge that carries audio (at
	// once if it is), with ctx's error when ctx ends first, or ErrHangup
	// when the leg ends. A monitor that follows a call to its next agent
	// (an escalation) waits with it for the queue's new bridge to come up.
	WaitBridged(ctx context.Context, leg Leg) error
}

// Monitor is one supervisor monitoring one bridged call.
type Monitor interface {
	// Mode is the current mode.
	Mode() MonitorMode
	// SetMode switches the mode during the call.
	SetMode(mode MonitorMode) error
	// Stop leaves the call; idempotent. The call's bridge goes on as it was.
	Stop() error
	// Done is closed when the monitor has stopped: Stop, the bridge ended
	// (either side hung up or was unbridged) or the supervisor's leg ended.
	Done() <-chan struct{}
}

// ErrNotBridged is returned by Monitor when target is not in a bridge.
var ErrNotBridged = errors.New("sip: leg is not bridged")

// MonitorSet keeps a switch's live monitors by the leg whose bridge each
// one watches, so that the bridge's end stops them (both switches embed
// one; L is the switch's own leg type). The zero value is ready to use.
type MonitorSet[L comparable, M interface {
	comparable
	Monitor
}] struct {
	mu    sync.Mutex
	m     map[L][]M
	up    map[L]int             // legs in a bridge that carries audio (BridgeStarted)
	waits map[L][]chan struct{} // WaitBridged's waiters
}

// BridgeStarted records that a and b are bridged and their audio flows
// (the switch's Bridge calls it once the bridge is up; BridgeEnded undoes
// it), and wakes whoever waits for either (WaitBridged).
func (ms *MonitorSet[L, M]) BridgeStarted(a, b L) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.up == nil {
		ms.up = map[L]int{}
	}
	for _, l := range []L{a, b} {
		ms.up[l]++
		for _, w := range ms.waits[l] {
			close(w)
		}
		delete(ms.waits, l)
	}
}

// WaitBridged returns when l is in a bridge that carries audio (at once
// if it is), with ctx's error when ctx ends first, or ErrHangup when ended
// (the leg's end) is closed first.
func (ms *MonitorSet[L, M]) WaitBridged(ctx context.Context, l L, ended <-chan struct{}) error {
	ms.mu.Lock()
	if ms.up[l] > 0 {
		ms.mu.Unlock()
		return nil
	}
	if ms.waits == nil {
		ms.waits = map[L][]chan struct{}{}
	}
	w := make(chan struct{})
	ms.waits[l] = append(ms.waits[l], w)
	ms.mu.Unlock()
	forget := func() {
		ms.mu.Lock()
		defer ms.mu.Unlock()
		ws := ms.waits[l]
		for i, x := range ws {
			if x == w {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(ms.waits, l)
		} else {
			ms.waits[l] = ws
		}
	}
	select {
	case <-w:
		return nil
	case <-ended:
		forget()
		return ErrHangup
	case <-ctx.Done():
		forget()
		return ctx.Err()
	}
}

// Add records m as watching l's bridge.
func (ms *MonitorSet[L, M]) Add(l L, m M) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.m == nil {
		ms.m = map[L][]M{}
	}
	ms.m[l] = append(ms.m[l], m)
}

// Remove forgets m (a monitor that stopped).
func (ms *MonitorSet[L, M]) Remove(l L, m M) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	list := ms.m[l]
	for i, x := range list {
		if x == m {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(ms.m, l)
	} else {
		ms.m[l] = list
	}
}

// Watch is the end of a switch's Monitor, the same in both: it records m
// as watching l's bridge (the agent's leg), checks that the bridge is
// still up (bridged, after recording it, so its end cannot slip between;
// if not, m is stopped and ErrNotBridged returned) and stops m on the
// first end: the bridge's (BridgeEnded), the agent's leg's (target), the
// supervisor's leg's (supervisor) or m's own.
func (ms *MonitorSet[L, M]) Watch(l L, m M, bridged func() bool, target, supervisor <-chan struct{}) error {
	ms.Add(l, m)
	if !bridged() { // the bridge ended meanwhile
		_ = m.Stop()
		return ErrNotBridged
	}
	go func() {
		select {
		case <-target:
		case <-supervisor:
		case <-m.Done():
		}
		_ = m.Stop()
	}()
	return nil
}

// Any reports whether f is true of a live monitor. f runs under the
// set's lock, so it must not call back into the set.
func (ms *MonitorSet[L, M]) Any(f func(M) bool) bool {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for _, list := range ms.m {
		for _, m := range list {
			if f(m) {
				return true
			}
		}
	}
	return false
}

// BridgeEnded stops the monitors of a bridge between a and b (the switch's
// Bridge calls it as it returns). Stop runs outside the set's lock, so a
// monitor may Remove itself as it stops.
func (ms *MonitorSet[L, M]) BridgeEnded(a, b L) {
	ms.mu.Lock()
	var stop []M
	for _, l := range []L{a, b} {
		stop = append(stop, ms.m[l]...)
		if ms.up[l] > 1 {
			ms.up[l]--
		} else {
			delete(ms.up, l)
		}
	}
	ms.mu.Unlock()
	for _, m := range stop {
		_ = m.Stop()
	}
}
