package survey

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/dialpolicy"
	"github.com/hotline-cc/hotline/dialpolicy/pgledger"
	"github.com/hotline-cc/hotline/eventlog"
)

// TestManyDueSurveysSmallPool: more surveys fall due at once than the
// pool has connections (as when a node takes a line over with a backlog),
// with the dialling ledger in PostgreSQL. Every survey is dialled once and
// completes: jobs never wait for the pacing lock holding a connection the
// lock's holder needs for the ledger.
func TestManyDueSurveysSmallPool(t *testing.T) {
	db := startDB(t)
	ctx := context.Background()
	if err := pgledger.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	pcfg, err := pgxpool.ParseConfig(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.MaxConns = 3
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ledger, err := pgledger.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	pub := newCollector()
	policy, err := dialpolicy.New(dialpolicy.Config{Trunks: []string{"provider"}},
		dialpolicy.Deps{Publisher: pub, Logger: slog.New(slog.DiscardHandler), Ledger: ledger})
	if err != nil {
		t.Fatal(err)
	}
	sw := newFakeSwitch()
	cfg := demoConfig()
	cfg.MaxConcurrent = 8
	cfg.Delay = 2 * time.Second
	const n = 8
	for i := range n {
		sw.script(fmt.Sprintf("+7912345%04d", i), answer("4", "1"))
	}
	s, err := New(cfg, Deps{Pool: pool, Switch: sw, Publisher: pub, Logger: testLogger(t), Dialling: policy})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	// All scheduled before the first is due: River hands them out together.
	for i := range n {
		trunkCall(s, fmt.Sprintf("pool-%d", i), fmt.Sprintf("+7912345%04d", i), "provider")
	}
	for i := range n {
		pub.waitFor(t, eventlog.SurveyCompleted, fmt.Sprintf("pool-%d", i))
	}
	for i := range n {
		if d := sw.dialCount(fmt.Sprintf("+7912345%04d", i)); d != 1 {
			t.Errorf("survey %d dialled %d times, want 1", i, d)
		}
	}
}
