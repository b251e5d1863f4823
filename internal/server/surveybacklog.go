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
	surveyNumbersDesc = prometheus.NewDesc("hotline_survey_numbers",
		"Numbers the survey looked up a time zone for over the last 30 days, by how sure it was (zone: known, ambiguous = the region spans zones, unknown = anywhere in the country) and what became of them (outcome: scheduled = planned inside the window in every possible zone, no-window = no such hour, zone-unknown = not surveyed by survey.unknown_zone: skip).",
		[]string{"zone", "outcome"}, nil)
)

// zoneStatuses and zoneOutcomes are the label values of
// hotline_survey_numbers, each series present at 0.
var (
	zoneStatuses = []string{"known", "ambiguous", "unknown"}
	zoneOutcomes = []string{"scheduled", "no-window", "zone-unknown"}
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
	ch <- surveyNumbersDesc
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
	counts := map[[2]string]int64{}
	rows, err := b.pool.Query(ctx, `SELECT zone_status, CASE WHEN reason IN ('no-window', 'zone-unknown') THEN reason ELSE 'scheduled' END, count(*)
		FROM survey WHERE zone_status <> '' AND created_at > $1 GROUP BY 1, 2`, b.now().Add(-30*24*time.Hour))
	if err != nil {
		return
	}
	for rows.Next() {
		var zone, outcome string
		var n int64
		if err := rows.Scan(&zone, &outcome, &n); err != nil {
			rows.Close()
			return
		}
		counts[[2]string{zone, outcome}] = n
	}
	rows.Close()
	if rows.Err() != nil {
		return
	}
	for _, z := range zoneStatuses {
		for _, o := range zoneOutcomes {
			ch <- prometheus.MustNewConstMetric(surveyNumbersDesc, prometheus.GaugeValue, float64(counts[[2]string{z, o}]), z, o)
		}
	}
}
