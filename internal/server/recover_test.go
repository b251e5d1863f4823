package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/server"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/jackc/pgx/v5/pgxpool"
)

const recoverConfig = `
service: {name: hotline-recover}
sip:
  listen: "127.0.0.1:SIPPORT"
  digest_algorithms: [MD5]
  trunks:
    - {name: provider, allow: ["127.0.0.71"], address: "127.0.0.72:5090", caller_id: "88001234567"}
  numbers: {"*": support}
media:
  rtp_ports: "37400-37499"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT"}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: b1, password: pw-b1, skills: {general: 1}}
  - {id: b2, password: pw-b2, skills: {general: 1}}
  - {id: b3, password: pw-b3, skills: {general: 1}}
  - {id: b4, password: pw-b4, skills: {general: 1}}
queues:
  - {name: support, skill: general}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        queue: {type: queue, queue: support}
`

// TestRestartAfterCrash: what a process killed with SIGKILL leaves in
// PostgreSQL — calls with no call.ended, agents logged in, a heartbeat —
// is what the next start finds. It closes those calls with reason crash at
// the last heartbeat (a waiting call counts as abandoned, a talking one
// ends its talk there) and logs the agents back in as they were (b4, in an
// hour's wrap-up, finishes the rest of it), before it takes calls.
func TestRestartAfterCrash(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru")); err != nil {
		t.Skipf("generated prompts missing: run make prompts (%v)", err)
	}
	db := pgtest.New(t)
	yml := func() string {
		return fillConfig(t, root, recoverConfig, "DBURL", db.DSN)
	}
	// A first start makes the schema. b1's phone registers (SIPp); the
	// registration is saved at once, so a crash right after keeps it.
	sipptest.NeedTools(t, "sipp")
	first := startTestServe(t, "recover.yaml", yml())
	registerAgents(t, root, first.SIPAddr().String(), "127.0.0.73", 5731, 5730, "b1")
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	waitUntil(t, "b1's registration saved", func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM sip_bindings WHERE sip_user = 'b1' AND contact LIKE '%127.0.0.73:5731%'`).Scan(&n)
		return n == 1
	})
	first.stop()

	// What a crashed process leaves: c-talk answered by b1, c-wait waiting,
	// b2 paused for lunch, b3 logged out, c-done ended normally; the last
	// heartbeat 40 s after the last event.
	store := reporting.NewStore(pool, nil, nil)
	t0 := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Millisecond)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	state := func(id, agent string, s int, from, to, reason string) eventlog.Event {
		return eventlog.Event{ID: id, Type: eventlog.AgentState, Agent: agent, At: at(s), Reason: reason,
			Data: map[string]string{"from": from, "to": to}}
	}
	evs := []eventlog.Event{
		state("x-01", "b1", 0, "logged-out", "available", ""),
		state("x-02", "b2", 0, "logged-out", "available", ""),
		state("x-03", "b3", 0, "logged-out", "available", ""),
		state("x-04", "b2", 1, "available", "paused", "lunch"),
		state("x-05", "b3", 2, "available", "logged-out", ""),
		state("x-06", "b4", 0, "logged-out", "available", ""),
		{ID: "x-10", Type: eventlog.CallArrived, CallID: "c-talk", At: at(10), Caller: "+79123456789"},
		{ID: "x-11", Type: eventlog.QueueJoined, CallID: "c-talk", Queue: "support", At: at(11)},
		{ID: "x-12", Type: eventlog.QueueAnswered, CallID: "c-talk", Queue: "support", Agent: "b1", At: at(14), Data: map[string]string{"wait_ms": "3000"}},
		state("x-13", "b1", 14, "ringing", "on-call", ""),
		{ID: "x-20", Type: eventlog.CallArrived, CallID: "c-wait", At: at(20), Caller: "+79123456780"},
		{ID: "x-21", Type: eventlog.QueueJoined, CallID: "c-wait", Queue: "support", At: at(21)},
		{ID: "x-30", Type: eventlog.CallArrived, CallID: "c-done", At: at(30), Caller: "+79123456781"},
		{ID: "x-31", Type: eventlog.CallEnded, CallID: "c-done", At: at(35), Reason: "normal"},
		state("x-32", "b4", 35, "on-call", "wrap-up", "").WithDuration(eventlog.KeyWrapup, time.Hour).
			WithString(eventlog.KeyOfCall, "c-done").WithString(eventlog.KeyQueue, "support"),
	}
	if err := store.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "hotline"
	}
	if err := store.Beat(ctx, host, t0, at(75)); err != nil {
		t.Fatal(err)
	}

	srv := startTestServe(t, "recover.yaml", yml())
	for _, tc := range []struct {
		agent, state, reason string
		registered           bool
	}{
		{"b1", "available", "", true}, {"b2", "paused", "lunch", false}, {"b3", "logged-out", "", false},
		{"b4", "wrap-up", "", false},
	} {
		var a struct {
			State      string `json:"state"`
			Reason     string `json:"reason"`
			Registered *bool  `json:"registered"`
		}
		getJSON(t, srv.api+"/api/v1/agents/"+tc.agent, &a)
		if a.State != tc.state || a.Reason != tc.reason {
			t.Errorf("%s after the restart: %s (%q), want %s (%q)", tc.agent, a.State, a.Reason, tc.state, tc.reason)
		}
		if a.Registered == nil || *a.Registered != tc.registered {
			got := "absent"
			if a.Registered != nil {
				got = strconv.FormatBool(*a.Registered)
			}
			t.Errorf("%s registered after the restart: %s, want %v", tc.agent, got, tc.registered)
		}
	}
	var ended map[string]eventlog.Event
	var downs []eventlog.Event
	waitUntil(t, "the crash's call.ended events stored", func() bool {
		got, err := store.Events(ctx, t0, time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		ended, downs = map[string]eventlog.Event{}, nil
		for _, e := range got {
			switch {
			case e.Type == eventlog.CallEnded:
				ended[e.CallID] = e
			case e.Type == eventlog.AgentState && e.Reason == server.DownReason:
				downs = append(downs, e)
			}
		}
		return len(ended) == 3 && len(downs) == 3
	})
	for _, id := range []string{"c-talk", "c-wait"} {
		e := ended[id]
		if e.Reason != server.CrashReason || !e.At.Equal(at(75)) {
			t.Errorf("%s ended %q at %v, want %q at the last heartbeat %v", id, e.Reason, e.At, server.CrashReason, at(75))
		}
	}
	// b1's on-call, b2's pause and b4's wrap-up end at the crash; b3 was
	// logged out.
	for _, e := range downs {
		want := map[string]string{"b1": "on-call", "b2": "paused", "b4": "wrap-up"}[e.Agent]
		if e.String(eventlog.KeyFrom) != want || e.String(eventlog.KeyTo) != "logged-out" || !e.At.Equal(at(75)) {
			t.Errorf("%s's state closed as %s -> %s at %v, want %s -> logged-out at %v", e.Agent,
				e.String(eventlog.KeyFrom), e.String(eventlog.KeyTo), e.At, want, at(75))
		}
	}
	if e := ended["c-done"]; e.Reason != "normal" {
		t.Errorf("c-done's own end was touched: %+v", e)
	}
	// A second restart finds nothing left open.
	open, err := store.OpenCalls(ctx, t0, host)
	if err != nil || len(open) != 0 {
		t.Fatalf("open calls after recovery = %v, %v", open, err)
	}
}
