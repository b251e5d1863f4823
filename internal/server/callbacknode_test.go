package server

import (
	"strings"
	"testing"
)

const callbackIVR = `
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        hello: {type: menu, prompt: digits/1, options: {"1": queue, "2": later}}
        queue: {type: queue, queue: support}
        later: {type: callback, queue: support, prompt: hotline/callback-confirm}
`

// The IVR's callback node needs the durable callbacks: with a database
// serve builds it; without one the flow is refused with the node's
// file:line.
func TestIVRCallbackNode(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	_, err := New(testConfig(t, callbackIVR), discard())
	if err == nil || !strings.Contains(err.Error(), "unit.yaml:") || !strings.Contains(err.Error(), "ivr.flows.support.later") {
		t.Fatalf("without a database: %v; want the callback node refused with file:line", err)
	}
	s, err := New(testConfig(t, callbackIVR+"database: {url: \"postgres://h@127.0.0.1:1/h\"}\n"), discard())
	if err != nil {
		t.Fatalf("with a database: %v", err)
	}
	defer s.Shutdown(t.Context())
}
