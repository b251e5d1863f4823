package sip

import (
	"context"
	"errors"
	"fmt"
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
