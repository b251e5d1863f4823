package queue

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" means valid
	}{
		{"ok", Config{Agents: []AgentConfig{{ID: "a", Skills: map[string]int{"x": 3}}}, Queues: []QueueConfig{{Name: "q", Skill: "x"}}}, ""},
		{"empty agent id", Config{Agents: []AgentConfig{{}}}, "id is empty"},
		{"dup agent", Config{Agents: []AgentConfig{{ID: "a"}, {ID: "a"}}}, "duplicate id"},
		{"skill level", Config{Agents: []AgentConfig{{ID: "a", Skills: map[string]int{"x": 6}}}}, "must be 1..5"},
		{"agent line", Config{Agents: []AgentConfig{{ID: "a", Line: 3}}}, "must be 1 or 2"},
		{"dup queue", Config{Queues: []QueueConfig{{Name: "q"}, {Name: "q"}}}, "duplicate name"},
		{"strategy", Config{Queues: []QueueConfig{{Name: "q", Strategy: "random"}}}, "unknown strategy"},
		{"overflow unknown", Config{Queues: []QueueConfig{{Name: "q", OnMaxWait: Exit{Kind: ExitOverflow, Queue: "z"}}}}, "unknown overflow queue"},
		{"overflow self", Config{Queues: []QueueConfig{{Name: "q", OnFull: Exit{Kind: ExitOverflow, Queue: "q"}}}}, "overflow to itself"},
		{"overflow no target", Config{Queues: []QueueConfig{{Name: "q", OnNoAgents: Exit{Kind: ExitOverflow}}}}, "needs a target"},
		{"exit kind", Config{Queues: []QueueConfig{{Name: "q", OnMaxWait: Exit{Kind: "voicemail"}}}}, "unknown exit"},
		{"policy", Config{Queues: []QueueConfig{{Name: "q", JoinWhenNoAgents: "sometimes"}}}, "unknown policy"},
		{"negative", Config{Queues: []QueueConfig{{Name: "q", MaxWait: -time.Second}}}, "negative max wait"},
		{"sl target", Config{Queues: []QueueConfig{{Name: "q", SLTarget: 1.5}}}, "SL target"},
		{"escalate unknown", Config{Queues: []QueueConfig{{Name: "q", EscalateTo: "l2"}}}, "unknown escalation queue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to mention %q", err, tt.want)
			}
			if _, err := New(tt.cfg, &fakeClock{t0}, nil); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestStrategies(t *testing.T) {
	// a1 idle longest, a3 has the best skill, a2 was offered a call last by
	// round robin... set up by logging in at different times.
	tests := []struct {
		strategy Strategy
		want     []string
	}{
		{LongestIdle, []string{"c1>a1"}},
		{SkillLevel, []string{"c1>a3"}},
		{RingAll, []string{"c1>a1", "c1>a2", "c1>a3"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.strategy), func(t *testing.T) {
			cfg := Config{Agents: []AgentConfig{
				{ID: "a1", Skills: map[string]int{"x": 1}},
				{ID: "a2", Skills: map[string]int{"x": 2}},
				{ID: "a3", Skills: map[string]int{"x": 5}},
			}, Queues: []QueueConfig{{Name: "q", Skill: "x", Strategy: tt.strategy}}}
			h := newHarness(t, cfg)
			for _, id := range []string{"a1", "a2", "a3"} {
				h.login(id)
				h.advance(time.Second)
			}
			got := rings(h.enqueue("c1", "q", 0))
			if tt.strategy == RingAll && len(got) == 3 {
				// heap order is not sorted; compare as sets
				seen := map[string]bool{}
				for _, g := range got {
					seen[g] = true
				}
				for _, w := range tt.want {
					if !seen[w] {
						t.Fatalf("rings %v, want %v", got, tt.want)
					}
				}
				return
			}
			if !eq(got, tt.want) {
				t.Fatalf("rings %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRoundRobin(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(3, nil), Queues: []QueueConfig{{Name: "q", Strategy: RoundRobin}}})
	h.login("a3", "a2", "a1") // idle order must not matter
	var got []string
	for i, id := range []string{"c1", "c2", "c3", "c4"} {
		r := rings(h.enqueue(id, "q", 0))
		if len(r) != 1 {
			t.Fatalf("call %d: rings %v", i, r)
		}
		got = append(got, r[0])
		agent := strings.Split(r[0], ">")[1]
		h.ok(h.e.RingAnswered(id, agent))
		h.ok(h.e.Hangup(id, ByCaller))
	}
	// Never-offered agents go first in configuration order, then the least recently offered.
	want := []string{"c1>a1", "c2>a2", "c3>a3", "c4>a1"}
	if !eq(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestRingNoAnswerKeepsPlaceAndAutoPause(t *testing.T) {
	tests := []struct {
		name      string
		maxMissed int
		fails     int
		want      AgentStatus
	}{
		{"default 2: one miss stays available", 0, 1, Available},
		{"default 2: two misses pause", 0, 2, Paused},
		{"three allowed", 3, 2, Available},
		{"never", -1, 5, Available},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Agents: []AgentConfig{{ID: "a1", MaxMissed: tt.maxMissed}},
				Queues: []QueueConfig{{Name: "q"}}})
			h.login("a1")
			h.enqueue("c1", "q", 0)
			for i := 0; i < tt.fails; i++ {
				if h.state("a1") != Ringing {
					t.Fatalf("miss %d: a1 is %s", i, h.state("a1"))
				}
				// alternate between the Runner's report and the Engine's timer
				if i%2 == 0 {
					h.ok(h.e.RingFailed("c1", "a1", "no-answer"))
				} else {
					acts := h.advance(DefaultRingTimeout)
					if _, ok := find[StopRinging](acts); !ok {
						t.Fatalf("ring timeout without StopRinging: %v", acts)
					}
				}
			}
			st := h.state("a1")
			if tt.want == Paused {
				if st != Paused {
					t.Fatalf("state %s, want paused", st)
				}
				a, _ := h.e.Agent("a1")
				if a.Reason != "missed calls" {
					t.Fatalf("reason %q", a.Reason)
				}
				return
			}
			// not paused: the call was offered again (only agent)
			if st != Ringing {
				t.Fatalf("state %s, want ringing again", st)
			}
		})
	}
}

func TestRingNoAnswerNextAgentSamePlace(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(2, nil), Queues: []QueueConfig{{Name: "q"}}})
	h.login("a1")
	h.enqueue("c1", "q", 0) // rings a1
	h.advance(time.Second)
	h.enqueue("c2", "q", 0) // waits
	h.ok(h.e.RingFailed("c1", "a1", "busy"))
	// c1 went back ahead of c2 and is re-offered to a1 (only agent); a2 arrives later.
	if got := rings(h.last); !eq(got, []string{"c1>a1"}) {
		t.Fatalf("after miss: %v", got)
	}
	h.ok(h.e.RingFailed("c1", "a1", "busy")) // second miss: a1 paused
	h.wantState("a1", Paused)
	q, _ := h.e.Queue("q")
	if len(q.Waiting) != 2 || q.Waiting[0].ID != "c1" || q.Waiting[0].Position != 1 {
		t.Fatalf("waiting %+v", q.Waiting)
	}
	if got := rings(h.ok(h.e.Login("a2"))); !eq(got, []string{"c1>a2"}) {
		t.Fatalf("next agent got %v, want c1 first", got)
	}
	h.ok(h.e.RingAnswered("c1", "a2"))
	h.ok(h.e.Ready("a1"))
	if got := rings(h.last); !eq(got, []string{"c2>a1"}) {
		t.Fatalf("a1 after ready got %v", got)
	}
	a, _ := h.e.Agent("a1")
	if a.Missed != 0 {
		t.Fatalf("missed count %d after ready", a.Missed)
	}
}

func TestAnswerResetsMissed(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{{Name: "q"}}})
	h.login("a1")
	h.enqueue("c1", "q", 0)
	h.ok(h.e.RingFailed("c1", "a1", "no-answer"))
	h.ok(h.e.RingAnswered("c1", "a1"))
	h.ok(h.e.Hangup("c1", ByAgent))
	h.enqueue("c2", "q", 0)
	h.ok(h.e.RingFailed("c2", "a1", "no-answer"))
	h.wantState("a1", Ringing) // one miss since the answer: not paused
}

func TestWrapUpPrecedence(t *testing.T) {
	tests := []struct {
		name          string
		agent, queue  time.Duration
		want          time.Duration
		wantImmediate bool
	}{
		{"agent only", 10 * time.Second, 0, 10 * time.Second, false},
		{"queue overrides", 10 * time.Second, 30 * time.Second, 30 * time.Second, false},
		{"queue only", 0, 5 * time.Second, 5 * time.Second, false},
		{"none", 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Agents: []AgentConfig{{ID: "a1", WrapUp: tt.agent}},
				Queues: []QueueConfig{{Name: "q", WrapUp: tt.queue}, {Name: "q2"}}})
			h.login("a1")
			h.enqueue("c1", "q", 0)
			h.ok(h.e.RingAnswered("c1", "a1"))
			h.enqueue("c2", "q2", 0) // a1 serves q2 too: must wait for one wrap-up
			h.advance(time.Minute)
			h.ok(h.e.Hangup("c1", ByCaller))
			if tt.wantImmediate {
				if got := rings(h.last); !eq(got, []string{"c2>a1"}) {
					t.Fatalf("no wrap-up: rings %v", got)
				}
				return
			}
			h.wantState("a1", WrapUp)
			h.advance(tt.want - time.Millisecond)
			h.wantState("a1", WrapUp)
			acts := h.advance(time.Millisecond)
			if got := rings(acts); !eq(got, []string{"c2>a1"}) {
				t.Fatalf("after wrap-up: rings %v", got)
			}
			if n := len(h.eventsOf(eventlog.WrapupEnded)); n != 1 {
				t.Fatalf("%d wrap-up ends, want 1", n)
			}
		})
	}
}

func TestCrossQueueOrder(t *testing.T) {
	type waiting struct {
		id, queue string
		prio      int
		after     time.Duration // clock advance before enqueuing
	}
	tests := []struct {
		name  string
		calls []waiting
		want  string
	}{
		{"priority first", []waiting{{"old", "fast", 0, 0}, {"vip", "slow", 5, 50 * time.Second}}, "vip"},
		{"SL risk beats arrival", []waiting{{"slowq", "slow", 0, 0}, {"fastq", "fast", 0, 3 * time.Second}}, "fastq"},
		// 56 s in slow (risk 0.93) vs 1 s in fast (risk 0.1)
		{"SL risk other way", []waiting{{"slowq", "slow", 0, 0}, {"fastq", "fast", 0, 55 * time.Second}}, "slowq"},
		{"arrival on equal risk", []waiting{{"first", "a", 0, 0}, {"second", "b", 0, 0}}, "first"},
		{"queue priority", []waiting{{"old", "fast", 0, 0}, {"boosted", "boost", 0, 50 * time.Second}}, "boosted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{
				{Name: "fast", ServiceLevel: 10 * time.Second}, {Name: "slow", ServiceLevel: 60 * time.Second},
				{Name: "a"}, {Name: "b"}, {Name: "boost", Priority: 1},
			}})
			for _, c := range tt.calls {
				h.advance(c.after)
				h.enqueue(c.id, c.queue, c.prio)
			}
			h.advance(time.Second)
			if got := rings(h.ok(h.e.Login("a1"))); len(got) != 1 || got[0] != tt.want+">a1" {
				t.Fatalf("rings %v, want %s", got, tt.want)
			}
		})
	}
}

func TestNoOvertakeInQueue(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{{Name: "q"}}})
	for _, id := range []string{"c1", "c2", "c3"} {
		h.enqueue(id, "q", 0)
		h.advance(time.Second)
	}
	h.enqueue("p", "q", 1) // higher priority may go first
	h.login("a1")
	var got []string
	for i := 0; i < 4; i++ {
		r := rings(h.last)
		if len(r) != 1 {
			t.Fatalf("step %d: %v", i, r)
		}
		id := strings.Split(r[0], ">")[0]
		got = append(got, id)
		h.ok(h.e.RingAnswered(id, "a1"))
		h.ok(h.e.Hangup(id, ByCaller))
	}
	if !eq(got, []string{"p", "c1", "c2", "c3"}) {
		t.Fatalf("order %v", got)
	}
}

func TestQueueExits(t *testing.T) {
	tests := []struct {
		name     string
		q        QueueConfig
		trigger  string // "maxwait" | "full" | "noagents-join" | "noagents-leave"
		wantEv   eventlog.Type
		wantFin  string // CallFinished reason; "" means the call lives on
		wantAct  string
		wantPlay string
	}{
		{"max wait message", QueueConfig{MaxWait: time.Minute, OnMaxWait: Exit{Message: "bye"}}, "maxwait", eventlog.QueueTimeout, "timeout", "hangup", "bye"},
		{"max wait overflow", QueueConfig{MaxWait: time.Minute, OnMaxWait: Exit{Kind: ExitOverflow, Queue: "spill"}}, "maxwait", eventlog.QueueOverflowed, "", "overflow", ""},
		{"max wait callback", QueueConfig{MaxWait: time.Minute, OnMaxWait: Exit{Kind: ExitCallback}}, "maxwait", eventlog.CallbackRequested, "", "hangup", ""},
		{"full message", QueueConfig{MaxLen: 1}, "full", eventlog.QueueTimeout, "rejected", "hangup", ""},
		{"full overflow", QueueConfig{MaxLen: 1, OnFull: Exit{Kind: ExitOverflow, Queue: "spill"}}, "full", eventlog.QueueOverflowed, "", "overflow", ""},
		{"join no agents", QueueConfig{JoinWhenNoAgents: NoneLoggedIn, OnNoAgents: Exit{Message: "closed"}}, "noagents-join", eventlog.QueueTimeout, "rejected", "hangup", "closed"},
		{"leave no agents", QueueConfig{LeaveWhenNoAgents: NoneReady, OnNoAgents: Exit{Kind: ExitOverflow, Queue: "spill"}}, "noagents-leave", eventlog.QueueOverflowed, "", "overflow", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qc := tt.q
			qc.Name, qc.Skill = "q", "x"
			h := newHarness(t, Config{Agents: []AgentConfig{{ID: "busy", Skills: map[string]int{"x": 1}}},
				Queues: []QueueConfig{qc, {Name: "spill", Skill: "y"}}})
			var acts []Action
			switch tt.trigger {
			case "maxwait":
				h.enqueue("c1", "q", 0)
				h.advance(59 * time.Second)
				if len(h.eventsOf(tt.wantEv)) != 0 {
					t.Fatal("exit before max wait")
				}
				acts = h.advance(time.Second)
			case "full":
				h.enqueue("c0", "q", 0)
				acts = h.enqueue("c1", "q", 0)
			case "noagents-join":
				acts = h.enqueue("c1", "q", 0)
			case "noagents-leave":
				h.login("busy")
				h.ok(h.e.Pause("busy", "lunch"))
				h.ok(h.e.Ready("busy"))
				h.enqueue("c0", "q", 0)
				h.ok(h.e.RingAnswered("c0", "busy"))
				h.enqueue("c1", "q", 0)
				h.ok(h.e.Hangup("c0", ByCaller)) // busy is available again and takes c1
				h.ok(h.e.RingFailed("c1", "busy", "no-answer"))
				acts = h.ok(h.e.Pause("busy", "lunch")) // no ready agent left
			}
			evs := h.eventsOf(tt.wantEv)
			if len(evs) != 1 || evs[0].CallID != "c1" {
				t.Fatalf("%s events %+v", tt.wantEv, evs)
			}
			switch tt.wantAct {
			case "hangup":
				hc, ok := find[HangupCaller](acts)
				if !ok || hc.CallID != "c1" || hc.Prompt != tt.wantPlay {
					t.Fatalf("actions %#v", acts)
				}
			case "overflow":
				o, ok := find[Overflow](acts)
				if !ok || o.To != "spill" {
					t.Fatalf("actions %#v", acts)
				}
				ci, err := h.e.Call("c1")
				if err != nil || ci.Queue != "spill" {
					t.Fatalf("after overflow: %+v %v", ci, err)
				}
			}
			fin := h.eventsOf(eventlog.CallFinished)
			if tt.wantFin == "" {
				for _, f := range fin {
					if f.CallID == "c1" {
						t.Fatalf("c1 finished: %+v", f)
					}
				}
				return
			}
			if len(fin) == 0 || fin[len(fin)-1].Reason != tt.wantFin {
				t.Fatalf("finished %+v, want %s", fin, tt.wantFin)
			}
		})
	}
}

func TestOverflowCycleEnds(t *testing.T) {
	h := newHarness(t, Config{Queues: []QueueConfig{
		{Name: "a", MaxLen: 1, OnFull: Exit{Kind: ExitOverflow, Queue: "b"}},
		{Name: "b", MaxLen: 1, OnFull: Exit{Kind: ExitOverflow, Queue: "a"}},
	}})
	h.enqueue("x", "a", 0)
	h.enqueue("y", "b", 0)
	h.enqueue("z", "a", 0)
	fin := h.eventsOf(eventlog.CallFinished)
	if len(fin) != 1 || fin[0].CallID != "z" || fin[0].Reason != "rejected" {
		t.Fatalf("finished %+v", fin)
	}
}

func TestAnnouncementsAndEWT(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(2, nil), Queues: []QueueConfig{{Name: "q", AnnounceInterval: 30 * time.Second, AnnounceOnJoin: true, Lang: "en"}}})
	h.login("a1", "a2")
	// Two calls of 100 s talk, no wrap-up: AHT 100 s.
	for _, id := range []string{"w1", "w2"} {
		h.enqueue(id, "q", 0)
	}
	h.ok(h.e.RingAnswered("w1", "a1"))
	h.ok(h.e.RingAnswered("w2", "a2"))
	h.advance(100 * time.Second)
	h.ok(h.e.Hangup("w1", ByCaller))
	h.ok(h.e.Hangup("w2", ByCaller))
	h.ok(h.e.Pause("a1", "x"))
	h.ok(h.e.Pause("a2", "x"))
	h.ok(h.e.Ready("a2")) // one ready agent
	h.enqueue("c1", "q", 0)
	h.ok(h.e.RingFailed("c1", "a2", "no-answer"))
	h.ok(h.e.Pause("a2", "x")) // ringing again → withdrawn
	h.ok(h.e.Ready("a2"))
	h.ok(h.e.Pause("a2", "x"))
	// a2 paused: no ready agent: EWT falls back to the average answered wait (0 s).
	acts := h.enqueue("c2", "q", 0)
	an, ok := find[Announce](acts)
	if !ok || an.Position != 2 || an.Lang != "en" {
		t.Fatalf("join announcement %#v", acts)
	}
	h.ok(h.e.Ready("a2")) // takes c1
	h.ok(h.e.RingAnswered("c1", "a2"))
	acts = h.advance(30 * time.Second)
	an, ok = find[Announce](acts)
	if !ok || an.CallID != "c2" || an.Position != 1 || an.EWT != 100 {
		t.Fatalf("periodic announcement %#v (want position 1, ewt 100 = 1 × 100 s / 1 ready agent)", acts)
	}
	j := h.eventsOf(eventlog.QueueJoined)
	if j[len(j)-1].Data["ewt_s"] == "" {
		t.Fatal("no ewt_s at join")
	}
	h.ok(h.e.Hangup("c1", ByCaller))
	h.ok(h.e.RingAnswered("c2", "a2"))
	ans := h.eventsOf(eventlog.QueueAnswered)
	last := ans[len(ans)-1]
	if last.Data["wait_ms"] != "30000" || last.Data["ewt_s"] == "" {
		t.Fatalf("answered %+v", last)
	}
	if p := AnnouncementPrompts(2, 100); !eq(p, []string{"queue-thereare", "digits/2", "queue-callswaiting", "queue-holdtime", "digits/2", "minutes"}) {
		t.Fatalf("prompts %v", p)
	}
	if p := numberPrompts(145); !eq(p, []string{"digits/100", "digits/40", "digits/5"}) {
		t.Fatalf("145: %v", p)
	}
}

func TestCallback(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{{Name: "q",
		Callback: CallbackConfig{Attempts: 2, Spacing: time.Minute, Prompt: "cb-ok"}}}})
	h.enqueue("c1", "q", 0)
	h.advance(time.Second)
	h.enqueue("c2", "q", 0)
	acts := h.ok(h.e.RequestCallback("c1", ""))
	if hc, ok := find[HangupCaller](acts); !ok || hc.Prompt != "cb-ok" {
		t.Fatalf("actions %#v", acts)
	}
	// c1 keeps its place ahead of c2
	acts = h.ok(h.e.Login("a1"))
	r, _ := find[RingAgent](acts)
	if r.CallID != "c1" || r.Purpose != ForCallback {
		t.Fatalf("reservation %#v", acts)
	}
	acts = h.ok(h.e.RingAnswered("c1", "a1"))
	d, ok := find[DialCallback](acts)
	if !ok || d.Number != "+7900c1" || d.Attempt != 1 || d.Agent != "a1" {
		t.Fatalf("dial %#v", acts)
	}
	if _, err := h.e.Hangup("c1", ByCaller); !errors.Is(err, ErrState) {
		t.Fatalf("hangup while dialling: %v", err)
	}
	acts = h.ok(h.e.CallbackFailed("c1", "no-answer"))
	// the agent is free and takes c2; c1 is parked for a minute
	if got := rings(acts); !eq(got, []string{"c2>a1"}) {
		t.Fatalf("after failure %v", got)
	}
	h.ok(h.e.RingAnswered("c2", "a1"))
	h.advance(time.Minute)
	h.ok(h.e.Hangup("c2", ByCaller))
	if got := rings(h.last); !eq(got, []string{"c1>a1"}) {
		t.Fatalf("retry %v", got)
	}
	h.ok(h.e.RingAnswered("c1", "a1"))
	d, _ = find[DialCallback](h.last)
	if d.Attempt != 2 {
		t.Fatalf("attempt %d", d.Attempt)
	}
	acts = h.ok(h.e.CallbackAnswered("c1"))
	if b, ok := find[Bridge](acts); !ok || b.Agent != "a1" {
		t.Fatalf("bridge %#v", acts)
	}
	res := h.eventsOf(eventlog.CallbackResult)
	if len(res) != 2 || res[0].Reason != "no-answer" || res[1].Reason != "connected" || res[1].Data["attempt"] != "2" {
		t.Fatalf("results %+v", res)
	}
	h.ok(h.e.Hangup("c1", ByAgent))

	// exhausting the attempts finishes the call
	h.advance(time.Hour)
	h.enqueue("c3", "q", 0)
	h.ok(h.e.Pause("a1", "x")) // ringing → back in queue
	h.ok(h.e.RequestCallback("c3", "+100"))
	for i := 1; i <= 2; i++ {
		h.ok(h.e.Ready("a1"))
		h.ok(h.e.RingAnswered("c3", "a1"))
		h.ok(h.e.CallbackFailed("c3", "busy"))
		h.ok(h.e.Pause("a1", "x"))
		h.advance(time.Minute)
	}
	fin := h.eventsOf(eventlog.CallFinished)
	if f := fin[len(fin)-1]; f.CallID != "c3" || f.Reason != "callback-failed" {
		t.Fatalf("finish %+v", f)
	}
	if res := h.eventsOf(eventlog.CallbackResult); res[len(res)-1].Data["final"] != "1" {
		t.Fatalf("last result %+v", res[len(res)-1])
	}
}

func TestPreferredAgent(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(2, nil), Queues: []QueueConfig{{Name: "q"}}})
	h.login("a1", "a2")
	h.ok(h.e.Pause("a1", "x")) // preferred agent busy
	acts := h.ok(h.e.Enqueue(NewCall{ID: "c1", Caller: "1", Queue: "q", PreferredAgent: "a1", PreferFor: 20 * time.Second}))
	if got := rings(acts); len(got) != 0 {
		t.Fatalf("offered to a non-preferred agent: %v", got)
	}
	h.enqueue("c2", "q", 0) // a later call may go to a2
	if got := rings(h.last); !eq(got, []string{"c2>a2"}) {
		t.Fatalf("c2: %v", got)
	}
	h.ok(h.e.RingFailed("c2", "a2", "no-answer"))
	h.ok(h.e.RingAnswered("c2", "a2"))
	h.ok(h.e.Ready("a1"))
	if got := rings(h.last); !eq(got, []string{"c1>a1"}) {
		t.Fatalf("preferred agent ready: %v", got)
	}
	h.ok(h.e.RingFailed("c1", "a1", "no-answer"))
	h.ok(h.e.Pause("a1", "x")) // rung again, withdrawn
	h.ok(h.e.Hangup("c2", ByCaller))
	h.wantState("a2", Available)
	acts = h.advance(20 * time.Second)
	if got := rings(acts); !eq(got, []string{"c1>a2"}) {
		t.Fatalf("after the window: %v", got)
	}
}

func TestEscalationBlind(t *testing.T) {
	h := newHarness(t, Config{
		Agents: []AgentConfig{{ID: "f1", Line: 1}, {ID: "s1", Line: 2}},
		Queues: []QueueConfig{{Name: "l1", Line: 1, EscalateTo: "l2"}, {Name: "l2", Line: 2}},
	})
	h.login("f1")
	h.ok(h.e.Enqueue(NewCall{ID: "c1", Caller: "+1", Queue: "l1", IVRPath: []string{"menu", "tech"}}))
	h.ok(h.e.RingAnswered("c1", "f1"))
	h.advance(time.Minute)
	h.enqueue("fresh", "l2", 0) // a fresh second-line call waiting already
	h.advance(time.Second)
	acts := h.ok(h.e.Escalate("c1", Escalation{Reason: "billing", Notes: "double charge", Mode: "code"}))
	if ra, ok := find[ReleaseAgent](acts); !ok || ra.Agent != "f1" {
		t.Fatalf("actions %#v", acts)
	}
	if _, ok := find[StartMOH](acts); !ok {
		t.Fatalf("no MOH %#v", acts)
	}
	esc := h.eventsOf(eventlog.CallEscalated)
	if len(esc) != 1 || esc[0].Queue != "l1" || esc[0].Agent != "f1" || esc[0].Data["to_queue"] != "l2" || esc[0].Reason != "billing" || esc[0].Data["mode"] != "code" {
		t.Fatalf("escalated %+v", esc)
	}
	joined := h.eventsOf(eventlog.QueueJoined)
	if j := joined[len(joined)-1]; j.Data["escalated_from"] != "l1" || j.Data["original_at"] != t0.Format(time.RFC3339Nano) || j.Data["position"] != "1" {
		t.Fatalf("joined %+v", j)
	}
	ci, err := h.e.Call("c1")
	if err != nil || ci.Position != 1 || !ci.Escalated || ci.Context.FirstAgent != "f1" || !eq(ci.Context.IVRPath, []string{"menu", "tech"}) ||
		len(ci.Context.Escalations) != 1 || ci.Context.Escalations[0].Notes != "double charge" {
		t.Fatalf("context %+v %v", ci, err)
	}
	h.wantState("f1", Available) // no wrap-up configured
	if got := rings(h.ok(h.e.Login("s1"))); !eq(got, []string{"c1>s1"}) {
		t.Fatalf("second line took %v, want the escalated call first", got)
	}
	h.advance(5 * time.Second)
	h.ok(h.e.RingAnswered("c1", "s1"))
	ea := h.eventsOf(eventlog.EscalationAnswered)
	if len(ea) != 1 || ea[0].Data["reach_ms"] != "5000" || ea[0].Data["from_agent"] != "f1" {
		t.Fatalf("escalation answered %+v", ea)
	}
	if _, err := h.e.Escalate("fresh", Escalation{}); !errors.Is(err, ErrState) {
		t.Fatalf("escalating a waiting call: %v", err)
	}
}

func TestEscalationWarm(t *testing.T) {
	for _, end := range []string{"complete", "cancel", "first-agent-hangs-up"} {
		t.Run(end, func(t *testing.T) {
			h := newHarness(t, Config{
				Agents: []AgentConfig{{ID: "f1", Line: 1, WrapUp: 10 * time.Second}, {ID: "s1", Line: 2}},
				Queues: []QueueConfig{{Name: "l1", Line: 1}, {Name: "l2", Line: 2}},
			})
			h.login("f1", "s1")
			h.enqueue("c1", "l1", 0)
			h.ok(h.e.RingAnswered("c1", "f1"))
			acts := h.ok(h.e.ConsultStart("c1", Escalation{Queue: "l2", Reason: "r"}))
			if _, ok := find[StartMOH](acts); !ok {
				t.Fatalf("caller not on hold: %#v", acts)
			}
			r, _ := find[RingAgent](acts)
			if r.Agent != "s1" || r.Purpose != ForConsult || r.CallID != "c1" {
				t.Fatalf("consult ring %#v", acts)
			}
			acts = h.ok(h.e.RingAnswered("c1", "s1"))
			if cb, ok := find[ConsultBridge](acts); !ok || cb.Agent != "f1" || cb.Consultant != "s1" {
				t.Fatalf("consult bridge %#v", acts)
			}
			switch end {
			case "complete", "first-agent-hangs-up":
				if end == "complete" {
					acts = h.ok(h.e.ConsultComplete("c1"))
				} else {
					acts = h.ok(h.e.Hangup("c1", ByAgent))
				}
				if b, ok := find[Bridge](acts); !ok || b.Agent != "s1" {
					t.Fatalf("complete %#v", acts)
				}
				h.wantState("f1", WrapUp)
				h.wantState("s1", OnCall)
				ci, _ := h.e.Call("c1")
				if ci.Queue != "l2" || ci.Agent != "s1" || len(ci.Context.Escalations) != 1 || ci.Context.Escalations[0].Mode != "warm" {
					t.Fatalf("after complete %+v", ci)
				}
			case "cancel":
				acts = h.ok(h.e.ConsultCancel("c1"))
				if b, ok := find[Bridge](acts); !ok || b.Agent != "f1" {
					t.Fatalf("cancel %#v", acts)
				}
				h.wantState("s1", Available)
				h.wantState("f1", OnCall)
			}
		})
	}
}

func TestPauseAndLogoutDuringCall(t *testing.T) {
	h := newHarness(t, Config{Agents: []AgentConfig{{ID: "a1", WrapUp: 10 * time.Second}}, Queues: []QueueConfig{{Name: "q"}}})
	h.login("a1")
	h.enqueue("c1", "q", 0)
	h.ok(h.e.RingAnswered("c1", "a1"))
	h.ok(h.e.Pause("a1", "lunch"))
	h.wantState("a1", OnCall)
	h.ok(h.e.Hangup("c1", ByCaller))
	h.wantState("a1", WrapUp) // pause waits for the wrap-up
	h.enqueue("c2", "q", 0)
	h.advance(10 * time.Second)
	h.wantState("a1", Paused)
	if got := rings(h.last); len(got) != 0 {
		t.Fatalf("paused agent offered %v", got)
	}
	h.ok(h.e.Ready("a1"))
	h.ok(h.e.RingAnswered("c2", "a1"))
	h.ok(h.e.Logout("a1"))
	h.wantState("a1", OnCall)
	h.ok(h.e.Hangup("c2", ByAgent))
	h.advance(10 * time.Second)
	h.wantState("a1", LoggedOut)
	if _, err := h.e.Ready("a1"); !errors.Is(err, ErrState) {
		t.Fatalf("ready while logged out: %v", err)
	}
	// every state change is an event with from and to
	for _, ev := range h.eventsOf(eventlog.AgentState) {
		if ev.Data["from"] == "" || ev.Data["to"] == "" || ev.Agent != "a1" || ev.ID == "" {
			t.Fatalf("bad agent.state event %+v", ev)
		}
	}
}

func TestReadyEndsWrapUpEarly(t *testing.T) {
	h := newHarness(t, Config{Agents: []AgentConfig{{ID: "a1", WrapUp: time.Minute}}, Queues: []QueueConfig{{Name: "q"}}})
	h.login("a1")
	h.enqueue("c1", "q", 0)
	h.ok(h.e.RingAnswered("c1", "a1"))
	h.ok(h.e.Hangup("c1", ByCaller))
	h.advance(5 * time.Second)
	h.ok(h.e.Ready("a1"))
	h.wantState("a1", Available)
	h.advance(time.Minute) // the stale wrap-up timer must not fire
	if n := len(h.eventsOf(eventlog.WrapupEnded)); n != 1 {
		t.Fatalf("%d wrap-up ends", n)
	}
}

func TestAbandonAndStale(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(2, nil), Queues: []QueueConfig{{Name: "q", Strategy: RingAll}}})
	h.login("a1", "a2")
	h.enqueue("c1", "q", 0)
	h.advance(2 * time.Second)
	acts := h.ok(h.e.Hangup("c1", ByCaller))
	var stops int
	for _, a := range acts {
		if _, ok := a.(StopRinging); ok {
			stops++
		}
	}
	if stops != 2 {
		t.Fatalf("stop rings %d: %#v", stops, acts)
	}
	ab := h.eventsOf(eventlog.QueueAbandoned)
	if len(ab) != 1 || ab[0].Data["short"] != "1" || ab[0].Data["wait_ms"] != "2000" {
		t.Fatalf("abandoned %+v", ab)
	}
	h.wantState("a1", Available)
	a, _ := h.e.Agent("a1")
	if a.Missed != 0 {
		t.Fatal("abandon counted as a miss")
	}
	if _, err := h.e.RingAnswered("c1", "a1"); !errors.Is(err, ErrStale) {
		t.Fatalf("late answer: %v", err)
	}
	if _, err := h.e.Hangup("nope", ByCaller); !errors.Is(err, ErrUnknownCall) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := h.e.Login("nobody"); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("unknown agent: %v", err)
	}
	if _, err := h.e.Enqueue(NewCall{ID: "x", Queue: "nope"}); !errors.Is(err, ErrUnknownQueue) {
		t.Fatalf("unknown queue: %v", err)
	}
}

func TestSetTimerAndSnapshot(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{{Name: "q", MaxWait: time.Minute}}})
	acts := h.enqueue("c1", "q", 0)
	st, ok := find[SetTimer](acts)
	if !ok || !st.At.Equal(t0.Add(time.Minute)) {
		t.Fatalf("set timer %#v", acts)
	}
	h.enqueue("c2", "q", 2)
	qs := h.e.Queues()
	if len(qs) != 1 || len(qs[0].Waiting) != 2 || qs[0].Waiting[0].ID != "c2" || qs[0].Waiting[1].Position != 2 {
		t.Fatalf("snapshot %+v", qs)
	}
	if len(qs[0].Agents[LoggedOut]) != 1 {
		t.Fatalf("agents by state %+v", qs[0].Agents)
	}
	if w, ok := h.e.NextWake(); !ok || !w.Equal(t0.Add(time.Minute)) {
		t.Fatalf("next wake %v %v", w, ok)
	}
	if n := len(h.e.Calls()); n != 2 {
		t.Fatalf("calls %d", n)
	}
	h.ok(h.e.Hangup("c1", ByCaller))
	h.ok(h.e.Hangup("c2", ByCaller))
	if _, ok := find[SetTimer](h.last); !ok {
		t.Fatal("no SetTimer clearing the wake-up")
	}
	if _, ok := h.e.NextWake(); ok {
		t.Fatal("wake pending with no calls")
	}
	ids := map[string]bool{}
	for _, ev := range h.events {
		if ids[ev.ID] {
			t.Fatalf("duplicate event id %s", ev.ID)
		}
		ids[ev.ID] = true
	}
}

// TestResumedCallKeepsPlace: a call resumed after a restart (it had waited
// since 60 s ago) goes before calls that joined after it, its wait counts
// from its original join, and its queue.joined says resumed.
func TestResumedCallKeepsPlace(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(1, nil), Queues: []QueueConfig{{Name: "q"}}})
	h.enqueue("new1", "q", 0)
	h.advance(time.Second)
	h.ok(h.e.Enqueue(NewCall{ID: "old", Caller: "+79000000001", Queue: "q", Resumed: h.clk.t.Add(-60 * time.Second)}))
	h.advance(time.Second)
	h.enqueue("new2", "q", 0)
	joined := h.eventsOf(eventlog.QueueJoined)
	if len(joined) != 3 || joined[1].CallID != "old" || joined[1].Data["resumed"] != "1" || joined[0].Data["resumed"] != "" {
		t.Fatalf("queue.joined events %+v; want the second marked resumed", joined)
	}
	if want := t0.Add(-59 * time.Second).UTC().Format(time.RFC3339Nano); joined[1].Data["joined_at"] != want {
		t.Fatalf("resumed joined_at %q, want %q", joined[1].Data["joined_at"], want)
	}
	h.login("a1")
	r := rings(h.last)
	if len(r) != 1 || !strings.HasPrefix(r[0], "old>") {
		t.Fatalf("first ring %v; the resumed call waited longest", r)
	}
	h.ok(h.e.RingAnswered("old", "a1"))
	ans := h.eventsOf(eventlog.QueueAnswered)
	if len(ans) != 1 || ans[0].Data["wait_ms"] != "61000" {
		t.Fatalf("queue.answered %+v; want wait_ms 61000 (since the original join)", ans)
	}
}

// TestResumeWrapUp: an agent back after a crash finishes the rest of the
// wrap-up the crash cut short; its agent.state event carries what a
// take-over needs (length, call, queue), and the wrap-up's end names the
// call it followed. Only an available agent can be put back in wrap-up.
func TestResumeWrapUp(t *testing.T) {
	h := newHarness(t, Config{Agents: agents(2, nil), Queues: []QueueConfig{{Name: "q"}}})
	h.login("a1")
	h.ok(h.e.ResumeWrapUp("a1", 20*time.Second, "c9", "q"))
	st := h.eventsOf(eventlog.AgentState)
	last := st[len(st)-1]
	if last.Data["to"] != "wrap-up" || last.Data["wrapup_ms"] != "20000" || last.Data["of_call"] != "c9" || last.Data["queue"] != "q" {
		t.Fatalf("agent.state to wrap-up %+v; want its length, call and queue", last.Data)
	}
	if _, err := h.e.ResumeWrapUp("a1", time.Second, "c9", "q"); !errors.Is(err, ErrState) {
		t.Fatalf("resuming a wrap-up twice: %v, want ErrState", err)
	}
	if _, err := h.e.ResumeWrapUp("a2", time.Second, "c9", "q"); !errors.Is(err, ErrState) {
		t.Fatalf("resuming the wrap-up of a logged-out agent: %v, want ErrState", err)
	}
	h.advance(19 * time.Second)
	if a, _ := h.e.Agent("a1"); a.State != WrapUp {
		t.Fatalf("a1 after 19 s: %v, want wrap-up", a.State)
	}
	h.advance(time.Second)
	if a, _ := h.e.Agent("a1"); a.State != Available {
		t.Fatalf("a1 after 20 s: %v, want available", a.State)
	}
	ended := h.eventsOf(eventlog.WrapupEnded)
	if len(ended) != 1 || ended[0].CallID != "c9" || ended[0].Queue != "q" || ended[0].Data["wrapup_ms"] != "20000" {
		t.Fatalf("agent.wrapup_ended %+v; want one for c9 in q, 20 s", ended)
	}
}
