package reporting

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// TestQueueLog checks the queue_log lines of each call shape by hand.
func TestQueueLog(t *testing.T) {
	t0 := time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC) // epoch 1710061200
	g := &gen{}
	var evs []eventlog.Event
	st := func(at time.Time, agent, from, to, reason string) {
		e := g.ev(at, eventlog.AgentState, "", "", agent, map[string]string{"from": from, "to": to})
		e.Reason = reason
		evs = append(evs, e)
	}
	st(t0, "a1", "logged-out", "available", "")
	// c1: answered after 12 s, 2 s ring, 100 s talk, caller hangs up.
	evs = append(evs, g.answered("c1", "+79001234567", "sales", t0, sec(12), "a1", sec(100), sec(5))...)
	// c2: a miss by a2, then abandoned after 40 s at position 3.
	j := g.ev(t0.Add(time.Minute), eventlog.QueueJoined, "c2", "sales", "", map[string]string{"position": "3"})
	evs = append(evs, j,
		g.ev(t0.Add(time.Minute+10*time.Second), eventlog.AgentRingNoAnswer, "c2", "sales", "a2", map[string]string{"ring_ms": "8000"}),
		g.ev(t0.Add(time.Minute+40*time.Second), eventlog.QueueAbandoned, "c2", "sales", "", map[string]string{"wait_ms": "40000", "position": "2"}))
	// c3: overflows after 30 s, answered in backup, escalated to l2 (TRANSFER), answered there by agent hang-up.
	t3 := t0.Add(2 * time.Minute)
	evs = append(evs,
		g.ev(t3, eventlog.QueueJoined, "c3", "sales", "", nil),
		g.ev(t3.Add(30*time.Second), eventlog.QueueOverflowed, "c3", "sales", "", map[string]string{"wait_ms": "30000", "to_queue": "backup"}),
		g.ev(t3.Add(30*time.Second), eventlog.QueueJoined, "c3", "backup", "", nil),
		g.ev(t3.Add(35*time.Second), eventlog.QueueAnswered, "c3", "backup", "a1", map[string]string{"wait_ms": "5000"}),
		g.ev(t3.Add(95*time.Second), eventlog.CallEscalated, "c3", "backup", "a1", map[string]string{"to_queue": "l2"}),
		g.ev(t3.Add(95*time.Second), eventlog.CallCompleted, "c3", "backup", "a1", map[string]string{"talk_ms": "60000", "by": "transfer"}),
		g.ev(t3.Add(95*time.Second), eventlog.QueueJoined, "c3", "l2", "", map[string]string{"escalated_from": "backup"}),
		g.ev(t3.Add(100*time.Second), eventlog.QueueAnswered, "c3", "l2", "b1", map[string]string{"wait_ms": "5000"}),
		g.ev(t3.Add(160*time.Second), eventlog.CallCompleted, "c3", "l2", "b1", map[string]string{"talk_ms": "60000", "by": "agent"}),
		g.ev(t3.Add(160*time.Second), eventlog.CallEnded, "c3", "", "", nil))
	// c4: hangs up while waiting with no queue event (call.ended only).
	evs = append(evs, g.ev(t0.Add(5*time.Minute), eventlog.QueueJoined, "c4", "sales", "", nil),
		g.ev(t0.Add(5*time.Minute+3*time.Second), eventlog.CallEnded, "c4", "", "", nil))
	// c5: asks for a callback.
	evs = append(evs, g.ev(t0.Add(6*time.Minute), eventlog.QueueJoined, "c5", "sales", "", nil),
		g.ev(t0.Add(6*time.Minute+20*time.Second), eventlog.CallbackRequested, "c5", "sales", "", map[string]string{"wait_ms": "20000"}))
	st(t0.Add(7*time.Minute), "a1", "available", "paused", "lunch")
	st(t0.Add(8*time.Minute), "a1", "paused", "available", "")
	st(t0.Add(9*time.Minute), "a1", "available", "logged-out", "")
	SortEvents(evs)

	var buf bytes.Buffer
	l := NewQueueLog(&buf, QueueLogOptions{QueuesOf: func(string) []string { return []string{"sales", "backup"} }})
	for _, e := range evs {
		l.Write(e)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `1710061200|NONE|sales|Agent/a1|ADDMEMBER
1710061200|NONE|backup|Agent/a1|ADDMEMBER
1710061200|c1|sales|NONE|ENTERQUEUE||+79001234567
1710061212|c1|sales|Agent/a1|CONNECT|12|c1|2
1710061260|c2|sales|NONE|ENTERQUEUE||
1710061270|c2|sales|Agent/a2|RINGNOANSWER|8000
1710061300|c2|sales|NONE|ABANDON|2|3|40
1710061312|c1|sales|Agent/a1|COMPLETECALLER|12|100|1
1710061320|c3|sales|NONE|ENTERQUEUE||
1710061350|c3|sales|NONE|EXITWITHTIMEOUT|1|1|30
1710061350|c3|backup|NONE|ENTERQUEUE||
1710061355|c3|backup|Agent/a1|CONNECT|5|c3|0
1710061415|c3|backup|Agent/a1|TRANSFER|l2|hotline|5|60|1
1710061415|c3|l2|NONE|ENTERQUEUE||
1710061420|c3|l2|Agent/b1|CONNECT|5|c3|0
1710061480|c3|l2|Agent/b1|COMPLETEAGENT|5|60|1
1710061500|c4|sales|NONE|ENTERQUEUE||
1710061503|c4|sales|NONE|ABANDON|1|1|3
1710061560|c5|sales|NONE|ENTERQUEUE||
1710061580|c5|sales|NONE|EXITWITHKEY|*|1|1|20
1710061620|NONE|sales|Agent/a1|PAUSE|lunch
1710061620|NONE|backup|Agent/a1|PAUSE|lunch
1710061680|NONE|sales|Agent/a1|UNPAUSE|
1710061680|NONE|backup|Agent/a1|UNPAUSE|
1710061740|NONE|sales|Agent/a1|REMOVEMEMBER
1710061740|NONE|backup|Agent/a1|REMOVEMEMBER
`
	if got := buf.String(); got != want {
		t.Errorf("queue_log:\n%s\nwant:\n%s", got, want)
	}

	// Without QueuesOf, pauses are PAUSEALL/UNPAUSEALL on queue NONE.
	buf.Reset()
	l = NewQueueLog(&buf, QueueLogOptions{AgentPrefix: "SIP/"})
	l.Write(g.ev(t0, eventlog.AgentState, "", "", "a9", map[string]string{"from": "available", "to": "paused"}))
	l.Write(g.ev(t0, eventlog.AgentState, "", "", "a9", map[string]string{"from": "paused", "to": "logged-out"}))
	l.Flush()
	if got, want := buf.String(), "1710061200|NONE|NONE|SIP/a9|PAUSEALL|\n1710061200|NONE|NONE|SIP/a9|UNPAUSEALL|\n1710061200|NONE|NONE|SIP/a9|REMOVEMEMBER\n"; got != want {
		t.Errorf("without QueuesOf:\n%s\nwant:\n%s", got, want)
	}
}

// TestExportQueueLog streams the same lines from the database.
func TestExportQueueLog(t *testing.T) {
	s, start := apiStore(t)
	ctx := context.Background()
	from, to := start.Add(-time.Hour), start.Add(48*time.Hour)
	evs, err := s.Events(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	l := NewQueueLog(&want, QueueLogOptions{})
	for _, e := range evs {
		l.Write(e)
	}
	l.Flush()
	var got bytes.Buffer
	if err := s.ExportQueueLog(ctx, &got, from, to, QueueLogOptions{}); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() || got.Len() == 0 {
		t.Fatalf("export differs from the in-memory conversion (%d vs %d bytes)", got.Len(), want.Len())
	}
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(got.String()), "\n") {
		f := strings.Split(line, "|")
		if len(f) < 5 {
			t.Fatalf("short line %q", line)
		}
		counts[f[4]]++
	}
	// Every ENTERQUEUE has exactly one exit (CONNECT, ABANDON, EXITWITH*).
	exits := counts["CONNECT"] + counts["ABANDON"] + counts["EXITWITHTIMEOUT"] + counts["EXITWITHKEY"]
	if counts["ENTERQUEUE"] == 0 || counts["ENTERQUEUE"] != exits {
		t.Errorf("ENTERQUEUE %d, exits %d: %v", counts["ENTERQUEUE"], exits, counts)
	}
	if counts["CONNECT"] != counts["COMPLETECALLER"]+counts["COMPLETEAGENT"]+counts["TRANSFER"] {
		t.Errorf("CONNECT %d vs completions: %v", counts["CONNECT"], counts)
	}
}

// TestQueueLogOneTerminalLinePerVisit is a property test: for each shape
// of queue visit, every order of the events logged at the same moment
// (the queue's outcome, the caller's hang-up, the next join, the talk
// time) gives exactly one ENTERQUEUE and one terminal line (ABANDON,
// EXITWITHTIMEOUT, EXITWITHKEY, COMPLETECALLER, COMPLETEAGENT, TRANSFER)
// per visit, and the answered visit's COMPLETE line keeps its holdtime.
// All permutations are tried (at most 4! per group).
func TestQueueLogOneTerminalLinePerVisit(t *testing.T) {
	t0 := time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)
	type shape struct {
		name   string
		before []eventlog.Event   // in order
		groups [][]eventlog.Event // each group shuffled, groups in order
		visits map[string]int     // queue → visits
		lines  []string           // line endings the output must contain
	}
	g := &gen{}
	at := func(s float64) time.Time { return t0.Add(sec(s)) }
	ev := func(s float64, typ eventlog.Type, q, agent string, data map[string]string) eventlog.Event {
		return g.ev(at(s), typ, "c", q, agent, data)
	}
	shapes := []shape{
		{name: "abandoned",
			before: []eventlog.Event{ev(0, eventlog.CallArrived, "", "", nil), ev(0, eventlog.QueueJoined, "sales", "", nil)},
			groups: [][]eventlog.Event{{ev(40, eventlog.QueueAbandoned, "sales", "", map[string]string{"wait_ms": "40000"}),
				ev(40, eventlog.CallEnded, "", "", nil), ev(40, eventlog.SurveySkipped, "", "", nil)}},
			visits: map[string]int{"sales": 1}, lines: []string{"|ABANDON|1|1|40"}},
		{name: "timeout",
			before: []eventlog.Event{ev(0, eventlog.QueueJoined, "sales", "", nil)},
			groups: [][]eventlog.Event{{ev(300, eventlog.QueueTimeout, "sales", "", map[string]string{"wait_ms": "300000"}),
				ev(300, eventlog.CallEnded, "", "", nil)}},
			visits: map[string]int{"sales": 1}},
		{name: "callback",
			before: []eventlog.Event{ev(0, eventlog.QueueJoined, "sales", "", nil)},
			groups: [][]eventlog.Event{{ev(20, eventlog.CallbackRequested, "sales", "", map[string]string{"wait_ms": "20000"}),
				ev(20, eventlog.CallEnded, "", "", nil)}},
			visits: map[string]int{"sales": 1}},
		{name: "answered",
			before: []eventlog.Event{ev(0, eventlog.QueueJoined, "sales", "", nil),
				ev(12, eventlog.QueueAnswered, "sales", "a1", map[string]string{"wait_ms": "12000"})},
			groups: [][]eventlog.Event{{ev(112, eventlog.CallCompleted, "sales", "a1", map[string]string{"talk_ms": "100000", "by": "caller"}),
				ev(112, eventlog.CallEnded, "", "", nil), ev(112, eventlog.WrapupEnded, "sales", "a1", map[string]string{"wrapup_ms": "0"})}},
			visits: map[string]int{"sales": 1}, lines: []string{"|COMPLETECALLER|12|100|1"}},
		{name: "overflowed, then abandoned",
			before: []eventlog.Event{ev(0, eventlog.QueueJoined, "sales", "", nil)},
			groups: [][]eventlog.Event{
				{ev(30, eventlog.QueueOverflowed, "sales", "", map[string]string{"wait_ms": "30000", "to_queue": "backup"}),
					ev(30, eventlog.QueueJoined, "backup", "", nil)},
				{ev(50, eventlog.QueueAbandoned, "backup", "", map[string]string{"wait_ms": "20000"}), ev(50, eventlog.CallEnded, "", "", nil)}},
			visits: map[string]int{"sales": 1, "backup": 1},
			lines:  []string{"|sales|NONE|EXITWITHTIMEOUT|1|1|30", "|backup|NONE|ABANDON|1|1|20"}},
		{name: "escalated",
			before: []eventlog.Event{ev(0, eventlog.QueueJoined, "l1", "", nil),
				ev(5, eventlog.QueueAnswered, "l1", "a1", map[string]string{"wait_ms": "5000"})},
			groups: [][]eventlog.Event{
				{ev(65, eventlog.CallEscalated, "l1", "a1", map[string]string{"to_queue": "l2"}),
					ev(65, eventlog.CallCompleted, "l1", "a1", map[string]string{"talk_ms": "60000", "by": "transfer"}),
					ev(65, eventlog.QueueJoined, "l2", "", map[string]string{"escalated_from": "l1"})},
				{ev(70, eventlog.QueueAbandoned, "l2", "", map[string]string{"wait_ms": "5000"}), ev(70, eventlog.CallEnded, "", "", nil)}},
			// The TRANSFER's target is empty when its call.completed
			// comes before both the escalation and the join.
			visits: map[string]int{"l1": 1, "l2": 1}, lines: []string{"|hotline|5|60|1", "|l2|NONE|ABANDON|1|1|5"}},
	}
	terminal := map[string]bool{"ABANDON": true, "EXITWITHTIMEOUT": true, "EXITWITHKEY": true,
		"COMPLETECALLER": true, "COMPLETEAGENT": true, "TRANSFER": true}
	for _, sh := range shapes {
		orders := [][]eventlog.Event{nil}
		for _, grp := range sh.groups {
			var next [][]eventlog.Event
			for _, o := range orders {
				for _, p := range permutations(grp) {
					next = append(next, append(append([]eventlog.Event(nil), o...), p...))
				}
			}
			orders = next
		}
		for _, o := range orders {
			var buf bytes.Buffer
			l := NewQueueLog(&buf, QueueLogOptions{})
			names := []string{}
			for _, e := range append(append([]eventlog.Event(nil), sh.before...), o...) {
				l.Write(e)
				names = append(names, string(e.Type))
			}
			l.Flush()
			enter, term := map[string]int{}, map[string]int{}
			for _, ln := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				f := strings.Split(ln, "|")
				switch {
				case f[4] == "ENTERQUEUE":
					enter[f[2]]++
				case terminal[f[4]]:
					term[f[2]]++
				}
			}
			for q, n := range sh.visits {
				if enter[q] != n || term[q] != n {
					t.Errorf("%s, order %v: queue %s has %d ENTERQUEUE and %d terminal lines, want %d:\n%s", sh.name, names, q, enter[q], term[q], n, buf.String())
				}
			}
			if len(term) != len(sh.visits) {
				t.Errorf("%s, order %v: terminal lines in queues %v:\n%s", sh.name, names, term, buf.String())
			}
			for _, w := range sh.lines {
				if !strings.Contains(buf.String(), w+"\n") {
					t.Errorf("%s, order %v: no line ending %q:\n%s", sh.name, names, w, buf.String())
				}
			}
		}
	}
}

// permutations returns every order of evs.
func permutations(evs []eventlog.Event) [][]eventlog.Event {
	if len(evs) <= 1 {
		return [][]eventlog.Event{append([]eventlog.Event(nil), evs...)}
	}
	var out [][]eventlog.Event
	for i := range evs {
		rest := append(append([]eventlog.Event(nil), evs[:i]...), evs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]eventlog.Event{evs[i]}, p...))
		}
	}
	return out
}
