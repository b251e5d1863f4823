package ivr_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/native"
)

// End to end over the native switch with SIPp callers sending RFC 4733
// digits from Debian's pcaps (issue acceptance). Loopback addresses
// 127.0.0.40-49 are this package's.

const e2eFlows = `
ivr:
  timezone: Europe/Moscow
  language: ru
  default_queue: first-line
  calendar: {builtin: ru}
  schedules:
    always: 24/7
    office:
      weekly: {mon-fri: "09:00-18:00"}
  flows:
    support:
      nodes:
        greeting: {type: play, prompt: hotline/greeting, barge_in: true, next: menu}
        menu:
          type: menu
          prompt: digits/1
          invalid_prompt: hotline/menu-invalid
          timeout_prompt: digits/2
          timeout: 1s
          tries: 3
          options: {"1": first-line, "2": billing}
          fallback: first-line
        first-line: {type: queue, queue: first-line}
        billing: {type: queue, queue: billing}
    office:
      nodes:
        hours: {type: hours, schedule: office, open: menu, closed: after-hours}
        menu:
          type: menu
          prompt: digits/1
          options: {"1": first-line}
          fallback: first-line
        first-line: {type: queue, queue: first-line}
        after-hours: {type: message, prompt: hotline/after-hours, reason: after-hours}
`

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

type eventLog struct {
	mu sync.Mutex
	ev []eventlog.Event
}

func (l *eventLog) Publish(e eventlog.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) count(call string, typ eventlog.Type) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.ev {
		if e.CallID == call && e.Type == typ {
			n++
		}
	}
	return n
}

func (l *eventLog) find(call string, typ eventlog.Type) (eventlog.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ev {
		if e.CallID == call && e.Type == typ {
			return e, true
		}
	}
	return eventlog.Event{}, false
}

type outcome struct {
	res ivr.Result
	err error
	end sip.End
}

func TestSIPpCallersThroughIVR(t *testing.T) {
	sipptest.NeedTools(t, "sipp")
	root, _ := filepath.Abs(filepath.Join("..", "prompts", "generated", "ru"))
	if _, err := os.Stat(filepath.Join(root, "hotline", "greeting.wav")); err != nil {
		t.Fatalf("generated prompts missing (%v): run make prompts", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr("127.0.0.1"), PortMin: 36000, PortMax: 36199, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	cat, err := media.NewCatalog(media.CatalogConfig{
		Langs: map[string][]string{"ru": {root, "/usr/share/asterisk/sounds/ru"}},
		MOH:   map[string]string{"default": "/usr/share/asterisk/moh"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(e2eFlows), &doc); err != nil {
		t.Fatal(err)
	}
	flows, err := ivr.ParseFlows("e2e.yaml", doc.Content[0].Content[1], ivr.WithPromptChecker(cat))
	if err != nil {
		t.Fatal(err)
	}
	sw, err := native.New(native.Config{
		Listen: "127.0.0.1:0", Trunks: []native.Trunk{{Name: "provider", Allow: []string{"127.0.0.40/29"}}},
		Media: eng, Catalog: cat, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := sw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	events := &eventLog{}
	// Sunday 22 November 2026, 03:00 Moscow: the office schedule is closed.
	sunday := time.Date(2026, 11, 22, 3, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	exec, err := ivr.NewExecutor(ivr.ExecutorConfig{Flows: flows, Publisher: events, Clock: fixedClock{sunday}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}

	// The called number picks the flow, as cmd/hotline does.
	flowFor := map[string]string{"88001234567": "support", "88007654321": "office"}
	results := make(chan outcome, 4)
	go func() {
		for leg := range sw.Incoming() {
			go func(leg sip.Leg) {
				res, err := exec.Run(ctx, leg, &ivr.Call{Flow: flowFor[leg.Info().To]})
				if res.Outcome == ivr.OutcomeQueue {
					_ = leg.Hangup(sip.CauseNormal) // no queue here: the test only checks the hand-over
				}
				<-leg.Done()
				end, _ := leg.Ended()
				results <- outcome{res: res, err: err, end: end}
			}(leg)
		}
	}()

	for _, tc := range []struct {
		name, called, digit string
		pauseMS             int
		check               func(t *testing.T, o outcome)
	}{
		{"presses 2 during the greeting: billing", "88001234567", "2", 1500, func(t *testing.T, o outcome) {
			if o.res.Outcome != ivr.OutcomeQueue || o.res.Queue != "billing" {
				t.Fatalf("result = %+v, want queue billing", o.res)
			}
			if e, ok := events.find(o.res.CallID, eventlog.IVRDigits); !ok || e.Data["digits"] != "2" {
				t.Fatalf("no ivr.digits event with 2: %+v", e)
			}
		}},
		{"presses nothing: three timeouts, then the default queue", "88001234567", "5", 60000, func(t *testing.T, o outcome) {
			if o.res.Outcome != ivr.OutcomeQueue || o.res.Queue != "first-line" {
				t.Fatalf("result = %+v, want the default queue first-line", o.res)
			}
			if n := events.count(o.res.CallID, eventlog.IVRTimeout); n != 3 {
				t.Fatalf("%d ivr.timeout events, want 3 (one per try)", n)
			}
		}},
		{"after hours: message, hung up by hotline with the reason recorded", "88007654321", "1", 60000, func(t *testing.T, o outcome) {
			if o.res.Outcome != ivr.OutcomeMessage || o.res.Reason != "after-hours" {
				t.Fatalf("result = %+v, want message after-hours", o.res)
			}
			if e, ok := events.find(o.res.CallID, eventlog.IVRMessage); !ok || e.Reason != "after-hours" {
				t.Fatalf("ivr.message event = %+v, want reason after-hours", e)
			}
			if o.end.Side != sip.SideLocal {
				t.Fatalf("call ended by %s, want hotline (local)", o.end.Side)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caller := runSIPpCaller(t, sw.Addr().Port(), tc.called, tc.digit, tc.pauseMS)
			select {
			case o := <-results:
				if o.err != nil {
					t.Fatalf("ivr: %v", o.err)
				}
				tc.check(t, o)
			case <-time.After(60 * time.Second):
				t.Fatalf("no IVR result within 60 s; SIPp:\n%s", caller())
			}
		})
	}
}

// runSIPpCaller starts deploy/sipp/caller.xml from 127.0.0.41 and returns
// a function that gives its output. The caller sends its digit after
// pauseMS; a long pause means "presses nothing" (hotline hangs up first).
func runSIPpCaller(t *testing.T, port uint16, called, digit string, pauseMS int) func() string {
	t.Helper()
	p := sipptest.Start(t, filepath.Join("..", "deploy", "sipp", "caller.xml"),
		map[string]string{"PAUSE_MS": strconv.Itoa(pauseMS), "DIGIT": digit, "TALK": "90000"},
		"-i", "127.0.0.41", "-p", "5400", "-mp", "6400", "-m", "1", "-s", called, "-key", "caller", "79123456789",
		"-timeout", "90s", fmt.Sprintf("127.0.0.1:%d", port))
	return p.Output
}
