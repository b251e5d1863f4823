package desk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/reporting"
)

// fakeReports answers today's reports with fixed figures and remembers
// the range it was asked for.
type fakeReports struct{ from, to time.Time }

func (f *fakeReports) QueueReport(_ context.Context, from, to time.Time) ([]reporting.QueueFigures, error) {
	f.from, f.to = from, to
	c := reporting.Counts{Offered: 4, Answered: 2, AnsweredWithinT: 1, Abandoned: 2, WaitAnswered: 30 * time.Second}
	return []reporting.QueueFigures{{Queue: "support", Figures: c.Figures()}, {Queue: "vip", Figures: (reporting.Counts{Offered: 1, Answered: 1, AnsweredWithinT: 1}).Figures()}}, nil
}

func (f *fakeReports) CSIReport(context.Context, time.Time, time.Time, string) ([]reporting.CSIFigures, error) {
	return []reporting.CSIFigures{{Key: "support", Ratings: 2, Score: reporting.Ratio{Num: 150, Den: 2}}}, nil
}

func (f *fakeReports) FCRReport(context.Context, time.Time, time.Time, time.Time) ([]reporting.FCRFigures, error) {
	return []reporting.FCRFigures{{Line: "", Population: 2, Disposition: reporting.FCRSignal{Covered: 2, Resolved: 1, Ratio: reporting.Ratio{Num: 1, Den: 2}}}}, nil
}

func (f *fakeReports) EscalationReport(context.Context, time.Time, time.Time) (reporting.EscalationFigures, error) {
	return reporting.EscalationFigures{FirstLineAnswered: 2, Escalated: 1, Rate: reporting.Ratio{Num: 1, Den: 2}}, nil
}

// TestWallboard: agents get 403; a supervisor sees their queues and their
// teams' agents, an admin everything; the figures are reporting.Metrics'
// (a real one, fed events) and the reports', passed through untouched;
// a queue below its target is marked.
func TestWallboard(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	reg := prometheus.NewRegistry()
	m, err := reporting.NewMetrics(reg, reporting.MetricsOptions{Now: clock, Queues: []string{"support", "vip"},
		QueuesOf: func(string) []string { return []string{"support"} }, Agents: []string{"a1", "a2"}})
	if err != nil {
		t.Fatal(err)
	}
	// One caller waiting in support for 30 s (past T = 20 s): realtime
	// SL 0 of 1 would need a finished visit; with nothing finished it is
	// 0 % (docs/metrics.md) and the queue is past its target.
	for _, e := range []eventlog.Event{
		{Type: eventlog.CallArrived, CallID: "c9", At: now.Add(-31 * time.Second)},
		{Type: eventlog.QueueJoined, CallID: "c9", Queue: "support", At: now.Add(-30 * time.Second)},
		{Type: eventlog.AgentState, Agent: "a1", At: now.Add(-time.Minute), Data: map[string]string{"to": "paused"}},
	} {
		m.Publish(e)
	}
	rep := &fakeReports{}
	since := now.Add(-2 * time.Minute)
	d, err := New(Config{
		Users: []User{
			{ID: "a1", Role: RoleAgent, Hash: hash(t, "pw-a1")},
			{ID: "sv1", Role: RoleSupervisor, Hash: hash(t, "pw-sv1"), Teams: []string{"t1"}, Queues: []string{"support"}},
			{ID: "root", Role: RoleAdmin, Hash: hash(t, "pw-root")},
		},
		Agents:    []Agent{{ID: "a1", Team: "t1"}, {ID: "a2", Team: "t2"}},
		Publisher: &recorder{}, Now: clock, Location: time.UTC,
		Live: reg, Reports: rep,
		AgentStates: func(context.Context) ([]BoardAgent, error) {
			return []BoardAgent{{ID: "a1", Team: "t1", State: "paused", Reason: "lunch", Since: since, Queues: []string{"support"}},
				{ID: "a2", Team: "t2", State: "available", Since: since}}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv}
	get := func(c *client) (int, Board) {
		code, body := c.do(http.MethodGet, "/desk/api/wallboard", "", nil)
		var b Board
		if code == http.StatusOK {
			if err := json.Unmarshal([]byte(body), &b); err != nil {
				t.Fatal(err)
			}
		}
		return code, b
	}
	if code, _ := get(f.client(t)); code != http.StatusUnauthorized {
		t.Errorf("logged out: %d, want 401", code)
	}
	agent := f.client(t)
	agent.login("a1", "pw-a1")
	if code, _ := get(agent); code != http.StatusForbidden {
		t.Errorf("agent: %d, want 403", code)
	}

	sv := f.client(t)
	sv.login("sv1", "pw-sv1")
	code, b := get(sv)
	if code != http.StatusOK {
		t.Fatalf("supervisor: %d", code)
	}
	if len(b.Queues) != 1 || b.Queues[0].Queue != "support" {
		t.Fatalf("supervisor's queues: %+v, want support only", b.Queues)
	}
	if len(b.Agents) != 1 || b.Agents[0].ID != "a1" || b.Agents[0].Reason != "lunch" || !b.Agents[0].Since.Equal(since) {
		t.Errorf("supervisor's agents: %+v, want a1 paused for lunch", b.Agents)
	}
	q := b.Queues[0]
	if q.Waiting != 1 || q.LongestWaitS != 30 || q.OverT != 1 || q.Target != 0.8 {
		t.Errorf("live figures %+v: want 1 waiting, longest 30 s, 1 over T, target 0.8", q)
	}
	if q.SLNow == nil || *q.SLNow != 0 {
		t.Errorf("SL now = %v, want 0 (one caller past T, nothing finished)", q.SLNow)
	}
	if q.Agents["paused"] != 1 || q.Agents["available"] != 0 {
		t.Errorf("agents by state %v, want 1 paused", q.Agents)
	}
	if q.Today == nil || q.Today.Answered != 2 || q.Today.Abandoned != 2 {
		t.Fatalf("today %+v: want the queue report's", q.Today)
	}
	if v, _ := q.Today.ASA.Value(); v != 15 {
		t.Errorf("ASA %v, want the report's 15 s", v)
	}
	if q.CSI == nil || q.CSI.Ratings != 2 || !q.PastTarget {
		t.Errorf("CSI %+v, past target %v: want the report's and true", q.CSI, q.PastTarget)
	}
	if len(b.FCR) != 1 || b.FCR[0].Disposition.Resolved != 1 || b.Escalations == nil || b.Escalations.Escalated != 1 {
		t.Errorf("FCR %+v, escalations %+v: want the reports'", b.FCR, b.Escalations)
	}
	if from, to := reporting.Today(now, time.UTC); !rep.from.Equal(from) || !rep.to.Equal(to) {
		t.Errorf("report range %v..%v, want today %v..%v", rep.from, rep.to, from, to)
	}

	root := f.client(t)
	root.login("root", "pw-root")
	_, b = get(root)
	if len(b.Queues) != 2 || len(b.Agents) != 2 {
		t.Errorf("admin sees %d queues and %d agents, want 2 and 2", len(b.Queues), len(b.Agents))
	}
	for _, q := range b.Queues {
		if q.Queue == "vip" && q.PastTarget {
			t.Errorf("vip (100 %% today, nobody waiting) is marked past its target")
		}
	}
}
