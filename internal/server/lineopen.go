package server

import (
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/ivr"
)

// lineOpenDesc is hotline_line_open{line}: 1 while the IVR schedule named
// line is open (its weekly hours, exceptions and the production calendar:
// holidays closed, transferred working days open, shortened pre-holiday
// days), 0 while it is closed. The alert "no agent logged in during
// working hours" reads it instead of hard-coded hours.
var lineOpenDesc = prometheus.NewDesc("hotline_line_open",
	"1 while the IVR schedule (ivr.schedules, with its production calendar) is open, else 0; one series per schedule.",
	[]string{"line"}, nil)

// lineOpen collects hotline_line_open at scrape time from the schedules of
// the flows in use (a reload's new schedules apply at the next scrape).
type lineOpen struct {
	schedules func() map[string]*ivr.Schedule
	now       func() time.Time
}

func (l lineOpen) Describe(ch chan<- *prometheus.Desc) { ch <- lineOpenDesc }

func (l lineOpen) Collect(ch chan<- prometheus.Metric) {
	scheds := l.schedules()
	names := make([]string, 0, len(scheds))
	for n := range scheds {
		names = append(names, n)
	}
	sort.Strings(names)
	now := l.now()
	for _, n := range names {
		v := 0.0
		if scheds[n].Open(now) {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(lineOpenDesc, prometheus.GaugeValue, v, n)
	}
}
