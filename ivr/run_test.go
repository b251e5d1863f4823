package ivr

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/sip"
)

const flowsYAML = `
ivr:
  default_queue: first-line
  schedules:
    always: 24/7
    office:
      weekly:
        mon-fri: "09:00-18:00"
  flows:
    main:
      nodes:
        greeting:
          type: play
          prompt: hotline/greeting
          barge_in: true
          next: hours
        hours:
          type: hours
          schedule: always
          open: menu
          closed: after-hours
        menu:
          type: menu
          prompt: hotline/menu-main
          invalid_prompt: hotline/menu-invalid
          timeout_prompt: hotline/menu-timeout
          tries: 3
          options:
            "1": first-line
            "2": billing
            "3": contract
            "9": english
          fallback: first-line
        english:
          type: language
          lang: en
          next: menu
        contract:
          type: collect
          prompt: hotline/enter-contract
          invalid_prompt: hotline/menu-invalid
          var: contract
          min_digits: 6
          max_digits: 10
          terminator: "#"
          pattern: '\d{6,10}'
          tries: 2
          next: billing
        first-line:
          type: queue
          queue: first-line
          prompt: hotline/connecting
        billing:
          type: queue
          queue: billing
        after-hours:
          type: message
          prompt: hotline/after-hours
          reason: after-hours
    office:
      nodes:
        hours:
          type: hours
          schedule: office
          open: menu
          closed: closed
        menu:
          type: menu
          prompt: hotline/menu-main
          options:
            "1": first-line
        first-line:
          type: queue
          queue: first-line
        closed:
          type: message
          prompt: hotline/after-hours
          reason: after-hours
`

var quiet = slog.New(slog.DiscardHandler)

var msk = func() *time.Location {
	l, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		panic(err)
	}
	return l
}()

// monday10 is an ordinary working Monday morning in Moscow.
var monday10 = time.Date(2026, 11, 23, 10, 0, 0, 0, msk)

func TestRunMenu(t *testing.T) {
	flows := mustParse(t, flowsYAML)
	tests := []struct {
		name      string
		script    []in
		outcome   Outcome
		queue     string
		reason    string
		lang      string
		vars      map[string]string
		played    []string
		events    []string
		bargeRead bool // the menu prompt was skipped because the caller typed ahead
	}{
		{
			name:    "press 2 goes to billing",
			script:  script(press("2")),
			outcome: OutcomeQueue, queue: "billing", lang: "ru",
			played: []string{"ru/hotline/greeting", "ru/hotline/menu-main"},
			events: []string{"ivr.node greeting", "ivr.node hours", "ivr.node menu", "ivr.digits menu 2", "ivr.node billing"},
		},
		{
			name:    "barge-in during the greeting skips the menu prompt",
			script:  script(barge("1")),
			outcome: OutcomeQueue, queue: "first-line", lang: "ru",
			played: []string{"ru/hotline/greeting", "ru/hotline/connecting"},
			events: []string{"ivr.node greeting", "ivr.node hours", "ivr.node menu", "ivr.digits menu 1", "ivr.node first-line"},
		},
		{
			name:    "barge-in during the menu prompt",
			script:  script(timeout(), barge("2")),
			outcome: OutcomeQueue, queue: "billing", lang: "ru",
			// the first read times out; the caller presses 2 into the replayed menu
			played: []string{"ru/hotline/greeting", "ru/hotline/menu-main", "ru/hotline/menu-timeout", "ru/hotline/menu-main"},
			events: []string{"ivr.node greeting", "ivr.node hours", "ivr.node menu", "ivr.timeout menu try=1", "ivr.digits menu 2", "ivr.node billing"},
		},
		{
			name:    "invalid then valid",
			script:  script(press("7"), press("1")),
			outcome: OutcomeQueue, queue: "first-line", lang: "ru",
			played: []string{"ru/hotline/greeting", "ru/hotline/menu-main", "ru/hotline/menu-invalid", "ru/hotline/menu-main", "ru/hotline/connecting"},
			events: []string{"ivr.node greeting", "ivr.node hours", "ivr.node menu", "ivr.invalid menu 7", "ivr.digits menu 1", "ivr.node first-line"},
		},
		{
			name:    "three timeouts go to the fallback queue",
			script:  script(timeout(), timeout(), timeout()),
			outcome: OutcomeQueue, queue: "first-line", lang: "ru",
			played: []string{"ru/hotline/greeting", "ru/hotline/menu-main", "ru/hotline/menu-timeout", "ru/hotline/menu-main",
				"ru/hotline/menu-timeout", "ru/hotline/menu-main", "ru/hotline/menu-timeout", "ru/hotline/connecting"},
			events: []string{"ivr.node greeting", "ivr.node hours", "ivr.node menu", "ivr.timeout menu try=1", "ivr.timeout menu try=2", "ivr.timeout menu try=3", "ivr.node first-line"},
		},
		{
			name:    "nothing scripted at all is a caller who presses nothing",
			script:  nil,
			outcome: OutcomeQueue, queue: "first-line", lang: "ru",
		},
		{
			name:    "nine switches to English",
			script:  script(press("9"), press("2")),
			outcome: OutcomeQueue, queue: "billing", lang: "en",
			played: []string{"ru/hotline/greeting", "ru/hotline/menu-main", "en/hotline/menu-main"},
			events: []string{"ivr.node greeting", "ivr.node hours", "ivr.node menu", "ivr.digits menu 9", "ivr.node english", "ivr.language en", "ivr.node menu", "ivr.digits menu 2", "ivr.node billing"},
		},
		{
			name:    "collect with terminator",
			script:  script(press("3"), press("123456#")),
			outcome: OutcomeQueue, queue: "billing", lang: "ru",
			vars:   map[string]string{"contract": "123456"},
			events: []string{"ivr.node greeting", "ivr.node hours", "ivr.node menu", "ivr.digits menu 3", "ivr.node contract", "ivr.digits contract 123456", "ivr.collect contract=123456", "ivr.node billing"},
		},
		{
			name:    "collect too short then valid",
			script:  script(press("3"), press("12#"), press("9876543210")),
			outcome: OutcomeQueue, queue: "billing", lang: "ru",
			vars:   map[string]string{"contract": "9876543210"},
			events: []string{"ivr.node greeting", "ivr.node hours", "ivr.node menu", "ivr.digits menu 3", "ivr.node contract", "ivr.invalid contract 12", "ivr.digits contract 9876543210", "ivr.collect contract=9876543210", "ivr.node billing"},
		},
		{
			name:    "collect fails twice and falls back to the default queue",
			script:  script(press("3"), press("12#"), timeout()),
			outcome: OutcomeQueue, queue: "first-line", reason: "max-tries", lang: "ru",
			vars: map[string]string{},
		},
		{
			name:    "caller hangs up in the menu",
			script:  script(hangupNow()),
			outcome: OutcomeCallerHangup, lang: "ru",
		},
		{
			name:    "caller hangs up while waiting for a digit",
			script:  script(timeout(), hangupNow()),
			outcome: OutcomeCallerHangup, lang: "ru",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &events{}
			leg := newFakeLeg("8 (912) 345-67-89", tt.script)
			ex := mustExecutor(t, ExecutorConfig{Flows: flows, Publisher: ev, Logger: quiet, Clock: &fakeClock{monday10}})
			res, err := ex.Run(context.Background(), leg, &Call{Flow: "main"})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Outcome != tt.outcome || res.Queue != tt.queue || res.Reason != tt.reason || res.Lang != tt.lang {
				t.Fatalf("result = %s queue=%q reason=%q lang=%q, want %s queue=%q reason=%q lang=%q\nevents %q",
					res.Outcome, res.Queue, res.Reason, res.Lang, tt.outcome, tt.queue, tt.reason, tt.lang, ev.summary())
			}
			if !leg.answered {
				t.Error("leg not answered")
			}
			if tt.played != nil && !slices.Equal(leg.played, tt.played) {
				t.Errorf("played %q\nwant   %q", leg.played, tt.played)
			}
			if tt.events != nil && !slices.Equal(ev.summary(), tt.events) {
				t.Errorf("events %q\nwant   %q", ev.summary(), tt.events)
			}
			if tt.vars != nil && !mapsEqual(res.Vars, tt.vars) {
				t.Errorf("vars %v, want %v", res.Vars, tt.vars)
			}
			for _, e := range ev.all {
				if e.CallID != "call-1" || e.Caller != "+79123456789" || e.ID == "" || !e.At.Equal(monday10) {
					t.Errorf("event %+v: want call-1, +79123456789, an ID and the clock's time", e)
				}
			}
			if tt.outcome == OutcomeQueue {
				if _, ended := leg.Ended(); ended {
					t.Error("leg hung up on a queue hand-over")
				}
				if res.Path[0] != "main/greeting" {
					t.Errorf("path %q", res.Path)
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRunMenuTimeouts(t *testing.T) {
	flows := mustParse(t, flowsYAML)
	leg := newFakeLeg("+79123456789", script(timeout(), press("1")))
	ex := mustExecutor(t, ExecutorConfig{Flows: flows, Publisher: &events{}, Logger: quiet, Clock: &fakeClock{monday10}})
	if _, err := ex.Run(context.Background(), leg, &Call{Flow: "main"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range leg.reads {
		if r.Max != 1 || r.FirstTimeout != DefaultMenuTimeout {
			t.Errorf("menu read %+v, want Max 1 and the default timeout", r)
		}
	}
	if leg.flushes == 0 {
		t.Error("digits not flushed before the queue hand-over")
	}
}

func TestRunHours(t *testing.T) {
	flows := mustParse(t, flowsYAML)
	tests := []struct {
		name string
		at   time.Time
		open bool
	}{
		{"working Monday 10:00", monday10, true},
		{"Monday 08:59:59", time.Date(2026, 11, 23, 8, 59, 59, 0, msk), false},
		{"Monday 18:00 closes", time.Date(2026, 11, 23, 18, 0, 0, 0, msk), false},
		{"Saturday", time.Date(2026, 11, 28, 12, 0, 0, 0, msk), false},
		{"Christmas 7 January 2026 (Wednesday)", time.Date(2026, 1, 7, 12, 0, 0, 0, msk), false},
		{"9 January 2026, day off transferred from 3 January", time.Date(2026, 1, 9, 12, 0, 0, 0, msk), false},
		{"12 January 2026, back to work", time.Date(2026, 1, 12, 9, 0, 0, 0, msk), true},
		{"11 May 2026, for Victory Day on a Saturday", time.Date(2026, 5, 11, 12, 0, 0, 0, msk), false},
		{"31 December 2026, transferred from 4 January", time.Date(2026, 12, 31, 12, 0, 0, 0, msk), false},
		{"Saturday 20 February 2027 is a working day", time.Date(2027, 2, 20, 10, 0, 0, 0, msk), true},
		{"Monday 22 February 2027 is its day off", time.Date(2027, 2, 22, 10, 0, 0, 0, msk), false},
		{"Friday 5 November 2027, transferred from 2 January", time.Date(2027, 11, 5, 10, 0, 0, 0, msk), false},
		{"UTC instant inside Moscow hours", time.Date(2026, 11, 23, 6, 30, 0, 0, time.UTC), true},
		{"UTC instant before Moscow opening", time.Date(2026, 11, 23, 5, 59, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &events{}
			leg := newFakeLeg("+79123456789", script(press("1")))
			ex := mustExecutor(t, ExecutorConfig{Flows: flows, Publisher: ev, Logger: quiet, Clock: &fakeClock{tt.at}})
			res, err := ex.Run(context.Background(), leg, &Call{Flow: "office"})
			if err != nil {
				t.Fatal(err)
			}
			if tt.open {
				if res.Outcome != OutcomeQueue || res.Queue != "first-line" {
					t.Fatalf("open: got %s %q", res.Outcome, res.Queue)
				}
				return
			}
			if res.Outcome != OutcomeMessage || res.Reason != "after-hours" {
				t.Fatalf("closed: got %s %q", res.Outcome, res.Reason)
			}
			if end, ok := leg.Ended(); !ok || end.Side != sip.SideLocal {
				t.Error("the IVR did not hang up after the message")
			}
			if !slices.Equal(leg.played, []string{"ru/hotline/after-hours"}) {
				t.Errorf("played %q", leg.played)
			}
			last := ev.all[len(ev.all)-1]
			if last.Type != "ivr.message" || last.Reason != "after-hours" {
				t.Errorf("last event %+v", last)
			}
		})
	}
}

// TestMidnightBoundary: open until 24:00 on Wednesday 30 December 2026; at
// 00:00 Moscow time (21:00 UTC) it is 31 December, a transferred day off.
func TestMidnightBoundary(t *testing.T) {
	cal, err := LoadRussianCalendar()
	if err != nil {
		t.Fatal(err)
	}
	s := &Schedule{Zone: msk, Calendar: cal}
	for _, wd := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday} {
		s.Weekly[wd] = []Span{{8 * 60, 24 * 60}}
	}
	s.Weekly[time.Saturday] = []Span{{0, 24 * 60}}
	tests := []struct {
		at   time.Time
		open bool
	}{
		{time.Date(2026, 12, 30, 23, 59, 59, 999, msk), true},
		{time.Date(2026, 12, 31, 0, 0, 0, 0, msk), false},
		{time.Date(2026, 12, 30, 20, 59, 59, 0, time.UTC), true},
		{time.Date(2026, 12, 30, 21, 0, 0, 0, time.UTC), false},
		// Friday 1 January 2027 23:59 closed (holiday), Saturday 2 January 00:00 still a holiday.
		{time.Date(2027, 1, 1, 23, 59, 0, 0, msk), false},
		{time.Date(2027, 1, 2, 0, 0, 0, 0, msk), false},
		// An ordinary Friday 23:59 is open and the Saturday 00:00 after it opens by the Saturday hours.
		{time.Date(2026, 11, 27, 23, 59, 0, 0, msk), true},
		{time.Date(2026, 11, 28, 0, 0, 0, 0, msk), true},
		// Sunday 00:00 after it is closed.
		{time.Date(2026, 11, 29, 0, 0, 0, 0, msk), false},
	}
	for _, tt := range tests {
		if got := s.Open(tt.at); got != tt.open {
			t.Errorf("Open(%s) = %v, want %v", tt.at.In(msk), got, tt.open)
		}
	}
}

func TestRunUnknownFlow(t *testing.T) {
	flows := mustParse(t, flowsYAML)
	ex := mustExecutor(t, ExecutorConfig{Flows: flows, Publisher: &events{}, Logger: quiet})
	if _, err := ex.Run(context.Background(), newFakeLeg("", nil), &Call{Flow: "nope"}); err == nil {
		t.Fatal("want an error for an unknown flow")
	}
}

type fakeEnqueuer struct {
	fail map[string]error
	got  []Result
}

func (f *fakeEnqueuer) Enqueue(_ context.Context, _ sip.Leg, r Result) error {
	f.got = append(f.got, r)
	return f.fail[r.Queue]
}

func TestRunEnqueue(t *testing.T) {
	flows := mustParse(t, flowsYAML)
	tests := []struct {
		name    string
		fail    map[string]error
		queues  []string
		wantErr bool
	}{
		{"hands over", nil, []string{"billing"}, false},
		{"falls back to the default queue", map[string]error{"billing": errors.New("full")}, []string{"billing", "first-line"}, false},
		{"both fail", map[string]error{"billing": errors.New("full"), "first-line": errors.New("down")}, []string{"billing", "first-line"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeEnqueuer{fail: tt.fail}
			ex := mustExecutor(t, ExecutorConfig{Flows: flows, Publisher: &events{}, Logger: quiet, Enqueuer: q, Clock: &fakeClock{monday10}})
			res, err := ex.Run(context.Background(), newFakeLeg("+79123456789", script(press("2"))), &Call{Flow: "main"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			var got []string
			for _, r := range q.got {
				got = append(got, r.Queue)
			}
			if !slices.Equal(got, tt.queues) {
				t.Errorf("enqueued %q, want %q", got, tt.queues)
			}
			if !tt.wantErr && !res.Handed {
				t.Error("Handed not set")
			}
		})
	}
}

// mustExecutor is NewExecutor for tests whose config is valid.
func mustExecutor(t testing.TB, cfg ExecutorConfig) *Executor {
	t.Helper()
	ex, err := NewExecutor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}
