package reporting

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/eventlog"
)

// Callbacks have figures of their own (docs/metrics.md, Callbacks):
//
//   - requested: callback.requested (from the queue's key, on_max_wait,
//     on_full, no agents, or the IVR's callback node);
//   - attempted: dials made (callback.result connected, no-answer, busy,
//     failed; abandoned: caller first, answered and hung up before an
//     agent);
//   - connected: the caller answered and was bridged with the agent;
//   - failed: callbacks that ended without a connection (the final
//     callback.result: no-answer, busy, failed after the last attempt,
//     expired, refused by the dialling policy);
//   - the callback's wait: from the request to the moment the caller,
//     dialled back, is connected to the agent (callback.result connected
//     Data[wait_ms]); callback SL = connected with wait <= the queue's
//     callback T (callback.sl_threshold) / (connected + failed).

// DefaultCallbackThreshold is the callback SL threshold of a queue without one.
const DefaultCallbackThreshold = 30 * time.Minute

// CallbackThresholdFor returns the callback SL threshold of a queue.
func (c *Config) CallbackThresholdFor(q string) time.Duration {
	if c != nil {
		if qc, ok := c.Queues[q]; ok && qc.CallbackThreshold > 0 {
			return qc.CallbackThreshold
		}
	}
	return DefaultCallbackThreshold
}

// CallbackFigures are one queue's callback figures over a period. Waits
// are in seconds, of the connected callbacks.
type CallbackFigures struct {
	Queue            string         `json:"queue"`
	Requested        int            `json:"requested"`
	Attempted        int            `json:"attempted"`
	Connected        int            `json:"connected"`
	ConnectedWithinT int            `json:"connected_within_t"`
	Failed           int            `json:"failed"`
	FailedBy         map[string]int `json:"failed_by,omitempty"` // final reason → count
	SL               Ratio          `json:"sl"`
	WaitAvg          *float64       `json:"wait_avg_s"`
	WaitMax          *float64       `json:"wait_max_s"`
}

// attemptResult says whether a callback.result reason is a dial
// (interrupted: a dial cut by a crash, counted at the next start).
func attemptResult(reason string) bool {
	switch reason {
	case "connected", "no-answer", "busy", "failed", "abandoned", "interrupted":
		return true
	}
	return false
}

// ComputeCallbacks sums the callback events of a period by queue (in
// queue order).
func ComputeCallbacks(evs []eventlog.Event, cfg *Config) []CallbackFigures {
	by := map[string]*CallbackFigures{}
	var waits = map[string][]float64{}
	get := func(q string) *CallbackFigures {
		f := by[q]
		if f == nil {
			f = &CallbackFigures{Queue: q}
			by[q] = f
		}
		return f
	}
	for _, e := range evs {
		switch e.Type {
		case eventlog.CallbackRequested:
			get(e.Queue).Requested++
		case eventlog.CallbackResult:
			f := get(e.Queue)
			if attemptResult(e.Reason) {
				f.Attempted++
			}
			switch {
			case e.Reason == "connected":
				f.Connected++
				w, _ := e.Duration(eventlog.KeyWait)
				if w <= cfg.CallbackThresholdFor(e.Queue) {
					f.ConnectedWithinT++
				}
				waits[e.Queue] = append(waits[e.Queue], w.Seconds())
			case e.Flag(eventlog.KeyFinal):
				f.Failed++
				if f.FailedBy == nil {
					f.FailedBy = map[string]int{}
				}
				f.FailedBy[e.Reason]++
			}
		}
	}
	out := make([]CallbackFigures, 0, len(by))
	for _, q := range slices.Sorted(func(yield func(string) bool) {
		for q := range by {
			if !yield(q) {
				return
			}
		}
	}) {
		f := *by[q]
		f.SL = Ratio{Num: float64(f.ConnectedWithinT), Den: float64(f.Connected + f.Failed)}
		if ws := waits[q]; len(ws) > 0 {
			sum, mx := 0.0, 0.0
			for _, w := range ws {
				sum += w
				mx = max(mx, w)
			}
			avg := sum / float64(len(ws))
			f.WaitAvg, f.WaitMax = &avg, &mx
		}
		out = append(out, f)
	}
	return out
}

// CallbackReport computes the callback figures of the events in [from, to).
func (s *Store) CallbackReport(ctx context.Context, from, to time.Time) ([]CallbackFigures, error) {
	var evs []eventlog.Event
	err := s.shownEvents(ctx, from, to, func(e eventlog.Event) error {
		if e.Type == eventlog.CallbackRequested || e.Type == eventlog.CallbackResult {
			evs = append(evs, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ComputeCallbacks(evs, s.cfg), nil
}

// CallbacksTable flattens callback figures.
func CallbacksTable(fs []CallbackFigures) Table {
	t := Table{Header: []string{"queue", "requested", "attempted", "connected", "connected_within_t", "failed", "sl", "wait_avg_s", "wait_max_s"}}
	opt := func(v *float64) string {
		if v == nil {
			return ""
		}
		return fmtSec(*v)
	}
	for _, f := range fs {
		t.Rows = append(t.Rows, []string{f.Queue, itoa(f.Requested), itoa(f.Attempted), itoa(f.Connected), itoa(f.ConnectedWithinT),
			itoa(f.Failed), fmtRatio(f.SL), opt(f.WaitAvg), opt(f.WaitMax)})
	}
	return t
}

// callbackCounters are the callback series of /metrics.
type callbackCounters struct {
	requested, attempts, connected, withinT, failed *prometheus.CounterVec
	wait                                            *prometheus.HistogramVec
}

func newCallbackCounters() callbackCounters {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	return callbackCounters{
		requested: cv("hotline_callbacks_requested_total", "Callbacks asked for, by where the request came from (key, max-wait, full, no-agents, ivr, agent).", "queue", "source"),
		attempts:  cv("hotline_callback_attempts_total", "Callback dials, by result (connected, no-answer, busy, failed, abandoned, interrupted).", "queue", "result"),
		connected: cv("hotline_callbacks_connected_total", "Callbacks whose caller answered and was connected to an agent.", "queue"),
		withinT:   cv("hotline_callbacks_connected_within_threshold_total", "Connected callbacks with wait (request to connection) <= the queue's callback threshold.", "queue"),
		failed:    cv("hotline_callbacks_failed_total", "Callbacks that ended without a connection, by final reason (no-answer, busy, failed, abandoned, expired, refused).", "queue", "reason"),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hotline_callback_wait_seconds",
			Help:    "Callback wait: from the request to the caller's connection to an agent.",
			Buckets: []float64{60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400, 28800, 86400},
		}, []string{"queue"}),
	}
}

func (c callbackCounters) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.requested, c.attempts, c.connected, c.withinT, c.failed, c.wait}
}

// zero creates a queue's callback series at zero.
func (c callbackCounters) zero(q string) {
	c.connected.WithLabelValues(q)
	c.withinT.WithLabelValues(q)
	for _, r := range []string{"connected", "no-answer", "busy", "failed"} {
		c.attempts.WithLabelValues(q, r)
	}
}

// observe counts a callback event.
func (c callbackCounters) observe(e eventlog.Event, cfg *Config) {
	switch e.Type {
	case eventlog.CallbackRequested:
		src := e.Reason
		if src == "" {
			src = "key"
		}
		c.requested.WithLabelValues(e.Queue, src).Inc()
	case eventlog.CallbackResult:
		if attemptResult(e.Reason) {
			c.attempts.WithLabelValues(e.Queue, e.Reason).Inc()
		}
		switch {
		case e.Reason == "connected":
			w, _ := e.Duration(eventlog.KeyWait)
			c.connected.WithLabelValues(e.Queue).Inc()
			if w <= cfg.CallbackThresholdFor(e.Queue) {
				c.withinT.WithLabelValues(e.Queue).Inc()
			}
			c.wait.WithLabelValues(e.Queue).Observe(w.Seconds())
		case e.Flag(eventlog.KeyFinal):
			c.failed.WithLabelValues(e.Queue, e.Reason).Inc()
		}
	}
}
