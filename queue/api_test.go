package queue

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// TestAPI walks every endpoint through one centre's life: each row may
// change the state first (before), then sends a request and checks the
// status and fragments of the body.
func TestAPI(t *testing.T) {
	h := newRunnerHarness(t, func(c *RunnerConfig) { c.EscalationReasons = []string{"technical", "billing"} })
	srv := httptest.NewServer(h.r.Handler())
	t.Cleanup(srv.Close)
	var c1 *fakeLeg
	tests := []struct {
		before       func()
		method, path string
		body         string
		code         int
		want         []string // fragments of the body
	}{
		{nil, "GET", "/api/v1/agents", "", 200, []string{`"id":"f1"`, `"id":"s1"`, `"line":2`}},
		{nil, "GET", "/api/v1/agents/f1", "", 200, []string{`"state":"logged-out"`, `"queues":["support"]`}},
		{nil, "GET", "/api/v1/agents/zz", "", 404, []string{`"error":"unknown agent \"zz\""`}},
		{nil, "POST", "/api/v1/agents/zz/login", "", 404, []string{"unknown agent"}},
		{nil, "POST", "/api/v1/agents/f1/dance", "", 404, []string{"no agent operation"}},
		{nil, "GET", "/api/v1/agents/f1/login", "", 405, nil},
		{nil, "POST", "/api/v1/agents/f1/ready", "", 409, []string{"logged out"}},
		{nil, "POST", "/api/v1/agents/f1/login", `{"reason":"x"}`, 400, []string{"reason is only for pause"}},
		{nil, "POST", "/api/v1/agents/f1/login", `{`, 400, []string{"invalid JSON"}},
		{nil, "POST", "/api/v1/agents/f1/pause", `{"reason":5}`, 400, []string{"invalid JSON"}},
		{nil, "POST", "/api/v1/agents/f1/login", "", 200, []string{`"state":"available"`}},
		{nil, "POST", "/api/v1/agents/f1/pause", `{"reason":"lunch"}`, 200, []string{`"state":"paused"`, `"reason":"lunch"`}},
		{nil, "POST", "/api/v1/agents/f1/ready", "", 200, []string{`"state":"available"`}},
		{nil, "POST", "/api/v1/agents/f2/pause", "", 409, []string{"logged out"}},
		{nil, "GET", "/api/v1/queues", "", 200, []string{`"name":"support"`, `"name":"second"`, `"available":["f1"]`}},
		{nil, "GET", "/api/v1/queues/zz", "", 404, []string{"unknown queue"}},
		{nil, "GET", "/api/v1/calls", "", 200, []string{`[]`}},
		{nil, "GET", "/api/v1/calls/zz", "", 404, []string{"unknown call"}},
		{func() {
			c1 = h.caller("c1", "+79123456789", "support")
			h.bridged(c1, h.agentLeg("f1", 0))
		}, "GET", "/api/v1/calls/c1", "", 200, []string{`"state":"connected"`, `"agent":"f1"`, `"caller":"+79123456789"`,
			`"first_agent":"f1"`, `"ivr_path":["main","support"]`, `"history":"2 calls this week"`}},
		{func() { h.caller("c2", "+79123456780", "support") }, "GET", "/api/v1/queues/support", "", 200,
			[]string{`"on-call":["f1"]`, `"id":"c2","caller":"+79123456780","queue":"support","state":"waiting"`, `"position":1`}},
		{nil, "GET", "/api/v1/calls", "", 200, []string{`"id":"c1"`, `"id":"c2"`}},
		{nil, "POST", "/api/v1/calls/c2/escalate", "", 409, []string{"not connected"}},
		{nil, "POST", "/api/v1/calls/zz/escalate", "", 404, []string{"unknown call"}},
		{nil, "POST", "/api/v1/calls/c1/escalate", `{"queue":"nope"}`, 400, []string{`unknown queue \"nope\"`}},
		{nil, "POST", "/api/v1/calls/c1/escalate", `{"reason":"weird"}`, 400, []string{"want one of technical, billing"}},
		{nil, "POST", "/api/v1/calls/c1/escalate", `{"priority":1}`, 400, []string{"unknown field"}},
		{nil, "POST", "/api/v1/calls/c1/consult/finish", "", 404, []string{"no consult operation"}},
		{nil, "POST", "/api/v1/calls/c1/consult/complete", "", 409, []string{"no answered consultation"}},
		{nil, "POST", "/api/v1/calls/c1/consult", `{"reason":"billing"}`, 200, []string{`"state":"connected"`}},
		{nil, "POST", "/api/v1/calls/c1/consult", `{"reason":"billing"}`, 409, []string{"already has a consultation"}},
		{nil, "POST", "/api/v1/calls/c1/consult/cancel", "", 200, []string{`"agent":"f1"`}},
		{nil, "POST", "/api/v1/calls/c1/escalate", `{"reason":"technical","notes":"router reboots"}`, 200,
			[]string{`"queue":"second"`, `"escalated":true`, `"from_agent":"f1"`, `"to_queue":"second"`, `"reason":"technical"`,
				`"notes":"router reboots"`, `"mode":"api"`}},
		{nil, "POST", "/api/v1/calls/c1/disposition", `{"result":"maybe"}`, 400, []string{"want resolved, not_resolved or escalated"}},
		{nil, "POST", "/api/v1/calls/c1/disposition", `{}`, 400, []string{"result is required"}},
		{nil, "POST", "/api/v1/calls/zz/disposition", `{"result":"resolved"}`, 404, []string{"unknown call"}},
		{nil, "POST", "/api/v1/calls/c1/disposition", `{"result":"escalated","agent":"f2"}`, 409, []string{"did not answer"}},
		{nil, "POST", "/api/v1/calls/c1/disposition", `{"result":"escalated","agent":"nobody"}`, 400, []string{"unknown agent"}},
		{nil, "POST", "/api/v1/calls/c1/disposition", `{"result":"escalated","code":"E1","notes":"to L2","no_survey":true}`, 200,
			[]string{`"agent":"f1"`, `"result":"escalated"`}},
		{func() {
			c1.remoteHangup()
			eventually(t, "c1 finished", func() bool { return h.log.count(eventlog.CallFinished, "c1") == 1 })
		}, "GET", "/api/v1/calls/c1", "", 404, []string{"unknown call"}},
		{nil, "POST", "/api/v1/calls/c1/disposition", `{"result":"resolved"}`, 200, []string{`"agent":"f1"`}},
	}
	for i, tc := range tests {
		if tc.before != nil {
			tc.before()
		}
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = bufio.NewReader(res.Body).WriteTo(&b)
		res.Body.Close()
		body := b.String()
		if res.StatusCode != tc.code {
			t.Fatalf("row %d: %s %s %s = %d %s; want %d", i, tc.method, tc.path, tc.body, res.StatusCode, body, tc.code)
		}
		if tc.code != 405 && res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("row %d: Content-Type %q", i, res.Header.Get("Content-Type"))
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Fatalf("row %d: %s %s: body lacks %s:\n%s", i, tc.method, tc.path, w, body)
			}
		}
	}
	e, ok := h.log.find(eventlog.CallDisposition, "c1")
	if !ok || e.Agent != "f1" || e.Reason != "escalated" || e.Data["code"] != "E1" || e.Data["no_survey"] != "1" {
		t.Fatalf("disposition event = %+v", e)
	}
}

// sseClient reads a Server-Sent Events stream.
type sseClient struct {
	cancel context.CancelFunc
	events chan eventlog.Event
}

func openSSE(t *testing.T, url, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	c := &sseClient{cancel: cancel, events: make(chan eventlog.Event, 1024)}
	go func() {
		defer res.Body.Close()
		defer close(c.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var id, typ string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "event: "):
				typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				var ev eventlog.Event
				if json.Unmarshal([]byte(line[6:]), &ev) == nil && ev.ID == id && string(ev.Type) == typ {
					c.events <- ev
				}
			}
		}
	}()
	t.Cleanup(cancel)
	return c
}

// next waits for the next event of type typ.
func (c *sseClient) next(t *testing.T, typ eventlog.Type) eventlog.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatalf("stream closed waiting for %s", typ)
			}
			if ev.Type == typ {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event", typ)
		}
	}
}

// TestAPIEventStream: the Runner's events reach the live stream (served
// beside the Runner's API by the composition, as in serve).
func TestAPIEventStream(t *testing.T) {
	live := eventlog.NewBroadcaster(0)
	h := newRunnerHarness(t, func(c *RunnerConfig) {
		next := c.Publisher
		c.Publisher = eventlog.PublisherFunc(func(e eventlog.Event) { next.Publish(e); live.Publish(e) })
	})
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", h.r.Handler())
	mux.Handle("GET /api/v1/events", live)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	all := openSSE(t, srv.URL+"/api/v1/events", "")
	joins := openSSE(t, srv.URL+"/api/v1/events?type=queue.joined", "")
	h.login("f1")
	first := all.next(t, eventlog.AgentState)
	if first.Agent != "f1" || first.Data["to"] != "available" {
		t.Fatalf("first event %+v", first)
	}
	h.caller("c1", "+79123456789", "support")
	j := joins.next(t, eventlog.QueueJoined)
	if j.CallID != "c1" || j.Caller != "+79123456789" {
		t.Fatalf("joined %+v: the stream carries the caller for agents", j)
	}
	select {
	case ev := <-joins.events:
		if ev.Type != eventlog.QueueJoined {
			t.Fatalf("filtered stream delivered %s", ev.Type)
		}
	default:
	}
	all.next(t, eventlog.QueueAnswered)
	// A client that reconnects with Last-Event-ID gets what it missed.
	again := openSSE(t, srv.URL+"/api/v1/events", first.ID)
	if ev := again.next(t, eventlog.QueueJoined); ev.CallID != "c1" || ev.ID <= first.ID {
		t.Fatalf("replayed %+v", ev)
	}
}
