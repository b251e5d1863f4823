package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/hotline-cc/hotline/reporting/staffing"
)

// staffingGauge exports hotline_agents_required{queue}: the agents Erlang C
// says each queue needs to meet its SL target, from the last hour's real
// arrival rate and handle time (the last four 15-minute rollups).
type staffingGauge struct {
	store  *reporting.Store
	queues []config.Queue
	gauge  *prometheus.GaugeVec
	log    *slog.Logger
	now    func() time.Time
}

const (
	staffWindow     = time.Hour
	staffInterval   = 15 * time.Minute
	staffDefaultAHT = 180 * time.Second // until a queue has handled calls
)

func newStaffingGauge(reg prometheus.Registerer, store *reporting.Store, queues []config.Queue, log *slog.Logger) (*staffingGauge, error) {
	g := &staffingGauge{
		store: store, queues: queues, log: log, now: time.Now,
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hotline_agents_required",
			Help: "Agents needed to meet the queue's service-level target (Erlang C) at the last hour's arrival rate and handle time.",
		}, []string{"queue"}),
	}
	if err := reg.Register(g.gauge); err != nil {
		return nil, err
	}
	for _, q := range queues {
		g.gauge.WithLabelValues(q.Name).Set(0)
	}
	return g, nil
}

// run refreshes the gauge every interval until ctx ends.
func (g *staffingGauge) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := g.refresh(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("staffing gauge not refreshed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (g *staffingGauge) refresh(ctx context.Context) error {
	now := g.now()
	rows, err := g.store.IntervalReport(ctx, now.Add(-staffWindow), now, staffInterval, nil)
	if err != nil {
		return err
	}
	byQueue := map[string][]staffing.IntervalRecord{}
	for _, r := range rows {
		byQueue[r.Queue] = append(byQueue[r.Queue], staffing.IntervalRecord{
			Start: r.Start, Offered: r.Offered, Handled: r.Answered,
			HandleSeconds: (r.Talk + r.Wrapup).Seconds(),
		})
	}
	for _, q := range g.queues {
		g.gauge.WithLabelValues(q.Name).Set(float64(requiredAgents(byQueue[q.Name], q)))
	}
	return nil
}

// requiredAgents applies Erlang C to one queue's recent intervals; a queue
// with no traffic needs no agents.
func requiredAgents(recent []staffing.IntervalRecord, q config.Queue) int {
	if len(recent) == 0 {
		return 0
	}
	// LiveTraffic averages over the intervals it is given: pad the hour with
	// empty intervals so a quiet quarter counts as quiet.
	for len(recent) < int(staffWindow/staffInterval) {
		recent = append(recent, staffing.IntervalRecord{})
	}
	tr, err := staffing.LiveTraffic(recent, staffInterval, 0, staffDefaultAHT)
	if err != nil || tr.Calls == 0 {
		return 0
	}
	target := q.SLTarget
	if target <= 0 || target >= 1 {
		target = 0.8
	}
	p, err := staffing.Required(tr, staffing.Target{ServiceLevel: target, Threshold: q.SLThreshold, ShortAbandon: q.ShortAbandon})
	if err != nil {
		return 0
	}
	return p.Agents
}
