package queue

import (
	"errors"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// A callback handed back after a restart keeps its original place: it is
// offered before a caller who joined after it, and its connected result
// carries the wait from the request.
func TestEnqueueCallbackKeepsPlace(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{{Name: "q", Callback: CallbackConfig{Durable: true}}}})
	h.advance(10 * time.Minute)
	h.enqueue("later", "q", 0) // joined at t0+10m, nobody logged in
	acts := h.ok(h.e.EnqueueCallback(CallbackCall{ID: "cb", Number: "+79001112233", Trunk: "provider", Queue: "q",
		Joined: t0, Requested: t0.Add(time.Minute), Attempts: 1, Source: "key"}))
	if len(rings(acts)) != 0 {
		t.Fatalf("offered with no agent: %v", rings(acts))
	}
	if _, err := h.e.EnqueueCallback(CallbackCall{ID: "cb", Number: "+79001112233", Queue: "q"}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second hand-over: %v, want ErrDuplicate", err)
	}
	if n := len(h.eventsOf(eventlog.QueueJoined)); n != 1 {
		t.Fatalf("%d queue.joined, want 1 (the hand-over continues a counted wait)", n)
	}
	h.login("a1")
	if got := rings(h.last); !eq(got, []string{"cb>a1"}) {
		t.Fatalf("first offer %v, want the callback (it joined first)", got)
	}
	r, _ := find[RingAgent](h.last)
	if r.Purpose != ForCallback {
		t.Fatalf("purpose %v", r.Purpose)
	}
	acts = h.ok(h.e.RingAnswered("cb", "a1"))
	d, ok := find[DialCallback](acts)
	if !ok || d.Attempt != 2 || d.Number != "+79001112233" || d.Trunk != "provider" {
		t.Fatalf("dial %#v", acts)
	}
	h.advance(30 * time.Second)
	h.ok(h.e.CallbackAnswered("cb"))
	res := h.eventsOf(eventlog.CallbackResult)
	if len(res) != 1 || res[0].Reason != "connected" || !res[0].Flag(eventlog.KeyFinal) {
		t.Fatalf("results %+v", res)
	}
	// requested at t0+1m, connected at t0+10m30s
	if w, _ := res[0].Duration(eventlog.KeyWait); w != 9*time.Minute+30*time.Second {
		t.Fatalf("callback wait %s, want 9m30s", w)
	}
}

// With durable callbacks a failed attempt that is not the last ends the
// call (the job schedules the next); the last one, or a refused dial,
// is final.
func TestDurableCallbackFailure(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		attempts     int // made before
		final        bool
		finished     string
	}{
		{"first of three", "no-answer", 0, false, "callback-retry"},
		{"last", "busy", 2, true, "callback-failed"},
		{"refused", "refused", 0, true, "callback-failed"},
		// a policy limit for now: not an attempt, even on the last one
		{"deferred", "deferred", 2, false, "callback-retry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{{Name: "q", Callback: CallbackConfig{Durable: true, Attempts: 3}}}})
			h.login("a1")
			h.ok(h.e.EnqueueCallback(CallbackCall{ID: "cb", Number: "+79001112233", Queue: "q", Joined: t0, Attempts: tc.attempts}))
			h.ok(h.e.RingAnswered("cb", "a1"))
			h.ok(h.e.CallbackFailed("cb", tc.reason))
			res := h.eventsOf(eventlog.CallbackResult)
			if len(res) != 1 || res[0].Flag(eventlog.KeyFinal) != tc.final || res[0].Agent != "a1" {
				t.Fatalf("result %+v, want final=%v", res, tc.final)
			}
			fin := h.eventsOf(eventlog.CallFinished)
			if len(fin) != 1 || fin[0].Reason != tc.finished {
				t.Fatalf("finished %+v, want %s", fin, tc.finished)
			}
			if h.e.Live("cb") {
				t.Fatal("the Engine still holds the callback")
			}
			h.wantState("a1", Available)
		})
	}
}

// The offer is made on join, once after N seconds and with each periodic
// announcement, and never once the caller asked for the callback.
func TestCallbackOffer(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{{Name: "q", AnnounceInterval: time.Minute,
		CallbackOffer: CallbackOffer{OnJoin: true, After: 20 * time.Second, WithAnnouncements: true}}}})
	offers := func(acts []Action) int {
		n := 0
		for _, a := range acts {
			if _, ok := a.(OfferCallback); ok {
				n++
			}
		}
		return n
	}
	if n := offers(h.enqueue("c1", "q", 0)); n != 1 {
		t.Fatalf("%d offers on join, want 1", n)
	}
	if n := offers(h.advance(20 * time.Second)); n != 1 {
		t.Fatalf("%d offers after 20 s, want 1", n)
	}
	acts := h.advance(40 * time.Second) // the first announcement
	if _, ok := find[Announce](acts); !ok || offers(acts) != 1 {
		t.Fatalf("announcement without the offer: %#v", acts)
	}
	h.ok(h.e.RequestCallback("c1", ""))
	if n := offers(h.advance(time.Minute)); n != 0 {
		t.Fatalf("%d offers after the request", n)
	}
	if n := len(h.eventsOf(eventlog.CallbackOffered)); n != 3 {
		t.Fatalf("%d callback.offered events, want 3", n)
	}
	// An anonymous caller is never offered a callback.
	if n := offers(h.ok(h.e.Enqueue(NewCall{ID: "anon", Caller: "anonymous", Queue: "q"}))); n != 0 {
		t.Fatalf("anonymous caller offered a callback")
	}
}

// The queue's callback request hands the Runner what a durable store keeps.
func TestRequestCallbackDescribesIt(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{{Name: "q", Priority: 2}}})
	h.ok(h.e.Enqueue(NewCall{ID: "c1", Caller: "+79001112233", Trunk: "provider", Queue: "q", Priority: 1, Lang: "en"}))
	h.advance(time.Minute)
	acts := h.ok(h.e.RequestCallback("c1", ""))
	hc, ok := find[HangupCaller](acts)
	if !ok || hc.Callback == nil {
		t.Fatalf("hangup %#v", acts)
	}
	want := CallbackCall{ID: "c1", Number: "+79001112233", Trunk: "provider", Queue: "q", Priority: 1, Lang: "en", Joined: t0,
		Requested: t0.Add(time.Minute), Source: "key"}
	if *hc.Callback != want {
		t.Fatalf("callback %+v, want %+v", *hc.Callback, want)
	}
}

// Caller first: at the callback's turn the caller is dialled and no agent
// is reserved (the free agent takes the next caller); once they answer
// they wait at their original place and the next free agent gets them.
func TestCallerFirstCallback(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{{Name: "q", Callback: CallbackConfig{CallerFirst: true, Durable: true}}}})
	h.enqueue("early", "q", 0)
	h.advance(time.Second)
	h.ok(h.e.EnqueueCallback(CallbackCall{ID: "cb", Number: "+79001112233", Queue: "q", Joined: t0.Add(-time.Minute), Requested: t0}))
	h.advance(time.Second)
	h.enqueue("late", "q", 0)
	h.login("a1")
	d, ok := find[DialCallback](h.last)
	if !ok || d.CallID != "cb" || d.Agent != "" {
		t.Fatalf("login: %#v, want the callback dialled first, no agent", h.last)
	}
	if got := rings(h.last); !eq(got, []string{"early>a1"}) {
		t.Fatalf("rings %v: the free agent takes the next caller", got)
	}
	h.ok(h.e.RingAnswered("early", "a1"))
	acts := h.ok(h.e.CallbackAnswered("cb"))
	if _, ok := find[StartMOH](acts); !ok || len(rings(acts)) != 0 {
		t.Fatalf("answered callback: %#v, want music and no agent yet", acts)
	}
	if n := len(h.eventsOf(eventlog.CallbackResult)); n != 0 {
		t.Fatalf("%d callback results before an agent", n)
	}
	h.advance(time.Minute)
	h.ok(h.e.Hangup("early", ByCaller))
	if got := rings(h.last); !eq(got, []string{"cb>a1"}) {
		t.Fatalf("after the agent's call: %v, want the callback (ahead of late)", got)
	}
	if r, _ := find[RingAgent](h.last); r.Purpose != ForCall {
		t.Fatalf("purpose %v, want a normal call", r.Purpose)
	}
	acts = h.ok(h.e.RingAnswered("cb", "a1"))
	if b, ok := find[Bridge](acts); !ok || b.CallID != "cb" {
		t.Fatalf("bridge %#v", acts)
	}
	res := h.eventsOf(eventlog.CallbackResult)
	if len(res) != 1 || res[0].Reason != "connected" || res[0].Data["attempt"] != "1" {
		t.Fatalf("results %+v", res)
	}
	if w, _ := res[0].Duration(eventlog.KeyWait); w != 62*time.Second {
		t.Fatalf("callback wait %s, want 1m2s (request to the agent)", w)
	}

	// A caller who answers and hangs up before an agent: abandoned, final.
	h.ok(h.e.EnqueueCallback(CallbackCall{ID: "cb2", Number: "+79001112244", Queue: "q", Joined: t0}))
	h.ok(h.e.Hangup("cb", ByCaller)) // a1 goes free (no wrap-up): cb2 is dialled
	if d, ok := find[DialCallback](h.last); !ok || d.CallID != "cb2" {
		t.Fatalf("%#v", h.last)
	}
	h.ok(h.e.Pause("a1", "x"))
	h.ok(h.e.CallbackAnswered("cb2"))
	h.ok(h.e.Hangup("cb2", ByCaller))
	res = h.eventsOf(eventlog.CallbackResult)
	if last := res[len(res)-1]; last.CallID != "cb2" || last.Reason != "abandoned" || !last.Flag(eventlog.KeyFinal) {
		t.Fatalf("last result %+v", last)
	}
	// A dial that is not answered releases nobody and ends the attempt.
	h.ok(h.e.EnqueueCallback(CallbackCall{ID: "cb3", Number: "+79001112255", Queue: "q", Joined: t0}))
	h.ok(h.e.Ready("a1"))
	if d, ok := find[DialCallback](h.last); !ok || d.CallID != "cb3" || !eq(rings(h.last), []string{"late>a1"}) {
		t.Fatalf("ready: %#v, want cb3 dialled and a1 ringing for late", h.last)
	}
	h.ok(h.e.CallbackFailed("cb3", "no-answer"))
	h.wantState("a1", Ringing) // still for late: the failed dial had reserved nobody
	if h.e.Live("cb3") {
		t.Fatal("cb3 still held (durable: the job schedules the next attempt)")
	}
}

// A callback withdrawn until calling hours leaves the line without ending
// for its store, and comes back at its place.
func TestWithdrawCallback(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{{Name: "q", Callback: CallbackConfig{Durable: true}}}})
	h.enqueue("c1", "q", 0)
	h.ok(h.e.RequestCallback("c1", ""))
	h.ok(h.e.WithdrawCallback("c1"))
	if fin := h.eventsOf(eventlog.CallFinished); len(fin) != 1 || fin[0].Reason != "callback-withdrawn" {
		t.Fatalf("finished %+v", fin)
	}
	h.advance(time.Hour)
	h.enqueue("c2", "q", 0)
	h.ok(h.e.EnqueueCallback(CallbackCall{ID: "c1", Number: "+7900c1", Queue: "q", Joined: t0}))
	h.login("a1")
	if got := rings(h.last); !eq(got, []string{"c1>a1"}) {
		t.Fatalf("%v, want c1 back at its place", got)
	}
	if _, err := h.e.WithdrawCallback("c2"); !errors.Is(err, ErrState) {
		t.Fatalf("withdrawing a caller: %v", err)
	}
}
