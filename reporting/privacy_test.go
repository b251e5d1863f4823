package reporting

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/jackc/tern/v2/migrate"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
)

func TestIsRef(t *testing.T) {
	for s, want := range map[string]bool{
		newRef(): true, "p-0123456789abcdef": true, "p-0123456789ABCDEF": false, "p-0123": false,
		"+79123456789": false, "anonymous": false, "": false, "x-0123456789abcdef": false,
	} {
		if IsRef(s) != want {
			t.Errorf("IsRef(%q) = %v", s, !want)
		}
	}
	if a, b := newRef(), newRef(); a == b {
		t.Errorf("two refs equal: %s", a)
	}
}

// stored returns the stored caller and data of one event.
func storedEvent(t *testing.T, s *Store, id string) eventlog.Event {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT `+eventCols+` FROM events WHERE id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := scanEvents(rows)
	if err != nil || len(evs) != 1 {
		t.Fatalf("event %s: %v %v", id, evs, err)
	}
	return evs[0]
}

func personalValue(t *testing.T, s *Store, ref string) (string, bool) {
	t.Helper()
	v, ok, err := s.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return v, ok
}

// TestInsertEventsPseudonymizes: the log holds refs, personal_data the
// values; the same number keeps its ref across batches, another number
// gets another; the caller's events are not modified.
func TestInsertEventsPseudonymizes(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	s := newStore(t, nil)
	g := &gen{}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	a := g.answered("c1", "+79161234567", "sales", t0, 5*time.Second, "a1", time.Minute, 0)
	collect := g.ev(t0, eventlog.IVRCollect, "c1", "", "", nil).WithString(eventlog.KeyVar, "contract").WithString(eventlog.KeyValue, "4455667788")
	disp := g.ev(t0.Add(2*time.Minute), eventlog.CallDisposition, "c1", "sales", "a1", nil).WithString(eventlog.KeyNotes, "asked about contract 4455667788")
	disp.Reason = "resolved"
	batch1 := append(append(a, collect), disp)
	if err := s.InsertEvents(ctx, batch1); err != nil {
		t.Fatal(err)
	}
	if batch1[0].Caller != "+79161234567" || collect.String(eventlog.KeyValue) != "4455667788" || disp.String(eventlog.KeyNotes) == "" {
		t.Fatal("InsertEvents modified the events it was given")
	}
	arr := storedEvent(t, s, a[0].ID)
	if !IsRef(arr.Caller) {
		t.Fatalf("stored caller = %q, want a ref", arr.Caller)
	}
	if v, ok := personalValue(t, s, arr.Caller); !ok || v != "+79161234567" {
		t.Errorf("caller ref resolves to %q %v", v, ok)
	}
	col := storedEvent(t, s, collect.ID)
	if r := col.String(eventlog.KeyValue); !IsRef(r) || r == arr.Caller {
		t.Errorf("stored collected value = %q", r)
	} else if v, _ := personalValue(t, s, r); v != "4455667788" {
		t.Errorf("collected ref resolves to %q", v)
	}
	if col.String(eventlog.KeyVar) != "contract" {
		t.Errorf("other keys changed: %v", col.Data)
	}
	if r := storedEvent(t, s, disp.ID).String(eventlog.KeyNotes); !IsRef(r) {
		t.Errorf("stored notes = %q", r)
	} else if v, _ := personalValue(t, s, r); v != "asked about contract 4455667788" {
		t.Errorf("notes ref resolves to %q", v)
	}
	// Later batches: the same number in another form, another number, an
	// anonymous caller; a replayed event is not stored twice.
	b := g.answered("c2", "89161234567", "sales", t0.Add(time.Hour), time.Second, "a1", time.Minute, 0)
	c := g.answered("c3", "+79990001122", "sales", t0.Add(time.Hour), time.Second, "a2", time.Minute, 0)
	d := g.answered("c4", "anonymous", "sales", t0.Add(time.Hour), time.Second, "a2", time.Minute, 0)
	if err := s.InsertEvents(ctx, append(append(append(b, c...), d...), collect)); err != nil {
		t.Fatal(err)
	}
	if got := storedEvent(t, s, b[0].ID).Caller; got != arr.Caller {
		t.Errorf("same number, another batch: ref %q, want %q", got, arr.Caller)
	}
	if got := storedEvent(t, s, c[0].ID).Caller; !IsRef(got) || got == arr.Caller {
		t.Errorf("another number: ref %q", got)
	}
	if got := storedEvent(t, s, d[0].ID).Caller; got != "anonymous" {
		t.Errorf("anonymous stored as %q", got)
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM personal_data`).Scan(&n); err != nil || n != 4 {
		t.Errorf("personal_data rows = %d (%v), want 4 (2 numbers, digits, notes)", n, err)
	}
	// Call records and the caller history match refs.
	if _, err := s.Project(ctx); err != nil {
		t.Fatal(err)
	}
	var caller, norm string
	if err := s.pool.QueryRow(ctx, `SELECT caller, caller_norm FROM calls WHERE call_id = 'c2'`).Scan(&caller, &norm); err != nil {
		t.Fatal(err)
	}
	if caller != arr.Caller || norm != arr.Caller {
		t.Errorf("calls row: caller %q, caller_norm %q, want the ref %q", caller, norm, arr.Caller)
	}
	h, err := s.CallerHistory(ctx, "9161234567", t0.Add(-time.Hour))
	if err != nil || h.Calls != 2 {
		t.Errorf("history = %+v, %v; want 2 calls", h, err)
	}
}

// TestRetention: PurgeExpired deletes what is past its period at the
// given instant, and nothing else.
func TestRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	s := newStore(t, nil)
	g := &gen{}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	var evs []eventlog.Event
	call := func(id, number string, at time.Time, digits, notes string) {
		evs = append(evs, g.answered(id, number, "sales", at, time.Second, "a1", time.Minute, 0)...)
		evs = append(evs, g.ev(at, eventlog.IVRCollect, id, "", "", nil).WithString(eventlog.KeyValue, digits))
		evs = append(evs, g.ev(at.Add(2*time.Minute), eventlog.CallDisposition, id, "sales", "a1", nil).WithString(eventlog.KeyNotes, notes))
	}
	// Old: last called 400 days ago. Regular: 400 days ago and 10 days ago.
	// Recent: 100 days ago (digits past 90 days, notes and number kept).
	call("old", "+79160000001", now.Add(-400*day), "111", "old notes")
	call("reg1", "+79160000002", now.Add(-400*day), "222", "regular, long ago")
	call("reg2", "+79160000002", now.Add(-10*day), "333", "regular, lately")
	call("recent", "+79160000003", now.Add(-100*day), "444", "recent notes")
	if err := s.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Project(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := s.QueueReport(ctx, now.Add(-500*day), now)
	if err != nil {
		t.Fatal(err)
	}
	r := Retention{CallerNumbers: 365 * day, Collected: 90 * day, Notes: 365 * day}
	p, err := s.PurgeExpired(ctx, now, r)
	if err != nil {
		t.Fatal(err)
	}
	if p.Callers != 1 || p.Collected != 3 || p.Notes != 2 {
		t.Errorf("purged %+v, want 1 caller, 3 collected, 2 notes", p)
	}
	var left []string
	rows, _ := s.pool.Query(ctx, `SELECT kind || ':' || value FROM personal_data ORDER BY kind, value`)
	for rows.Next() {
		var v string
		_ = rows.Scan(&v)
		left = append(left, v)
	}
	rows.Close()
	want := "caller:+79160000002 caller:+79160000003 collected:333 notes:recent notes notes:regular, lately"
	if got := strings.Join(left, " "); got != want {
		t.Errorf("kept:\n %s\nwant:\n %s", got, want)
	}
	// Again: nothing more; the figures are the same.
	if p, err := s.PurgeExpired(ctx, now, r); err != nil || p != (Purged{}) {
		t.Errorf("second purge: %+v %v", p, err)
	}
	if err := s.RebuildRollups(ctx, now.Add(-500*day), now); err != nil {
		t.Fatal(err)
	}
	after, err := s.QueueReport(ctx, now.Add(-500*day), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 || !equalJSON(t, before, after) {
		t.Errorf("queue report changed: %+v → %+v", before, after)
	}
}

// TestQueueLogAfterErasure: the export shows a number while its mapping
// lives and "anonymous" after it is erased.
func TestQueueLogAfterErasure(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	s := newStore(t, nil)
	g := &gen{}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	evs := g.answered("c1", "+79161234567", "sales", t0, 5*time.Second, "a1", time.Minute, 0)
	evs[1].Caller = "+79161234567" // queue.joined carries the caller too
	evs = append(evs, g.answered("c2", "+79990001122", "sales", t0, 5*time.Second, "a2", time.Minute, 0)...)
	if err := s.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	export := func() string {
		var b bytes.Buffer
		if err := s.ExportQueueLog(ctx, &b, t0.Add(-time.Hour), t0.Add(time.Hour), QueueLogOptions{}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	before := export()
	if !strings.Contains(before, "|ENTERQUEUE||+79161234567\n") || !strings.Contains(before, "|ENTERQUEUE||+79990001122\n") {
		t.Fatalf("export before erasure:\n%s", before)
	}
	if e, err := s.EraseNumber(ctx, "8 916 123-45-67"); err != nil || e.Rows != 1 {
		t.Fatalf("erase: %+v %v", e, err)
	}
	after := export()
	if strings.Contains(after, "9161234567") || !strings.Contains(after, "c1|sales|NONE|ENTERQUEUE||anonymous\n") ||
		!strings.Contains(after, "|ENTERQUEUE||+79990001122\n") {
		t.Errorf("export after erasure:\n%s", after)
	}
	if strings.Count(after, "\n") != strings.Count(before, "\n") {
		t.Errorf("lines changed")
	}
	if _, err := s.EraseNumber(ctx, "anonymous"); err == nil {
		t.Error("erasing a non-number: no error")
	}
}

// TestMigrateLegacy: a database written by an older hotline (numbers,
// digits and notes in events and calls) keeps none after Migrate, and its
// figures stay.
func TestMigrateLegacy(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	db := pgtest.New(t)
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewMigrator(ctx, conn.Conn(), VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(migrationFS, "migrations")
	if err := m.LoadMigrations(sub); err != nil {
		t.Fatal(err)
	}
	if err := m.MigrateTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	// The old write path: events as they came.
	g := &gen{}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	evs := g.answered("c1", "+79161234567", "sales", t0, 5*time.Second, "a1", time.Minute, 0)
	evs = append(evs, g.answered("c2", "89161234567", "sales", t0.Add(time.Hour), 5*time.Second, "a1", time.Minute, 0)...)
	evs = append(evs, g.ev(t0, eventlog.IVRCollect, "c1", "", "", nil).WithString(eventlog.KeyValue, "4455667788"))
	evs = append(evs, g.ev(t0.Add(3*time.Minute), eventlog.CallDisposition, "c1", "sales", "a1", nil).WithString(eventlog.KeyNotes, "legacy notes"))
	for _, e := range evs {
		var data any
		if len(e.Data) > 0 {
			data = e.Data
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO events (id, at, type, call_id, queue, agent, caller, reason, data) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
			e.ID, e.At, string(e.Type), e.CallID, e.Queue, e.Agent, e.Caller, e.Reason, data); err != nil {
			t.Fatal(err)
		}
	}
	old := NewStore(db.Pool, nil, nil)
	if _, err := old.Project(ctx); err != nil {
		t.Fatal(err)
	}
	fcr0, err := old.FCRReport(ctx, t0.Add(-time.Hour), t0.Add(24*time.Hour), t0.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	migrated(t, db.Pool)
	migrated(t, db.Pool) // once
	for _, q := range []string{
		`SELECT count(*) FROM events WHERE caller LIKE '%9161234567%' OR data::text LIKE '%4455667788%' OR data::text LIKE '%legacy%'`,
		`SELECT count(*) FROM calls WHERE caller LIKE '%9161234567%' OR caller_norm LIKE '%9161234567%'`,
	} {
		var n int
		if err := db.Pool.QueryRow(ctx, q).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d (%v)", q, n, err)
		}
	}
	var refs int
	if err := db.Pool.QueryRow(ctx, `SELECT count(DISTINCT caller_norm) FROM calls WHERE caller_norm LIKE 'p-%'`).Scan(&refs); err != nil || refs != 1 {
		t.Errorf("calls refer to %d refs (%v), want 1", refs, err)
	}
	s := NewStore(db.Pool, nil, nil)
	if err := s.RebuildRollups(ctx, t0.Add(-time.Hour), t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	fcr1, err := s.FCRReport(ctx, t0.Add(-time.Hour), t0.Add(24*time.Hour), t0.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !equalJSON(t, fcr0, fcr1) {
		t.Errorf("FCR before %+v, after %+v", fcr0, fcr1)
	}
	if _, err := db.Pool.Exec(ctx, `DELETE FROM events`); err == nil {
		t.Error("events are not append-only after the migration")
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}
