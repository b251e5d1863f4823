// Package reportingtest holds test helpers for reporting's readers of the
// event log. Agree checks that the call records and the Prometheus
// collectors give the same figures for an event stream; the queue
// package's randomized simulation and reporting's own streams both use it.
// Tests only: it imports testing.
package reportingtest

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/prometheus/client_golang/prometheus"
)

// Agree feeds evs to the records and to the metrics and compares every
// figure both give: per queue offered, answered, answered within T,
// abandoned, short abandons, the wait histograms' counts and sums by
// outcome, talk and wrap-up time, escalations, and per agent answers,
// escalations, talk and ring time; and, when no call has two survey
// answers or two dispositions, hotline_fcr_ratio (by the line of the first
// answered visit) and hotline_csi_score (by the last) against
// reporting.ComputeFCR and ComputeCSI over the records.
//
// The stream must be one process's: a wait resumed after a restart whose
// queue.joined the stream lacks is an offer to the records but not to
// /metrics (the process that began the wait counted it there).
func Agree(t testing.TB, evs []eventlog.Event, cfg *reporting.Config) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := reporting.NewMetrics(reg, reporting.MetricsOptions{Config: cfg, Now: func() time.Time { return evs[len(evs)-1].At }})
	if err != nil {
		t.Fatal(err)
	}
	byCall := map[string][]eventlog.Event{}
	for _, e := range evs {
		m.Publish(e)
		if e.CallID != "" {
			byCall[e.CallID] = append(byCall[e.CallID], e)
		}
	}
	want := map[string]float64{} // metric{labels} → value, from the records
	add := func(k string, v float64) { want[k] += v }
	visits := 0
	var calls []reporting.Call
	onceEach := true // at most one survey answer and one disposition per call
	for _, ce := range byCall {
		c, vs := reporting.BuildCall(ce, cfg)
		calls = append(calls, c)
		nSurvey, nDisp := 0, 0
		for _, e := range ce {
			switch e.Type {
			case eventlog.SurveyCompleted:
				nSurvey++
			case eventlog.CallDisposition:
				nDisp++
			}
		}
		onceEach = onceEach && nSurvey <= 1 && nDisp <= 1
		for _, v := range vs {
			visits++
			q := v.Queue
			add(`hotline_calls_offered_total{queue="`+q+`"}`, 1)
			if v.Outcome != reporting.OutcomeWaiting {
				add(`hotline_queue_wait_seconds_count{outcome="`+string(v.Outcome)+`",queue="`+q+`"}`, 1)
				add(`hotline_queue_wait_seconds_sum{outcome="`+string(v.Outcome)+`",queue="`+q+`"}`, v.Wait.Seconds())
			}
			switch v.Outcome {
			case reporting.OutcomeAnswered:
				add(`hotline_calls_answered_total{queue="`+q+`"}`, 1)
				if v.WithinT {
					add(`hotline_calls_answered_within_threshold_total{queue="`+q+`"}`, 1)
				}
				add(`hotline_agent_answered_total{agent="`+v.Agent+`"}`, 1)
				add(`hotline_agent_ring_seconds_total{agent="`+v.Agent+`"}`, v.Ring.Seconds())
				if v.Talk > 0 {
					add(`hotline_talk_seconds_total{queue="`+q+`"}`, v.Talk.Seconds())
					add(`hotline_agent_talk_seconds_total{agent="`+v.Agent+`"}`, v.Talk.Seconds())
				}
				if v.Wrapup > 0 {
					add(`hotline_wrapup_seconds_total{queue="`+q+`"}`, v.Wrapup.Seconds())
				}
				if v.EscalatedTo != "" {
					add(`hotline_escalations_total{from_queue="`+q+`",to_queue="`+v.EscalatedTo+`"}`, 1)
					add(`hotline_agent_escalations_total{agent="`+v.Agent+`"}`, 1)
				}
			case reporting.OutcomeAbandoned:
				add(`hotline_calls_abandoned_total{queue="`+q+`"}`, 1)
				if v.ShortAbandon {
					add(`hotline_calls_short_abandoned_total{queue="`+q+`"}`, 1)
				}
			}
		}
	}
	if onceEach {
		// FCR by the line of the first answered visit and CSI by the line
		// of the last, as the reports group them (docs/metrics.md). With
		// more answers per call the report keeps the last, /metrics counts
		// each.
		for _, f := range reporting.ComputeFCR(calls, calls, 0, time.Time{}) {
			if f.Line == "" {
				continue
			}
			for src, sig := range map[string]reporting.FCRSignal{reporting.FCRDisposition: f.Disposition, reporting.FCRSurvey: f.Survey} {
				if v, ok := sig.Ratio.Value(); ok {
					add(`hotline_fcr_ratio{line="`+f.Line+`",source="`+src+`"}`, v)
				}
			}
		}
		for _, f := range reporting.ComputeCSI(calls, func(c reporting.Call) string { return c.Line }) {
			if v, ok := f.Score.Value(); ok {
				add(`hotline_csi_score{line="`+f.Key+`"}`, v)
			}
		}
	}
	got := gatherAll(t, reg)
	for k, w := range want {
		if g := got[k]; math.Abs(g-w) > 1e-6*math.Max(1, math.Abs(w)) {
			t.Errorf("%s: metrics %v, records %v", k, g, w)
		}
	}
	// And nothing the metrics counted that the records did not.
	for k, g := range got {
		satisfaction := strings.HasPrefix(k, "hotline_fcr_ratio{") || strings.HasPrefix(k, "hotline_csi_score{")
		if _, ok := want[k]; !ok && g != 0 && compared(k) && (onceEach || !satisfaction) {
			t.Errorf("%s: metrics %v, records none", k, g)
		}
	}
	if visits == 0 || len(want) < 10 {
		t.Fatalf("the simulation produced %d visits: nothing compared", visits)
	}
}

// compared reports whether a gathered series is one agree computes.
func compared(k string) bool {
	for _, p := range []string{"hotline_calls_offered_total", "hotline_calls_answered_total", "hotline_calls_answered_within_threshold_total",
		"hotline_calls_abandoned_total", "hotline_calls_short_abandoned_total", "hotline_queue_wait_seconds_count", "hotline_queue_wait_seconds_sum",
		"hotline_talk_seconds_total", "hotline_agent_talk_seconds_total", "hotline_wrapup_seconds_total", "hotline_escalations_total",
		"hotline_agent_escalations_total",
		"hotline_agent_answered_total", "hotline_agent_ring_seconds_total", "hotline_fcr_ratio", "hotline_csi_score"} {
		if len(k) > len(p) && k[:len(p)] == p && k[len(p)] == '{' {
			return true
		}
	}
	return false
}

// gatherAll flattens the registry's counters and histogram counts/sums
// into "name{l1="v1",l2="v2"}" → value (labels in name order).
func gatherAll(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			labels := "{"
			for i, lp := range mt.GetLabel() { // sorted by name
				if i > 0 {
					labels += ","
				}
				labels += lp.GetName() + `="` + lp.GetValue() + `"`
			}
			labels += "}"
			switch {
			case mt.GetCounter() != nil:
				out[mf.GetName()+labels] = mt.GetCounter().GetValue()
			case mt.GetGauge() != nil:
				out[mf.GetName()+labels] = mt.GetGauge().GetValue()
			case mt.GetHistogram() != nil:
				out[mf.GetName()+"_count"+labels] = float64(mt.GetHistogram().GetSampleCount())
				out[mf.GetName()+"_sum"+labels] = mt.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}
