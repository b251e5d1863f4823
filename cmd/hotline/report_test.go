package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/reporting"
)

// TestMain stops the shared PostgreSQL cluster of the report tests.
func TestMain(m *testing.M) { pgtest.Main(m) }

func TestReportBadArgs(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	for _, c := range []struct {
		name string
		run  func([]string, *bytes.Buffer, *bytes.Buffer) int
		args []string
		want string
	}{
		{"report by", reportRun, []string{"-by", "weather", "-db", "postgres://x/y"}, "-by"},
		{"report step", reportRun, []string{"-by", "interval", "-step", "7m", "-db", "postgres://x/y"}, "-step"},
		{"report from", reportRun, []string{"-from", "yesterday", "-db", "postgres://x/y"}, "-from"},
		{"report reversed", reportRun, []string{"-from", "2024-03-11", "-to", "2024-03-10", "-db", "postgres://x/y"}, "before"},
		{"report format", reportRun, []string{"-format", "xml", "-db", "postgres://x/y"}, "-format"},
		{"report csi-by", reportRun, []string{"-by", "csi", "-csi-by", "moon", "-db", "postgres://x/y"}, "-csi-by"},
		{"report no db", reportRun, []string{"-from", "2024-03-10"}, "no database"},
		{"report unknown flag", reportRun, []string{"-colour"}, "not defined"},
		{"report extra arg", reportRun, []string{"-db", "postgres://x/y", "queues"}, "unexpected"},
		{"export no format", exportRun, nil, "queue-log"},
		{"export wrong format", exportRun, []string{"cdr"}, "unknown format"},
		{"export no range", exportRun, []string{"queue-log", "-db", "postgres://x/y"}, "required"},
		{"rebuild no range", rebuildRun, []string{"-from", "2024-03-10", "-db", "postgres://x/y"}, "required"},
		{"rebuild bad to", rebuildRun, []string{"-from", "2024-03-10", "-to", "10/03", "-db", "postgres://x/y"}, "-to"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := c.run(c.args, &out, &errb); code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, errb.String())
			}
			if !strings.Contains(errb.String(), c.want) {
				t.Errorf("stderr %q lacks %q", errb.String(), c.want)
			}
		})
	}
}

func reportRun(a []string, o, e *bytes.Buffer) int  { return runReport(a, o, e) }
func exportRun(a []string, o, e *bytes.Buffer) int  { return runExport(a, o, e) }
func rebuildRun(a []string, o, e *bytes.Buffer) int { return runRebuildRollups(a, o, e) }

// TestReportCommands runs report, export and rebuild-rollups against a
// database holding three calls.
func TestReportCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	db := pgtest.New(t)
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := reporting.Migrate(ctx, conn.Conn()); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	store := reporting.NewStore(db.Pool, nil, nil)
	t0 := time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC) // 12:00 Moscow
	n := 0
	ev := func(at time.Time, typ eventlog.Type, call, q, agent string, data map[string]string) eventlog.Event {
		n++
		return eventlog.Event{ID: fmt.Sprintf("e%04d", n), At: at, Type: typ, CallID: call, Queue: q, Agent: agent, Data: data}
	}
	evs := []eventlog.Event{
		ev(t0, eventlog.AgentState, "", "", "a1", map[string]string{"from": "logged-out", "to": "available"}),
		ev(t0, eventlog.QueueJoined, "c1", "sales", "", nil),
		ev(t0.Add(10*time.Second), eventlog.QueueAnswered, "c1", "sales", "a1", map[string]string{"wait_ms": "10000"}),
		ev(t0.Add(70*time.Second), eventlog.CallCompleted, "c1", "sales", "a1", map[string]string{"talk_ms": "60000", "by": "caller"}),
		ev(t0.Add(70*time.Second), eventlog.CallEnded, "c1", "", "", nil),
		ev(t0.Add(time.Minute), eventlog.QueueJoined, "c2", "sales", "", nil),
		ev(t0.Add(time.Minute+30*time.Second), eventlog.QueueAbandoned, "c2", "sales", "", map[string]string{"wait_ms": "30000"}),
		ev(t0.Add(2*time.Minute), eventlog.QueueJoined, "c3", "support", "", nil),
		ev(t0.Add(2*time.Minute+25*time.Second), eventlog.QueueAnswered, "c3", "support", "a1", map[string]string{"wait_ms": "25000"}),
		ev(t0.Add(3*time.Minute), eventlog.CallCompleted, "c3", "support", "a1", map[string]string{"talk_ms": "35000", "by": "agent"}),
	}
	if err := store.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Project(ctx); err != nil {
		t.Fatal(err)
	}
	day := []string{"-from", "2024-03-10", "-to", "2024-03-10", "-db", db.DSN}

	run := func(f func([]string, *bytes.Buffer, *bytes.Buffer) int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := f(args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d, stderr %s", args, code, errb.String())
		}
		return out.String()
	}
	out := run(reportRun, append([]string{"-by", "queue"}, day...)...)
	if !strings.Contains(out, "queue report, 2024-03-10 00:00 MSK – 2024-03-11 00:00 MSK") {
		t.Errorf("heading missing:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[2], "queue ") || !strings.HasPrefix(lines[3], "sales ") || !strings.HasPrefix(lines[4], "support ") {
		t.Fatalf("queue table:\n%s", out)
	}
	// sales: offered 2, answered 1 within 20 s, abandoned 1 → SL answered 1.0, offered 0.5.
	if f := strings.Fields(lines[3]); f[1] != "2" || f[2] != "1" || f[3] != "1" || f[9] != "1.0000" || f[10] != "0.5000" {
		t.Errorf("sales row %q", lines[3])
	}
	out = run(reportRun, append([]string{"-by", "interval", "-step", "day", "-format", "csv"}, day...)...)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 3 || recs[1][0] != "2024-03-10T00:00:00+03:00" || recs[1][1] != "sales" {
		t.Errorf("interval CSV %v (%v):\n%s", recs, err, out)
	}
	out = run(reportRun, append([]string{"-by", "agent", "-format", "json"}, day...)...)
	if !strings.Contains(out, `"agent": "a1"`) || !strings.Contains(out, `"answered": 2`) {
		t.Errorf("agent JSON:\n%s", out)
	}
	for _, by := range []string{"team", "fcr", "csi", "escalations", "callbacks", "monitoring"} {
		run(reportRun, append([]string{"-by", by}, day...)...)
	}

	out = run(exportRun, append([]string{"queue-log"}, day...)...)
	want := `1710061200|NONE|NONE|Agent/a1|ADDMEMBER
1710061200|c1|sales|NONE|ENTERQUEUE||
1710061210|c1|sales|Agent/a1|CONNECT|10|c1|0
1710061260|c2|sales|NONE|ENTERQUEUE||
1710061270|c1|sales|Agent/a1|COMPLETECALLER|10|60|1
1710061290|c2|sales|NONE|ABANDON|1|1|30
1710061320|c3|support|NONE|ENTERQUEUE||
1710061345|c3|support|Agent/a1|CONNECT|25|c3|0
1710061380|c3|support|Agent/a1|COMPLETEAGENT|25|35|1
`
	if out != want {
		t.Errorf("queue-log:\n%s\nwant:\n%s", out, want)
	}

	out = run(rebuildRun, day...)
	if !strings.HasPrefix(out, "rollups rebuilt for 2024-03-10T00:00:00+03:00 – 2024-03-11T00:00:00+03:00") {
		t.Errorf("rebuild output %q", out)
	}
	// Unreachable database: exit 1.
	var o, e bytes.Buffer
	if code := runReport([]string{"-db", "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=2"}, &o, &e); code != 1 || strings.Contains(e.String(), "secret") {
		t.Errorf("unreachable DB: exit %d, stderr %q", code, e.String())
	}
}
