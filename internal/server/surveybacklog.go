package server

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	surveyDueDesc = prometheus.NewDesc("hotline_survey_due",
		"Survey calls due now and not yet made (state scheduled or retry, next attempt time passed): the survey backlog.", nil, nil)
	surveyPendingDesc = prometheus.NewDesc("hotline_survey_pending",
		"Survey calls waiting for their time (state scheduled or retry), due or not.", nil, nil)
)

// surveyBacklog collects hotline_survey_due and hotline_survey_pending
// from the survey table at scrape time; nothing when the query fails (the
// scrape is not held up by more than two seconds).
type surveyBacklog struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

func (b surveyBacklog) Describe(ch chan<- *prometheus.Desc) {
	ch <- surveyDueDesc
	ch <- surveyPendingDesc
}

func (b surveyBacklog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var due, pending int64
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE next_at IS NULL OR next_at <= $1), count(*)
		FROM survey WHERE state IN ('scheduled', 'retry')`, b.now()).Scan(&due, &pending); err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(surveyDueDesc, prometheus.GaugeValue, float64(due))
	ch <- prometheus.MustNewConstMetric(surveyPendingDesc, prometheus.GaugeValue, float64(pending))
}
