package queue

import (
	"strings"
	"testing"
	"time"
)

// TestResumeAgents: after a restart agents come back as their last state
// said; logged-out, unknown and already logged-in agents are left alone,
// and an unreadable status is an error naming the agent.
func TestResumeAgents(t *testing.T) {
	h := newRunnerHarness(t, func(c *RunnerConfig) {
		c.Queue.Agents = append(c.Queue.Agents, AgentConfig{ID: "f3", Line: 1}, AgentConfig{ID: "f4", Line: 1}, AgentConfig{ID: "f5", Line: 1})
	})
	h.login("f2") // logged in by hand before the resume ran: untouched
	h.do(func() ([]Action, error) { return h.r.eng.Pause("f2", "lunch") })
	n, err := h.r.ResumeAgents([]AgentResume{
		{Agent: "f1", Status: "on-call"},
		{Agent: "f2", Status: "available"},
		{Agent: "s1", Status: "paused", Reason: "training"},
		{Agent: "gone", Status: "available"},
		{Agent: "f3", Status: "logged-out"},
		{Agent: "x", Status: "dancing"},
		{Agent: "f4", Status: "wrap-up", WrapUpLeft: time.Minute, WrapCall: "c9", WrapQueue: "first"},
		{Agent: "f5", Status: "wrap-up"}, // its wrap-up ended while the line was down
	})
	if err == nil || !strings.Contains(err.Error(), `agent "x"`) {
		t.Fatalf("err = %v, want one naming agent x", err)
	}
	if n != 4 {
		t.Fatalf("resumed %d agents, want 4 (f1, s1, f4, f5)", n)
	}
	for _, tc := range []struct {
		agent string
		want  AgentStatus
	}{{"f1", Available}, {"f2", Paused}, {"s1", Paused}, {"f3", LoggedOut}, {"f4", WrapUp}, {"f5", Available}} {
		if got := h.agentState(tc.agent); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.agent, got, tc.want)
		}
	}
	h.r.mu.Lock()
	s1, _ := h.r.eng.Agent("s1")
	h.r.mu.Unlock()
	if s1.Reason != "training" {
		t.Errorf("s1's pause reason = %q, want training", s1.Reason)
	}
}

func TestParseAgentStatus(t *testing.T) {
	for i := range statusNames {
		st := AgentStatus(i)
		got, err := ParseAgentStatus(st.String())
		if err != nil || got != st {
			t.Errorf("ParseAgentStatus(%q) = %v, %v", st.String(), got, err)
		}
	}
	if _, err := ParseAgentStatus("busy"); err == nil {
		t.Error("ParseAgentStatus(busy): no error")
	}
}
