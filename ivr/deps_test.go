package ivr

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestExecutorRefusesMissingDeps: a lookup node without a history and a
// callback node without a callback service would do nothing for the
// caller; NewExecutor refuses them, naming the file and line of each.
func TestExecutorRefusesMissingDeps(t *testing.T) {
	flows := mustParse(t, lookupYAML)
	lookupLine, callbackLine := 0, 0
	for _, nd := range flows.Flows["main"].Nodes {
		switch nd.Type {
		case NodeLookup:
			lookupLine = nd.Line
		case NodeCallback:
			callbackLine = nd.Line
		}
	}
	if lookupLine == 0 || callbackLine == 0 {
		t.Fatal("lookupYAML lost its lookup or callback node")
	}
	tests := []struct {
		name string
		cfg  ExecutorConfig
		want []string // error lines; none: accepted
	}{
		{"both missing", ExecutorConfig{Flows: flows}, []string{
			fmtLine(lookupLine, "ivr.flows.main.who: a lookup node needs the caller history"),
			fmtLine(callbackLine, "ivr.flows.main.callback: a callback node needs a callback service"),
		}},
		{"no history", ExecutorConfig{Flows: flows, Callbacks: &fakeCallbacks{}}, []string{
			fmtLine(lookupLine, "ivr.flows.main.who: a lookup node needs the caller history"),
		}},
		{"no callbacks", ExecutorConfig{Flows: flows, History: &fakeHistory{}}, []string{
			fmtLine(callbackLine, "ivr.flows.main.callback: a callback node needs a callback service"),
		}},
		{"wired", ExecutorConfig{Flows: flows, History: &fakeHistory{}, Callbacks: &fakeCallbacks{}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, err := NewExecutor(tt.cfg)
			if tt.want == nil {
				if err != nil || ex == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce ConfigErrors
			if !errors.As(err, &ce) || len(ce) != len(tt.want) {
				t.Fatalf("err = %v, want %d config errors", err, len(tt.want))
			}
			for i, w := range tt.want {
				if got := ce[i].Error(); !strings.HasPrefix(got, w) {
					t.Errorf("error %d = %q, want prefix %q", i, got, w)
				}
			}
		})
	}
}

func fmtLine(line int, msg string) string {
	return "hotline.yaml:" + strconv.Itoa(line) + ": " + msg
}
