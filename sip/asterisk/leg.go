package asterisk

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/hotline-cc/hotline/sip"
)

// leg is one Asterisk channel in the Stasis application.
type leg struct {
	sw   *Switch
	info sip.CallInfo
	key  *ari.Key

	done   chan struct{}
	events chan sip.Event
	digits *sip.DigitBuffer

	mu          sync.Mutex
	ended       bool
	end         sip.End
	answered    bool
	bridged     bool
	moh         bool
	hangupCause int
	hangingUp   bool // a ChannelHangupRequest was seen
	evClosed    bool
	leaveTimer  *time.Timer
	rec         *bridgeRec // record.go
}

func newLeg(s *Switch, info sip.CallInfo, answered bool) *leg {
	return &leg{
		sw: s, info: info, key: ari.NewKey(ari.ChannelKey, info.ID),
		done: make(chan struct{}), events: make(chan sip.Event, 64),
		digits: sip.NewDigitBuffer(), answered: answered,
	}
}

var _ sip.Leg = (*leg)(nil)

func (l *leg) Info() sip.CallInfo       { return l.info }
func (l *leg) Done() <-chan struct{}    { return l.done }
func (l *leg) Events() <-chan sip.Event { return l.events }

func (l *leg) Ended() (sip.End, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.end, l.ended
}

func (l *leg) isAnswered() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.answered
}

// client is the ARI client for an operation on a live leg.
func (l *leg) client(needAnswer bool) (ari.Client, error) {
	l.mu.Lock()
	ended, answered := l.ended, l.answered
	l.mu.Unlock()
	if ended {
		return nil, sip.ErrHangup
	}
	if needAnswer && !answered {
		return nil, sip.ErrNotAnswered
	}
	cl := l.sw.current()
	if cl == nil {
		return nil, errNotConnected
	}
	return cl, nil
}

// Answer implements sip.Leg.
func (l *leg) Answer(ctx context.Context) error {
	if l.isAnswered() {
		return nil
	}
	cl, err := l.client(false)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- cl.Channel().Answer(l.key) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return sip.ErrHangup
	}
	if err != nil {
		if l.isEnded() {
			return sip.ErrHangup
		}
		return fmt.Errorf("asterisk: answer %s: %w", l.info.ID, err)
	}
	l.mu.Lock()
	l.answered = true
	l.mu.Unlock()
	return nil
}

// MediaURIs maps a prompt to the media URIs Asterisk plays: a named prompt
// is "sound:<lang>/<name>", a file under Asterisk's sounds directory (so
// "hotline/greeting" in Russian is <astdatadir>/sounds/ru/hotline/greeting.*);
// silence is made of Asterisk's silence/1..10 files, rounded up to whole
// seconds.
func MediaURIs(p sip.Prompt, defaultLang string) ([]string, error) {
	if p.Name == "" {
		if p.Silence <= 0 {
			return nil, fmt.Errorf("%w: prompt with neither a name nor a silence length", sip.ErrUnknownPrompt)
		}
		secs := int((p.Silence + time.Second - 1) / time.Second)
		var out []string
		for secs > 0 {
			n := min(secs, 10)
			out = append(out, fmt.Sprintf("sound:silence/%d", n))
			secs -= n
		}
		return out, nil
	}
	name := strings.TrimSuffix(p.Name, ".wav")
	if name == "" || path.IsAbs(name) || strings.Contains(name, "\\") || path.Clean(name) != name || strings.HasPrefix(name, "..") {
		return nil, fmt.Errorf("%w: %q is not a relative sound name", sip.ErrUnknownPrompt, p.Name)
	}
	lang := p.Lang
	if lang == "" {
		lang = defaultLang
	}
	return []string{"sound:" + lang + "/" + name}, nil
}

// Play implements sip.Leg. A playback Asterisk reports as failed (a
// missing sound file) returns sip.ErrUnknownPrompt.
func (l *leg) Play(ctx context.Context, opts sip.PlayOptions) (rune, error) {
	cl, err := l.client(true)
	if err != nil {
		return 0, err
	}
	var uris []string
	for _, p := range opts.Prompts {
		u, err := MediaURIs(p, l.sw.cfg.DefaultLang)
		if err != nil {
			return 0, err
		}
		uris = append(uris, u...)
	}
	if opts.StopOnDigit {
		if d, ok := l.digits.Peek(); ok {
			return d, nil
		}
	}
	if len(uris) == 0 {
		return 0, nil
	}
	l.stopMOH(cl)
	id := l.sw.newID("hl-pb-")
	finished := make(chan string, 1)
	l.sw.mu.Lock()
	l.sw.playbacks[id] = finished
	l.sw.mu.Unlock()
	forget := func() {
		l.sw.mu.Lock()
		delete(l.sw.playbacks, id)
		l.sw.mu.Unlock()
	}
	if _, err := cl.Channel().Play(l.key, id, uris...); err != nil {
		forget()
		if l.isEnded() {
			return 0, sip.ErrHangup
		}
		return 0, fmt.Errorf("asterisk: play %v on %s: %w", uris, l.info.ID, err)
	}
	stop := func() { _ = cl.Playback().Stop(ari.NewKey(ari.PlaybackKey, id)) }
	var wake <-chan struct{}
	if opts.StopOnDigit {
		wake = l.digits.Wake()
	}
	for {
		select {
		case state := <-finished:
			if state == "failed" {
				return 0, fmt.Errorf("%w: Asterisk could not play %v", sip.ErrUnknownPrompt, uris)
			}
			return 0, nil
		case <-wake:
			if d, ok := l.digits.Peek(); ok {
				stop()
				forget()
				return d, nil
			}
		case <-l.done:
			forget()
			return 0, sip.ErrHangup
		case <-ctx.Done():
			stop()
			forget()
			return 0, ctx.Err()
		}
	}
}

// ReadDigits implements sip.Leg with the same timeouts as the native
// switch: a timeout returns what was collected, without an error.
func (l *leg) ReadDigits(ctx context.Context, opts sip.DigitOptions) (string, error) {
	if _, err := l.client(true); err != nil && !errors.Is(err, errNotConnected) {
		return "", err
	}
	return l.digits.Read(ctx, opts, l.done)
}

// FlushDigits implements sip.Leg.
func (l *leg) FlushDigits() { l.digits.Flush() }

// digit takes one ChannelDtmfReceived digit.
func (l *leg) digit(d rune) {
	l.mu.Lock()
	ended := l.ended
	l.mu.Unlock()
	if ended {
		return
	}
	l.digits.Push(d)
	l.emit(sip.DigitEvent{Digit: d, At: l.sw.cfg.Now()})
}

// emit delivers an event without blocking: a digit is dropped when the
// buffer is full; a transfer request makes room by dropping the oldest
// event instead.
func (l *leg) emit(e sip.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.evClosed {
		return
	}
	select {
	case l.events <- e:
		return
	default:
	}
	if _, ok := e.(sip.TransferEvent); ok {
		select {
		case <-l.events:
		default:
		}
		select {
		case l.events <- e:
		default:
		}
	}
}

// StartMOH implements sip.Leg.
func (l *leg) StartMOH(class string) error {
	cl, err := l.client(true)
	if err != nil {
		return err
	}
	if len(l.sw.cfg.MOHClasses) > 0 && !contains(l.sw.cfg.MOHClasses, class) {
		return fmt.Errorf("%w: %q (known: %s)", sip.ErrUnknownMOH, class, strings.Join(l.sw.cfg.MOHClasses, ", "))
	}
	if err := cl.Channel().MOH(l.key, class); err != nil {
		return fmt.Errorf("asterisk: MOH %q on %s: %w", class, l.info.ID, err)
	}
	l.mu.Lock()
	l.moh = true
	l.mu.Unlock()
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// StopMOH implements sip.Leg.
func (l *leg) StopMOH() error {
	cl, err := l.client(false)
	if err != nil {
		return nil
	}
	l.stopMOH(cl)
	return nil
}

func (l *leg) stopMOH(cl ari.Client) {
	l.mu.Lock()
	on := l.moh
	l.moh = false
	l.mu.Unlock()
	if on {
		_ = cl.Channel().StopMOH(l.key)
	}
}

// Bridge implements sip.Leg with a mixing bridge that lives for the call.
func (l *leg) Bridge(ctx context.Context, other sip.Leg) error {
	o, ok := other.(*leg)
	if !ok || o.sw != l.sw {
		return sip.ErrForeignLeg
	}
	cl, err := l.client(true)
	if err != nil {
		return err
	}
	if _, err := o.client(true); err != nil {
		return fmt.Errorf("asterisk: bridge: other leg: %w", err)
	}
	// Claim both legs under the switch's bridge lock: nesting the two legs'
	// locks would deadlock a.Bridge(b) racing b.Bridge(a).
	l.sw.bridgeMu.Lock()
	if l.isBridged() || o.isBridged() {
		l.sw.bridgeMu.Unlock()
		return sip.ErrAlreadyBridged
	}
	l.setBridged(true)
	o.setBridged(true)
	l.sw.bridgeMu.Unlock()
	defer func() {
		l.sw.mons.BridgeEnded(l, o) // monitor.go
		l.setBridged(false)
		o.setBridged(false)
	}()
	l.stopMOH(cl)
	o.stopMOH(cl)

	id := l.sw.newID("hl-br-")
	bkey := ari.NewKey(ari.BridgeKey, id)
	if _, err := cl.Bridge().Create(bkey, "mixing", id); err != nil {
		return fmt.Errorf("asterisk: create bridge: %w", err)
	}
	defer func() {
		if l.sw.closing() {
			// hotline is stopping: the call goes on in Asterisk and a
			// restarted hotline finds the bridge (docs/asterisk.md).
			return
		}
		// Unbridge what is still up (Bridge returns with both legs up on
		// cancellation), then remove the bridge.
		for _, x := range []*leg{l, o} {
			if !x.isEnded() {
				_ = cl.Bridge().RemoveChannel(bkey, x.info.ID)
			}
		}
		_ = cl.Bridge().Delete(bkey)
	}()
	for _, x := range []*leg{l, o} {
		if err := cl.Bridge().AddChannel(bkey, x.info.ID); err != nil {
			if l.isEnded() {
				return sip.ErrHangup
			}
			if o.isEnded() {
				return nil
			}
			return fmt.Errorf("asterisk: add %s to bridge: %w", x.info.ID, err)
		}
	}
	l.sw.mons.BridgeStarted(l, o) // monitor.go: WaitBridged
	if stop := startBridgeRecording(cl, bkey, l, o); stop != nil {
		defer stop() // before the bridge is removed (defers run last first)
	}
	select {
	case <-l.done:
		return sip.ErrHangup
	case <-o.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Hangup implements sip.Leg.
func (l *leg) Hangup(cause sip.Cause) error {
	if l.isEnded() {
		return nil
	}
	// The end is recorded before the request: Asterisk's ChannelHangupRequest
	// and StasisEnd for it may arrive before DELETE returns, and must not
	// turn a local hang-up into a remote one.
	reason := hangupReason(cause, l.isAnswered())
	l.finish(cause, sip.SideLocal)
	if cl := l.sw.current(); cl != nil {
		if err := cl.Channel().Hangup(l.key, reason); err != nil {
			l.sw.log.Debug("ari hangup", "leg", l.info.ID, "error", err)
		}
	} else {
		// During an outage: hang the channel up after reconnecting.
		l.sw.mu.Lock()
		l.sw.hangupLater[l.info.ID] = reason
		l.sw.mu.Unlock()
	}
	return nil
}

func (l *leg) isEnded() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *leg) setHangupCause(c int) {
	l.mu.Lock()
	l.hangupCause = c
	l.hangingUp = true
	l.mu.Unlock()
}

// destroyed ends the leg after ChannelDestroyed (or a resync that found the
// channel gone; code 0).
func (l *leg) destroyed(code int) {
	l.mu.Lock()
	if code == 0 {
		code = l.hangupCause
	}
	answered := l.answered
	l.mu.Unlock()
	cause := causeFromQ850(code)
	if !answered && l.info.Direction == sip.Inbound {
		cause = sip.CauseCancelled // the caller gave up before the answer
	}
	l.finish(cause, sip.SideRemote)
}

// leftStasis handles StasisEnd. A channel that is hanging up (Asterisk
// sends ChannelHangupRequest, then StasisEnd, and no ChannelDestroyed: the
// application's subscription ends with StasisEnd) ends its leg at once with
// the requested cause. A channel that leaves alive (a dialplan `continue`)
// gets TransferGrace to come back (StasisStart with the same ID), else its
// leg ends.
func (l *leg) leftStasis() {
	l.mu.Lock()
	if l.ended || l.leaveTimer != nil {
		l.mu.Unlock()
		return
	}
	if l.hangingUp {
		l.mu.Unlock()
		l.destroyed(0)
		return
	}
	defer l.mu.Unlock()
	l.leaveTimer = time.AfterFunc(l.sw.cfg.TransferGrace, func() {
		l.sw.log.Info("ari leg left the application and did not come back", "leg", l.info.ID)
		l.finish(sip.CauseNormal, sip.SideRemote)
	})
}

// reentered handles a StasisStart of a channel that already has a leg.
func (l *leg) reentered() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leaveTimer != nil {
		l.leaveTimer.Stop()
		l.leaveTimer = nil
	}
}

// transfer reports a blind transfer the peer made (BridgeBlindTransfer).
// Asterisk has already carried it out when the event arrives (see
// docs/asterisk.md), so Reply only records the answer.
func (l *leg) transfer(target, result string) {
	reply := func(accepted bool) {
		l.sw.log.Info("ari transfer answered", "leg", l.info.ID, "accepted", accepted, "asterisk_result", result)
	}
	var once sync.Once
	l.emit(sip.TransferEvent{Target: target, At: l.sw.cfg.Now(), Reply: func(ok bool) { once.Do(func() { reply(ok) }) }})
}

// finish records the end once and wakes every waiter.
func (l *leg) finish(cause sip.Cause, side sip.Side) {
	l.finishEnd(sip.End{Cause: cause, Side: side})
}

// finishEnd records e (its time set now) once and wakes every waiter.
func (l *leg) finishEnd(e sip.End) {
	cause, side := e.Cause, e.Side
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return
	}
	l.ended = true
	e.At = l.sw.cfg.Now()
	l.end = e
	if l.leaveTimer != nil {
		l.leaveTimer.Stop()
	}
	close(l.done)
	l.evClosed = true
	close(l.events)
	l.mu.Unlock()
	l.sw.mu.Lock()
	if l.sw.legs[l.info.ID] == l {
		delete(l.sw.legs, l.info.ID)
	}
	l.sw.mu.Unlock()
	l.sw.log.Info("ari leg ended", "leg", l.info.ID, "cause", cause.String(), "side", side.String(), "detached", e.Detached)
}

func (l *leg) isBridged() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bridged
}

func (l *leg) setBridged(b bool) {
	l.mu.Lock()
	l.bridged = b
	l.mu.Unlock()
}
