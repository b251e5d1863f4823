package reporting

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// TestPauseTime: time per pause reason, exactly as docs/metrics.md
// defines it: a pause lasts until the agent's next state event, a new
// reason while paused starts a new period, a pause across the range's
// edges (midnight) counts only its part inside, an open pause counts up to
// openUntil (none when zero: rollups), and after a crash the restart's
// logged-out event (reason restart) ends it. The reasons add up to Paused.
func TestPauseTime(t *testing.T) {
	day := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	st := func(id, agent string, t time.Time, to, reason string) AgentState {
		return AgentState{EventID: id, Agent: agent, At: t, To: to, Reason: reason}
	}
	for _, tc := range []struct {
		name           string
		states         []AgentState
		from, to, open time.Time
		want           map[string]map[string]time.Duration
	}{
		{
			name: "two reasons, back to ready",
			states: []AgentState{st("1", "a", at(9, 0), "available", ""), st("2", "a", at(10, 0), "paused", "lunch"),
				st("3", "a", at(10, 30), "available", ""), st("4", "a", at(11, 0), "paused", "break"), st("5", "a", at(11, 5), "available", "")},
			from: day, to: day.Add(24 * time.Hour),
			want: map[string]map[string]time.Duration{"a": {"lunch": 30 * time.Minute, "break": 5 * time.Minute}},
		},
		{
			name: "a new reason while paused starts a new period",
			states: []AgentState{st("1", "a", at(10, 0), "paused", "break"), st("2", "a", at(10, 10), "paused", "training"),
				st("3", "a", at(11, 0), "available", "")},
			from: day, to: day.Add(24 * time.Hour),
			want: map[string]map[string]time.Duration{"a": {"break": 10 * time.Minute, "training": 50 * time.Minute}},
		},
		{
			name:   "across midnight: each day counts its part",
			states: []AgentState{st("1", "a", at(23, 40), "paused", "lunch"), st("2", "a", at(24, 15), "available", "")},
			from:   day, to: day.Add(24 * time.Hour),
			want: map[string]map[string]time.Duration{"a": {"lunch": 20 * time.Minute}},
		},
		{
			name:   "across midnight, the next day",
			states: []AgentState{st("1", "a", at(23, 40), "paused", "lunch"), st("2", "a", at(24, 15), "available", "")},
			from:   day.Add(24 * time.Hour), to: day.Add(48 * time.Hour),
			want: map[string]map[string]time.Duration{"a": {"lunch": 15 * time.Minute}},
		},
		{
			name:   "open pause counts up to asOf",
			states: []AgentState{st("1", "a", at(14, 0), "paused", "")},
			from:   day, to: day.Add(24 * time.Hour), open: at(14, 7),
			want: map[string]map[string]time.Duration{"a": {NoPauseReason: 7 * time.Minute}},
		},
		{
			name:   "open pause in a rollup (no asOf): not counted",
			states: []AgentState{st("1", "a", at(14, 0), "paused", "lunch")},
			from:   day, to: day.Add(24 * time.Hour),
			want: map[string]map[string]time.Duration{},
		},
		{
			name: "a crash: the restart logs the agent out at the last heartbeat, then resumes the pause",
			states: []AgentState{st("1", "a", at(12, 0), "paused", "lunch"), st("2", "a", at(12, 20), "logged-out", "restart"),
				st("3", "a", at(12, 25), "paused", "lunch"), st("4", "a", at(12, 40), "available", "")},
			from: day, to: day.Add(24 * time.Hour),
			want: map[string]map[string]time.Duration{"a": {"lunch": 35 * time.Minute}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PauseTime(tc.states, tc.from, tc.to, tc.open)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("PauseTime = %v, want %v", got, tc.want)
			}
			_, paused := StateTime(tc.states, tc.from, tc.to, tc.open)
			for a, rs := range got {
				var sum time.Duration
				for _, d := range rs {
					sum += d
				}
				if sum != paused[a] {
					t.Errorf("%s: reasons add up to %s, Paused is %s", a, sum, paused[a])
				}
			}
		})
	}
}

// TestAgentReportPausesAndSurveyedCSI: the stored report splits paused
// time by reason, and CSISurveyedReport counts the calls surveyed in the
// range (whenever they arrived), by agent.
func TestAgentReportPausesAndSurveyedCSI(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	g := &gen{}
	day := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	var evs []eventlog.Event
	state := func(t time.Time, agent, from, to, reason string) {
		e := g.ev(t, eventlog.AgentState, "", "", agent, map[string]string{"from": from, "to": to})
		e.Reason = reason
		evs = append(evs, e)
	}
	state(day.Add(-20*time.Minute), "a1", "available", "paused", "lunch") // yesterday, until 00:10
	state(day.Add(10*time.Minute), "a1", "paused", "available", "")
	state(day.Add(9*time.Hour), "a1", "available", "paused", "break")
	state(day.Add(9*time.Hour+4*time.Minute), "a1", "paused", "available", "")
	// Yesterday's call of a1, surveyed today (rating 4), and today's call
	// of a1, surveyed today (rating 2); a call of a2 surveyed yesterday.
	evs = append(evs, g.answered("y1", "+79000000001", "support", day.Add(-3*time.Hour), 2*time.Second, "a1", time.Minute, 0)...)
	evs = append(evs, g.answered("t1", "+79000000002", "support", day.Add(8*time.Hour), 2*time.Second, "a1", time.Minute, 0)...)
	evs = append(evs, g.answered("y2", "+79000000003", "support", day.Add(-5*time.Hour), 2*time.Second, "a2", time.Minute, 0)...)
	evs = append(evs, g.ev(day.Add(10*time.Hour), eventlog.SurveyCompleted, "y1", "", "", map[string]string{"rating": "4"}))
	evs = append(evs, g.ev(day.Add(11*time.Hour), eventlog.SurveyCompleted, "t1", "", "", map[string]string{"rating": "2"}))
	evs = append(evs, g.ev(day.Add(-time.Hour), eventlog.SurveyCompleted, "y2", "", "", map[string]string{"rating": "5"}))
	SortEvents(evs)
	if err := s.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Project(ctx); err != nil {
		t.Fatal(err)
	}
	agents, teams, err := s.AgentReport(ctx, day, day.Add(24*time.Hour), day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"lunch": 10 * time.Minute, "break": 4 * time.Minute}
	found := false
	for _, a := range agents {
		if a.Agent == "a1" {
			found = true
			if !reflect.DeepEqual(a.PausedByReason, want) || a.Paused != 14*time.Minute {
				t.Errorf("a1 paused %s by reason %v, want 14m by %v", a.Paused, a.PausedByReason, want)
			}
		}
	}
	if !found || len(teams) == 0 || !reflect.DeepEqual(teams[0].PausedByReason, want) {
		t.Errorf("agents %+v teams %+v", agents, teams)
	}
	if row := AgentTable(agents, false).Rows[0]; row[len(row)-1] != "break=240.0;lunch=600.0" {
		t.Errorf("the CLI's paused_by_reason_s cell: %q", row[len(row)-1])
	}
	csi, err := s.CSISurveyedReport(ctx, day, day.Add(24*time.Hour), ByAgent)
	if err != nil {
		t.Fatal(err)
	}
	if len(csi) != 1 || csi[0].Key != "a1" || csi[0].Ratings != 2 {
		t.Fatalf("surveyed CSI %+v, want a1's 2 ratings", csi)
	}
	if v, _ := csi[0].Score.Value(); v != 50 { // (75 + 25) / 2
		t.Errorf("a1's CSI %v, want 50", v)
	}
}
