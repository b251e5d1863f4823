package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/server"
	"github.com/hotline-cc/hotline/reporting"
)

// The number erased, the digits it typed and the notes on its calls.
const (
	eraseMe     = "+79161234567"
	eraseDigits = "4455667788"
	eraseNotes  = "Петров просил перезвонить по договору"
)

// privacyTraffic is a day of calls from 40 numbers plus four from eraseMe
// (in two forms): answered, abandoned, escalated, with collected digits,
// notes, dispositions and survey ratings.
func privacyTraffic(start time.Time) []eventlog.Event {
	r := rand.New(rand.NewPCG(11, 3))
	n := 0
	ev := func(at time.Time, typ eventlog.Type, call, q, agent string) eventlog.Event {
		n++
		return eventlog.Event{ID: fmt.Sprintf("e%06d", n), At: at.UTC(), Type: typ, CallID: call, Queue: q, Agent: agent}
	}
	var evs []eventlog.Event
	for _, a := range []string{"a1", "a2", "b1"} {
		evs = append(evs, ev(start, eventlog.AgentState, "", "", a).WithString(eventlog.KeyFrom, "logged_out").WithString(eventlog.KeyTo, "ready"))
	}
	for i := range 240 {
		id := fmt.Sprintf("call-%03d", i)
		caller := fmt.Sprintf("+7903%07d", r.IntN(40))
		digits, notes := fmt.Sprint(1000+r.IntN(9000)), fmt.Sprintf("заметка %d", i)
		if i%60 == 7 { // four calls of the number erased
			caller, digits, notes = eraseMe, eraseDigits, eraseNotes
			if i > 100 {
				caller = "89161234567"
			}
		}
		t := start.Add(time.Duration(r.Int64N(int64(10 * time.Hour))))
		wait := time.Duration(r.Int64N(40000)) * time.Millisecond
		q, agent := []string{"sales", "support"}[r.IntN(2)], []string{"a1", "a2"}[r.IntN(2)]
		arr := ev(t, eventlog.CallArrived, id, "", "").WithString(eventlog.KeyTo, "88001234567")
		arr.Caller = caller
		evs = append(evs, arr,
			ev(t, eventlog.IVRCollect, id, "", "").WithString(eventlog.KeyVar, "contract").WithString(eventlog.KeyValue, digits),
			ev(t, eventlog.QueueJoined, id, q, ""))
		if r.IntN(5) == 0 {
			evs = append(evs, ev(t.Add(wait), eventlog.QueueAbandoned, id, q, "").WithDuration(eventlog.KeyWait, wait),
				ev(t.Add(wait), eventlog.CallEnded, id, "", ""))
			continue
		}
		ans := t.Add(wait)
		evs = append(evs, ev(ans, eventlog.QueueAnswered, id, q, agent).WithDuration(eventlog.KeyWait, wait))
		end := ans.Add(time.Duration(30+r.IntN(200)) * time.Second)
		if r.IntN(4) == 0 {
			evs = append(evs,
				ev(end, eventlog.CallEscalated, id, q, agent).WithString(eventlog.KeyToQueue, "l2").WithString(eventlog.KeyNotes, notes),
				ev(end, eventlog.CallCompleted, id, q, agent).WithDuration(eventlog.KeyTalk, end.Sub(ans)),
				ev(end, eventlog.QueueJoined, id, "l2", "").WithString(eventlog.KeyEscalatedFrom, q),
				ev(end.Add(20*time.Second), eventlog.QueueAnswered, id, "l2", "b1").WithDuration(eventlog.KeyWait, 20*time.Second))
			end = end.Add(3 * time.Minute)
			agent, q = "b1", "l2"
		}
		d := ev(end, eventlog.CallDisposition, id, q, agent).WithString(eventlog.KeyNotes, notes)
		d.Reason = []string{"resolved", "not_resolved"}[r.IntN(2)]
		evs = append(evs, ev(end, eventlog.CallCompleted, id, q, agent).WithDuration(eventlog.KeyTalk, time.Minute), d,
			ev(end, eventlog.CallEnded, id, "", ""))
		if r.IntN(2) == 0 {
			evs = append(evs, ev(end.Add(20*time.Hour), eventlog.SurveyCompleted, id, "", "").
				WithInt(eventlog.KeyRating, 1+r.IntN(5)).WithString(eventlog.KeySolved, "yes"))
		}
	}
	reporting.SortEvents(evs)
	return evs
}

type figures struct {
	Queues               []reporting.QueueFigures
	Agents, Teams        []reporting.AgentFigures
	FCR                  []reporting.FCRFigures
	CSILine, CSIAgent    []reporting.CSIFigures
	Escalations          reporting.EscalationFigures
	CallerHistoryOfOther reporting.CallerHistory
}

func takeFigures(t *testing.T, s *reporting.Store, from, to time.Time) string {
	t.Helper()
	ctx := context.Background()
	var f figures
	var err error
	if f.Queues, err = s.QueueReport(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	if f.Agents, f.Teams, err = s.AgentReport(ctx, from, to, to); err != nil {
		t.Fatal(err)
	}
	if f.FCR, err = s.FCRReport(ctx, from, to, to.Add(30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if f.CSILine, err = s.CSIReport(ctx, from, to, reporting.ByLine); err != nil {
		t.Fatal(err)
	}
	if f.CSIAgent, err = s.CSIReport(ctx, from, to, reporting.ByAgent); err != nil {
		t.Fatal(err)
	}
	if f.Escalations, err = s.EscalationReport(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	if f.CallerHistoryOfOther, err = s.CallerHistory(ctx, "+79030000001", from); err != nil {
		t.Fatal(err)
	}
	if len(f.Queues) == 0 || len(f.FCR) == 0 || f.Escalations.Escalated == 0 || len(f.CSILine) == 0 {
		t.Fatalf("too few figures to compare: %+v", f)
	}
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// forms are the ways the erased number, its digits and notes could be
// written anywhere.
var forms = []string{"9161234567", "916 123", "916) 123", "916-123", eraseDigits, eraseNotes, "Петров"}

// scanDatabase returns "table.column: form" for every text, varchar,
// json(b) or array column of every table holding one of forms.
func scanDatabase(t *testing.T, conn interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}) (found []string, columns int) {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c
		JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
		AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'bytea')`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ schema, table, column string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.schema, &c.table, &c.column); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	for _, c := range cols {
		for _, f := range forms {
			var n int
			q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE position($1 in %s::text) > 0`,
				pgx.Identifier{c.schema, c.table}.Sanitize(), pgx.Identifier{c.column}.Sanitize())
			if err := conn.QueryRow(ctx, q, f).Scan(&n); err != nil {
				t.Fatalf("%s.%s: %v", c.table, c.column, err)
			}
			if n > 0 {
				found = append(found, fmt.Sprintf("%s.%s: %q", c.table, c.column, f))
			}
		}
	}
	return found, len(cols)
}

func scanSpool(t *testing.T, dir string) (found []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, f := range forms {
			if bytes.Contains(data, []byte(f)) {
				found = append(found, fmt.Sprintf("%s: %q", filepath.Base(p), f))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// failingSink is a database that is down.
type failingSink struct{}

func (failingSink) InsertEvents(context.Context, []eventlog.Event) error {
	return fmt.Errorf("database down")
}

// TestPrivacyErase is the test: a day of traffic with several
// calls from one number (digits collected, notes written, surveyed, one
// call still in the spool); erase the number; rebuild the rollups and
// re-project: the same figures, and the number in no form in any table
// or spool file.
func TestPrivacyErase(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	db := pgtest.New(t)
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	cfgPath := filepath.Join(dir, "hotline.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
sip:
  trunks: [{name: provider, allow: ["127.0.0.2"]}]
  numbers: {"*": support}
media: {prompts: {ru: [%[3]s], en: [%[3]s]}, moh: {default: %[3]s}}
database: {url: %[1]q, spool_dir: %[2]q}
agents: [{id: a1, password: pw}]
queues: [{name: support}]
`, db.DSN, spoolDir, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Migrate(ctx, db.DSN); err != nil {
		t.Fatal(err)
	}
	store := reporting.NewStore(db.Pool, server.ReportingConfig(cfg), nil)
	start := time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)
	evs := privacyTraffic(start)
	for i := 0; i < len(evs); i += 500 {
		if err := store.InsertEvents(ctx, evs[i:min(i+500, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Project(ctx); err != nil {
		t.Fatal(err)
	}
	// The survey bot's rows: one surveyed call of the number with notes,
	// and its opt-out.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO survey (call_id, number, state, call_at, ended_at, notes, rating) VALUES
		('call-007', $1, 'completed', $2, $2, $3, 4), ('call-008', '+79030000001', 'completed', $2, $2, 'другое', 5)`,
		eraseMe, start, eraseNotes); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO survey_optout (number_hash, at, call_id) VALUES (survey_number_hash($1), now(), 'call-007')`, eraseMe); err != nil {
		t.Fatal(err)
	}
	// A later call of the number while the database was down: in the spool.
	if err := os.MkdirAll(spoolDir, 0o750); err != nil {
		t.Fatal(err)
	}
	w, err := reporting.NewWriter(failingSink{}, reporting.WriterOptions{JournalPath: server.JournalPath(cfg), Buffer: 2, Batch: 1,
		FlushEvery: 10 * time.Millisecond, RetryEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	late := start.Add(30 * time.Hour)
	arr := eventlog.Event{ID: "z1", At: late, Type: eventlog.CallArrived, CallID: "late", Caller: eraseMe}
	w.Publish(arr)
	w.Publish(eventlog.Event{ID: "z2", At: late, Type: eventlog.IVRCollect, CallID: "late"}.WithString(eventlog.KeyValue, eraseDigits))
	w.Publish(eventlog.Event{ID: "z3", At: late, Type: eventlog.CallDisposition, CallID: "call-007"}.WithString(eventlog.KeyNotes, eraseNotes))
	w.Publish(eventlog.Event{ID: "z4", At: late, Type: eventlog.CallArrived, CallID: "late2", Caller: "+79030000002"})
	deadline := time.Now().Add(time.Minute)
	for w.Stats().SpoolEvents < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}

	from, to := start.Add(-time.Hour), start.Add(48*time.Hour)
	before := takeFigures(t, store, from, to)
	// The number is there before (so the scans below can find it).
	if found, _ := scanDatabase(t, db.Pool); len(found) < 3 {
		t.Fatalf("before erasure the number is only in %v", found)
	}
	if found := scanSpool(t, spoolDir); len(found) < 3 {
		t.Fatalf("before erasure the spool holds %v", found)
	}

	var stdout, stderr bytes.Buffer
	if rc := runPrivacy([]string{"erase", "-config", cfgPath, "8 (916) 123-45-67"}, &stdout, &stderr); rc != 0 {
		t.Fatalf("privacy erase: exit %d: %s", rc, stderr.String())
	}
	var e server.Erasure
	if err := json.Unmarshal(stdout.Bytes(), &e); err != nil || e.PersonalData < 9 || e.Surveys != 1 || e.SpoolEvents != 3 {
		t.Errorf("erasure %+v (%v) from %s", e, err, stdout.String())
	}

	if err := store.RebuildRollups(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Project(ctx); err != nil {
		t.Fatal(err)
	}
	if after := takeFigures(t, store, from, to); after != before {
		t.Errorf("figures changed by the erasure:\nbefore %s\nafter  %s", before, after)
	}
	found, cols := scanDatabase(t, db.Pool)
	if cols < 20 {
		t.Fatalf("scanned only %d columns", cols)
	}
	if len(found) > 0 {
		t.Errorf("after erasure the number, its digits or notes are still in %v", found)
	}
	if found := scanSpool(t, spoolDir); len(found) > 0 {
		t.Errorf("after erasure the spool still holds %v", found)
	}
	// The opt-out still holds; the other caller is untouched.
	var opted bool
	if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM survey_optout WHERE number_hash = survey_number_hash($1))`, eraseMe).Scan(&opted); err != nil || !opted {
		t.Errorf("opt-out lost: %v %v", opted, err)
	}
	var other int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM personal_data WHERE value = '+79030000001'`).Scan(&other); err != nil || other != 1 {
		t.Errorf("another caller's mapping: %d %v", other, err)
	}
	if h, err := store.CallerHistory(ctx, eraseMe, from); err != nil || h.Calls != 0 {
		t.Errorf("history of the erased number: %+v %v", h, err)
	}
	// The queue_log export shows the erased caller as anonymous.
	var ql bytes.Buffer
	if err := store.ExportQueueLog(ctx, &ql, from, to, reporting.QueueLogOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ql.String(), "call-007|") || !strings.Contains(ql.String(), "|anonymous\n") || strings.Contains(ql.String(), "9161234567") {
		t.Errorf("queue_log after erasure:\n%.2000s", ql.String())
	}
	// Erasing twice finds nothing more; purging with the defaults at the
	// traffic's time keeps the rest.
	stdout.Reset()
	if rc := runPrivacy([]string{"erase", "-config", cfgPath, eraseMe}, &stdout, &stderr); rc != 0 {
		t.Fatalf("second erase: exit %d: %s", rc, stderr.String())
	}
	if rc := runPrivacy([]string{"purge", "-config", cfgPath}, &stdout, &stderr); rc != 0 {
		t.Fatalf("purge: exit %d: %s", rc, stderr.String())
	}
	for _, args := range [][]string{{"erase", "-config", cfgPath}, {"erase", eraseMe}, {"wipe"}, {}} {
		if rc := runPrivacy(args, &stdout, &stderr); rc != 2 {
			t.Errorf("privacy %v: exit %d, want 2", args, rc)
		}
	}
}
