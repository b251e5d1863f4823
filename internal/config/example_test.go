package config

import (
	"testing"
)

// TestExampleFile loads the shipped example from the repository root, as
// "hotline serve -config examples/hotline.yaml" does.
func TestExampleFile(t *testing.T) {
	t.Chdir("../..")
	c, err := Load("examples/hotline.yaml")
	if err != nil {
		t.Fatalf("examples/hotline.yaml: %v", err)
	}
	for _, w := range c.Warnings {
		t.Errorf("warning: %s", w)
	}
	// make test installs the sounds and generates the prompts it names.
	for _, m := range c.Media.Missing {
		t.Errorf("missing: %s", m)
	}
	if len(c.Agents) != 10 || len(c.Queues) != 3 || c.IVR == nil {
		t.Fatalf("agents %d, queues %d, ivr present %v", len(c.Agents), len(c.Queues), c.IVR != nil)
	}
	lines := map[int]int{}
	for _, a := range c.Agents {
		lines[a.Line]++
	}
	if lines[1] != 8 || lines[2] != 2 {
		t.Errorf("agents per line = %v, want 8 and 2", lines)
	}
	if c.Escalation.Queue != "second-line" || c.Escalation.Number != "2000" {
		t.Errorf("escalation = %+v", c.Escalation)
	}
	if c.Survey.Window.FromOffset != 0 || c.Survey.Window.ToOffset != 23*60*60e9+59*60e9 {
		t.Errorf("survey window = %+v", c.Survey.Window)
	}
}
