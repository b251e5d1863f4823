package reporting

import (
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

var t0 = time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)

func findQueue(t *testing.T, fs []QueueFigures, q string) QueueFigures {
	t.Helper()
	for _, f := range fs {
		if f.Queue == q {
			return f
		}
	}
	t.Fatalf("queue %q missing", q)
	return QueueFigures{}
}

// TestQueueFormulas checks every queue formula against a hand-computed case.
//
// Queue "sales", T = 20 s, S = 5 s:
//
//	c1 answered after 10 s (within T), talk 100 s, wrap-up 10 s
//	c2 answered after exactly 20 s (within T: wait <= T), talk 200, wrap 20
//	c3 answered after 30 s, talk 300, wrap 30
//	c4 abandoned after 3 s (short abandon, within T)
//	c5 abandoned after 15 s (within T, not short)
//	c6 abandoned after 40 s
//	c7 overflowed after 25 s to "backup", answered there after 5 s
//
// offered 7, answered 3, answered within T 2, abandoned 3 (1 short, 2 within T), overflowed 1.
//
//	SL answered = 2 / (3 + 1 overflowed)              = 2/4
//	SL offered  = 2 / (3 + (3 - 1) + 1)                = 2/6
//	SL removed  = (2 + 2) / (3 + 3 + 1)                = 4/7
//	ASA = (10 + 20 + 30) / 3 = 20 s; median 20 s; p90 = 20 + 0.8·10 = 28 s
//	AHT = (100+200+300 + 10+20+30) / 3 = 220 s
//	abandon rate = 3/7; without short abandons = 2/6; longest wait 40 s
func TestQueueFormulas(t *testing.T) {
	g := &gen{}
	var evs []eventlog.Event
	evs = append(evs, g.answered("c1", "+79000000001", "sales", t0, sec(10), "a1", sec(100), sec(10))...)
	evs = append(evs, g.answered("c2", "+79000000002", "sales", t0.Add(time.Minute), sec(20), "a1", sec(200), sec(20))...)
	evs = append(evs, g.answered("c3", "+79000000003", "sales", t0.Add(2*time.Minute), sec(30), "a2", sec(300), sec(30))...)
	evs = append(evs, g.abandoned("c4", "sales", t0.Add(3*time.Minute), sec(3))...)
	evs = append(evs, g.abandoned("c5", "sales", t0.Add(4*time.Minute), sec(15))...)
	evs = append(evs, g.abandoned("c6", "sales", t0.Add(5*time.Minute), sec(40))...)
	t7 := t0.Add(6 * time.Minute)
	evs = append(evs,
		g.ev(t7, eventlog.CallArrived, "c7", "", "", nil),
		g.ev(t7, eventlog.QueueJoined, "c7", "sales", "", nil),
		g.ev(t7.Add(sec(25)), eventlog.QueueOverflowed, "c7", "sales", "", map[string]string{"wait_ms": "25000", "to_queue": "backup"}),
		g.ev(t7.Add(sec(25)), eventlog.QueueJoined, "c7", "backup", "", nil),
		g.ev(t7.Add(sec(30)), eventlog.QueueAnswered, "c7", "backup", "a3", map[string]string{"wait_ms": "5000"}),
		g.ev(t7.Add(sec(90)), eventlog.CallCompleted, "c7", "backup", "a3", map[string]string{"talk_ms": "60000"}),
	)
	cfg := &Config{}
	calls, visits := visitsOf(evs, cfg)
	fs := ComputeQueues(visits)

	s := findQueue(t, fs, "sales")
	if s.Offered != 7 || s.Answered != 3 || s.AnsweredWithinT != 2 || s.Abandoned != 3 || s.ShortAbandoned != 1 ||
		s.AbandonedWithinT != 2 || s.Overflowed != 1 {
		t.Fatalf("sales counts = %+v", s.Counts)
	}
	ratio(t, "SL answered", s.SL.Answered, 2, 4)
	ratio(t, "SL offered", s.SL.Offered, 2, 6)
	ratio(t, "SL removed", s.SL.Removed, 4, 7)
	ratio(t, "ASA", s.ASA, 60, 3)
	approx(t, "median wait", s.MedianWaitS, 20)
	approx(t, "p90 wait", s.P90WaitS, 28)
	ratio(t, "AHT", s.AHT, 660, 3)
	ratio(t, "abandon rate", s.AbandonRate, 3, 7)
	ratio(t, "abandon rate ex short", s.AbandonRateExShort, 2, 6)
	if s.LongestWaitS != 40 {
		t.Errorf("longest wait = %v, want 40", s.LongestWaitS)
	}

	b := findQueue(t, fs, "backup")
	ratio(t, "backup SL answered", b.SL.Answered, 1, 1)
	if b.Offered != 1 {
		t.Errorf("backup offered = %d", b.Offered)
	}

	// Call level: c7's wait runs from its first queue entry to the answer.
	for _, c := range calls {
		if c.CallID == "c7" {
			if c.Wait != sec(30) || c.FirstQueue != "sales" || c.Queue != "backup" || c.Outcome != OutcomeAnswered || c.Agent != "a3" {
				t.Errorf("c7 call record = %+v", c)
			}
		}
	}
}

// TestQueueEdgeCases: zero answered and all short abandons.
func TestQueueEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		waits  []float64 // abandons
		check  func(t *testing.T, f QueueFigures)
		config *Config
	}{
		{
			name:  "zero answered",
			waits: []float64{8, 30},
			check: func(t *testing.T, f QueueFigures) {
				undefined(t, "SL answered", f.SL.Answered) // 0 / 0
				ratio(t, "SL offered", f.SL.Offered, 0, 2) // both after S
				ratio(t, "SL removed", f.SL.Removed, 1, 2) // 8 s <= T
				undefined(t, "ASA", f.ASA)
				undefined(t, "AHT", f.AHT)
				if f.MedianWaitS != nil || f.P90WaitS != nil {
					t.Errorf("percentiles of nothing must be nil")
				}
				ratio(t, "abandon rate", f.AbandonRate, 2, 2)
			},
		},
		{
			name:  "all short abandons (wait = S counts as short)",
			waits: []float64{2, 5},
			check: func(t *testing.T, f QueueFigures) {
				if f.ShortAbandoned != 2 {
					t.Errorf("short = %d, want 2", f.ShortAbandoned)
				}
				undefined(t, "SL answered", f.SL.Answered)
				undefined(t, "SL offered", f.SL.Offered) // 0 / (0 + 2 - 2)
				ratio(t, "SL removed", f.SL.Removed, 2, 2)
				ratio(t, "abandon rate", f.AbandonRate, 2, 2)
				undefined(t, "abandon rate ex short", f.AbandonRateExShort)
			},
		},
		{
			name:   "per-queue T and S",
			waits:  []float64{7, 29},
			config: &Config{Queues: map[string]QueueConfig{"q": {Threshold: sec(30), ShortAbandon: sec(8)}}},
			check: func(t *testing.T, f QueueFigures) {
				ratio(t, "SL offered", f.SL.Offered, 0, 1)
				ratio(t, "SL removed", f.SL.Removed, 2, 2)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gen{}
			var evs []eventlog.Event
			for i, w := range tt.waits {
				evs = append(evs, g.abandoned("c"+string(rune('a'+i)), "q", t0.Add(time.Duration(i)*time.Minute), sec(w))...)
			}
			_, vs := visitsOf(evs, tt.config)
			tt.check(t, findQueue(t, ComputeQueues(vs), "q"))
		})
	}
}

// TestAnsweredExactlyAtT: wait == T is within T; one millisecond more is not.
func TestAnsweredExactlyAtT(t *testing.T) {
	g := &gen{}
	evs := g.answered("a", "", "q", t0, sec(20), "x", sec(10), 0)
	evs = append(evs, g.answered("b", "", "q", t0.Add(time.Minute), sec(20)+time.Millisecond, "x", sec(10), 0)...)
	_, vs := visitsOf(evs, nil)
	if !vs[0].WithinT || vs[1].WithinT {
		t.Fatalf("within T flags = %v, %v; want true, false", vs[0].WithinT, vs[1].WithinT)
	}
	f := findQueue(t, ComputeQueues(vs), "q")
	ratio(t, "SL answered", f.SL.Answered, 1, 2)
}

// TestWaitWithoutWaitMS: without Data[wait_ms] the wait is the time between
// events; a hang-up with no queue event closes the wait as an abandon.
func TestWaitWithoutWaitMS(t *testing.T) {
	g := &gen{}
	evs := []eventlog.Event{
		g.ev(t0, eventlog.QueueJoined, "c", "q", "", nil),
		g.ev(t0.Add(sec(4)), eventlog.CallEnded, "c", "", "", nil),
	}
	c, vs := BuildCall(evs, nil)
	if len(vs) != 1 || vs[0].Outcome != OutcomeAbandoned || vs[0].Wait != sec(4) || !vs[0].ShortAbandon {
		t.Fatalf("visit = %+v", vs)
	}
	if c.Outcome != OutcomeAbandoned {
		t.Fatalf("call outcome = %s", c.Outcome)
	}
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{[]float64{10, 20, 30, 40}, 0.5, 25},
		{[]float64{10, 20, 30, 40}, 0.9, 37},
		{[]float64{7}, 0.9, 7},
		{[]float64{3, 1, 2}, 0.5, 2},
	}
	for _, tt := range tests {
		approx(t, "percentile", Percentile(tt.xs, tt.p), tt.want)
	}
	if Percentile(nil, 0.5) != nil {
		t.Fatal("percentile of nothing must be nil")
	}
}

// TestEscalation: l1 → l2.
//
//	e1: l1 answered by a1 after 5 s; escalated at +65 s to l2; joins l2 at
//	    +66 s; answered by b1 at +96 s (wait 30 s; l2 has T = 60 s).
//	e2: l1 answered by a1 after 8 s, not escalated.
//	e3: l2 direct (configured second line), abandoned after 70 s.
//
// Escalation rate = 1 / 2 first-line answered; time to second line = 96 − 65
// = 31 s; second-line SL answered = 1/1, removed = 1/2.
func TestEscalation(t *testing.T) {
	g := &gen{}
	cfg := &Config{Queues: map[string]QueueConfig{"l2": {Threshold: sec(60), Line: LineSecond}}}
	var evs []eventlog.Event
	evs = append(evs, g.answered("e1", "", "l1", t0, sec(5), "a1", sec(60), sec(5))...)
	evs = append(evs,
		g.ev(t0.Add(sec(65)), eventlog.CallEscalated, "e1", "l1", "a1", map[string]string{"to_queue": "l2", "mode": "warm"}),
		g.ev(t0.Add(sec(66)), eventlog.QueueJoined, "e1", "l2", "", map[string]string{"escalated_from": "l1"}),
		g.ev(t0.Add(sec(96)), eventlog.QueueAnswered, "e1", "l2", "b1", map[string]string{"wait_ms": "30000"}),
		g.ev(t0.Add(sec(216)), eventlog.CallCompleted, "e1", "l2", "b1", map[string]string{"talk_ms": "120000"}),
	)
	evs = append(evs, g.answered("e2", "", "l1", t0.Add(time.Minute), sec(8), "a1", sec(30), 0)...)
	evs = append(evs, g.abandoned("e3", "l2", t0.Add(2*time.Minute), sec(70))...)
	calls, vs := visitsOf(evs, cfg)
	f := ComputeEscalations(vs)
	ratio(t, "escalation rate", f.Rate, 1, 2)
	ratio(t, "mean time to second line", f.MeanTimeToSecondS, 31, 1)
	approx(t, "median time to second line", f.MedianTimeToSecond, 31)
	ratio(t, "second-line SL answered", f.SecondLine.SL.Answered, 1, 1)
	ratio(t, "second-line SL removed", f.SecondLine.SL.Removed, 1, 2)
	if len(f.Pairs) != 1 || f.Pairs[0] != (EscalationCount{"l1", "l2", 1}) {
		t.Errorf("pairs = %+v", f.Pairs)
	}
	e1 := calls[0]
	if e1.EscalatedTo != "l2" || e1.FirstLine != LineFirst || e1.Line != LineSecond || e1.Agent != "b1" ||
		!e1.SecondLineAnsweredAt.Equal(t0.Add(sec(96))) {
		t.Errorf("e1 record = %+v", e1)
	}
	// Per-agent escalations and queue escalation counts.
	l1 := findQueue(t, ComputeQueues(vs), "l1")
	ratio(t, "l1 escalation rate", l1.EscalationRate, 1, 2)
}

// TestFCR: three signals and the combined figure (see ComputeFCR).
//
//	f1 +79001112233: disposition resolved, survey yes, no repeat   → resolved by all
//	f2 89001112244:  disposition resolved, repeat f3 two days later → repeat says no
//	f3 +7 900 111-22-44: disposition not_resolved, no later call
//	f4 anonymous:    no disposition, survey "no"
//	f5 +79001112233 abandoned 8 days after f1 (outside f1's window; not in population)
//
// disposition 2/3 (coverage 3/4), repeat 2/3 (3/4), survey 1/2 (2/4), combined 1/4 (4/4).
func TestFCR(t *testing.T) {
	g := &gen{}
	var evs []eventlog.Event
	evs = append(evs, g.answered("f1", "+79001112233", "q", t0, sec(5), "a", sec(60), 0)...)
	evs = append(evs, g.ev(t0.Add(sec(70)), eventlog.CallDisposition, "f1", "q", "a", nil))
	evs[len(evs)-1].Reason = "resolved"
	evs = append(evs, g.ev(t0.Add(24*time.Hour), eventlog.SurveyCompleted, "f1", "", "", map[string]string{"rating": "5", "solved": "yes"}))
	evs = append(evs, g.answered("f2", "89001112244", "q", t0.Add(time.Hour), sec(5), "a", sec(60), 0)...)
	evs = append(evs, g.ev(t0.Add(time.Hour+sec(70)), eventlog.CallDisposition, "f2", "q", "a", nil))
	evs[len(evs)-1].Reason = "resolved"
	evs = append(evs, g.answered("f3", "+7 900 111-22-44", "q", t0.Add(49*time.Hour), sec(5), "a", sec(60), 0)...)
	evs = append(evs, g.ev(t0.Add(49*time.Hour+sec(70)), eventlog.CallDisposition, "f3", "q", "a", nil))
	evs[len(evs)-1].Reason = "not_resolved"
	evs = append(evs, g.answered("f4", "anonymous", "q", t0.Add(2*time.Hour), sec(5), "a", sec(60), 0)...)
	evs = append(evs, g.ev(t0.Add(26*time.Hour), eventlog.SurveyCompleted, "f4", "", "", map[string]string{"solved": "no"}))
	f5 := g.abandoned("f5", "q", t0.Add(8*24*time.Hour), sec(10))
	f5[0].Caller = "+79001112233"
	evs = append(evs, f5...)
	calls, _ := visitsOf(evs, nil)
	fs := ComputeFCR(calls, calls, 7*24*time.Hour, t0.Add(30*24*time.Hour))
	var all FCRFigures
	for _, f := range fs {
		if f.Line == "" {
			all = f
		}
	}
	if all.Population != 4 {
		t.Fatalf("population = %d, want 4", all.Population)
	}
	ratio(t, "disposition", all.Disposition.Ratio, 2, 3)
	ratio(t, "disposition coverage", all.Disposition.Coverage, 3, 4)
	ratio(t, "repeat", all.Repeat.Ratio, 2, 3)
	ratio(t, "repeat coverage", all.Repeat.Coverage, 3, 4)
	ratio(t, "survey", all.Survey.Ratio, 1, 2)
	ratio(t, "survey coverage", all.Survey.Coverage, 2, 4)
	ratio(t, "combined", all.Combined.Ratio, 1, 4)
	ratio(t, "combined coverage", all.Combined.Coverage, 4, 4)

	// Before f3's window closes the repeat signal does not cover it yet.
	fs = ComputeFCR(calls, calls, 7*24*time.Hour, t0.Add(7*24*time.Hour+2*time.Hour))
	for _, f := range fs {
		if f.Line == "" {
			ratio(t, "repeat (early)", f.Repeat.Ratio, 1, 2) // f1 and f2 only
		}
	}
}

func TestNormalizeNumber(t *testing.T) {
	tests := map[string]string{
		"+79001112233":      "+79001112233",
		"89001112233":       "+79001112233",
		"8 (900) 111-22-33": "+79001112233",
		"9001112233":        "+79001112233",
		"anonymous":         "",
		"":                  "",
		"+442071234567":     "+442071234567",
	}
	for in, want := range tests {
		if got := NormalizeNumber(in); got != want {
			t.Errorf("NormalizeNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCSI: first line rated 5, 4, 1 → (100 + 75 + 0) / 3 = 58.33, top-2 2/3;
// second line rated 3 → 50, top-2 0/1.
func TestCSI(t *testing.T) {
	calls := []Call{
		{CallID: "1", Line: LineFirst, Agent: "a", SurveyRating: 5},
		{CallID: "2", Line: LineFirst, Agent: "a", SurveyRating: 4},
		{CallID: "3", Line: LineFirst, Agent: "b", SurveyRating: 1},
		{CallID: "4", Line: LineSecond, Agent: "c", SurveyRating: 3},
		{CallID: "5", Line: LineFirst, Agent: "c"}, // not rated
	}
	fs := ComputeCSI(calls, func(c Call) string { return c.Line })
	if len(fs) != 2 {
		t.Fatalf("groups = %+v", fs)
	}
	ratio(t, "first CSI", fs[0].Score, 175, 3)
	ratio(t, "first top2", fs[0].Top2, 2, 3)
	ratio(t, "second CSI", fs[1].Score, 50, 1)
	ratio(t, "second top2", fs[1].Top2, 0, 1)
	if fs[0].Distribution != [5]int{1, 0, 0, 1, 1} {
		t.Errorf("distribution = %v", fs[0].Distribution)
	}
	byAgent := ComputeCSI(calls, func(c Call) string { return c.Agent })
	ratio(t, "agent a CSI", byAgent[0].Score, 175, 2)
}

// TestAgentsOccupancy: a1 ready 09:00, paused 09:30, ready 09:40, logged out
// 10:00 → available 50 min (3000 s), paused 600 s. Answers two calls (talk
// 600 + 300 s, wrap 100 + 50 s) → occupancy 1050 / 3000; one missed ring.
func TestAgentsOccupancy(t *testing.T) {
	g := &gen{}
	st := func(at time.Time, to string) eventlog.Event {
		return g.ev(at, eventlog.AgentState, "", "", "a1", map[string]string{"to": to})
	}
	evs := []eventlog.Event{
		st(t0, "ready"), st(t0.Add(30*time.Minute), "paused"), st(t0.Add(40*time.Minute), "ready"),
		st(t0.Add(60*time.Minute), "logged_out"),
		g.ev(t0.Add(time.Minute), eventlog.AgentRingNoAnswer, "x", "q", "a1", nil),
	}
	evs = append(evs, g.answered("c1", "", "q", t0.Add(2*time.Minute), sec(10), "a1", sec(600), sec(100))...)
	evs = append(evs, g.answered("c2", "", "q", t0.Add(41*time.Minute), sec(10), "a1", sec(300), sec(50))...)
	evs = append(evs, g.answered("c3", "", "q", t0.Add(41*time.Minute), sec(4), "a2", sec(30), 0)...)
	_, vs := visitsOf(evs, nil)
	cfg := &Config{Teams: map[string]string{"a1": "outsource", "a2": "inhouse"}}
	fs := ComputeAgents(vs, MissedFromEvents(evs), StatesFromEvents(evs), t0, t0.Add(2*time.Hour), time.Time{}, cfg)
	if len(fs) != 2 {
		t.Fatalf("agents = %+v", fs)
	}
	a1 := fs[0]
	if a1.Answered != 2 || a1.Missed != 1 || a1.Available != 50*time.Minute || a1.Paused != 10*time.Minute {
		t.Fatalf("a1 = %+v", a1)
	}
	ratio(t, "a1 occupancy", a1.Occupancy, 1050, 3000)
	ratio(t, "a1 AHT", a1.AHT, 1050, 2)
	ratio(t, "a1 avg ring", a1.AvgRing, 4, 2) // offered 2 s before each answer
	teams := ComputeTeams(fs)
	if len(teams) != 2 || teams[1].Team != "outsource" || teams[1].Answered != 2 || teams[0].Answered != 1 {
		t.Fatalf("teams = %+v", teams)
	}
	// A still-open state counts only up to openUntil.
	evs2 := []eventlog.Event{st(t0, "ready")}
	av, _ := StateTime(StatesFromEvents(evs2), t0, t0.Add(time.Hour), t0.Add(20*time.Minute))
	if av["a1"] != 20*time.Minute {
		t.Fatalf("open state = %v, want 20m", av["a1"])
	}
}

// TestMoscowToday: Europe/Moscow is UTC+3 with no DST; 20:59:59 UTC is still
// the same Moscow day, 21:00:00 UTC is the next one.
func TestMoscowToday(t *testing.T) {
	loc := moscow()
	tests := []struct {
		now        time.Time
		start, end time.Time
	}{
		{time.Date(2024, 3, 10, 20, 59, 59, 0, time.UTC), time.Date(2024, 3, 9, 21, 0, 0, 0, time.UTC), time.Date(2024, 3, 10, 21, 0, 0, 0, time.UTC)},
		{time.Date(2024, 3, 10, 21, 0, 0, 0, time.UTC), time.Date(2024, 3, 10, 21, 0, 0, 0, time.UTC), time.Date(2024, 3, 11, 21, 0, 0, 0, time.UTC)},
		// Late March: Europe switches to summer time, Moscow does not.
		{time.Date(2024, 3, 31, 21, 30, 0, 0, time.UTC), time.Date(2024, 3, 31, 21, 0, 0, 0, time.UTC), time.Date(2024, 4, 1, 21, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		s, e := Today(tt.now, loc)
		if !s.Equal(tt.start) || !e.Equal(tt.end) {
			t.Errorf("Today(%v) = [%v, %v), want [%v, %v)", tt.now, s, e, tt.start, tt.end)
		}
	}
}

// TestResumedWait: hotline restarted while the caller waited (Asterisk
// mode). The new process's queue.joined (resumed, joined_at = the original
// join) continues the same visit: one offer, the wait counted from the first
// join. When the old process's events are missing, the wait still starts at
// joined_at.
func TestResumedWait(t *testing.T) {
	resumed := func(g *gen, at time.Time) eventlog.Event {
		return g.ev(at, eventlog.QueueJoined, "c", "q", "", map[string]string{
			"resumed": "1", "joined_at": t0.UTC().Format(time.RFC3339Nano)})
	}
	for _, tc := range []struct {
		name    string
		withOld bool
	}{{"old join logged", true}, {"old join lost", false}} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gen{}
			var evs []eventlog.Event
			if tc.withOld {
				evs = append(evs, g.ev(t0, eventlog.QueueJoined, "c", "q", "", nil))
			}
			evs = append(evs,
				resumed(g, t0.Add(sec(70))),
				g.ev(t0.Add(sec(90)), eventlog.QueueAnswered, "c", "q", "x", map[string]string{"wait_ms": "90000"}),
			)
			_, vs := BuildCall(evs, nil)
			if len(vs) != 1 || vs[0].Outcome != OutcomeAnswered || !vs[0].JoinedAt.Equal(t0) || vs[0].Wait != sec(90) {
				t.Fatalf("visits = %+v; want one answered visit joined at t0 with a 90 s wait", vs)
			}
		})
	}
}
