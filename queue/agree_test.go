package queue

// This test imports reporting, which production code of package queue
// never does: it checks that reporting's two readers of the event log, the
// call records (BuildCall) and the Prometheus collectors (Metrics), give
// the same figures for the Engine's randomized simulation. Both read
// eventlog's one call fold.

import (
	"fmt"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/hotline-cc/hotline/reporting/reportingtest"
)

func TestRecordsAndMetricsAgreeOnSimulation(t *testing.T) {
	size := simSize{agents: 60, queues: 8, skills: 4, calls: 3000, checkEvery: 50}
	if testing.Short() {
		size = simSize{agents: 30, queues: 6, skills: 4, calls: 600, checkEvery: 20}
	}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			var evs []eventlog.Event
			s := newSim(t, seed, size)
			s.events = &evs
			s.run()
			reportingtest.Agree(t, evs, &reporting.Config{Threshold: 20 * time.Second, ShortAbandon: 5 * time.Second})
		})
	}
}
