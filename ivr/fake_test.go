package ivr

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
	"go.yaml.in/yaml/v3"
)

// in is one thing the scripted caller does, consumed in order by the leg's
// waiting points.
type in struct {
	digits string // pressed at the next read ("" means the read times out)
	barge  bool   // pressed during the next Play instead
	hangup bool   // hangs up at the next Play or read
}

func press(d string) in   { return in{digits: d} }
func barge(d string) in   { return in{digits: d, barge: true} }
func timeout() in         { return in{} }
func hangupNow() in       { return in{hangup: true} }
func script(s ...in) []in { return s }
func promptNames(ps []sip.Prompt) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// fakeLeg is an in-memory sip.Leg driven by a script.
type fakeLeg struct {
	mu       sync.Mutex
	info     sip.CallInfo
	script   []in
	buf      []rune
	played   []string // every prompt played, as lang/name
	stopped  []bool   // per Play call: stopped by a digit
	reads    []sip.DigitOptions
	flushes  int
	answered bool
	end      *sip.End
	done     chan struct{}
}

func newFakeLeg(from string, s []in) *fakeLeg {
	return &fakeLeg{info: sip.CallInfo{ID: "call-1", From: from, To: "88005553535"}, script: s, done: make(chan struct{})}
}

func (l *fakeLeg) Info() sip.CallInfo { return l.info }

func (l *fakeLeg) Answer(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answered = true
	return nil
}

func (l *fakeLeg) endLocked(side sip.Side) {
	if l.end == nil {
		l.end = &sip.End{Cause: sip.CauseNormal, Side: side}
		close(l.done)
	}
}

func (l *fakeLeg) Play(ctx context.Context, o sip.PlayOptions) (rune, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.end != nil {
		return 0, sip.ErrHangup
	}
	for _, p := range o.Prompts {
		l.played = append(l.played, p.String())
	}
	if len(l.script) > 0 {
		switch s := l.script[0]; {
		case s.hangup:
			l.script = l.script[1:]
			l.endLocked(sip.SideRemote)
			return 0, sip.ErrHangup
		case s.barge:
			l.script = l.script[1:]
			l.buf = append(l.buf, []rune(s.digits)...)
			l.stopped = append(l.stopped, o.StopOnDigit)
			if o.StopOnDigit {
				return []rune(s.digits)[0], nil
			}
			return 0, nil
		}
	}
	l.stopped = append(l.stopped, false)
	return 0, nil
}

func (l *fakeLeg) ReadDigits(ctx context.Context, o sip.DigitOptions) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.end != nil {
		return "", sip.ErrHangup
	}
	l.reads = append(l.reads, o)
	if len(l.buf) == 0 && len(l.script) > 0 {
		s := l.script[0]
		l.script = l.script[1:]
		if s.hangup {
			l.endLocked(sip.SideRemote)
			return "", sip.ErrHangup
		}
		l.buf = append(l.buf, []rune(s.digits)...)
	}
	var got []rune
	for len(l.buf) > 0 && len(got) < o.Max {
		d := l.buf[0]
		l.buf = l.buf[1:]
		if o.Terminator != 0 && d == o.Terminator {
			break
		}
		got = append(got, d)
	}
	return string(got), nil
}

func (l *fakeLeg) FlushDigits() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = nil
	l.flushes++
}

func (l *fakeLeg) StartMOH(string) error                 { return nil }
func (l *fakeLeg) StopMOH() error                        { return nil }
func (l *fakeLeg) Bridge(context.Context, sip.Leg) error { return nil }
func (l *fakeLeg) Events() <-chan sip.Event              { return nil }
func (l *fakeLeg) Done() <-chan struct{}                 { return l.done }

func (l *fakeLeg) Hangup(sip.Cause) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.endLocked(sip.SideLocal)
	return nil
}

func (l *fakeLeg) Ended() (sip.End, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.end == nil {
		return sip.End{}, false
	}
	return *l.end, true
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// events records published events.
type events struct {
	mu  sync.Mutex
	all []eventlog.Event
}

func (e *events) Publish(ev eventlog.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

// summary renders events as "type[k=v ...]" with selected keys, in order.
func (e *events) summary() []string {
	var out []string
	for _, ev := range e.all {
		s := string(ev.Type)
		switch ev.Type {
		case eventlog.IVRNode:
			s += " " + ev.Data["node"]
		case eventlog.IVRDigits, eventlog.IVRInvalid:
			s += " " + ev.Data["node"] + " " + ev.Data["digits"]
		case eventlog.IVRTimeout:
			s += " " + ev.Data["node"] + " try=" + ev.Data["try"]
		case eventlog.IVRLanguage:
			s += " " + ev.Data["lang"]
		case eventlog.IVRCollect:
			s += " " + ev.Data["var"] + "=" + ev.Data["value"]
		case eventlog.IVRMessage, eventlog.IVRCallback:
			s += " " + ev.Reason
		}
		out = append(out, s)
	}
	return out
}

// parseYAML parses src as a config file and hands its ivr: section to ParseFlows.
func parseYAML(t *testing.T, src string, opts ...Option) (*Flows, error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	root := resolve(&doc)
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "ivr" {
			return ParseFlows("hotline.yaml", root.Content[i+1], opts...)
		}
	}
	t.Fatalf("no ivr: section")
	return nil, nil
}

func mustParse(t *testing.T, src string, opts ...Option) *Flows {
	t.Helper()
	f, err := parseYAML(t, src, opts...)
	if err != nil {
		t.Fatalf("ParseFlows:\n%v", err)
	}
	return f
}
