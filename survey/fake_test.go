package survey

import (
	"context"
	"sync"

	"github.com/hotline-cc/hotline/sip"
)

// fakeSwitch scripts survey calls by number: each Dial takes the next
// answer from the number's list.
type fakeSwitch struct {
	mu      sync.Mutex
	answers map[string][]fakeAnswer
	dials   map[string]int
	targets []sip.Target
}

// fakeAnswer is one dial's result: a cause (not answered) or the digits
// pressed at each question ("" = no input); hangupAfter ends the call after
// that many questions (-1: never).
type fakeAnswer struct {
	cause       sip.Cause
	answer      bool
	digits      []string
	hangupAfter int
}

func newFakeSwitch() *fakeSwitch {
	return &fakeSwitch{answers: map[string][]fakeAnswer{}, dials: map[string]int{}}
}

func (f *fakeSwitch) script(number string, a ...fakeAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[number] = append(f.answers[number], a...)
}

func (f *fakeSwitch) dialCount(number string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials[number]
}

func (f *fakeSwitch) Incoming() <-chan sip.Leg { return nil }

func (f *fakeSwitch) Dial(ctx context.Context, t sip.Target) (sip.Leg, error) {
	f.mu.Lock()
	f.dials[t.Number]++
	f.targets = append(f.targets, t)
	var a fakeAnswer
	if q := f.answers[t.Number]; len(q) > 0 {
		a = q[0]
		if len(q) > 1 {
			f.answers[t.Number] = q[1:]
		}
	} else {
		a = fakeAnswer{cause: sip.CauseNoAnswer}
	}
	f.mu.Unlock()
	if !a.answer {
		return nil, &sip.DialError{Target: t, Cause: a.cause}
	}
	return &fakeLeg{digits: a.digits, hangupAfter: a.hangupAfter, done: make(chan struct{})}, nil
}

type fakeLeg struct {
	mu          sync.Mutex
	digits      []string
	asked       int
	hangupAfter int
	done        chan struct{}
	ended       bool
	played      []string
}

func (l *fakeLeg) Info() sip.CallInfo                    { return sip.CallInfo{Direction: sip.Outbound} }
func (l *fakeLeg) Answer(context.Context) error          { return nil }
func (l *fakeLeg) FlushDigits()                          {}
func (l *fakeLeg) StartMOH(string) error                 { return nil }
func (l *fakeLeg) StopMOH() error                        { return nil }
func (l *fakeLeg) Bridge(context.Context, sip.Leg) error { return nil }
func (l *fakeLeg) Done() <-chan struct{}                 { return l.done }
func (l *fakeLeg) Events() <-chan sip.Event              { return nil }

func (l *fakeLeg) Ended() (sip.End, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return sip.End{}, l.ended
}

func (l *fakeLeg) Hangup(sip.Cause) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ended {
		l.ended = true
		close(l.done)
	}
	return nil
}

func (l *fakeLeg) Play(ctx context.Context, o sip.PlayOptions) (rune, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return 0, sip.ErrHangup
	}
	for _, p := range o.Prompts {
		l.played = append(l.played, p.Name)
	}
	return 0, nil
}

func (l *fakeLeg) ReadDigits(ctx context.Context, o sip.DigitOptions) (string, error) {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return "", sip.ErrHangup
	}
	if l.hangupAfter >= 0 && l.asked >= l.hangupAfter {
		l.mu.Unlock()
		l.Hangup(sip.CauseNormal)
		return "", sip.ErrHangup
	}
	l.asked++
	d := ""
	if len(l.digits) > 0 {
		d, l.digits = l.digits[0], l.digits[1:]
	}
	l.mu.Unlock()
	return d, nil
}
