package native

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
)

// leg is a native call leg: one SIP dialog and one RTP stream.
type leg struct {
	sw   *Switch
	info sip.CallInfo
	key  string
	// merge: the initial INVITE's merge key (Switch.claimInitial), for
	// inbound legs.
	merge string

	uas    *sipgo.DialogServerSession // inbound
	uac    *sipgo.DialogClientSession // outbound
	remote remoteMedia
	stream *media.Stream
	// srtp is hotline's SDES key of an SRTP leg (nil: plain RTP);
	// overTLS: the leg's signalling is TLS, where SRTP may be negotiated
	// (tls.go).
	srtp    *sdesCrypto
	overTLS bool
	// A browser's leg (SIP over WebSocket, ws.go): the connection's
	// source, the browser's offer (inbound, until Answer) and the WebRTC
	// gateway (webrtc.go) the stream exchanges plain RTP with.
	wsSource     netip.AddrPort
	browserOffer []byte
	gw           *rtcGateway

	answered   chan struct{}
	answerOnce sync.Once
	digits     *sip.DigitBuffer
	done       chan struct{}
	events     chan sip.Event
	evMu       sync.Mutex // guards sends on events against its close
	evClosed   bool

	mu        sync.Mutex
	ended     bool
	end       sip.End
	answering bool
	// sent200: Answer has committed to a 200 OK (an inbound leg); from then
	// on only a BYE ends the call, never a non-2xx final response.
	sent200 bool
	bridged bool
	hold    bool

	rejectCode atomic.Int32 // final response for an unanswered inbound leg
}

func newLeg(s *Switch, info sip.CallInfo, key string) *leg {
	return &leg{
		sw: s, info: info, key: key,
		answered: make(chan struct{}),
		done:     make(chan struct{}),
		events:   make(chan sip.Event, 64),
		digits:   sip.NewDigitBuffer(),
	}
}

var _ sip.Leg = (*leg)(nil)

func (l *leg) Info() sip.CallInfo { return l.info }

func (l *leg) Done() <-chan struct{} { return l.done }

func (l *leg) Events() <-chan sip.Event { return l.events }

func (l *leg) Ended() (sip.End, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.end, l.ended
}

func (l *leg) markAnswered() { l.answerOnce.Do(func() { close(l.answered) }) }

func (l *leg) isAnswered() bool {
	select {
	case <-l.answered:
		return true
	default:
		return false
	}
}

// Answer sends 200 OK with our SDP answer and waits for the ACK.
//
// A hang-up or CANCEL may come at any moment: the stream is kept only if
// the leg has not ended by the time it exists (checked under the same lock
// that finish uses), and once the 200 is on its way the call can only be
// ended with a BYE, which byeAfterAnswer sends if the leg ended meanwhile.
func (l *leg) Answer(ctx context.Context) error {
	if l.uas == nil || l.isAnswered() {
		return nil
	}
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return sip.ErrHangup
	}
	if l.answering {
		l.mu.Unlock()
		return fmt.Errorf("native: leg %s: Answer called twice", l.info.ID)
	}
	l.answering = true
	l.mu.Unlock()

	if l.wsSource.IsValid() {
		return l.answerBrowser(ctx)
	}
	codec := l.remote.Codecs[0]
	var sec *sdesCrypto
	if l.overTLS && l.remote.Secure && l.remote.Crypto != nil {
		var err error
		if sec, err = newCrypto(l.remote.Crypto.Tag); err != nil {
			l.rejectCode.Store(500)
			l.finish(sip.CauseFailure, sip.SideLocal)
			return fmt.Errorf("native: answer %s: %w", l.info.ID, err)
		}
	}
	stream, err := l.sw.cfg.Media.NewStream(media.StreamConfig{
		Remote: l.remote.Addr, Codec: codec, DTMFPT: l.remote.DTMFPT,
		OnDigit: l.digit, OnTimeout: l.mediaTimeout, SRTP: sec != nil,
	})
	if err == nil && sec != nil {
		if err = stream.SetSRTPKeys(sec.Key, l.remote.Crypto.Key); err != nil {
			_ = stream.Close()
		}
	}
	if err != nil {
		l.rejectCode.Store(503)
		l.finish(sip.CauseFailure, sip.SideLocal)
		return fmt.Errorf("native: answer %s: %w", l.info.ID, err)
	}
	if l.remote.Hold {
		stream.SetHold(true)
	}
	l.mu.Lock()
	if l.ended {
		// Hung up or cancelled while the stream was being made: finish
		// has run and did not see it.
		l.mu.Unlock()
		_ = stream.Close()
		return sip.ErrHangup
	}
	l.stream = stream
	l.srtp = sec
	l.sent200 = true
	l.mu.Unlock()
	body := buildSDP(stream.LocalAddr(), []media.Codec{codec}, l.remote.DTMFPT, answerDir(l.remote.Dir), sec)

	return l.respondAnswer(ctx, body)
}

// respondAnswer sends the 200 with body and waits for the ACK; the leg is
// answered then, unless it ended meanwhile (a BYE is sent after the ACK
// when ctx ends or the leg is hung up first). Both Answer paths end here:
// the plain one and the browser's (webrtc.go).
func (l *leg) respondAnswer(ctx context.Context, body []byte) error {
	var err error
	errc := make(chan error, 1)
	go func() { errc <- l.uas.RespondSDP(body) }() // returns after the ACK
	select {
	case err = <-errc:
	case <-ctx.Done():
		l.finish(sip.CauseFailure, sip.SideLocal)
		go l.byeAfterAnswer(errc)
		return ctx.Err()
	case <-l.done:
		go l.byeAfterAnswer(errc)
		return sip.ErrHangup
	}
	if err != nil {
		l.finish(sip.CauseFailure, sip.SideLocal)
		return fmt.Errorf("native: answer %s: %w", l.info.ID, err)
	}
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		l.bye() // ended while the ACK was on its way
		return sip.ErrHangup
	}
	l.markAnswered()
	l.mu.Unlock()
	return nil
}

// byeAfterAnswer waits for a 200 OK that was sent for a leg that ended
// meanwhile; if the caller acknowledged it, the call is up on their side
// and gets a BYE. The wait ends with the ACK or the transaction (64*T1).
func (l *leg) byeAfterAnswer(errc <-chan error) {
	if err := <-errc; err == nil {
		l.bye()
	}
}

// bye ends an established dialog on the remote side; it returns at once.
func (l *leg) bye() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	go func() {
		defer cancel()
		switch {
		case l.uas != nil:
			_ = l.uas.Bye(ctx)
		case l.uac != nil:
			_ = l.uac.Bye(ctx)
		}
	}()
}

func (l *leg) sound(p sip.Prompt) (*media.Sound, error) { return l.sw.cfg.Catalog.Prompt(p) }

func (l *leg) mediaReady() (*media.Stream, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return nil, sip.ErrHangup
	}
	if l.stream == nil || !l.isAnswered() {
		return nil, sip.ErrNotAnswered
	}
	return l.stream, nil
}

// Play implements sip.Leg.
func (l *leg) Play(ctx context.Context, opts sip.PlayOptions) (rune, error) {
	st, err := l.mediaReady()
	if err != nil {
		return 0, err
	}
	sounds := make([]*media.Sound, 0, len(opts.Prompts))
	for _, p := range opts.Prompts {
		snd, err := l.sound(p)
		if err != nil {
			return 0, err
		}
		sounds = append(sounds, snd)
	}
	if opts.StopOnDigit {
		if d, ok := l.digits.Peek(); ok {
			return d, nil
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan rune, 1)
	go func() {
		for {
			select {
			case <-pctx.Done():
				return
			case <-l.done:
				cancel()
				return
			case <-l.digits.Wake():
				if opts.StopOnDigit {
					if d, ok := l.digits.Peek(); ok {
						stopped <- d
						cancel()
						return
					}
				} else {
					l.digits.Rewake() // leave the wake-up for ReadDigits
					select {
					case <-pctx.Done():
						return
					case <-l.done:
						cancel()
						return
					}
				}
			}
		}
	}()
	perr := st.Play(pctx, sounds)
	select {
	case d := <-stopped:
		return d, nil
	default:
	}
	if l.isEnded() {
		return 0, sip.ErrHangup
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if perr != nil && pctx.Err() == nil {
		return 0, perr
	}
	return 0, nil
}

// ReadDigits implements sip.Leg. A timeout is not an error: it returns what
// was collected (possibly nothing).
func (l *leg) ReadDigits(ctx context.Context, opts sip.DigitOptions) (string, error) {
	if _, err := l.mediaReady(); err != nil {
		return "", err
	}
	return l.digits.Read(ctx, opts, l.done)
}

// FlushDigits implements sip.Leg.
func (l *leg) FlushDigits() { l.digits.Flush() }

// digit receives one DTMF digit from RTP (RFC 4733) or SIP INFO.
func (l *leg) digit(d rune) {
	if l.isEnded() {
		return
	}
	l.digits.Push(d)
	l.emit(sip.DigitEvent{Digit: d, At: l.sw.cfg.Now()}, false)
}

// emit delivers an event; droppable ones never block. A leg's events are
// closed once it has ended (finish); evMu keeps the close from racing a send.
func (l *leg) emit(e sip.Event, mustDeliver bool) {
	l.evMu.Lock()
	defer l.evMu.Unlock()
	if l.evClosed {
		return
	}
	if !mustDeliver {
		select {
		case l.events <- e:
		default:
		}
		return
	}
	select {
	case l.events <- e:
	case <-l.done: // finish closes done before it waits for evMu
	}
}

// StartMOH implements sip.Leg.
func (l *leg) StartMOH(class string) error {
	st, err := l.mediaReady()
	if err != nil {
		return err
	}
	sounds, err := l.sw.cfg.Catalog.MOH(class)
	if err != nil {
		return err
	}
	st.Loop(sounds)
	return nil
}

// StopMOH implements sip.Leg.
func (l *leg) StopMOH() error {
	st, err := l.mediaReady()
	if err != nil {
		return nil
	}
	st.Stop()
	return nil
}

// Bridge implements sip.Leg.
func (l *leg) Bridge(ctx context.Context, other sip.Leg) error {
	o, ok := other.(*leg)
	if !ok || o.sw != l.sw {
		return sip.ErrForeignLeg
	}
	a, err := l.mediaReady()
	if err != nil {
		return err
	}
	b, err := o.mediaReady()
	if err != nil {
		return fmt.Errorf("native: bridge: other leg: %w", err)
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
	unbridge := a.Bridge(b)
	l.sw.mons.BridgeStarted(l, o) // monitor.go: WaitBridged
	defer func() {
		l.sw.mons.BridgeEnded(l, o) // monitor.go
		unbridge()
		l.setBridged(false)
		o.setBridged(false)
	}()
	select {
	case <-l.done:
		return sip.ErrHangup
	case <-o.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Hangup implements sip.Leg: BYE when answered, a final response before.
func (l *leg) Hangup(cause sip.Cause) error {
	if l.uas != nil {
		// The INVITE handler owns the transaction: if the leg ends before
		// Answer committed to a 200, it sends this final response (and waits
		// for the ACK there, so Hangup never blocks the caller).
		code, _ := statusForCause(cause)
		l.rejectCode.CompareAndSwap(0, int32(code))
	}
	first, answered := l.finish(cause, sip.SideLocal)
	if first && answered {
		l.bye()
	}
	return nil
}

func statusForCause(c sip.Cause) (int, string) {
	switch c {
	case sip.CauseBusy:
		return 486, "Busy Here"
	case sip.CauseNoAnswer:
		return 480, "Temporarily Unavailable"
	case sip.CauseRejected:
		return 603, "Decline"
	case sip.CauseUnreachable:
		return 404, "Not Found"
	case sip.CauseShutdown:
		return 503, "Service Unavailable"
	}
	return 480, "Temporarily Unavailable"
}

func (l *leg) isEnded() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// finish records the end once, releases media and wakes every waiter. It
// reports whether this call ended the leg, and whether the leg was
// answered at that moment (Answer marks it under the same lock).
func (l *leg) finish(cause sip.Cause, side sip.Side) (first, answered bool) {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return false, false
	}
	l.ended = true
	l.end = sip.End{Cause: cause, Side: side, At: l.sw.cfg.Now()}
	answered = l.isAnswered()
	st := l.stream
	gw := l.gw
	l.mu.Unlock()
	close(l.done)
	if st != nil {
		_ = st.Close()
	}
	if gw != nil {
		gw.Close()
	}
	l.sw.removeLeg(l.key)
	l.sw.releaseInitial(l.merge)
	if l.uas != nil {
		_ = l.uas.Close()
	}
	if l.uac != nil {
		_ = l.uac.Close()
	}
	// Close events after done: a blocked emitter gives up on done first.
	l.evMu.Lock()
	l.evClosed = true
	close(l.events)
	l.evMu.Unlock()
	l.sw.log.Info("sip leg ended", "leg", l.info.ID, "cause", cause.String(), "side", side.String())
	return true, answered
}

// rejectAfterEnd is the final response the INVITE handler owes the caller
// when the leg ended unanswered: none once Answer has committed to a 200.
func (l *leg) rejectAfterEnd() (int, string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	code := int(l.rejectCode.Load())
	if l.sent200 || code == 0 {
		return 0, "", false
	}
	_, reason := statusForCause(l.end.Cause)
	if code == 503 {
		reason = "Service Unavailable"
	}
	return code, reason, true
}

func (l *leg) mediaTimeout() {
	l.sw.log.Warn("sip leg: no RTP received, hanging up", "leg", l.info.ID)
	_ = l.Hangup(sip.CauseMediaTimeout)
}

// reinvite applies a re-INVITE's offer (hold/unhold, new address or codec)
// and returns our answer.
func (l *leg) reinvite(body []byte) ([]byte, int, string) {
	if len(body) == 0 {
		// No offer: answer with our current SDP (the peer answers in ACK).
		return l.currentSDP(""), 200, "OK"
	}
	l.mu.Lock()
	gw := l.gw
	l.mu.Unlock()
	if gw != nil {
		return l.reinviteBrowser(gw, body)
	}
	rm, err := l.sw.remoteSDP(body)
	if err != nil {
		return nil, 488, "Not Acceptable Here"
	}
	l.mu.Lock()
	sec, cur := l.srtp, l.stream
	l.mu.Unlock()
	if sec != nil {
		// An SRTP leg stays SRTP: the new offer must bring a key.
		if !rm.Secure || rm.Crypto == nil {
			return nil, 488, "Not Acceptable Here"
		}
		if st := cur; st != nil {
			if err := st.SetSRTPKeys(sec.Key, rm.Crypto.Key); err != nil {
				return nil, 488, "Not Acceptable Here"
			}
		}
		l.mu.Lock()
		l.srtp = &sdesCrypto{Tag: rm.Crypto.Tag, Key: sec.Key}
		l.mu.Unlock()
	}
	l.mu.Lock()
	st := l.stream
	wasHold := l.hold
	l.hold = rm.Hold
	l.remote = rm
	l.mu.Unlock()
	if st != nil {
		codec := rm.Codecs[0]
		if !rm.Addr.Addr().IsUnspecified() {
			st.Update(rm.Addr, codec, rm.DTMFPT)
		}
		st.SetHold(rm.Hold)
	}
	if wasHold != rm.Hold {
		l.emit(sip.HoldEvent{Hold: rm.Hold, At: l.sw.cfg.Now()}, false)
	}
	return l.currentSDP(answerDir(rm.Dir)), 200, "OK"
}

func (l *leg) currentSDP(dir string) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stream == nil {
		return nil
	}
	return buildSDP(l.stream.LocalAddr(), []media.Codec{l.remote.Codecs[0]}, l.remote.DTMFPT, dir, l.srtp)
}

// transfer turns a REFER into a TransferEvent; Reply sends the final NOTIFY.
func (l *leg) transfer(target string) {
	var once sync.Once
	reply := func(ok bool) {
		once.Do(func() {
			frag := "SIP/2.0 200 OK"
			if !ok {
				frag = "SIP/2.0 603 Declined"
			}
			l.notifyRefer(frag)
		})
	}
	l.notifyRefer("SIP/2.0 100 Trying")
	l.emit(sip.TransferEvent{Target: target, At: l.sw.cfg.Now(), Reply: reply}, true)
}

func (l *leg) notifyRefer(frag string) {
	req := gosip.NewRequest(gosip.NOTIFY, l.remoteTarget())
	req.AppendHeader(gosip.NewHeader("Event", "refer"))
	state := "active"
	if frag != "SIP/2.0 100 Trying" {
		state = "terminated;reason=noresource"
	}
	req.AppendHeader(gosip.NewHeader("Subscription-State", state))
	req.AppendHeader(gosip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(frag + "\r\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	go func() {
		defer cancel()
		var err error
		switch {
		case l.uas != nil:
			_, err = l.uas.Do(ctx, req)
		case l.uac != nil:
			_, err = l.uac.Do(ctx, req)
		}
		if err != nil {
			l.sw.log.Debug("sip notify failed", "leg", l.info.ID, "error", err)
		}
	}()
}

func (l *leg) remoteTarget() gosip.Uri {
	if l.uas != nil {
		return *l.uas.InviteRequest.Contact().Address.Clone()
	}
	if c := l.uac.InviteResponse.Contact(); c != nil {
		return *c.Address.Clone()
	}
	return *l.uac.InviteRequest.Recipient.Clone()
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
