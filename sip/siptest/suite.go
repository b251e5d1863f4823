package siptest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
)

// wait bounds every wait of the suite. It only guards against hangs: no
// case asserts how long something took.
const wait = 15 * time.Second

// suite is one Run: the harness, the test phones and the router of inbound
// legs.
type suite struct {
	h       Harness
	engines map[string]*media.Engine
	trunk   *Phone
	agent   *Phone // Agents[0] on PhoneIPs[0], registered for the whole run
	seq     atomic.Uint32

	mu      sync.Mutex
	waiters map[string]chan sip.Leg // caller number → its leg
	stop    chan struct{}
}

// Run runs the contract cases against h.Switch, each as a subtest.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Switch == nil {
		t.Fatal("siptest: Harness.Switch is nil")
	}
	if len(h.Agents) < 2 || len(h.PhoneIPs) < 3 {
		t.Fatal("siptest: the harness needs at least two Agents and three PhoneIPs")
	}
	if h.UnknownAgent == "" {
		h.UnknownAgent = "siptest-nobody"
	}
	if h.RTPPorts == [2]int{} {
		h.RTPPorts = [2]int{40000, 40999}
	}
	if h.RingTimeout == 0 {
		h.RingTimeout = 10 * time.Second
	}
	s := &suite{h: h, engines: map[string]*media.Engine{}, waiters: map[string]chan sip.Leg{}, stop: make(chan struct{})}
	t.Cleanup(func() {
		close(s.stop)
		for _, e := range s.engines {
			_ = e.Close()
		}
	})
	go s.route()

	s.trunk = s.phone(t, PhoneConfig{IP: h.Trunk.IP, Port: h.Trunk.Port, User: "trunk"})
	s.agent = s.phone(t, PhoneConfig{IP: h.PhoneIPs[0], User: h.Agents[0].User, Password: h.Agents[0].Password})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.agent.Register(ctx, h.Registrar, 5*time.Minute); err != nil {
		t.Fatalf("agent %s cannot register with %s: %v", h.Agents[0].User, h.Registrar, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.agent.Register(ctx, h.Registrar, 0)
	})

	cases := []struct {
		c    Case
		run  func(*testing.T)
		skip string
	}{
		{CaseInbound, s.testInbound, ""},
		{CaseAnswer, s.testAnswer, ""},
		{CasePlay, s.testPlay, ""},
		{CasePlayBargeIn, s.testBargeIn, ""},
		{CaseReadDigits, s.testReadDigits, ""},
		{CaseMOH, s.testMOH, ""},
		{CaseHangupLocal, s.testHangupLocal, ""},
		{CaseHangupRemote, s.testHangupRemote, ""},
		{CaseCallerCancel, s.testCallerCancel, ""},
		{CaseDialAgent, s.testDialAgent, ""},
		{CaseDialNumber, s.testDialNumber, when(h.Caps.NoDialNumber, "the harness cannot receive the switch's trunk calls")},
		{CaseDialUnregistered, s.testDialUnregistered, ""},
		{CaseDialBusy, s.testDialBusy, ""},
		{CaseDialNoAnswer, s.testDialNoAnswer, ""},
		{CaseDialCancel, s.testDialCancel, ""},
		{CaseBridge, s.testBridge, ""},
		{CaseTransfer, s.testTransfer, ""},
		{CaseInfoDTMF, s.testInfoDTMF, when(!h.Caps.InfoDTMF, "the switch does not take SIP INFO digits")},
		{CaseFork, s.testFork, when(h.Caps.NoFork, "the switch rings one contact per agent")},
	}
	for _, tc := range cases {
		t.Run(string(tc.c), func(t *testing.T) {
			if reason, ok := h.Known[tc.c]; ok {
				t.Skipf("known failure: %s", reason)
			}
			if tc.skip != "" {
				t.Skipf("capability: %s", tc.skip)
			}
			tc.run(t)
		})
	}
}

func when(cond bool, reason string) string {
	if cond {
		return reason
	}
	return ""
}

// engine returns the media engine for the phones on ip.
func (s *suite) engine(t *testing.T, ip string) *media.Engine {
	t.Helper()
	if e, ok := s.engines[ip]; ok {
		return e
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		t.Fatalf("siptest: phone IP %q: %v", ip, err)
	}
	e, err := media.NewEngine(media.EngineConfig{IP: a, PortMin: s.h.RTPPorts[0], PortMax: s.h.RTPPorts[1], Logger: s.h.Logger})
	if err != nil {
		t.Fatalf("siptest: media engine on %s: %v", ip, err)
	}
	s.engines[ip] = e
	return e
}

// phone starts a test phone that lives until the test (or Run) ends.
func (s *suite) phone(t *testing.T, cfg PhoneConfig) *Phone {
	t.Helper()
	cfg.Media = s.engine(t, cfg.IP)
	cfg.Logger = s.h.Logger
	p, err := NewPhone(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// route hands inbound legs to the case waiting for their caller number and
// refuses the others (left over from a failed case).
func (s *suite) route() {
	for {
		select {
		case <-s.stop:
			return
		case l, ok := <-s.h.Switch.Incoming():
			if !ok {
				return
			}
			s.mu.Lock()
			ch := s.waiters[l.Info().From]
			delete(s.waiters, l.Info().From)
			s.mu.Unlock()
			if ch == nil {
				_ = l.Hangup(sip.CauseRejected)
				continue
			}
			ch <- l
		}
	}
}

// callerNumber is a fresh caller number, so each case finds its own leg.
func (s *suite) callerNumber() string {
	return fmt.Sprintf("7912%07d", 1000+s.seq.Add(1))
}

// inbound is a call from the trunk phone to the switch.
type inbound struct {
	leg    sip.Leg
	caller string
	result chan callResult
	cancel context.CancelFunc
	call   *Call // set by answered
}

type callResult struct {
	call *Call
	err  error
}

// inbound places a call from the trunk phone and returns the switch's leg
// for it (not answered).
func (s *suite) inbound(t *testing.T) *inbound {
	t.Helper()
	num := s.callerNumber()
	ch := make(chan sip.Leg, 1)
	s.mu.Lock()
	s.waiters[num] = ch
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	in := &inbound{caller: num, result: make(chan callResult, 1), cancel: cancel}
	go func() {
		c, err := s.trunk.Call(ctx, CallOptions{Addr: s.h.Trunk.Addr, To: s.h.Trunk.Called, From: num})
		in.result <- callResult{c, err}
	}()
	select {
	case in.leg = <-ch:
	case r := <-in.result:
		cancel()
		t.Fatalf("the trunk call from %s ended before the switch delivered a leg: %v", num, r.err)
	case <-time.After(wait):
		cancel()
		t.Fatalf("no inbound leg for caller %s within %s", num, wait)
	}
	t.Cleanup(func() {
		_ = in.leg.Hangup(sip.CauseNormal)
		cancel()
		if in.call != nil {
			ctx, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			_ = in.call.Hangup(ctx)
		}
	})
	return in
}

// answered places a trunk call, answers its leg and waits for the trunk
// phone to see the answer.
func (s *suite) answered(t *testing.T) *inbound {
	t.Helper()
	in := s.inbound(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := in.leg.Answer(ctx); err != nil {
		t.Fatalf("Answer: %v", err)
	}
	select {
	case r := <-in.result:
		if r.err != nil {
			t.Fatalf("the caller did not get the answer: %v", r.err)
		}
		in.call = r.call
	case <-time.After(wait):
		t.Fatal("the caller got no answer")
	}
	return in
}

// dialAgent dials the run's agent phone (which answers) and returns both
// sides.
func (s *suite) dialAgent(t *testing.T) (sip.Leg, *Call) {
	t.Helper()
	drainCalls(s.agent)
	s.agent.SetMode(Answer)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	leg, err := s.h.Switch.Dial(ctx, sip.Target{Agent: s.agent.User(), RingTimeout: s.h.RingTimeout})
	if err != nil {
		t.Fatalf("Dial agent %s: %v", s.agent.User(), err)
	}
	c := nextCall(t, s.agent)
	waitChan(t, "the agent phone to see the answer", c.Answered())
	t.Cleanup(func() {
		_ = leg.Hangup(sip.CauseNormal)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Hangup(ctx)
	})
	return leg, c
}

func drainCalls(p *Phone) {
	for {
		select {
		case <-p.Incoming():
		default:
			return
		}
	}
}

func nextCall(t *testing.T, p *Phone) *Call {
	t.Helper()
	select {
	case c := <-p.Incoming():
		return c
	case <-time.After(wait):
		t.Fatalf("phone %s got no INVITE within %s", p.User(), wait)
	}
	return nil
}

func waitChan(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// eventually polls cond until it holds or the hang guard fires.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits until c receives no more RTP (no packet for 300 ms) and
// returns the count.
func settle(t *testing.T, what string, c *Call) uint64 {
	t.Helper()
	deadline := time.Now().Add(wait)
	last, quiet := c.Received(), 0
	for quiet < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: RTP keeps arriving", what)
		}
		time.Sleep(100 * time.Millisecond)
		n := c.Received()
		if n == last {
			quiet++
		} else {
			last, quiet = n, 0
		}
	}
	return last
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	t.Cleanup(cancel)
	return ctx
}

func wantEnd(t *testing.T, l sip.Leg, cause sip.Cause, side sip.Side) {
	t.Helper()
	waitChan(t, "the leg to end", l.Done())
	end, ok := l.Ended()
	if !ok || end.Cause != cause || end.Side != side {
		t.Fatalf("Ended() = %+v, %v; want cause %s, side %s", end, ok, cause, side)
	}
}

// drainEvents discards the events delivered so far.
func drainEvents(l sip.Leg) {
	for {
		select {
		case _, ok := <-l.Events():
			if !ok {
				return
			}
		default:
			return
		}
	}
}

// waitDigits waits until the leg reported n digit events (so the digits
// are in its buffer) and returns them.
func waitDigits(t *testing.T, l sip.Leg, n int) string {
	t.Helper()
	var got []rune
	timeout := time.After(wait)
	for len(got) < n {
		select {
		case e, ok := <-l.Events():
			if !ok {
				t.Fatalf("events closed after digits %q", string(got))
			}
			if d, ok := e.(sip.DigitEvent); ok {
				got = append(got, d.Digit)
			}
		case <-timeout:
			t.Fatalf("got digit events %q, want %d digits", string(got), n)
		}
	}
	return string(got)
}

func (s *suite) testInbound(t *testing.T) {
	in := s.inbound(t)
	info := in.leg.Info()
	if info.ID == "" || info.Direction != sip.Inbound || info.From != in.caller || info.To != s.h.Trunk.Called {
		t.Fatalf("Info() = %+v; want an inbound leg from %s to %s", info, in.caller, s.h.Trunk.Called)
	}
	if s.h.Trunk.Name != "" && info.Trunk != s.h.Trunk.Name {
		t.Fatalf("Info().Trunk = %q, want %q", info.Trunk, s.h.Trunk.Name)
	}
	if _, ok := in.leg.Ended(); ok {
		t.Fatal("a ringing leg reports Ended")
	}
	// Refusing an unanswered leg gives the caller the cause's status.
	if err := in.leg.Hangup(sip.CauseBusy); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-in.result:
		if st := StatusOf(r.err); st != 486 {
			t.Fatalf("the caller got %d (%v), want 486 for a busy hang-up", st, r.err)
		}
	case <-time.After(wait):
		t.Fatal("the caller got no final answer")
	}
	wantEnd(t, in.leg, sip.CauseBusy, sip.SideLocal)
}

func (s *suite) testAnswer(t *testing.T) {
	in := s.answered(t)
	if err := in.leg.Answer(ctxT(t)); err != nil {
		t.Fatalf("a second Answer: %v, want a no-op", err)
	}
	if _, ok := in.leg.Ended(); ok {
		t.Fatal("an answered leg reports Ended")
	}
}

func (s *suite) testPlay(t *testing.T) {
	in := s.answered(t)
	before := settle(t, "before the prompt", in.call)
	d, err := in.leg.Play(ctxT(t), sip.PlayOptions{Prompts: []sip.Prompt{s.h.Prompt}})
	if err != nil || d != 0 {
		t.Fatalf("Play = %q, %v; want 0, nil", d, err)
	}
	got := int(settle(t, "after the prompt", in.call) - before)
	want := s.h.PromptPackets
	if diff := float64(got-want) / float64(want); diff > 0.02 || diff < -0.02 {
		t.Fatalf("the caller received %d RTP packets for %s; want %d ± 2 %%", got, s.h.Prompt, want)
	}
	t.Logf("%s: %d packets expected, %d received", s.h.Prompt, want, got)

	_, err = in.leg.Play(ctxT(t), sip.PlayOptions{Prompts: []sip.Prompt{{Name: "siptest-no-such-prompt"}}})
	if !errors.Is(err, sip.ErrUnknownPrompt) {
		t.Fatalf("Play of a missing prompt = %v, want ErrUnknownPrompt", err)
	}
}

func (s *suite) testBargeIn(t *testing.T) {
	in := s.answered(t)
	before := settle(t, "before the prompt", in.call)
	go func() {
		// Press 5 once the prompt is audible.
		for in.call.Received() < before+25 {
			select {
			case <-in.call.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		_ = in.call.SendDTMF(context.Background(), "5")
	}()
	d, err := in.leg.Play(ctxT(t), sip.PlayOptions{Prompts: []sip.Prompt{s.h.Prompt}, StopOnDigit: true})
	if err != nil || d != '5' {
		t.Fatalf("Play with StopOnDigit = %q, %v; want '5'", d, err)
	}
	got := int(settle(t, "after barge-in", in.call) - before)
	if got >= s.h.PromptPackets*9/10 {
		t.Fatalf("the caller received %d of %d packets: the prompt did not stop on the digit", got, s.h.PromptPackets)
	}
	digits, err := in.leg.ReadDigits(ctxT(t), sip.DigitOptions{Max: 1, FirstTimeout: 5 * time.Second})
	if err != nil || digits != "5" {
		t.Fatalf("ReadDigits after barge-in = %q, %v; want the barge-in digit left in the buffer", digits, err)
	}
}

func (s *suite) testReadDigits(t *testing.T) {
	in := s.answered(t)
	for _, tc := range []struct {
		name string
		send string
		opts sip.DigitOptions
		want string
	}{
		{"max", "1234", sip.DigitOptions{Max: 3}, "123"},
		{"terminator", "12#3", sip.DigitOptions{Max: 10, Terminator: '#'}, "12"},
		{"first-timeout", "", sip.DigitOptions{Max: 2, FirstTimeout: 500 * time.Millisecond}, ""},
		{"inter-timeout", "7", sip.DigitOptions{Max: 3, InterTimeout: 700 * time.Millisecond}, "7"},
		{"star-and-hash", "*0#", sip.DigitOptions{Max: 3}, "*0#"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in.leg.FlushDigits()
			drainEvents(in.leg)
			if tc.send != "" {
				if err := in.call.SendDTMF(ctxT(t), tc.send); err != nil {
					t.Fatal(err)
				}
				if got := waitDigits(t, in.leg, len(tc.send)); got != tc.send {
					t.Fatalf("digit events %q, sent %q", got, tc.send)
				}
			}
			got, err := in.leg.ReadDigits(ctxT(t), tc.opts)
			if err != nil || got != tc.want {
				t.Fatalf("ReadDigits(%+v) after %q = %q, %v; want %q", tc.opts, tc.send, got, err, tc.want)
			}
		})
	}
}

func (s *suite) testMOH(t *testing.T) {
	in := s.answered(t)
	before := settle(t, "before music", in.call)
	if err := in.leg.StartMOH(s.h.MOHClass); err != nil {
		t.Fatalf("StartMOH(%q): %v", s.h.MOHClass, err)
	}
	eventually(t, "music to reach the caller", func() bool { return in.call.Received() >= before+50 })
	if err := in.leg.StopMOH(); err != nil {
		t.Fatalf("StopMOH: %v", err)
	}
	settle(t, "after StopMOH", in.call)
	if err := in.leg.StopMOH(); err != nil {
		t.Fatalf("StopMOH without music: %v, want a no-op", err)
	}
	if !s.h.Caps.NoUnknownMOH {
		if err := in.leg.StartMOH("siptest-no-such-class"); !errors.Is(err, sip.ErrUnknownMOH) {
			t.Fatalf("StartMOH of an unknown class = %v, want ErrUnknownMOH", err)
		}
	}
}

func (s *suite) testHangupLocal(t *testing.T) {
	in := s.answered(t)
	if err := in.leg.Hangup(sip.CauseNormal); err != nil {
		t.Fatal(err)
	}
	waitChan(t, "the caller to get BYE", in.call.Done())
	if !in.call.RemoteHangup() {
		t.Fatal("the caller's call ended without a BYE from the switch")
	}
	wantEnd(t, in.leg, sip.CauseNormal, sip.SideLocal)
	if err := in.leg.Hangup(sip.CauseNormal); err != nil {
		t.Fatalf("a second Hangup: %v, want a no-op", err)
	}
	timeout := time.After(wait)
	for {
		select {
		case _, ok := <-in.leg.Events():
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("Events() is not closed after the leg ended")
		}
	}
}

func (s *suite) testHangupRemote(t *testing.T) {
	in := s.answered(t)
	if err := in.call.Hangup(ctxT(t)); err != nil {
		t.Fatalf("caller BYE: %v", err)
	}
	wantEnd(t, in.leg, sip.CauseNormal, sip.SideRemote)
	if _, err := in.leg.ReadDigits(ctxT(t), sip.DigitOptions{Max: 1}); !errors.Is(err, sip.ErrHangup) {
		t.Fatalf("ReadDigits after hang-up = %v, want ErrHangup", err)
	}
	if _, err := in.leg.Play(ctxT(t), sip.PlayOptions{Prompts: []sip.Prompt{s.h.ShortPrompt}}); !errors.Is(err, sip.ErrHangup) {
		t.Fatalf("Play after hang-up = %v, want ErrHangup", err)
	}
}

func (s *suite) testCallerCancel(t *testing.T) {
	in := s.inbound(t)
	in.cancel() // the caller gives up while it rings
	wantEnd(t, in.leg, sip.CauseCancelled, sip.SideRemote)
	select {
	case r := <-in.result:
		if r.err == nil {
			t.Fatal("the cancelled call was answered")
		}
	case <-time.After(wait):
		t.Fatal("the caller's INVITE never ended after CANCEL")
	}
}

func (s *suite) testDialAgent(t *testing.T) {
	leg, call := s.dialAgent(t)
	info := leg.Info()
	if info.Direction != sip.Outbound || info.Agent != s.agent.User() || info.ID == "" {
		t.Fatalf("Info() = %+v; want an outbound leg to agent %s", info, s.agent.User())
	}
	if err := leg.Answer(ctxT(t)); err != nil {
		t.Fatalf("Answer on an outbound leg: %v, want a no-op", err)
	}
	before := call.Received()
	if _, err := leg.Play(ctxT(t), sip.PlayOptions{Prompts: []sip.Prompt{s.h.ShortPrompt}}); err != nil {
		t.Fatalf("Play to the agent: %v", err)
	}
	eventually(t, "the prompt to reach the agent", func() bool { return call.Received() > before+10 })
	if err := leg.Hangup(sip.CauseNormal); err != nil {
		t.Fatal(err)
	}
	waitChan(t, "the agent to get BYE", call.Done())
	if !call.RemoteHangup() {
		t.Fatal("the agent's call ended without BYE")
	}
	wantEnd(t, leg, sip.CauseNormal, sip.SideLocal)
}

func (s *suite) testDialNumber(t *testing.T) {
	drainCalls(s.trunk)
	s.trunk.SetMode(Answer)
	const number = "79990001122"
	leg, err := s.h.Switch.Dial(ctxT(t), sip.Target{Number: number, CallerID: s.h.Trunk.Called, RingTimeout: s.h.RingTimeout})
	if err != nil {
		t.Fatalf("Dial %s: %v", number, err)
	}
	t.Cleanup(func() { _ = leg.Hangup(sip.CauseNormal) })
	call := nextCall(t, s.trunk)
	waitChan(t, "the callee to see the answer", call.Answered())
	if call.To != number {
		t.Fatalf("the trunk phone was called for %q, want %q", call.To, number)
	}
	if info := leg.Info(); info.Direction != sip.Outbound || info.To != number {
		t.Fatalf("Info() = %+v; want an outbound leg to %s", info, number)
	}
	if err := call.Hangup(ctxT(t)); err != nil {
		t.Fatalf("callee BYE: %v", err)
	}
	wantEnd(t, leg, sip.CauseNormal, sip.SideRemote)
}

// dialFails dials the agent phone in mode and checks the cause; during
// ringing (Ignore) it calls whileRinging with the phone's call.
func (s *suite) dialFails(t *testing.T, ctx context.Context, target sip.Target, want sip.Cause) {
	t.Helper()
	leg, err := s.h.Switch.Dial(ctx, target)
	if err == nil {
		_ = leg.Hangup(sip.CauseNormal)
		t.Fatalf("Dial %s was answered; want %s", target, want)
	}
	var de *sip.DialError
	if !errors.As(err, &de) || de.Cause != want {
		t.Fatalf("Dial %s = %v; want a *sip.DialError with cause %s", target, err, want)
	}
}

func (s *suite) testDialUnregistered(t *testing.T) {
	s.dialFails(t, ctxT(t), sip.Target{Agent: s.h.UnknownAgent, RingTimeout: s.h.RingTimeout}, sip.CauseUnreachable)
}

func (s *suite) testDialBusy(t *testing.T) {
	drainCalls(s.agent)
	s.agent.SetMode(Busy)
	defer s.agent.SetMode(Answer)
	s.dialFails(t, ctxT(t), sip.Target{Agent: s.agent.User(), RingTimeout: s.h.RingTimeout}, sip.CauseBusy)
}

func (s *suite) testDialNoAnswer(t *testing.T) {
	drainCalls(s.agent)
	s.agent.SetMode(Ignore)
	defer s.agent.SetMode(Answer)
	s.dialFails(t, ctxT(t), sip.Target{Agent: s.agent.User(), RingTimeout: 2 * time.Second}, sip.CauseNoAnswer)
	call := nextCall(t, s.agent)
	waitChan(t, "the ringing phone to be cancelled", call.Done())
	if !call.Cancelled() {
		t.Fatalf("the phone's call ended with %d, want a CANCEL", call.Status)
	}
}

func (s *suite) testDialCancel(t *testing.T) {
	drainCalls(s.agent)
	s.agent.SetMode(Ignore)
	defer s.agent.SetMode(Answer)
	ctx, cancel := context.WithCancel(ctxT(t))
	go func() {
		select {
		case c := <-s.agent.Incoming():
			cancel() // hotline gives up once the phone rings
			<-c.Done()
		case <-time.After(wait):
			cancel()
		}
	}()
	s.dialFails(t, ctx, sip.Target{Agent: s.agent.User(), RingTimeout: s.h.RingTimeout}, sip.CauseCancelled)
}

func (s *suite) testBridge(t *testing.T) {
	for _, tc := range []struct {
		name       string
		callerHups bool
		want       error
	}{
		{"agent hangs up", false, nil},
		{"caller hangs up", true, sip.ErrHangup},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
			in := s.answered(t)
			leg, agentCall := s.dialAgent(t)
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			drainEvents(in.leg)
			callerBefore, agentBefore := in.call.Received(), agentCall.Received()
			errc := make(chan error, 1)
			go func() { errc <- in.leg.Bridge(ctx, leg) }()

			eventually(t, "the agent's audio to reach the caller", func() bool { return in.call.Received() >= callerBefore+50 })
			eventually(t, "the caller's audio to reach the agent", func() bool { return agentCall.Received() >= agentBefore+50 })

			if err := in.call.SendDTMF(ctx, "7"); err != nil {
				t.Fatal(err)
			}
			select {
			case d := <-agentCall.Digits():
				if d != '7' {
					t.Fatalf("the agent received digit %q, want 7", d)
				}
			case <-time.After(wait):
				t.Fatal("the caller's digit did not pass the bridge")
			}
			if got := waitDigits(t, in.leg, 1); got != "7" {
				t.Fatalf("the caller leg reported digit %q during the bridge, want 7", got)
			}

			if tc.callerHups {
				_ = in.call.Hangup(ctx)
			} else {
				_ = agentCall.Hangup(ctx)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
					t.Fatalf("Bridge = %v, want %v", err, tc.want)
				}
			case <-time.After(wait):
				t.Fatal("Bridge did not return after a hang-up")
			}
			if tc.callerHups {
				if _, ok := leg.Ended(); ok {
					t.Fatal("the agent leg ended with the caller: Bridge must leave the other leg up")
				}
			} else if _, ok := in.leg.Ended(); ok {
				t.Fatal("the caller leg ended with the agent: Bridge must leave the other leg up")
			}
		})
	}
}

// testTransfer: an agent talking to a caller blind-transfers the call
// (REFER, as a softphone's transfer key does). The switch reports it on the
// agent's leg as a TransferEvent with the target, the agent is told the
// transfer succeeded (NOTIFY 200), and the caller's leg survives the agent
// leaving: Bridge returns nil and the caller can be played to again, which
// is what escalation to the second line needs.
func (s *suite) testTransfer(t *testing.T) {
	in := s.answered(t)
	leg, call := s.dialAgent(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	drainEvents(in.leg)
	drainEvents(leg)
	before := in.call.Received()
	errc := make(chan error, 1)
	go func() { errc <- in.leg.Bridge(ctx, leg) }()
	eventually(t, "the agent's audio to reach the caller", func() bool { return in.call.Received() >= before+25 })

	status, err := call.Refer(ctx, "2000")
	if err != nil || status != 202 {
		t.Fatalf("REFER = %d, %v; want 202", status, err)
	}
	var tr sip.TransferEvent
	timeout := time.After(wait)
	for tr.Reply == nil {
		select {
		case e, ok := <-leg.Events():
			if !ok {
				t.Fatal("events closed before the transfer request")
			}
			if x, ok := e.(sip.TransferEvent); ok {
				tr = x
			}
		case <-timeout:
			t.Fatal("no TransferEvent after REFER")
		}
	}
	if tr.Target != "2000" {
		t.Fatalf("TransferEvent.Target = %q, want 2000", tr.Target)
	}
	tr.Reply(true)
	notified := false
	for !notified {
		select {
		case body := <-call.Notifies():
			notified = strings.Contains(body, "200")
		case <-time.After(wait):
			t.Fatal("the agent got no NOTIFY with 200 after Reply(true)")
		}
	}
	// Call logic ends the transferring agent's leg (a switch that carried
	// out the transfer itself may have ended it already).
	_ = leg.Hangup(sip.CauseNormal)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("the caller's Bridge after the transfer = %v, want nil", err)
		}
	case <-time.After(wait):
		t.Fatal("the caller's Bridge did not return after the agent left")
	}
	if c, ok := in.leg.Ended(); ok {
		t.Fatalf("the caller's leg ended with the transfer (%v); it must stay up for the transfer target", c)
	}
	mark := settle(t, "after the transfer", in.call)
	if _, err := in.leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{s.h.ShortPrompt}}); err != nil {
		t.Fatalf("Play to the transferred caller: %v", err)
	}
	if got := settle(t, "after the prompt", in.call) - mark; got < 10 {
		t.Fatalf("the transferred caller received %d RTP packets of %s; want the prompt", got, s.h.ShortPrompt)
	}
}

func (s *suite) testInfoDTMF(t *testing.T) {
	in := s.answered(t)
	in.leg.FlushDigits()
	if st, err := in.call.SendInfo(ctxT(t), '5'); err != nil || st != 200 {
		t.Fatalf("INFO = %d, %v; want 200", st, err)
	}
	got, err := in.leg.ReadDigits(ctxT(t), sip.DigitOptions{Max: 1, FirstTimeout: 5 * time.Second})
	if err != nil || got != "5" {
		t.Fatalf("ReadDigits after INFO = %q, %v; want 5", got, err)
	}
}

func (s *suite) testFork(t *testing.T) {
	a := s.h.Agents[1]
	first := s.phone(t, PhoneConfig{IP: s.h.PhoneIPs[1], User: a.User, Password: a.Password, AnswerDelay: 300 * time.Millisecond})
	second := s.phone(t, PhoneConfig{IP: s.h.PhoneIPs[2], User: a.User, Password: a.Password})
	second.SetMode(Ignore)
	for _, p := range []*Phone{first, second} {
		if err := p.Register(ctxT(t), s.h.Registrar, 5*time.Minute); err != nil {
			t.Fatalf("register %s from %s: %v", a.User, p.Addr(), err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = p.Register(ctx, s.h.Registrar, 0)
		})
	}
	leg, err := s.h.Switch.Dial(ctxT(t), sip.Target{Agent: a.User, RingTimeout: s.h.RingTimeout})
	if err != nil {
		t.Fatalf("Dial %s with two contacts: %v", a.User, err)
	}
	t.Cleanup(func() { _ = leg.Hangup(sip.CauseNormal) })
	won, lost := nextCall(t, first), nextCall(t, second)
	waitChan(t, "the first contact to answer", won.Answered())
	waitChan(t, "the other contact to stop ringing", lost.Done())
	if !lost.Cancelled() {
		t.Fatalf("the other contact ended with %d, want a CANCEL", lost.Status)
	}
	_ = leg.Hangup(sip.CauseNormal)
	waitChan(t, "the answering contact to get BYE", won.Done())
}
