package desk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/reporting"
)

// recorder is the event bus double: it keeps what the desk publishes.
type recorder struct {
	mu  sync.Mutex
	evs []eventlog.Event
}

func (r *recorder) Publish(e eventlog.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
}

func (r *recorder) actions() []eventlog.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []eventlog.Event
	for _, e := range r.evs {
		if e.Type == ActionEvent {
			out = append(out, e)
		}
	}
	return out
}

func hash(t *testing.T, pw string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// fakeCallbacks is the callback service double: it keeps the requests.
type fakeCallbacks struct {
	mu  sync.Mutex
	got []CallbackRequest
}

func (f *fakeCallbacks) Schedule(_ context.Context, r CallbackRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, r)
	return "cb" + string(rune('0'+len(f.got))), nil
}

func (f *fakeCallbacks) OfAgent(_ context.Context, agent string) ([]CallbackJSON, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []CallbackJSON
	for i, r := range f.got {
		if r.Agent == agent {
			out = append(out, CallbackJSON{CallID: "cb" + string(rune('1'+i)), OfCall: r.OfCall, Agent: r.Agent, Due: r.Due, State: "scheduled"})
		}
	}
	return out, nil
}

type fixture struct {
	cbs   *fakeCallbacks
	d     *Desk
	srv   *httptest.Server
	ev    *recorder
	now   *time.Time
	api   *[]string // what reached the API behind the check: "METHOD PATH BODY"
	apiMu *sync.Mutex
}

// newFixture: agents a1 (team t1), a2 (team t2), s1 (team l2, line 2);
// supervisors sv1 (team t1) and sv2 (team t2); admin root; token "tok".
// Call c1 was offered to and answered by a1 in queue support.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ev := &recorder{}
	cbs := &fakeCallbacks{}
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	var seen []string
	var mu sync.Mutex
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"a1","state":"available"}`)
	})
	d, err := New(Config{
		Users: []User{
			{ID: "a1", Role: RoleAgent, Hash: hash(t, "pw-a1")},
			{ID: "a2", Role: RoleAgent, Hash: hash(t, "pw-a2")},
			{ID: "sv1", Role: RoleSupervisor, Hash: hash(t, "pw-sv1"), Teams: []string{"t1"}},
			{ID: "sv2", Role: RoleSupervisor, Hash: hash(t, "pw-sv2"), Teams: []string{"t2"}, Queues: []string{"vip"}},
			{ID: "root", Role: RoleAdmin, Hash: hash(t, "pw-root")},
		},
		Agents:       []Agent{{ID: "a1", Team: "t1", Line: 1}, {ID: "a2", Team: "t2", Line: 1}, {ID: "s1", Team: "l2", Line: 2}},
		PauseReasons: []string{"lunch", "break"}, OutcomeCategories: []string{"billing", "other"},
		Token: "tok", Publisher: ev, Now: func() time.Time { return now },
		Lockout:   Lockout{Failures: 3, Window: time.Minute, Ban: 10 * time.Minute},
		Callbacks: cbs,
	})
	if err != nil {
		t.Fatal(err)
	}
	at := now.Add(-time.Minute)
	for i, e := range []eventlog.Event{
		{Type: eventlog.CallArrived, CallID: "c1", Caller: "+79123456789"},
		{Type: eventlog.IVRDigits, CallID: "c1", Data: map[string]string{"node": "menu", "digits": "2"}},
		{Type: eventlog.QueueJoined, CallID: "c1", Queue: "support"},
		{Type: eventlog.AgentOffered, CallID: "c1", Queue: "support", Agent: "a1"},
		{Type: eventlog.QueueAnswered, CallID: "c1", Queue: "support", Agent: "a1", Data: map[string]string{"wait_ms": "4000"}},
	} {
		e.ID = "e" + string(rune('0'+i))
		e.At = at.Add(time.Duration(i) * time.Second)
		d.Publish(e)
	}
	mux := http.NewServeMux()
	mux.Handle("/desk/", d.Handler())
	mux.Handle("/api/", d.API(api))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(d.Close)
	return &fixture{cbs: cbs, d: d, srv: srv, ev: ev, now: &now, api: &seen, apiMu: &mu}
}

// client is a browser: a cookie jar and the CSRF token of its session.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func (f *fixture) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: f.srv.URL, hc: &http.Client{Jar: jar}}
}

func (c *client) do(method, path, body string, hdr map[string]string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" && method != http.MethodGet {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *client) login(user, pw string) int {
	c.t.Helper()
	code, body := c.do(http.MethodPost, "/desk/login", `{"user":"`+user+`","password":"`+pw+`"}`, nil)
	if code == http.StatusOK {
		var s SessionJSON
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			c.t.Fatal(err)
		}
		c.csrf = s.CSRF
	}
	return code
}

// TestAccess: who may read and change what.
func TestAccess(t *testing.T) {
	f := newFixture(t)
	anon := f.client(t)
	a1, a2, sv1, sv2, root := f.client(t), f.client(t), f.client(t), f.client(t), f.client(t)
	for c, u := range map[*client]string{a1: "a1", a2: "a2", sv1: "sv1", sv2: "sv2", root: "root"} {
		if code := c.login(u, "pw-"+u); code != http.StatusOK {
			t.Fatalf("login %s: %d", u, code)
		}
	}
	noCSRF := f.client(t)
	noCSRF.login("a1", "pw-a1")
	noCSRF.csrf = ""
	token := map[string]string{"Authorization": "Bearer tok"}
	for _, tc := range []struct {
		name         string
		c            *client
		method, path string
		body         string
		hdr          map[string]string
		want         int
	}{
		{"logged out reads an agent", anon, "GET", "/api/v1/agents/a1", "", nil, 401},
		{"logged out card", anon, "GET", "/desk/api/calls/c1/card", "", nil, 401},
		{"logged out session", anon, "GET", "/desk/api/session", "", nil, 401},
		{"wrong token", anon, "GET", "/api/v1/agents", "", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"token is admin", anon, "GET", "/api/v1/agents", "", token, 200},
		{"token changes state without CSRF", anon, "POST", "/api/v1/agents/a2/ready", "", token, 200},
		{"agent reads self", a1, "GET", "/api/v1/agents/a1", "", nil, 200},
		{"agent goes ready", a1, "POST", "/api/v1/agents/a1/ready", "", nil, 200},
		{"agent pauses with a catalogue reason", a1, "POST", "/api/v1/agents/a1/pause", `{"reason":"lunch"}`, nil, 200},
		{"agent pauses with another reason", a1, "POST", "/api/v1/agents/a1/pause", `{"reason":"nap"}`, nil, 400},
		{"agent reads another agent", a2, "GET", "/api/v1/agents/a1", "", nil, 403},
		{"agent changes another agent's state", a2, "POST", "/api/v1/agents/a1/pause", `{"reason":"lunch"}`, nil, 403},
		{"agent reads their call's card", a1, "GET", "/desk/api/calls/c1/card", "", nil, 200},
		{"agent reads another agent's card", a2, "GET", "/desk/api/calls/c1/card", "", nil, 403},
		{"agent reads another agent's call", a2, "GET", "/api/v1/calls/c1", "", nil, 403},
		{"agent disposes another agent's call", a2, "POST", "/api/v1/calls/c1/disposition", `{"result":"resolved"}`, nil, 403},
		{"agent disposes as somebody else", a1, "POST", "/api/v1/calls/c1/disposition", `{"result":"resolved","agent":"a2"}`, nil, 403},
		{"agent disposes with an unknown category", a1, "POST", "/api/v1/calls/c1/disposition", `{"result":"resolved","code":"x"}`, nil, 400},
		{"agent disposes their call", a1, "POST", "/api/v1/calls/c1/disposition", `{"result":"resolved","code":"billing"}`, nil, 200},
		{"agent escalates their call", a1, "POST", "/api/v1/calls/c1/escalate", `{"notes":"n"}`, nil, 200},
		{"agent consults for another agent's call", a2, "POST", "/api/v1/calls/c1/consult", `{"notes":"n"}`, nil, 403},
		{"agent completes another agent's consultation", a2, "POST", "/api/v1/calls/c1/consult/complete", `{}`, nil, 403},
		{"agent returns from another agent's consultation", a2, "POST", "/api/v1/calls/c1/consult/cancel", `{}`, nil, 403},
		{"agent escalates another agent's call", a2, "POST", "/api/v1/calls/c1/escalate", `{"notes":"n"}`, nil, 403},
		{"agent consults for their call", a1, "POST", "/api/v1/calls/c1/consult", `{"notes":"n"}`, nil, 200},
		{"agent completes their consultation", a1, "POST", "/api/v1/calls/c1/consult/complete", `{}`, nil, 200},
		{"agent schedules a callback for another agent's caller", a2, "POST", "/desk/api/calls/c1/callback", `{"at":"2026-12-02T15:00:00Z"}`, nil, 403},
		{"agent schedules a callback in another agent's name", a1, "POST", "/desk/api/calls/c1/callback", `{"at":"2026-12-02T15:00:00Z","agent":"a2"}`, nil, 403},
		{"agent schedules a callback in the past", a1, "POST", "/desk/api/calls/c1/callback", `{"at":"2026-12-02T09:00:00Z"}`, nil, 400},
		{"agent schedules a callback without a time", a1, "POST", "/desk/api/calls/c1/callback", `{"notes":"x"}`, nil, 400},
		{"agent schedules a callback for their caller", a1, "POST", "/desk/api/calls/c1/callback", `{"at":"2026-12-02T15:00:00Z","notes":"invoice"}`, nil, 201},
		{"agent schedules a callback without CSRF", noCSRF, "POST", "/desk/api/calls/c1/callback", `{"at":"2026-12-02T15:00:00Z"}`, nil, 403},
		{"agent reads their callbacks", a1, "GET", "/desk/api/agents/a1/callbacks", "", nil, 200},
		{"agent reads another agent's callbacks", a2, "GET", "/desk/api/agents/a1/callbacks", "", nil, 403},
		{"supervisor of another team schedules a callback", sv2, "POST", "/desk/api/calls/c1/callback", `{"at":"2026-12-02T15:00:00Z"}`, nil, 403},
		{"supervisor schedules a callback for their team's call", sv1, "POST", "/desk/api/calls/c1/callback", `{"at":"2026-12-02T16:00:00Z"}`, nil, 201},
		{"logged out schedules a callback", anon, "POST", "/desk/api/calls/c1/callback", `{"at":"2026-12-02T15:00:00Z"}`, nil, 401},
		{"agent lists agents", a1, "GET", "/api/v1/agents", "", nil, 403},
		{"agent reads the live event log", a1, "GET", "/api/v1/events", "", nil, 403},
		{"agent reads reports", a1, "GET", "/api/v1/reports/queues", "", nil, 403},
		{"agent's figures of another", a1, "GET", "/desk/api/agents/a2/today", "", nil, 403},
		{"agent's own figures", a1, "GET", "/desk/api/agents/a1/today", "", nil, 200},
		{"missing CSRF", noCSRF, "POST", "/api/v1/agents/a1/ready", "", nil, 403},
		{"missing CSRF on the desk", noCSRF, "POST", "/desk/logout", "", nil, 403},
		{"supervisor reads their team's agent", sv1, "GET", "/api/v1/agents/a1", "", nil, 200},
		{"supervisor pauses their team's agent", sv1, "POST", "/api/v1/agents/a1/pause", `{"reason":"break"}`, nil, 200},
		{"supervisor reads their team's card", sv1, "GET", "/desk/api/calls/c1/card", "", nil, 200},
		{"supervisor of another team reads the agent", sv2, "GET", "/api/v1/agents/a1", "", nil, 403},
		{"supervisor of another team changes state", sv2, "POST", "/api/v1/agents/a1/ready", "", nil, 403},
		{"supervisor of another team reads the card", sv2, "GET", "/desk/api/calls/c1/card", "", nil, 403},
		{"supervisor of another queue", sv2, "GET", "/api/v1/queues/support", "", nil, 403},
		{"supervisor of the queue", sv2, "GET", "/api/v1/queues/vip", "", nil, 200},
		{"supervisor resets another team's password", sv2, "POST", "/desk/api/users/a1/password", `{"password":"new-password"}`, nil, 403},
		{"agent resets a password", a2, "POST", "/desk/api/users/a2/password", `{"password":"new-password"}`, nil, 403},
		{"admin reads everything", root, "GET", "/api/v1/reports/queues", "", nil, 200},
		{"admin reads any card", root, "GET", "/desk/api/calls/c1/card", "", nil, 200},
		{"agent monitors their own call", a1, "POST", "/api/v1/calls/c1/monitor", `{"mode":"listen"}`, nil, 403},
		{"agent lists calls to monitor", a1, "GET", "/desk/api/live", "", nil, 403},
		{"supervisor of another team monitors", sv2, "POST", "/api/v1/calls/c1/monitor", `{"mode":"listen"}`, nil, 403},
		{"supervisor monitors as somebody else", sv1, "POST", "/api/v1/calls/c1/monitor", `{"mode":"listen","supervisor":"sv2"}`, nil, 403},
		{"supervisor monitors their team's call", sv1, "POST", "/api/v1/calls/c1/monitor", `{"mode":"whisper"}`, nil, 200},
		{"supervisor switches mode", sv1, "PATCH", "/api/v1/calls/c1/monitor", `{"mode":"barge"}`, nil, 200},
		{"admin monitors any call", root, "DELETE", "/api/v1/calls/c1/monitor", `{"supervisor":"sv1"}`, nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.t = t
			if code, body := tc.c.do(tc.method, tc.path, tc.body, tc.hdr); code != tc.want {
				t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, code, body, tc.want)
			}
		})
	}
	// The agent's disposition reached the API in the agent's name.
	f.apiMu.Lock()
	found := false
	for _, s := range *f.api {
		if strings.HasPrefix(s, "POST /api/v1/calls/c1/disposition") && strings.Contains(s, `"agent":"a1"`) {
			found = true
		}
	}
	f.apiMu.Unlock()
	if !found {
		t.Errorf("the disposition did not reach the API as a1's: %v", *f.api)
	}
	// The supervisor's monitor request reached the API in their name.
	f.apiMu.Lock()
	found = false
	for _, s := range *f.api {
		if strings.HasPrefix(s, "POST /api/v1/calls/c1/monitor") && strings.Contains(s, `"supervisor":"sv1"`) {
			found = true
		}
	}
	f.apiMu.Unlock()
	if !found {
		t.Errorf("the monitor request did not reach the API as sv1's: %v", *f.api)
	}
	// Every successful action is a desk.action event naming who did it.
	want := map[string]string{"agent.ready": "a1", "agent.pause": "sv1", "call.disposition": "a1", "call.escalate": "a1",
		"call.monitor": "sv1", "call.monitor.mode": "sv1", "call.monitor.leave": "root",
		"call.consult": "a1", "call.consult.complete": "a1", "call.callback": "a1"}
	for _, e := range f.ev.actions() {
		if who, ok := want[e.Reason]; ok && e.String(eventlog.KeyActor) == who {
			delete(want, e.Reason)
		}
	}
	if len(want) > 0 {
		t.Errorf("no desk.action event for %v (got %v)", want, f.ev.actions())
	}
	// The callbacks reached the service for c1's caller, in the agent's
	// name (the supervisor's in the call's agent's).
	f.cbs.mu.Lock()
	defer f.cbs.mu.Unlock()
	if len(f.cbs.got) != 2 {
		t.Fatalf("callbacks scheduled: %+v, want 2", f.cbs.got)
	}
	for i, r := range f.cbs.got {
		if r.Agent != "a1" || r.OfCall != "c1" || r.Number != "+79123456789" || r.Queue != "support" {
			t.Errorf("callback %d: %+v, want a1's for c1's caller in support", i, r)
		}
	}
	if f.cbs.got[0].Notes != "invoice" || !f.cbs.got[0].Due.Equal(time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("callback: %+v", f.cbs.got[0])
	}
}

// TestPasswordReset: a supervisor resets their agent's password; the old
// one stops working, the agent's sessions end, the reset is recorded.
func TestPasswordReset(t *testing.T) {
	f := newFixture(t)
	a1, sv1 := f.client(t), f.client(t)
	a1.login("a1", "pw-a1")
	sv1.login("sv1", "pw-sv1")
	if code, body := sv1.do("POST", "/desk/api/users/a1/password", `{"password":"brand-new-pw"}`, nil); code != 200 {
		t.Fatalf("reset: %d %s", code, body)
	}
	if code, _ := a1.do("GET", "/desk/api/session", "", nil); code != 401 {
		t.Errorf("a1's session after the reset: %d, want 401", code)
	}
	if code := f.client(t).login("a1", "pw-a1"); code != 401 {
		t.Errorf("old password: %d, want 401", code)
	}
	if code := f.client(t).login("a1", "brand-new-pw"); code != 200 {
		t.Errorf("new password: %d, want 200", code)
	}
	ok := false
	for _, e := range f.ev.actions() {
		ok = ok || (e.Reason == "password.reset" && e.Agent == "a1" && e.String(eventlog.KeyActor) == "sv1")
	}
	if !ok {
		t.Errorf("no password.reset event by sv1: %v", f.ev.actions())
	}
}

// TestLoginLockout: after 3 failures a user is locked out even with the
// right password, until the ban ends; another source address can still
// log in as another user, the attacking address is locked out itself.
func TestLoginLockout(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	for i := 0; i < 3; i++ {
		if code := c.login("a1", "guess"); code != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, code)
		}
	}
	if code := c.login("a1", "pw-a1"); code != http.StatusTooManyRequests {
		t.Errorf("right password while locked: %d, want 429", code)
	}
	if code := c.login("a2", "pw-a2"); code != http.StatusTooManyRequests {
		t.Errorf("the same source, another user: %d, want 429 (source locked)", code)
	}
	*f.now = f.now.Add(11 * time.Minute)
	if code := c.login("a1", "pw-a1"); code != 200 {
		t.Errorf("after the ban: %d, want 200", code)
	}
}

// TestCookie: the session cookie is HttpOnly and SameSite=Strict.
func TestCookie(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Post(f.srv.URL+"/desk/login", "application/json", strings.NewReader(`{"user":"a1","password":"pw-a1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cs := resp.Cookies()
	if len(cs) != 1 || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode || cs[0].Secure {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP", cs)
	}
}

// TestLoginNeedsJSON: a cross-site form post cannot log a browser in.
func TestLoginNeedsJSON(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Post(f.srv.URL+"/desk/login", "text/plain", strings.NewReader(`{"user":"a1","password":"pw-a1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType || len(resp.Cookies()) > 0 {
		t.Errorf("text/plain login: %s, cookies %v; want 415 and none", resp.Status, resp.Cookies())
	}
}

// TestCard: the card has the caller, the IVR digits, the wait, and first
// line's escalation note.
func TestCard(t *testing.T) {
	f := newFixture(t)
	f.d.Publish(eventlog.Event{ID: "e9", At: *f.now, Type: eventlog.CallEscalated, CallID: "c1", Queue: "support", Agent: "a1",
		Reason: "technical", Data: map[string]string{"to_queue": "second", "notes": "router resets", "mode": "api"}})
	f.d.Publish(eventlog.Event{ID: "eA", At: *f.now, Type: eventlog.AgentOffered, CallID: "c1", Queue: "second", Agent: "s1"})
	card := buildCard("c1", f.d.calls.events("c1"), *f.now)
	if card.Caller != "+79123456789" || len(card.Digits) != 1 || card.Digits[0].Digits != "2" || card.WaitedS != 4 || card.Queue != "support" {
		t.Errorf("card %+v", card)
	}
	if len(card.Escalations) != 1 || card.Escalations[0].Notes != "router resets" || card.Escalations[0].Reason != "technical" {
		t.Errorf("escalations %+v", card.Escalations)
	}
	if !f.d.calls.hasAgent("c1", func(a string) bool { return a == "s1" }) {
		t.Errorf("second line's agent may not read the card")
	}
}

// TestCardConsultAndCallback: a consultation's reason and note are on the
// card from its start (what the consultant sees) and follow its state; a
// callback scheduled from the call is on its card.
func TestCardConsultAndCallback(t *testing.T) {
	f := newFixture(t)
	at := *f.now
	for i, e := range []eventlog.Event{
		eventlog.Event{Type: eventlog.ConsultStarted, CallID: "c1", Queue: "support", Agent: "a1", Reason: "technical"}.
			WithString(eventlog.KeyToQueue, "second").WithString(eventlog.KeyNotes, "modem firmware"),
		eventlog.Event{Type: eventlog.AgentOffered, CallID: "c1", Queue: "second", Agent: "s1"}.WithString(eventlog.KeyPurpose, "consult"),
	} {
		e.ID, e.At = "k"+string(rune('0'+i)), at
		f.d.Publish(e)
	}
	card := buildCard("c1", f.d.calls.events("c1"), at)
	if k := card.Consult; k == nil || k.State != "ringing" || k.Agent != "s1" || k.Notes != "modem firmware" || k.Reason != "technical" ||
		k.FromAgent != "a1" || k.ToQueue != "second" {
		t.Fatalf("consult %+v", card.Consult)
	}
	if !f.d.calls.hasAgent("c1", func(a string) bool { return a == "s1" }) {
		t.Errorf("the consultant may not read the card")
	}
	for i, e := range []eventlog.Event{
		{Type: eventlog.ConsultAnswered, CallID: "c1", Queue: "second", Agent: "s1"},
		{Type: eventlog.ConsultEnded, CallID: "c1", Queue: "second", Reason: "returned"},
		eventlog.Event{Type: eventlog.CallbackRequested, CallID: "cbX", Queue: "support", Agent: "a1", Caller: "+79123456789", Reason: "agent"}.
			WithString(eventlog.KeyOfCall, "c1").WithTime(eventlog.KeyDue, at.Add(time.Hour)).WithString(eventlog.KeyNotes, "invoice"),
	} {
		e.ID, e.At = "m"+string(rune('0'+i)), at
		f.d.Publish(e)
	}
	card = buildCard("c1", f.d.calls.events("c1"), at)
	if card.Consult.State != "returned" || card.State != "talking" {
		t.Errorf("after the return: consult %+v, call %s", card.Consult, card.State)
	}
	if len(card.Callbacks) != 1 || card.Callbacks[0].CallID != "cbX" || card.Callbacks[0].Notes != "invoice" ||
		!card.Callbacks[0].Due.Equal(at.Add(time.Hour)) {
		t.Errorf("callbacks %+v", card.Callbacks)
	}
	// The callback's own card has the caller; a1 may read it.
	if cb := buildCard("cbX", f.d.calls.events("cbX"), at); cb.Caller != "+79123456789" {
		t.Errorf("the callback's card: %+v", cb)
	}
	if !f.d.calls.hasAgent("cbX", func(a string) bool { return a == "a1" }) {
		t.Errorf("the scheduling agent may not read the callback's card")
	}
}

// figures is the store double for "my figures": it answers the day asked
// for with fixed agent figures and the CSI of calls surveyed in it.
type figures struct{ from, to time.Time }

func (f *figures) AgentReport(_ context.Context, from, to, _ time.Time) ([]reporting.AgentFigures, []reporting.AgentFigures, error) {
	f.from, f.to = from, to
	return []reporting.AgentFigures{{Agent: "a1", Answered: 2, Talk: 100 * time.Second, Wrapup: 20 * time.Second}}, nil, nil
}

func (f *figures) CSISurveyedReport(_ context.Context, from, to time.Time, by string) ([]reporting.CSIFigures, error) {
	if by != reporting.ByAgent || !from.Equal(f.from) || !to.Equal(f.to) {
		return nil, fmt.Errorf("CSI asked by %q for %s..%s, not the agent report's day", by, from, to)
	}
	return []reporting.CSIFigures{{Key: "a2", Ratings: 1, Score: reporting.Ratio{Num: 100, Den: 1}},
		{Key: "a1", Ratings: 2, Score: reporting.Ratio{Num: 100, Den: 2}}}, nil
}

// TestTodayCSI: "my figures" carry the CSI of the agent's calls surveyed
// today (the mean score and the count), from midnight in the service's
// zone; none rated: no CSI.
func TestTodayCSI(t *testing.T) {
	msk, _ := time.LoadLocation("Europe/Moscow")
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	f := &figures{}
	d, err := New(Config{Users: []User{{ID: "a1", Role: RoleAgent, Hash: hash(t, "pw")}, {ID: "a3", Role: RoleAgent, Hash: hash(t, "pw")}},
		Agents: []Agent{{ID: "a1"}, {ID: "a2"}, {ID: "a3"}}, Token: "tok", Publisher: &recorder{}, Figures: f, Location: msk,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	get := func(agent string) TodayJSON {
		req, _ := http.NewRequest("GET", srv.URL+"/desk/api/agents/"+agent+"/today", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out TodayJSON
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	a1 := get("a1")
	if a1.CSI == nil || *a1.CSI != 50 || a1.CSIRatings != 2 || a1.Answered != 2 || a1.AHTS != 60 || a1.Note != "" {
		t.Errorf("a1 today: %+v (csi %v), want CSI 50 over 2 ratings, 2 answered, AHT 60 s", a1, a1.CSI)
	}
	if want := time.Date(2026, 12, 2, 0, 0, 0, 0, msk); !f.from.Equal(want) || !f.to.Equal(now) {
		t.Errorf("today asked as %s..%s, want %s..%s", f.from, f.to, want, now)
	}
	if a3 := get("a3"); a3.CSI != nil || a3.CSIRatings != 0 {
		t.Errorf("a3 today: %+v, want no CSI", a3)
	}
}
