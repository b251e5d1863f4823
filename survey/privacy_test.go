package survey

import (
	"context"
	"testing"
	"time"
)

// TestErasePurgeOptOut: erasure blanks a number and its notes and cancels
// its pending survey; the retention purge blanks finished surveys past
// their periods only; the opt-out list holds a hash that still matches.
func TestErasePurgeOptOut(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	db := startDB(t)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ins := func(call, number, state string, ended time.Time) {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO survey (call_id, number, state, call_at, ended_at, notes) VALUES ($1, $2, $3, $4, $4, 'notes of '||$1)`,
			call, number, state, ended); err != nil {
			t.Fatal(err)
		}
	}
	ins("e1", "+79161234567", "completed", now.Add(-2*day))
	ins("e2", "+79161234567", "scheduled", now.Add(-time.Hour))
	ins("old", "+79160000001", "completed", now.Add(-400*day))
	ins("oldpending", "+79160000002", "retry", now.Add(-400*day))
	ins("mid", "+79160000003", "failed", now.Add(-100*day))
	if _, err := db.Pool.Exec(ctx, `INSERT INTO survey_optout (number_hash, at) VALUES (survey_number_hash('+79161234567'), now())`); err != nil {
		t.Fatal(err)
	}
	n, err := EraseNumber(ctx, db.Pool, "8 (916) 123-45-67", "RU")
	if err != nil || n != 2 {
		t.Fatalf("erase: %d %v", n, err)
	}
	var left int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM survey WHERE number LIKE '%9161234567%' OR notes <> '' AND call_id LIKE 'e%'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("after erasure %d rows keep the number or notes (%v)", left, err)
	}
	var state, reason string
	if err := db.Pool.QueryRow(ctx, `SELECT state, reason FROM survey WHERE call_id = 'e2'`).Scan(&state, &reason); err != nil || state != "cancelled" || reason != Erased {
		t.Errorf("pending survey: %s %s %v", state, reason, err)
	}
	var opted bool
	if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM survey_optout WHERE number_hash = survey_number_hash('+79161234567'))`).Scan(&opted); err != nil || !opted {
		t.Errorf("opt-out lost after erasure: %v %v", opted, err)
	}
	if _, err := EraseNumber(ctx, db.Pool, "anonymous", "RU"); err == nil {
		t.Error("erasing anonymous: no error")
	}

	n, err = PurgeExpired(ctx, db.Pool, now, 365*day, 90*day)
	if err != nil || n != 4 { // old's number; old's, oldpending's and mid's notes
		t.Errorf("purged %d (%v), want 4 changes", n, err)
	}
	got := map[string][2]string{}
	rows, _ := db.Pool.Query(ctx, `SELECT call_id, number, notes FROM survey`)
	for rows.Next() {
		var c, num, notes string
		_ = rows.Scan(&c, &num, &notes)
		got[c] = [2]string{num, notes}
	}
	rows.Close()
	want := map[string][2]string{
		"e1": {"", ""}, "e2": {"", ""},
		"old":        {"", ""},             // finished, past both periods
		"oldpending": {"+79160000002", ""}, // still to be dialled: the number stays
		"mid":        {"+79160000003", ""}, // past the notes' period only
	}
	for c, w := range want {
		if got[c] != w {
			t.Errorf("%s: %q, want %q", c, got[c], w)
		}
	}
}
