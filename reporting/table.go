package reporting

import (
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Table is a report flattened to rows of text, shared by the CSV output of
// the report API and the terminal output of `hotline report`. Undefined
// ratios (denominator 0) are empty cells.
type Table struct {
	Header []string
	Rows   [][]string
}

// WriteTable prints t aligned in columns (text/tabwriter).
func WriteTable(w io.Writer, t Table) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cells []string) {
		for i, c := range cells {
			if c == "" {
				c = "-"
			}
			if i > 0 {
				io.WriteString(tw, "\t")
			}
			io.WriteString(tw, c)
		}
		io.WriteString(tw, "\n")
	}
	line(t.Header)
	for _, r := range t.Rows {
		line(r)
	}
	return tw.Flush()
}

// WriteCSV writes t as CSV (RFC 4180) with a header row.
func WriteCSV(w io.Writer, t Table) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Header); err != nil {
		return err
	}
	if err := cw.WriteAll(t.Rows); err != nil {
		return err
	}
	return cw.Error()
}

// fmtRatio formats a ratio's value with 4 decimals, "" when undefined.
func fmtRatio(r Ratio) string {
	v, ok := r.Value()
	if !ok {
		return ""
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// fmtSec formats seconds with one decimal.
func fmtSec(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) }

func fmtDur(d time.Duration) string { return fmtSec(d.Seconds()) }

// fmtReasons prints time per pause reason as "break=300.0;lunch=1800.0"
// (seconds, reasons in order).
func fmtReasons(m map[string]time.Duration) string {
	var b strings.Builder
	for _, r := range slices.Sorted(maps.Keys(m)) {
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(r + "=" + fmtDur(m[r]))
	}
	return b.String()
}

func fmtPtr(p *float64) string {
	if p == nil {
		return ""
	}
	return fmtSec(*p)
}

func itoa(n int) string { return strconv.Itoa(n) }

var figureHeader = []string{"offered", "answered", "answered_within_t", "abandoned", "short_abandoned",
	"overflowed", "timed_out", "callbacks", "sl_answered", "sl_offered", "sl_removed", "asa_s", "aht_s",
	"abandon_rate", "abandon_rate_ex_short", "escalation_rate", "longest_wait_s"}

func figureCells(f Figures) []string {
	return []string{itoa(f.Offered), itoa(f.Answered), itoa(f.AnsweredWithinT), itoa(f.Abandoned), itoa(f.ShortAbandoned),
		itoa(f.Overflowed), itoa(f.TimedOut), itoa(f.Callbacks), fmtRatio(f.SL.Answered), fmtRatio(f.SL.Offered),
		fmtRatio(f.SL.Removed), fmtRatio(f.ASA), fmtRatio(f.AHT), fmtRatio(f.AbandonRate), fmtRatio(f.AbandonRateExShort),
		fmtRatio(f.EscalationRate), fmtSec(f.LongestWaitS)}
}

// IntervalTable flattens an interval report; start is printed in loc
// (RFC 3339 with offset).
func IntervalTable(rows []IntervalRow, loc *time.Location) Table {
	if loc == nil {
		loc = moscow()
	}
	t := Table{Header: append([]string{"start", "queue"}, figureHeader...)}
	for _, r := range rows {
		t.Rows = append(t.Rows, append([]string{r.Start.In(loc).Format(time.RFC3339), r.Queue}, figureCells(r.Figures)...))
	}
	return t
}

// QueueTable flattens a queue report.
func QueueTable(qs []QueueFigures) Table {
	t := Table{Header: append(append([]string{"queue"}, figureHeader...), "median_wait_s", "p90_wait_s")}
	for _, q := range qs {
		row := append([]string{q.Queue}, figureCells(q.Figures)...)
		t.Rows = append(t.Rows, append(row, fmtPtr(q.MedianWaitS), fmtPtr(q.P90WaitS)))
	}
	return t
}

// AgentTable flattens per-agent (or, with teams true, per-team) figures.
func AgentTable(as []AgentFigures, teams bool) Table {
	key := "agent"
	if teams {
		key = "team"
	}
	t := Table{Header: []string{key, "answered", "missed_rings", "escalations", "avg_ring_s", "avg_talk_s",
		"avg_wrapup_s", "aht_s", "available_s", "paused_s", "occupancy", "paused_by_reason_s"}}
	if !teams {
		t.Header = append(t.Header[:1], append([]string{"team"}, t.Header[1:]...)...)
	}
	for _, a := range as {
		row := []string{a.Agent}
		if teams {
			row = []string{a.Team}
		} else {
			row = append(row, a.Team)
		}
		row = append(row, itoa(a.Answered), itoa(a.Missed), itoa(a.Escalations), fmtRatio(a.AvgRing), fmtRatio(a.AvgTalk),
			fmtRatio(a.AvgWrapup), fmtRatio(a.AHT), fmtDur(a.Available), fmtDur(a.Paused), fmtRatio(a.Occupancy), fmtReasons(a.PausedByReason))
		t.Rows = append(t.Rows, row)
	}
	return t
}

// FCRTable flattens FCR figures: one row per line and signal. Line "" is
// printed as "all".
func FCRTable(fs []FCRFigures) Table {
	t := Table{Header: []string{"line", "signal", "population", "covered", "resolved", "fcr", "coverage"}}
	for _, f := range fs {
		line := f.Line
		if line == "" {
			line = "all"
		}
		for _, s := range []struct {
			name string
			sig  FCRSignal
		}{{FCRDisposition, f.Disposition}, {FCRRepeat, f.Repeat}, {FCRSurvey, f.Survey}, {FCRCombined, f.Combined}} {
			t.Rows = append(t.Rows, []string{line, s.name, itoa(f.Population), itoa(s.sig.Covered), itoa(s.sig.Resolved),
				fmtRatio(s.sig.Ratio), fmtRatio(s.sig.Coverage)})
		}
	}
	return t
}

// CSITable flattens CSI figures grouped by by (line, queue or agent).
func CSITable(cs []CSIFigures, by string) Table {
	t := Table{Header: []string{by, "ratings", "csi", "top2", "r1", "r2", "r3", "r4", "r5"}}
	for _, c := range cs {
		score := ""
		if v, ok := c.Score.Value(); ok {
			score = fmtSec(v)
		}
		row := []string{c.Key, itoa(c.Ratings), score, fmtRatio(c.Top2)}
		for _, n := range c.Distribution {
			row = append(row, itoa(n))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// EscalationTable flattens escalation figures as metric/value rows, the
// escalation pairs last ("pair FROM->TO").
func EscalationTable(e EscalationFigures) Table {
	t := Table{Header: []string{"metric", "value"}}
	add := func(k, v string) { t.Rows = append(t.Rows, []string{k, v}) }
	add("first_line_answered", itoa(e.FirstLineAnswered))
	add("escalated", itoa(e.Escalated))
	add("escalation_rate", fmtRatio(e.Rate))
	add("second_line_reached", itoa(e.SecondLineReached))
	add("mean_time_to_second_line_s", fmtRatio(e.MeanTimeToSecondS))
	add("median_time_to_second_line_s", fmtPtr(e.MedianTimeToSecond))
	add("second_line_offered", itoa(e.SecondLine.Offered))
	add("second_line_answered", itoa(e.SecondLine.Answered))
	add("second_line_sl_answered", fmtRatio(e.SecondLine.SL.Answered))
	add("second_line_sl_offered", fmtRatio(e.SecondLine.SL.Offered))
	add("second_line_sl_removed", fmtRatio(e.SecondLine.SL.Removed))
	for _, p := range e.Pairs {
		add(fmt.Sprintf("pair %s->%s", p.FromQueue, p.ToQueue), itoa(p.Count))
	}
	return t
}
