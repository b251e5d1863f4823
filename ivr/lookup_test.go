package ivr

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

const lookupYAML = `
ivr:
  default_queue: first-line
  flows:
    main:
      nodes:
        who:
          type: lookup
          days: 30
          timeout: 200ms
          branches:
            - anonymous: true
              goto: menu
            - open_escalation: true
              priority: 10
              goto: second-line
            - called_within: 1h
              priority: 5
            - calls_at_least: 3
              last_outcome: not_resolved
              priority: 7
          next: menu
        menu:
          type: menu
          prompt: hotline/menu-main
          options:
            "1": first-line
            "8": callback
        first-line:
          type: queue
          queue: first-line
        second-line:
          type: queue
          queue: second-line
          priority: 10
          prompt: hotline/escalating
        callback:
          type: callback
          queue: first-line
          prompt: hotline/callback-confirm
          no_number: sorry
        sorry:
          type: message
          prompt: hotline/queue-full
          reason: callback-anonymous
`

type fakeHistory struct {
	h     CallerHistory
	err   error
	asked []string
	since []time.Time
}

func (f *fakeHistory) Lookup(_ context.Context, caller string, since time.Time) (CallerHistory, error) {
	f.asked = append(f.asked, caller)
	f.since = append(f.since, since)
	return f.h, f.err
}

func TestRunLookup(t *testing.T) {
	flows := mustParse(t, lookupYAML)
	now := monday10
	tests := []struct {
		name     string
		from     string
		hist     CallerHistory
		err      error
		queue    string
		priority int
		asked    bool
	}{
		{"unknown caller", "+79123456789", CallerHistory{}, nil, "first-line", 0, true},
		{"open escalation goes to second line", "89123456789",
			CallerHistory{Calls: 2, OpenEscalation: &Escalation{Queue: "second-line"}}, nil, "second-line", 10, true},
		{"called 30 minutes ago gets priority", "+79123456789",
			CallerHistory{Calls: 1, LastCallAt: now.Add(-30 * time.Minute)}, nil, "first-line", 5, true},
		{"called two hours ago does not", "+79123456789",
			CallerHistory{Calls: 1, LastCallAt: now.Add(-2 * time.Hour)}, nil, "first-line", 0, true},
		{"repeat unresolved caller", "+79123456789",
			CallerHistory{Calls: 3, LastCallAt: now.Add(-48 * time.Hour), LastOutcome: "not_resolved"}, nil, "first-line", 7, true},
		{"recent and repeat: highest priority wins", "+79123456789",
			CallerHistory{Calls: 4, LastCallAt: now.Add(-10 * time.Minute), LastOutcome: "not_resolved"}, nil, "first-line", 7, true},
		{"history down: the caller goes on", "+79123456789", CallerHistory{}, errors.New("db down"), "first-line", 0, true},
		{"anonymous caller is not looked up", "anonymous", CallerHistory{OpenEscalation: &Escalation{}}, nil, "first-line", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hist := &fakeHistory{h: tt.hist, err: tt.err}
			ev := &events{}
			ex := mustExecutor(t, ExecutorConfig{Flows: flows, Publisher: ev, History: hist, Callbacks: &fakeCallbacks{}, Clock: &fakeClock{now}, Logger: quiet})
			res, err := ex.Run(context.Background(), newFakeLeg(tt.from, script(press("1"))), &Call{Flow: "main"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != OutcomeQueue || res.Queue != tt.queue || res.Priority != tt.priority {
				t.Fatalf("got %s %q priority %d, want %q priority %d; events %q", res.Outcome, res.Queue, res.Priority, tt.queue, tt.priority, ev.summary())
			}
			if (len(hist.asked) > 0) != tt.asked {
				t.Fatalf("history asked %q", hist.asked)
			}
			if tt.asked && (hist.asked[0] != "+79123456789" || !hist.since[0].Equal(now.AddDate(0, 0, -30))) {
				t.Errorf("asked %q since %s", hist.asked, hist.since)
			}
			if res.History == nil {
				t.Error("no caller card in the result")
			}
		})
	}
}

type fakeCallbacks struct {
	err error
	got []CallbackRequest
}

func (f *fakeCallbacks) RequestCallback(_ context.Context, r CallbackRequest) error {
	f.got = append(f.got, r)
	return f.err
}

func TestRunCallback(t *testing.T) {
	flows := mustParse(t, lookupYAML)
	tests := []struct {
		name    string
		from    string
		err     error
		outcome Outcome
		reason  string
		queue   string
		played  []string
	}{
		{"recorded", "+79123456789", nil, OutcomeCallback, "callback", "first-line",
			[]string{"ru/hotline/menu-main", "ru/hotline/callback-confirm"}},
		{"anonymous caller hears the apology", "", nil, OutcomeMessage, "callback-anonymous", "",
			[]string{"ru/hotline/menu-main", "ru/hotline/queue-full"}},
		{"recording fails: the caller is queued instead", "+79123456789", errors.New("down"), OutcomeQueue, "callback-failed", "first-line",
			[]string{"ru/hotline/menu-main"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb := &fakeCallbacks{err: tt.err}
			ev := &events{}
			leg := newFakeLeg(tt.from, script(press("8")))
			ex := mustExecutor(t, ExecutorConfig{Flows: flows, Publisher: ev, History: &fakeHistory{}, Callbacks: cb, Clock: &fakeClock{monday10}, Logger: quiet})
			res, err := ex.Run(context.Background(), leg, &Call{Flow: "main"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.outcome || res.Reason != tt.reason || res.Queue != tt.queue {
				t.Fatalf("got %s %q %q, want %s %q %q", res.Outcome, res.Reason, res.Queue, tt.outcome, tt.reason, tt.queue)
			}
			if !slices.Equal(leg.played, tt.played) {
				t.Errorf("played %q, want %q", leg.played, tt.played)
			}
			if tt.outcome == OutcomeCallback {
				if len(cb.got) != 1 || cb.got[0].Number != "+79123456789" || cb.got[0].Queue != "first-line" {
					t.Errorf("requests %+v", cb.got)
				}
				if !slices.Contains(ev.summary(), "ivr.callback callback") {
					t.Errorf("events %q", ev.summary())
				}
				if _, ended := leg.Ended(); !ended {
					t.Error("not hung up after the confirmation")
				}
			}
		})
	}
}

func TestRunStepLimit(t *testing.T) {
	src := `
ivr:
  default_queue: first-line
  flows:
    main:
      nodes:
        menu:
          type: menu
          prompt: hotline/menu-main
          options:
            "0": again
            "1": q
        again:
          type: goto
          node: menu
        q:
          type: queue
          queue: first-line
`
	flows := mustParse(t, src)
	var s []in
	for range 100 {
		s = append(s, press("0"))
	}
	ex := mustExecutor(t, ExecutorConfig{Flows: flows, Publisher: &events{}, Logger: quiet, MaxSteps: 20})
	res, err := ex.Run(context.Background(), newFakeLeg("+79123456789", s), &Call{Flow: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeQueue || res.Queue != "first-line" || res.Reason != "step-limit" || len(res.Path) != 20 {
		t.Fatalf("got %+v", res)
	}
}
