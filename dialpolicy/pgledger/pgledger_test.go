package pgledger

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/dialpolicy"
	"github.com/hotline-cc/hotline/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// Two policies on one database (two nodes, or a restart) share the limits.
func TestLedgerIsShared(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	if err := Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, db.Pool); err != nil { // idempotent
		t.Fatal(err)
	}
	msk, _ := time.LoadLocation("Europe/Moscow")
	c := &clock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, msk)}
	newPolicy := func() *dialpolicy.Policy {
		l, err := New(db.Pool)
		if err != nil {
			t.Fatal(err)
		}
		p, err := dialpolicy.New(dialpolicy.Config{DailyCap: 3, PerNumber: 2, Zone: msk},
			dialpolicy.Deps{Ledger: l, Clock: c, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := newPolicy(), newPolicy()
	req := func(purpose, n string) dialpolicy.Request {
		return dialpolicy.Request{Purpose: purpose, Number: n, Trunk: "provider", CallID: "c"}
	}
	steps := []struct {
		p       *dialpolicy.Policy
		purpose string
		number  string
		want    dialpolicy.Reason
	}{
		{a, dialpolicy.PurposeSurvey, "+79141234567", ""},
		{b, dialpolicy.PurposeCallback, "+79141234567", ""},
		{a, dialpolicy.PurposeCallback, "+79141234567", dialpolicy.PerNumber},
		{b, dialpolicy.PurposeSurvey, "+74951234567", ""},
		{a, dialpolicy.PurposeSurvey, "+74959999999", dialpolicy.DailyCap},
	}
	for i, st := range steps {
		c.t = c.t.Add(time.Minute)
		err := st.p.Permit(ctx, req(st.purpose, st.number))
		ref, _ := dialpolicy.AsRefusal(err)
		switch {
		case st.want == "" && err != nil:
			t.Fatalf("step %d: %v", i, err)
		case st.want != "" && (ref == nil || ref.Reason != st.want):
			t.Fatalf("step %d: %v, want %s", i, err, st.want)
		}
	}
	c.t = time.Date(2026, 3, 11, 12, 1, 0, 0, msk) // the next day, 24 h after the first dial
	if err := b.Permit(ctx, req(dialpolicy.PurposeSurvey, "+79141234567")); err != nil {
		t.Fatalf("next day: %v", err)
	}
	var rows int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM dial_ledger`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	// Rows older than the per-number window (24 h back from 12:01 today)
	// are pruned; yesterday's 12:01, 12:02 and 12:04 and today's remain.
	if rows != 4 {
		t.Fatalf("%d ledger rows kept", rows)
	}
}
