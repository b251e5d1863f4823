package survey

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/sip"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		killHelperMain()
		return
	}
	pgtest.Main(m)
}

// collector is a eventlog.Publisher that keeps every event and wakes waiters.
type collector struct {
	mu   sync.Mutex
	evs  []eventlog.Event
	wake chan struct{}
}

func newCollector() *collector { return &collector{wake: make(chan struct{}, 1)} }

func (c *collector) Publish(e eventlog.Event) {
	c.mu.Lock()
	c.evs = append(c.evs, e)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *collector) of(t eventlog.Type, callID string) []eventlog.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []eventlog.Event
	for _, e := range c.evs {
		if e.Type == t && (callID == "" || e.CallID == callID) {
			out = append(out, e)
		}
	}
	return out
}

// waitFor waits until an event of type t for callID was published. The
// limit only keeps a broken test from hanging; nothing is timed.
func (c *collector) waitFor(t *testing.T, typ eventlog.Type, callID string) eventlog.Event {
	t.Helper()
	limit := time.After(2 * time.Minute)
	for {
		if evs := c.of(typ, callID); len(evs) > 0 {
			return evs[0]
		}
		select {
		case <-c.wake:
		case <-time.After(200 * time.Millisecond):
		case <-limit:
			t.Fatalf("no %s event for %s; events: %+v", typ, callID, c.evs)
		}
	}
}

// demoConfig: due at once, any time, retries after a second.
func demoConfig() Config {
	return Config{
		Delay: 100 * time.Millisecond, Window: Window{0, 24 * time.Hour}, RetryDelay: time.Second,
		Attempts: 3, InputTimeout: 50 * time.Millisecond, Trunk: "provider", CallerID: "+74950000000",
		Teams: map[string]string{"a1": "team-a", "b1": "team-b"}, PerMinute: 100,
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startService(t *testing.T, cfg Config, sw sip.Switch, pub eventlog.Publisher) (*Service, *pgtest.DB) {
	t.Helper()
	db := startDB(t)
	ctx := context.Background()
	s, err := New(cfg, Deps{Pool: db.Pool, Switch: sw, Publisher: pub, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s, db
}

// startDB returns a fresh, migrated database.
func startDB(t *testing.T) *pgtest.DB {
	t.Helper()
	db := pgtest.New(t)
	if err := Migrate(context.Background(), db.Pool); err != nil {
		t.Fatal(err)
	}
	return db
}

// answeredCall publishes the events of an answered call that ended.
func answeredCall(p eventlog.Publisher, callID, caller, queueName, agent string) {
	now := time.Now().UTC()
	p.Publish(eventlog.Event{Type: eventlog.CallArrived, CallID: callID, Caller: caller, At: now})
	p.Publish(eventlog.Event{Type: eventlog.QueueJoined, CallID: callID, Queue: queueName, At: now})
	p.Publish(eventlog.Event{Type: eventlog.QueueAnswered, CallID: callID, Queue: queueName, Agent: agent, Caller: caller, At: now})
	p.Publish(eventlog.Event{Type: eventlog.CallCompleted, CallID: callID, Queue: queueName, Agent: agent, At: now})
	p.Publish(eventlog.Event{Type: eventlog.CallFinished, CallID: callID, Queue: queueName, Reason: "answered", At: now})
	p.Publish(eventlog.Event{Type: eventlog.CallEnded, CallID: callID, Reason: "normal", At: now})
}

func answer(digits ...string) fakeAnswer {
	return fakeAnswer{answer: true, digits: digits, hangupAfter: -1}
}

func TestSurveyCompleted(t *testing.T) {
	sw := newFakeSwitch()
	sw.script("+79123456701", answer("4", "1"))
	sw.script("+79000000000", answer("5", "1"))
	ev := newCollector()
	s, db := startService(t, demoConfig(), sw, ev)
	answeredCall(s, "call-1", "89123456701", "sales", "a1") // national form from the trunk
	done := ev.waitFor(t, eventlog.SurveyCompleted, "call-1")
	if done.Data["rating"] != "4" || done.Data["solved"] != "yes" || done.Agent != "a1" || done.Queue != "sales" || done.Data["line"] != "1" {
		t.Fatalf("completed event %+v", done)
	}
	if len(ev.of(eventlog.SurveyScheduled, "call-1")) != 1 || len(ev.of(eventlog.SurveyAttempt, "call-1")) != 1 {
		t.Fatalf("events %+v", ev.evs)
	}
	var state string
	var rating int
	var solved, team string
	if err := db.Pool.QueryRow(context.Background(), `SELECT state, rating, solved, team FROM survey WHERE call_id = 'call-1'`).
		Scan(&state, &rating, &solved, &team); err != nil {
		t.Fatal(err)
	}
	if state != "completed" || rating != 4 || solved != "yes" || team != "team-a" {
		t.Fatalf("row %s %d %s %s", state, rating, solved, team)
	}
	sw.mu.Lock()
	tg := sw.targets[0]
	sw.mu.Unlock()
	if tg.Number != "+79123456701" || tg.Trunk != "provider" || tg.CallerID != "+74950000000" {
		t.Fatalf("dialled %+v", tg)
	}
	// Re-processing the same call is idempotent: no second survey.
	answeredCall(s, "call-1", "89123456701", "sales", "a1")
	answeredCall(s, "call-2", "+79000000000", "sales", "a1") // a marker processed after it
	ev.waitFor(t, eventlog.SurveyCompleted, "call-2")
	if n := len(ev.of(eventlog.SurveyScheduled, "call-1")); n != 1 || sw.dialCount("+79123456701") != 1 {
		t.Fatalf("re-processing scheduled %d surveys, dialled %d times", n, sw.dialCount("+79123456701"))
	}
}

func TestSurveyNoAnswerRetriesThenFails(t *testing.T) {
	sw := newFakeSwitch()
	sw.script("+79123456702", fakeAnswer{cause: sip.CauseNoAnswer}, fakeAnswer{cause: sip.CauseBusy},
		fakeAnswer{answer: true, hangupAfter: 0}) // answered and hung up at once: like a machine
	ev := newCollector()
	s, db := startService(t, demoConfig(), sw, ev)
	answeredCall(s, "call-na", "+79123456702", "sales", "a1")
	failed := ev.waitFor(t, eventlog.SurveyFailed, "call-na")
	var reasons []string
	for _, a := range ev.of(eventlog.SurveyAttempt, "call-na") {
		reasons = append(reasons, a.Data["attempt"]+":"+a.Reason)
	}
	if strings.Join(reasons, ",") != "1:no-answer,2:busy,3:hangup" || failed.Reason != "hangup" {
		t.Fatalf("attempts %v, failed %+v", reasons, failed)
	}
	if sw.dialCount("+79123456702") != 3 || len(ev.of(eventlog.SurveyCompleted, "call-na")) != 0 {
		t.Fatalf("dials %d", sw.dialCount("+79123456702"))
	}
	var state string
	var attempts int
	db.Pool.QueryRow(context.Background(), `SELECT state, attempts FROM survey WHERE call_id = 'call-na'`).Scan(&state, &attempts)
	if state != "failed" || attempts != 3 {
		t.Fatalf("row %s %d", state, attempts)
	}
}

func TestOptOutHonouredForever(t *testing.T) {
	sw := newFakeSwitch()
	sw.script("+79123456703", answer("2", "9"))
	ev := newCollector()
	s, _ := startService(t, demoConfig(), sw, ev) // cooldown 0: only the opt-out stops the next survey
	answeredCall(s, "call-o1", "+79123456703", "sales", "a1")
	ev.waitFor(t, eventlog.SurveyOptOut, "call-o1")
	if c := ev.waitFor(t, eventlog.SurveyCompleted, "call-o1"); c.Data["rating"] != "2" || c.Data["solved"] != "" {
		t.Fatalf("partial answer not kept: %+v", c)
	}
	answeredCall(s, "call-o2", "+79123456703", "support", "a1")
	sk := ev.waitFor(t, eventlog.SurveySkipped, "call-o2")
	if sk.Reason != SkipOptedOut || sw.dialCount("+79123456703") != 1 {
		t.Fatalf("second call: %+v, dials %d", sk, sw.dialCount("+79123456703"))
	}
}

func TestEscalatedCallAndLateNoSurvey(t *testing.T) {
	sw := newFakeSwitch()
	sw.script("+79123456704", answer("1", "2"))
	ev := newCollector()
	cfg := demoConfig()
	s, _ := startService(t, cfg, sw, ev)
	now := time.Now().UTC()
	for _, e := range []eventlog.Event{
		{Type: eventlog.CallArrived, CallID: "call-e", Caller: "+79123456704"},
		{Type: eventlog.QueueAnswered, CallID: "call-e", Queue: "l1", Agent: "a1"},
		{Type: eventlog.CallEscalated, CallID: "call-e", Queue: "l1", Agent: "a1", Reason: "billing", Data: map[string]string{"to_queue": "l2"}},
		{Type: eventlog.CallCompleted, CallID: "call-e", Queue: "l1", Agent: "a1"},
		{Type: eventlog.QueueJoined, CallID: "call-e", Queue: "l2", Data: map[string]string{"escalated_from": "l1"}},
		{Type: eventlog.QueueAnswered, CallID: "call-e", Queue: "l2", Agent: "b1"},
		{Type: eventlog.CallDisposition, CallID: "call-e", Agent: "b1", Reason: "not_resolved", Data: map[string]string{"notes": "refund pending"}},
		{Type: eventlog.CallFinished, CallID: "call-e", Queue: "l2", Reason: "answered"},
	} {
		e.At = now
		s.Publish(e)
	}
	c := ev.waitFor(t, eventlog.SurveyCompleted, "call-e")
	if c.Agent != "b1" || c.Queue != "l2" || c.Data["line"] != "2" || c.Data["agent1"] != "a1" || c.Data["agent2"] != "b1" ||
		c.Data["rating"] != "1" || c.Data["solved"] != "no" {
		t.Fatalf("escalated: %+v", c)
	}

	// The review list has it, with escalation, notes and the link to its
	// recording; mark it reviewed.
	s.deps.Recordings = playable{"call-e": true}
	h := s.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/surveys/review", nil))
	var rv struct{ Review []Summary }
	json.Unmarshal(rec.Body.Bytes(), &rv)
	if len(rv.Review) != 1 || !rv.Review[0].Escalated || rv.Review[0].EscalatedTo != "l2" || rv.Review[0].Notes != "refund pending" ||
		rv.Review[0].Team != "team-b" || *rv.Review[0].Rating != 1 || strings.Contains(rec.Body.String(), "456704") ||
		rv.Review[0].Recording != "/desk/api/calls/call-e/recording" {
		t.Fatalf("review: %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/surveys/review/"+itoa(rv.Review[0].ID), strings.NewReader(`{"comment":"called back","by":"sup1"}`)))
	if rec.Code != http.StatusOK {
		t.Fatalf("mark reviewed: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/surveys/review", nil))
	if strings.Contains(rec.Body.String(), "call-e") {
		t.Fatalf("reviewed survey still listed: %s", rec.Body)
	}

	// A no_survey disposition after the call ended cancels a survey that
	// is still waiting; the API can cancel another.
	cfg2 := demoConfig()
	cfg2.Delay = 48 * time.Hour // far away: stays scheduled
	ev2 := newCollector()
	s2, _ := startService(t, cfg2, sw, ev2)
	answeredCall(s2, "call-late", "+79123456705", "sales", "a1")
	answeredCall(s2, "call-api", "+79123456706", "sales", "a1")
	ev2.waitFor(t, eventlog.SurveyScheduled, "call-late")
	sc := ev2.waitFor(t, eventlog.SurveyScheduled, "call-api")
	s2.Publish(eventlog.Event{Type: eventlog.CallDisposition, CallID: "call-late", Agent: "a1", Reason: "resolved", Data: map[string]string{"no_survey": "1"}})
	if sk := ev2.waitFor(t, eventlog.SurveySkipped, "call-late"); sk.Reason != SkipNoSurvey {
		t.Fatalf("late no_survey: %+v", sk)
	}
	rec = httptest.NewRecorder()
	s2.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/surveys/"+sc.Data["survey_id"]+"/cancel", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s2.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/surveys", nil))
	var list struct {
		Counts  Counts
		Surveys []Summary
	}
	json.Unmarshal(rec.Body.Bytes(), &list)
	if list.Counts.ByState["cancelled"] != 2 || len(list.Surveys) != 2 {
		t.Fatalf("list: %s", rec.Body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// playable is the recordings' answer for the review list: these calls
// have one.
type playable map[string]bool

func (p playable) Playable(_ context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = p[id]
	}
	return out, nil
}
