package server

import (
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/reporting/staffing"
)

func TestRequiredAgents(t *testing.T) {
	q := config.Queue{Name: "first-line", SLTarget: 0.8, SLThreshold: 20 * time.Second}
	// The worked example: 100 calls per 30 min at AHT 180 s, 80/20
	// → 14 agents. As an hour of 15-minute rollups: 50 calls per quarter.
	quarter := staffing.IntervalRecord{Offered: 50, Handled: 50, HandleSeconds: 50 * 180}
	full := []staffing.IntervalRecord{quarter, quarter, quarter, quarter}
	for _, tc := range []struct {
		name   string
		recent []staffing.IntervalRecord
		want   int
	}{
		{"no traffic", nil, 0},
		{"100 calls / 30 min, AHT 180 s", full, 14},
		// Only two busy quarters in the hour: half the rate, 100 calls/h.
		{"half the hour quiet", full[:2], 8},
	} {
		if got := requiredAgents(tc.recent, q); got != tc.want {
			t.Errorf("%s: requiredAgents = %d, want %d", tc.name, got, tc.want)
		}
	}
}
