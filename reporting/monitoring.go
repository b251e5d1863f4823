package reporting

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// Monitoring figures (issue 19): how supervisors listened to, whispered to
// and barged into calls, from the monitor.* events (docs/queue.md,
// Monitoring). A session is one supervisor on one call, from monitor.started
// to monitor.ended; it counts in each mode it used.

// MonitoringFigures are one supervisor's monitoring over a period.
type MonitoringFigures struct {
	Supervisor string `json:"supervisor"`
	Sessions   int    `json:"sessions"` // ended in the period
	Calls      int    `json:"calls"`    // distinct calls
	Agents     int    `json:"agents"`   // distinct agents monitored
	// Listened, Whispered, Barged: sessions that used each mode.
	Listened  int     `json:"listened"`
	Whispered int     `json:"whispered"`
	Barged    int     `json:"barged"`
	TimeS     float64 `json:"time_s"` // total monitored time
}

// ComputeMonitoring sums monitor.* events by supervisor (in name order).
// Sessions are keyed by call and supervisor; one that did not end in the
// events is not counted.
func ComputeMonitoring(evs []eventlog.Event) []MonitoringFigures {
	type key struct{ call, sup string }
	modes := map[key]map[string]bool{}
	by := map[string]*MonitoringFigures{}
	calls, agents := map[string]map[string]bool{}, map[string]map[string]bool{}
	followed := map[key][]string{} // agents a session heard before a monitor.followed
	for _, e := range evs {
		sup := e.String(eventlog.KeySupervisor)
		k := key{e.CallID, sup}
		switch e.Type {
		case eventlog.MonitorStarted, eventlog.MonitorMode, eventlog.MonitorFollowed:
			if modes[k] == nil {
				modes[k] = map[string]bool{}
			}
			modes[k][e.String(eventlog.KeyMode)] = true
			if e.Type == eventlog.MonitorFollowed {
				// a session that followed its call counts every agent it heard
				if from := e.String(eventlog.KeyFromAgent); from != "" {
					followed[k] = append(followed[k], from)
				}
			}
		case eventlog.MonitorEnded:
			f := by[sup]
			if f == nil {
				f = &MonitoringFigures{Supervisor: sup}
				by[sup], calls[sup], agents[sup] = f, map[string]bool{}, map[string]bool{}
			}
			used := modes[k]
			if used == nil {
				used = map[string]bool{}
			}
			used[e.String(eventlog.KeyMode)] = true
			delete(modes, k)
			f.Sessions++
			calls[sup][e.CallID] = true
			if e.Agent != "" {
				agents[sup][e.Agent] = true
			}
			for _, a := range followed[k] {
				agents[sup][a] = true
			}
			delete(followed, k)
			if used["listen"] {
				f.Listened++
			}
			if used["whisper"] {
				f.Whispered++
			}
			if used["barge"] {
				f.Barged++
			}
			if d, ok := e.Duration(eventlog.KeyMonitored); ok {
				f.TimeS += d.Seconds()
			}
		}
	}
	out := make([]MonitoringFigures, 0, len(by))
	for sup, f := range by {
		f.Calls, f.Agents = len(calls[sup]), len(agents[sup])
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b MonitoringFigures) int { return strings.Compare(a.Supervisor, b.Supervisor) })
	return out
}

// MonitoringReport is ComputeMonitoring over the stored events of
// [from, to).
func (s *Store) MonitoringReport(ctx context.Context, from, to time.Time) ([]MonitoringFigures, error) {
	var evs []eventlog.Event
	err := s.shownEvents(ctx, from, to, func(e eventlog.Event) error {
		switch e.Type {
		case eventlog.MonitorStarted, eventlog.MonitorMode, eventlog.MonitorFollowed, eventlog.MonitorEnded:
			evs = append(evs, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ComputeMonitoring(evs), nil
}

// MonitoringTable flattens monitoring figures.
func MonitoringTable(fs []MonitoringFigures) Table {
	t := Table{Header: []string{"supervisor", "sessions", "calls", "agents", "listened", "whispered", "barged", "time_s"}}
	for _, f := range fs {
		t.Rows = append(t.Rows, []string{f.Supervisor, itoa(f.Sessions), itoa(f.Calls), itoa(f.Agents), itoa(f.Listened),
			itoa(f.Whispered), itoa(f.Barged), fmtSec(f.TimeS)})
	}
	return t
}
