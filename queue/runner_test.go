package queue

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
)

func TestRunnerAnswerAndHangup(t *testing.T) {
	tests := []struct {
		name       string
		hangup     string // who hangs up the bridged call: caller | agent
		wantCaller string // how the caller leg ended
		wantAgent  string
	}{
		{"caller hangs up", "caller", "remote", "local"},
		{"agent hangs up", "agent", "local", "remote"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newRunnerHarness(t, nil)
			c := h.caller("c1", "+79123456789", "support")
			eventually(t, "caller hears the queue's music", func() bool { moh, _ := c.snapshot(); return slices.Contains(moh, "jazz") })
			h.login("f1")
			a := h.agentLeg("f1", 0)
			h.bridged(c, a)
			if got := h.agentState("f1"); got != OnCall {
				t.Fatalf("f1 = %s, want on-call", got)
			}
			if tc.hangup == "caller" {
				c.remoteHangup()
			} else {
				a.remoteHangup()
			}
			eventually(t, "both legs end", func() bool { return c.endedBy() != "up" && a.endedBy() != "up" })
			if c.endedBy() != tc.wantCaller || a.endedBy() != tc.wantAgent {
				t.Fatalf("caller ended %s, agent ended %s; want %s, %s", c.endedBy(), a.endedBy(), tc.wantCaller, tc.wantAgent)
			}
			eventually(t, "call finished", func() bool { return h.log.count(eventlog.CallFinished, "c1") == 1 })
			if e, _ := h.log.find(eventlog.CallCompleted, "c1"); e.Data["by"] != tc.hangup {
				t.Fatalf("call.completed by %q, want %q", e.Data["by"], tc.hangup)
			}
			h.stop()
			if n := h.log.count(eventlog.CallCompleted, "c1"); n != 1 {
				t.Fatalf("%d call.completed events, want exactly 1", n)
			}
		})
	}
}

// TestRunnerCallerHangupReachesEngineOnce: whenever the caller hangs up,
// the Engine hears of it exactly once and the call finishes once.
func TestRunnerCallerHangupReachesEngineOnce(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *runnerHarness) // before the caller hangs up
		want  string                 // call_finished reason
	}{
		{"waiting", func(h *runnerHarness) {}, "abandoned"},
		{"ringing", func(h *runnerHarness) {
			h.sw.set("f1", "hold")
			h.login("f1")
			eventually(h.t, "f1 rings", func() bool { return h.sw.dialCount("f1") == 1 })
		}, "abandoned"},
		{"connected", func(h *runnerHarness) {
			h.login("f1")
			h.agentLeg("f1", 0)
			eventually(h.t, "connected", func() bool { return h.callState("c1") == "support/connected" })
		}, "answered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newRunnerHarness(t, nil)
			c := h.caller("c1", "+79123456789", "support")
			tc.setup(h)
			c.remoteHangup()
			eventually(t, "call finished", func() bool { return h.log.count(eventlog.CallFinished, "c1") == 1 })
			if e, _ := h.log.find(eventlog.CallFinished, "c1"); e.Reason != tc.want {
				t.Fatalf("finished %q, want %q", e.Reason, tc.want)
			}
			h.stop()
			if n := h.log.count(eventlog.QueueAbandoned, "c1") + h.log.count(eventlog.CallCompleted, "c1"); n != 1 {
				t.Fatalf("%d abandons and completions, want 1", n)
			}
			if st := h.agentState("f1"); st == Ringing || st == OnCall {
				t.Fatalf("f1 left %s after the caller hung up", st)
			}
		})
	}
}

func TestRunnerRingFailureAndAutoPause(t *testing.T) {
	h := newRunnerHarness(t, nil)
	h.sw.set("f1", "busy")
	c := h.caller("c1", "+79123456789", "support")
	h.login("f1")
	eventually(t, "f1 paused after two misses", func() bool { return h.agentState("f1") == Paused })
	if n := h.log.count(eventlog.AgentRingNoAnswer, "c1"); n != 2 {
		t.Fatalf("%d ring_noanswer, want 2", n)
	}
	h.r.mu.Lock()
	a, _ := h.r.eng.Agent("f1")
	h.r.mu.Unlock()
	if a.Reason != "missed calls" {
		t.Fatalf("pause reason %q", a.Reason)
	}
	// The next agent takes the call.
	h.login("f2")
	h.bridged(c, h.agentLeg("f2", 0))
}

// TestRunnerLateAnswerIsHungUp: a phone that answers after the offer was
// withdrawn (ErrStale or a cancelled ring) is hung up, and the call goes on.
func TestRunnerLateAnswerIsHungUp(t *testing.T) {
	h := newRunnerHarness(t, nil)
	h.sw.set("f1", "late")
	c := h.caller("c1", "+79123456789", "support")
	h.login("f1")
	eventually(t, "f1 rings", func() bool { return h.sw.dialCount("f1") == 1 })
	h.do(func() ([]Action, error) { return h.r.eng.Pause("f1", "lunch") }) // withdraws the offer
	late := h.agentLeg("f1", 0)
	eventually(t, "late leg hung up", func() bool { return late.endedBy() == "local" })
	if c.endedBy() != "up" || h.callState("c1") != "support/waiting" {
		t.Fatalf("caller %s, call %s; want the caller still waiting", c.endedBy(), h.callState("c1"))
	}
}

func TestRunnerEscalation(t *testing.T) {
	tests := []struct {
		name     string
		trigger  func(h *runnerHarness, agent *fakeLeg) (replied func() (bool, bool))
		wantMode string
	}{
		{"REFER to the escalation number", func(h *runnerHarness, a *fakeLeg) func() (bool, bool) {
			var mu sync.Mutex
			var got, called bool
			a.events <- sip.TransferEvent{Target: "7000", At: time.Now(), Reply: func(ok bool) {
				mu.Lock()
				got, called = ok, true
				mu.Unlock()
			}}
			return func() (bool, bool) { mu.Lock(); defer mu.Unlock(); return got, called }
		}, "blind"},
		{"feature code *9 in the call", func(h *runnerHarness, a *fakeLeg) func() (bool, bool) {
			a.events <- sip.DigitEvent{Digit: '*', At: time.Now()}
			a.events <- sip.DigitEvent{Digit: '9', At: time.Now()}
			return nil
		}, "code"},
		{"API", func(h *runnerHarness, a *fakeLeg) func() (bool, bool) {
			h.do(func() ([]Action, error) {
				return h.r.escalate("c1", "", Escalation{Reason: "technical", Notes: "router", Mode: "api"})
			})
			return nil
		}, "api"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newRunnerHarness(t, nil)
			c := h.caller("c1", "+79123456789", "support")
			h.login("f1")
			a := h.agentLeg("f1", 0)
			h.bridged(c, a)
			replied := tc.trigger(h, a)
			eventually(t, "first agent released", func() bool { return a.endedBy() == "local" })
			if replied != nil {
				if ok, called := replied(); !called || !ok {
					t.Fatalf("REFER reply = %v (called %v), want accepted", ok, called)
				}
			}
			eventually(t, "caller waits in second line", func() bool { return h.callState("c1") == "second/waiting" })
			if c.endedBy() != "up" {
				t.Fatal("the caller was hung up")
			}
			h.login("s1")
			h.bridged(c, h.agentLeg("s1", 0))
			h.r.mu.Lock()
			ci, _ := h.r.eng.Call("c1")
			h.r.mu.Unlock()
			if ci.Context.FirstAgent != "f1" || len(ci.Context.Escalations) != 1 || ci.Context.Escalations[0].Mode != tc.wantMode {
				t.Fatalf("context = %+v", ci.Context)
			}
			if e, ok := h.log.find(eventlog.EscalationAnswered, "c1"); !ok || e.Agent != "s1" || e.Data["from_agent"] != "f1" {
				t.Fatalf("escalation_answered = %+v", e)
			}
		})
	}
}

func TestRunnerTransferElsewhereRefused(t *testing.T) {
	h := newRunnerHarness(t, nil)
	c := h.caller("c1", "+79123456789", "support")
	h.login("f1")
	a := h.agentLeg("f1", 0)
	h.bridged(c, a)
	replies := make(chan bool, 1)
	a.events <- sip.TransferEvent{Target: "79990000000", At: time.Now(), Reply: func(ok bool) { replies <- ok }}
	select {
	case ok := <-replies:
		if ok {
			t.Fatal("a transfer to an arbitrary number was accepted")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reply to the REFER")
	}
	if a.endedBy() != "up" || h.callState("c1") != "support/connected" {
		t.Fatalf("agent %s, call %s after a refused transfer", a.endedBy(), h.callState("c1"))
	}
}

func TestRunnerConsult(t *testing.T) {
	for _, end := range []string{"complete", "cancel"} {
		t.Run(end, func(t *testing.T) {
			h := newRunnerHarness(t, nil)
			c := h.caller("c1", "+79123456789", "support")
			h.login("f1", "s1")
			a := h.agentLeg("f1", 0)
			h.bridged(c, a)
			h.do(func() ([]Action, error) { return h.r.eng.ConsultStart("c1", Escalation{Reason: "billing"}) })
			s := h.agentLeg("s1", 0)
			eventually(t, "agents consult", func() bool { return a.bridgedTo() == s })
			if c.bridgedTo() != nil {
				t.Fatal("caller still bridged during the consultation")
			}
			if end == "complete" {
				h.do(func() ([]Action, error) { return h.r.eng.ConsultComplete("c1") })
				h.bridged(c, s)
				eventually(t, "first agent released", func() bool { return a.endedBy() == "local" })
			} else {
				h.do(func() ([]Action, error) { return h.r.eng.ConsultCancel("c1") })
				h.bridged(c, a)
				eventually(t, "consultant released", func() bool { return s.endedBy() == "local" })
			}
		})
	}
}

func TestRunnerCallback(t *testing.T) {
	h := newRunnerHarness(t, func(c *RunnerConfig) {
		c.Queue.Queues[0].Callback = CallbackConfig{Prompt: "hotline/callback-confirm"}
	})
	c := h.caller("c1", "+79123456789", "support")
	c.events <- sip.DigitEvent{Digit: '5', At: time.Now()}
	eventually(t, "caller hung up after the confirmation", func() bool { return c.endedBy() == "local" })
	if _, played := c.snapshot(); !slices.Contains(played, "hotline/callback-confirm") {
		t.Fatalf("played %v", played)
	}
	if h.log.count(eventlog.QueueAbandoned, "c1") != 0 {
		t.Fatal("a callback request was reported as an abandon")
	}
	h.login("f1")
	a := h.agentLeg("f1", 0)
	back := h.agentLeg("+79123456789", 0)
	h.bridged(back, a)
	back.remoteHangup()
	eventually(t, "callback finished", func() bool { return h.log.count(eventlog.CallFinished, "c1") == 1 })
	if e, _ := h.log.find(eventlog.CallFinished, "c1"); e.Reason != "answered" {
		t.Fatalf("finished %q", e.Reason)
	}
}

func TestRunnerTimersFire(t *testing.T) {
	h := newRunnerHarness(t, func(c *RunnerConfig) {
		c.Queue.Queues[0].MaxWait = 50 * time.Millisecond
		c.Queue.Queues[0].OnMaxWait = Exit{Kind: ExitHangup, Message: "hotline/queue-full"}
	})
	c := h.caller("c1", "+79123456789", "support")
	eventually(t, "max wait hangs the caller up", func() bool { return c.endedBy() == "local" })
	if e, _ := h.log.find(eventlog.CallFinished, "c1"); e.Reason != "timeout" {
		t.Fatalf("finished %q", e.Reason)
	}
	if _, played := c.snapshot(); !slices.Contains(played, "hotline/queue-full") {
		t.Fatalf("played %v", played)
	}
}

func TestRunnerAnnouncement(t *testing.T) {
	h := newRunnerHarness(t, func(c *RunnerConfig) {
		c.Queue.Queues[0].AnnounceOnJoin = true
		c.Queue.Queues[0].Lang = "en"
	})
	c := h.caller("c1", "+79123456789", "support")
	want := []string{"queue-thereare", "digits/1", "queue-callswaiting"}
	eventually(t, "announcement played and music resumed", func() bool {
		moh, played := c.snapshot()
		return slices.Equal(played, want) && len(moh) == 2
	})
}

func TestRunnerFeatureCodes(t *testing.T) {
	h := newRunnerHarness(t, nil)
	tests := []struct {
		agent, to   string
		wantFeature string
		wantOK      bool
		wantState   AgentStatus
	}{
		{"f1", "*4", "ready", false, LoggedOut}, // not logged in yet
		{"f1", "*1", "login", true, Available},
		{"f1", "*3", "pause", true, Paused},
		{"f1", "*4", "ready", true, Available},
		{"f1", "*312", "pause", true, Paused}, // reason code-12, checked below
		{"f1", "*4", "ready", true, Available},
		{"f1", "*9", "escalate", false, Available}, // no call
		{"f1", "*2", "logout", true, LoggedOut},
		{"f1", "555", "", false, LoggedOut},
		{"stranger", "*1", "", false, LoggedOut},
	}
	for i, tc := range tests {
		leg := newFakeLeg("in"+string(rune('a'+i)), tc.agent, tc.to, tc.agent, sip.Inbound)
		res := h.r.HandleAgentCall(context.Background(), leg)
		if res.Feature != tc.wantFeature || (res.Err == nil) != tc.wantOK {
			t.Fatalf("%s dials %s: %+v; want feature %q ok %v", tc.agent, tc.to, res, tc.wantFeature, tc.wantOK)
		}
		if tc.agent == "f1" {
			if st := h.agentState("f1"); st != tc.wantState {
				t.Fatalf("%s dials %s: state %s, want %s", tc.agent, tc.to, st, tc.wantState)
			}
		}
		if tc.to == "*312" {
			h.r.mu.Lock()
			a, _ := h.r.eng.Agent("f1")
			h.r.mu.Unlock()
			if a.Reason != "code-12" {
				t.Fatalf("*312 paused with reason %q, want code-12", a.Reason)
			}
		}
		_, played := leg.snapshot()
		switch {
		case tc.wantFeature == "":
			if len(played) != 0 {
				t.Fatalf("%s dials %s: played %v to a refused call", tc.agent, tc.to, played)
			}
		case tc.wantOK && !slices.Equal(played, []string{PromptFeatureOK}), !tc.wantOK && !slices.Equal(played, []string{PromptFeatureError}):
			t.Fatalf("%s dials %s: played %v", tc.agent, tc.to, played)
		}
		if leg.endedBy() != "local" {
			t.Fatalf("%s dials %s: leg not hung up", tc.agent, tc.to)
		}
	}
}

func TestRunnerShutdownHangsUpAndStops(t *testing.T) {
	h := newRunnerHarness(t, nil)
	h.sw.set("f2", "hold")
	c1 := h.caller("c1", "+79123456789", "support")
	c2 := h.caller("c2", "+79123456780", "support")
	h.login("f1")
	a := h.agentLeg("f1", 0)
	h.bridged(c1, a)
	h.login("f2")
	eventually(t, "f2 rings", func() bool { return h.sw.dialCount("f2") == 1 })
	h.stop() // fails the test if a goroutine does not stop
	for _, l := range []*fakeLeg{c1, c2, a} {
		if l.endedBy() != "local" {
			t.Fatalf("%s not hung up at shutdown", l.info.ID)
		}
	}
	if err := h.r.Enqueue(context.Background(), newFakeLeg("c3", "1", "2", "", sip.Inbound), NewCall{Queue: "support"}); err != ErrClosed {
		t.Fatalf("Enqueue after shutdown = %v", err)
	}
}

// TestRunnerCallbackAgentLeaves: the reserved agent hangs up while the
// caller is being dialled back; the attempt fails and the call keeps its
// place for the next attempt.
func TestRunnerCallbackAgentLeaves(t *testing.T) {
	h := newRunnerHarness(t, nil)
	h.sw.set("+79123456789", "hold")
	c := h.caller("c1", "+79123456789", "support")
	c.events <- sip.DigitEvent{Digit: '5', At: time.Now()}
	eventually(t, "caller hung up", func() bool { return c.endedBy() == "local" })
	h.login("f1")
	a := h.agentLeg("f1", 0)
	eventually(t, "dialling the caller back", func() bool { return h.sw.dialCount("+79123456789") == 1 })
	a.remoteHangup()
	eventually(t, "callback attempt failed", func() bool { return h.log.count(eventlog.CallbackResult, "c1") == 1 })
	if e, _ := h.log.find(eventlog.CallbackResult, "c1"); e.Reason != "failed" {
		t.Fatalf("callback.result %q", e.Reason)
	}
	if st := h.callState("c1"); st != "support/callback-parked" {
		t.Fatalf("call %s, want parked for the next attempt", st)
	}
}

// TestRunnerRingAll: ring-all dials every available agent; the first to
// answer gets the call and the other phones stop ringing.
func TestRunnerRingAll(t *testing.T) {
	h := newRunnerHarness(t, func(c *RunnerConfig) { c.Queue.Queues[0].Strategy = RingAll })
	h.sw.set("f1", "hold")
	h.login("f1", "f2")
	c := h.caller("c1", "+79123456789", "support")
	h.bridged(c, h.agentLeg("f2", 0))
	eventually(t, "f1 stops ringing and is available", func() bool { return h.agentState("f1") == Available })
	h.r.mu.Lock()
	rings := len(h.r.rings)
	h.r.mu.Unlock()
	if rings != 0 || h.sw.dialCount("f1") != 1 {
		t.Fatalf("%d rings left, f1 dialled %d times", rings, h.sw.dialCount("f1"))
	}
	if h.log.count(eventlog.AgentRingNoAnswer, "c1") != 0 {
		t.Fatal("the losing phone counted a missed ring")
	}
}

func TestRunnerUnknownPreferredAgentIgnored(t *testing.T) {
	h := newRunnerHarness(t, nil)
	leg := newFakeLeg("c1", "+79123456789", "88001234567", "", sip.Inbound)
	if err := h.r.Enqueue(context.Background(), leg, NewCall{Queue: "support", PreferredAgent: "gone", PreferFor: time.Minute}); err != nil {
		t.Fatalf("Enqueue with an unknown preferred agent: %v", err)
	}
	h.login("f1")
	h.bridged(leg, h.agentLeg("f1", 0))
}
