package queue

import (
	"strings"
	"testing"
)

// bogusAction is an Action the Runner was not taught.
type bogusAction struct{}

func (bogusAction) action() {}

// TestRunnerRefusesUnknownAction: a new Action that the Runner does not
// execute is a programming error that must not pass silently.
func TestRunnerRefusesUnknownAction(t *testing.T) {
	h := newRunnerHarness(t, nil)
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "bogusAction") {
			t.Fatalf("recovered %v, want a panic naming the action", r)
		}
	}()
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	h.r.exec([]Action{bogusAction{}})
}
