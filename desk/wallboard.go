package desk

import (
	"context"
	"math"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hotline-cc/hotline/reporting"
)

// The wallboard (docs/desk.md, "The wallboard") shows figures computed
// elsewhere and nowhere else: the live ones as /metrics exports them
// (reporting.Metrics, read through the Prometheus registry) and today's
// from the store's reports (the functions behind /api/v1/reports). Neither
// the server side here nor the page computes a ratio of its own.

// Live is where the live figures come from: the registry /metrics
// serves (reporting.Metrics' collectors).
type Live = prometheus.Gatherer

// Reports reads today's reports (*reporting.Store).
type Reports interface {
	QueueReport(ctx context.Context, from, to time.Time) ([]reporting.QueueFigures, error)
	CSIReport(ctx context.Context, from, to time.Time, by string) ([]reporting.CSIFigures, error)
	FCRReport(ctx context.Context, from, to, asOf time.Time) ([]reporting.FCRFigures, error)
	EscalationReport(ctx context.Context, from, to time.Time) (reporting.EscalationFigures, error)
}

// BoardAgent is an agent's state now, as the queue reports it
// (GET /api/v1/agents).
type BoardAgent struct {
	ID     string    `json:"id"`
	Name   string    `json:"name,omitempty"`
	Team   string    `json:"team,omitempty"`
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"` // the pause reason
	Since  time.Time `json:"since"`
	Queues []string  `json:"queues"`
	// CallID is the call the agent is on (the page's live calls, monitor.go).
	CallID string `json:"call_id,omitempty"`
}

// BoardQueue is one queue's row of the wallboard. Live figures come from
// /metrics (the series named on each field), Today from the queue report
// of today (GET /api/v1/reports/queues), CSI from the CSI report by queue.
type BoardQueue struct {
	Queue string `json:"queue"`
	// Target: hotline_service_level_target_ratio.
	Target float64 `json:"target"`
	// Waiting: hotline_calls_waiting; LongestWaitS:
	// hotline_queue_longest_wait_seconds; OverT:
	// hotline_calls_waiting_over_threshold.
	Waiting      float64 `json:"waiting"`
	LongestWaitS float64 `json:"longest_wait_s"`
	OverT        float64 `json:"waiting_over_t"`
	// SLNow: hotline_service_level_ratio{formula="realtime",window="15m"}
	// (nil when it has no value).
	SLNow *float64 `json:"sl_now"`
	// Agents: hotline_agents{queue,state}.
	Agents map[string]float64 `json:"agents"`
	// Today: the queue report of today (nil without a database or with
	// no visit today).
	Today *reporting.QueueFigures `json:"today"`
	CSI   *reporting.CSIFigures   `json:"csi"`
	// PastTarget: SLNow or today's SL (offered) below Target.
	PastTarget bool `json:"past_target"`
}

// Board is the wallboard's data.
type Board struct {
	At          time.Time                    `json:"at"`
	From        time.Time                    `json:"from"` // today, in the service's zone
	To          time.Time                    `json:"to"`
	Queues      []BoardQueue                 `json:"queues"`
	Agents      []BoardAgent                 `json:"agents"`
	FCR         []reporting.FCRFigures       `json:"fcr"`
	Escalations *reporting.EscalationFigures `json:"escalations"`
	// Errors names the sources that could not be read (the rest is shown).
	Errors []string `json:"errors,omitempty"`
}

// mayBoard: supervisors and admins (and the token); not agents.
func mayBoard(p principal) bool {
	switch p.role() {
	case RoleSupervisor, RoleAdmin:
		return true
	}
	return false
}

// wallboard serves GET /desk/api/wallboard: a supervisor sees their
// queues and their teams' agents, an admin everything; an agent gets 403.
func (d *Desk) wallboard(w http.ResponseWriter, r *http.Request, p principal) {
	if !mayBoard(p) {
		writeError(w, http.StatusForbidden, "your role ("+p.role()+") may not see the wallboard")
		return
	}
	b, err := d.board(r.Context(), p)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (d *Desk) board(ctx context.Context, p principal) (Board, error) {
	now := d.now()
	from, to := reporting.Today(now, d.cfg.Location)
	b := Board{At: now.UTC(), From: from, To: to, Queues: []BoardQueue{}, Agents: []BoardAgent{}, FCR: []reporting.FCRFigures{}}
	queueOK := func(q string) bool { return p.role() == RoleAdmin || slices.Contains(p.user.Queues, q) }
	rows := map[string]*BoardQueue{}
	row := func(q string) *BoardQueue {
		if r, ok := rows[q]; ok {
			return r
		}
		r := &BoardQueue{Queue: q, Agents: map[string]float64{}}
		rows[q] = r
		return r
	}
	if p.role() == RoleSupervisor {
		for _, q := range p.user.Queues {
			row(q)
		}
	}
	if d.cfg.Live != nil {
		mfs, err := d.cfg.Live.Gather()
		if err != nil {
			b.Errors = append(b.Errors, "metrics: "+err.Error())
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				l := labels(m)
				q, ok := l["queue"]
				if !ok || q == "" || !queueOK(q) {
					continue
				}
				v := m.GetGauge().GetValue()
				switch mf.GetName() {
				case "hotline_service_level_target_ratio":
					row(q).Target = v
				case "hotline_calls_waiting":
					row(q).Waiting = v
				case "hotline_queue_longest_wait_seconds":
					row(q).LongestWaitS = v
				case "hotline_calls_waiting_over_threshold":
					row(q).OverT = v
				case "hotline_service_level_ratio":
					if l["formula"] == reporting.FormulaRealTime && l["window"] == reporting.Window15m && !math.IsNaN(v) {
						row(q).SLNow = &v
					}
				case "hotline_agents":
					row(q).Agents[l["state"]] = v
				}
			}
		}
	}
	if d.cfg.Reports != nil {
		t := d.todayReports(ctx, from, to, now)
		b.Errors = append(b.Errors, t.errs...)
		for i := range t.queues {
			if queueOK(t.queues[i].Queue) {
				row(t.queues[i].Queue).Today = &t.queues[i]
			}
		}
		for i := range t.csi {
			if queueOK(t.csi[i].Key) {
				row(t.csi[i].Key).CSI = &t.csi[i]
			}
		}
		if t.fcr != nil {
			b.FCR = t.fcr
		}
		b.Escalations = t.esc
	}
	for _, r := range rows {
		if r.Target > 0 {
			if r.SLNow != nil && *r.SLNow < r.Target {
				r.PastTarget = true
			}
			if r.Today != nil {
				if v, ok := r.Today.SL.Offered.Value(); ok && v < r.Target {
					r.PastTarget = true
				}
			}
		}
		b.Queues = append(b.Queues, *r)
	}
	sort.Slice(b.Queues, func(i, j int) bool { return b.Queues[i].Queue < b.Queues[j].Queue })
	if d.cfg.AgentStates != nil {
		as, err := d.cfg.AgentStates(ctx)
		if err != nil {
			b.Errors = append(b.Errors, "agents: "+err.Error())
		}
		for _, a := range as {
			if p.role() == RoleAdmin || d.mayActOnAgent(p, a.ID) {
				b.Agents = append(b.Agents, a)
			}
		}
		sort.Slice(b.Agents, func(i, j int) bool { return b.Agents[i].ID < b.Agents[j].ID })
	}
	return b, nil
}

func labels(m *dto.Metric) map[string]string {
	l := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		l[lp.GetName()] = lp.GetValue()
	}
	return l
}

// boardReports are today's reports for every queue, shared by all the
// pages for boardTTL so that many open wallboards do not multiply the
// queries.
type boardReports struct {
	at, from time.Time
	queues   []reporting.QueueFigures
	csi      []reporting.CSIFigures
	fcr      []reporting.FCRFigures
	esc      *reporting.EscalationFigures
	errs     []string
}

// boardTTL is how long today's reports are reused.
const boardTTL = time.Second

func (d *Desk) todayReports(ctx context.Context, from, to, now time.Time) *boardReports {
	d.boardMu.Lock()
	defer d.boardMu.Unlock()
	if c := d.boardCache; c != nil && c.from.Equal(from) && !now.Before(c.at) && now.Sub(c.at) < boardTTL {
		return c
	}
	t := &boardReports{at: now, from: from}
	var err error
	if t.queues, err = d.cfg.Reports.QueueReport(ctx, from, to); err != nil {
		t.errs = append(t.errs, "queue report: "+err.Error())
	}
	if t.csi, err = d.cfg.Reports.CSIReport(ctx, from, to, "queue"); err != nil {
		t.errs = append(t.errs, "CSI report: "+err.Error())
	}
	if t.fcr, err = d.cfg.Reports.FCRReport(ctx, from, to, now); err != nil {
		t.errs = append(t.errs, "FCR report: "+err.Error())
	}
	if es, err := d.cfg.Reports.EscalationReport(ctx, from, to); err != nil {
		t.errs = append(t.errs, "escalation report: "+err.Error())
	} else {
		t.esc = &es
	}
	if len(t.errs) == 0 {
		d.boardCache = t
	}
	return t
}
