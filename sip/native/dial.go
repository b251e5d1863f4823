package native

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
)

// Dial implements sip.Switch.
func (s *Switch) Dial(ctx context.Context, t sip.Target) (sip.Leg, error) {
	if s.draining.Load() || s.standby.Load() {
		return nil, &sip.DialError{Target: t, Cause: sip.CauseShutdown}
	}
	ring := t.RingTimeout
	if ring == 0 {
		ring = s.cfg.RingTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, ring, errRingTimeout)
	defer cancel()
	switch {
	case t.Agent != "":
		bs := s.reg.contacts(t.Agent)
		if t.Browser {
			bs = slices.DeleteFunc(bs, func(b binding) bool { return !isWS(b.Transport) })
		}
		if len(bs) == 0 {
			return nil, &sip.DialError{Target: t, Cause: sip.CauseUnreachable}
		}
		return s.fork(ctx, t, bs)
	case t.Number != "":
		tr := s.outboundTrunk(t.Trunk)
		if tr == nil {
			return nil, &sip.DialError{Target: t, Cause: sip.CauseUnreachable}
		}
		host, port, err := gosip.ParseAddr(tr.Address)
		if err != nil {
			return nil, fmt.Errorf("native: trunk %q address %q: %w", tr.Name, tr.Address, err)
		}
		uri := gosip.Uri{Scheme: "sip", User: t.Number, Host: host, Port: port}
		if tr.Transport == "tcp" {
			uri.UriParams = gosip.NewParams()
			uri.UriParams.Add("transport", "tcp")
		}
		if t.CallerID == "" {
			t.CallerID = tr.CallerID
		}
		return s.fork(ctx, t, []binding{{Contact: uri, Transport: strings.ToUpper(tr.Transport)}}, tr)
	}
	return nil, errors.New("native: dial target has neither Agent nor Number")
}

var errRingTimeout = errors.New("ring timeout")

func (s *Switch) outboundTrunk(name string) *trunk {
	for i := range s.trunks {
		if s.trunks[i].Address == "" {
			continue
		}
		if name == "" || s.trunks[i].Name == name {
			return &s.trunks[i]
		}
	}
	return nil
}

type forkResult struct {
	l    *leg
	err  error
	code int
}

// fork rings every binding at once and returns as soon as one answers:
// the first 200 wins and is returned at once; the other branches are
// cancelled, and one that answers anyway is ended with ACK and BYE. A
// branch that never sent a provisional response cannot be cancelled
// (RFC 3261 §9.1): it is not waited for; it ends in the background with
// its first response (CANCEL after a provisional, ACK+BYE after a 200) or
// its transaction's timeout. When every branch has failed, or ctx ends
// (ring timeout, the caller gave up), fork returns the best failure at
// once, without waiting for silent branches either.
func (s *Switch) fork(ctx context.Context, t sip.Target, bs []binding, tr ...*trunk) (sip.Leg, error) {
	forkCtx, cancelForks := context.WithCancel(ctx)
	defer cancelForks()
	results := make(chan forkResult, len(bs))
	for _, b := range bs {
		go func(b binding) {
			l, code, err := s.invite(forkCtx, t, b, tr...)
			results <- forkResult{l: l, err: err, code: code}
		}(b)
	}
	best := forkResult{code: 0}
	for pending := len(bs); pending > 0; {
		select {
		case r := <-results:
			pending--
			if r.l != nil {
				cancelForks()
				go reapForks(results, pending)
				return r.l, nil
			}
			if best.err == nil || causeRank(r.code) > causeRank(best.code) {
				best = r
			}
			continue
		case <-ctx.Done():
			cancelForks()
			go reapForks(results, pending)
		}
		break
	}
	cause := causeFromStatus(best.code)
	if best.code == 0 {
		switch {
		case errors.Is(context.Cause(ctx), errRingTimeout):
			cause = sip.CauseNoAnswer
		case ctx.Err() != nil:
			cause = sip.CauseCancelled
		default:
			cause = sip.CauseUnreachable
		}
	}
	return nil, &sip.DialError{Target: t, Cause: cause, Status: best.code}
}

// reapForks collects the branches a fork no longer waits for and hangs up
// any that answered after all (invite has ACKed it; this sends the BYE).
func reapForks(results <-chan forkResult, n int) {
	for range n {
		if r := <-results; r.l != nil {
			_ = r.l.Hangup(sip.CauseNormal)
		}
	}
}

// causeRank orders failures when forks fail differently: busy beats no
// answer beats unreachable.
func causeRank(code int) int {
	switch {
	case code == 486 || code == 600:
		return 4
	case code == 603 || code == 403:
		return 3
	case code == 408 || code == 480:
		return 2
	case code > 0:
		return 1
	}
	return 0
}

func causeFromStatus(code int) sip.Cause {
	switch code {
	case 486, 600:
		return sip.CauseBusy
	case 408, 480, 487:
		return sip.CauseNoAnswer
	case 403, 603, 488, 606:
		return sip.CauseRejected
	case 0:
		return sip.CauseFailure
	}
	return sip.CauseUnreachable
}

// invite sends one INVITE and waits for the answer.
func (s *Switch) invite(ctx context.Context, t sip.Target, b binding, tr ...*trunk) (*leg, int, error) {
	var gone chan struct{} // closed when the browser this branch rings goes (ws.go)
	if isWS(b.Transport) && b.Source.IsValid() {
		gone = make(chan struct{})
		var once sync.Once
		defer s.wsWatch(b.Source, func() { once.Do(func() { close(gone) }) })()
	}
	// The stream exists before the leg does (its port goes in the offer);
	// its callbacks reach the leg once there is one.
	var lp atomic.Pointer[leg]
	var sec *sdesCrypto
	if s.cfg.SRTPForTLS && t.Agent != "" && isTLS(b.Transport) {
		var err error
		if sec, err = newCrypto(1); err != nil {
			return nil, 500, err
		}
	}
	stream, err := s.cfg.Media.NewStream(media.StreamConfig{
		SRTP:   sec != nil,
		Codec:  media.PCMU, // provisional: the answer decides (Update below)
		DTMFPT: media.DefaultDTMFPT,
		OnDigit: func(d rune) {
			if l := lp.Load(); l != nil {
				l.digit(d)
			}
		},
		OnTimeout: func() {
			if l := lp.Load(); l != nil {
				l.mediaTimeout()
			}
		},
	})
	if err != nil {
		s.log.Error("sip dial: no media stream", "error", err)
		return nil, 503, err
	}
	info := sip.CallInfo{ID: s.newID(), Direction: sip.Outbound, From: t.CallerID, FromName: t.CallerName, Agent: t.Agent, Created: s.cfg.Now()}
	if t.Agent != "" {
		info.To = t.Agent
	} else {
		info.To = t.Number
	}
	if len(tr) > 0 && tr[0] != nil {
		info.Trunk = tr[0].Name
	}
	var offer []byte
	var gw *rtcGateway // a browser's contact (SIP over WebSocket): WebRTC
	if isWS(b.Transport) {
		if gw, err = s.newGateway(s.cfg.Media.IP()); err == nil {
			stream.Update(gw.Addr(), media.PCMU, media.DefaultDTMFPT)
			gw.attach(plainSide(stream.LocalAddr()))
			offer, err = gw.offer(ctx)
		}
		if err != nil {
			if gw != nil {
				gw.Close()
			}
			stream.Close()
			s.log.Error("sip dial: no webrtc offer", "error", err)
			return nil, 503, err
		}
		// Until the leg exists, a failure ends only this branch (below).
		defer func() {
			if gw != nil {
				gw.Close()
			}
		}()
	} else {
		offer = buildSDP(stream.LocalAddr(), []media.Codec{media.PCMU, media.PCMA}, media.DefaultDTMFPT, "sendrecv", sec)
	}

	recipient := *b.Contact.Clone()
	req := gosip.NewRequest(gosip.INVITE, recipient)
	req.SetBody(offer)
	req.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
	fromUser := t.CallerID
	if fromUser == "" {
		fromUser = "hotline"
	}
	from := &gosip.FromHeader{DisplayName: t.CallerName, Address: gosip.Uri{Scheme: "sip", User: fromUser, Host: s.addr.Addr().String()}, Params: gosip.NewParams()}
	from.Params.Add("tag", gosip.GenerateTagN(16))
	req.AppendHeader(from)
	toUser := recipient.User
	if t.Agent != "" {
		toUser = t.Agent
	}
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: toUser, Host: recipient.Host, Port: recipient.Port}, Params: gosip.NewParams()})
	if t.CallerID != "" {
		req.AppendHeader(gosip.NewHeader("P-Asserted-Identity", fmt.Sprintf("<sip:%s@%s>", t.CallerID, s.addr.Addr())))
	}
	for k, v := range t.Headers {
		req.AppendHeader(gosip.NewHeader(k, v))
	}
	req.AppendHeader(gosip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY"))
	if b.Transport != "" {
		req.SetTransport(strings.ToUpper(b.Transport))
	}
	switch {
	case len(b.Path) > 0:
		// Registered through a proxy (RFC 3327): route through it, as
		// its Path asked; the proxy knows the way to the phone.
		for _, p := range b.Path {
			req.AppendHeader(gosip.NewHeader("Route", p))
		}
		if dst, ok := pathHop(b.Path[0]); ok {
			req.SetDestination(dst)
		}
	case t.Agent != "" && b.Source.IsValid() && (!routable(recipient.Host) || isTLS(b.Transport) || isWS(b.Transport)):
		// TLS, WebSocket: over the registration's connection (tls.go, ws.go).
		req.SetDestination(b.Source.String())
	}

	// The stream belongs to this branch until it wins; a branch that loses
	// (ctx ends first) gives its port back at once, not when its
	// transaction is over (up to 64*T1 for a contact that never responds).
	const pending, won, lost = 0, 1, 2
	var state atomic.Int32
	stopLost := context.AfterFunc(ctx, func() {
		if state.CompareAndSwap(pending, lost) {
			_ = stream.Close()
		}
	})
	defer stopLost()

	sess, err := s.dialogUA(b.Transport).WriteInvite(ctx, req)
	if err != nil {
		stream.Close()
		if ctx.Err() == nil { // not sent because the fork was over: no miss
			s.contactMissed(t, b, err)
		}
		return nil, 0, err
	}
	var responded atomic.Bool
	opts := sipgo.AnswerOptions{OnResponse: func(*gosip.Response) error {
		responded.Store(true)
		return nil
	}}
	if len(tr) > 0 && tr[0] != nil && tr[0].Password != "" {
		opts.Username, opts.Password = tr[0].Username, tr[0].Password
	}
	err = waitAnswer(ctx, sess, opts, gone)
	if errors.Is(err, errBrowserGone) {
		// Fails the branch at once, not at the ring timeout: the queue
		// offers the call to someone else.
		stream.Close()
		return nil, 0, err
	}
	// Any response at all (sipgo keeps the last one, also when it gave up
	// waiting for a cancelled INVITE) shows the contact is alive.
	switch {
	case responded.Load() || sess.InviteResponse != nil:
		s.contactReached(t, b)
	case err != nil:
		s.contactMissed(t, b, err)
	}
	if err != nil {
		stream.Close()
		if res := sess.InviteResponse; res != nil && res.IsSuccess() {
			// Answered while being cancelled (a 200 crossing our CANCEL, or
			// the first response of a branch that had sent no provisional).
			endLateAnswer(sess)
			return nil, 0, err
		}
		_ = sess.Close()
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return nil, de.Res.StatusCode, err
		}
		var dv sipgo.ErrDialogResponse
		if errors.As(err, &dv) {
			return nil, dv.Res.StatusCode, err
		}
		return nil, 0, err
	}
	var answer remoteMedia
	if gw != nil {
		answer, err = browserSDP(sess.InviteResponse.Body())
		if err == nil {
			err = gw.accept(sess.InviteResponse.Body())
		}
		if err == nil {
			preferPCMU(&answer)
			answer.Addr = gw.Addr()
		}
	} else {
		answer, err = s.remoteSDP(sess.InviteResponse.Body())
	}
	if err == nil && sec != nil {
		err = srtpAnswer(stream, sec, answer)
	}
	if err != nil {
		s.log.Warn("sip dial: answer refused", "target", maskTarget(t), "reason", err.Error())
		endLateAnswer(sess)
		stream.Close()
		return nil, 488, err
	}
	if !state.CompareAndSwap(pending, won) {
		// The fork was decided (or given up) while this 200 was arriving.
		endLateAnswer(sess)
		return nil, 0, context.Cause(ctx)
	}
	if err := sess.Ack(ctx); err != nil {
		stream.Close()
		return nil, 0, err
	}
	info.Codec = answer.Codecs[0].Name
	localTag, _ := sess.InviteRequest.From().Params.Get("tag")
	key := dialogKey(string(*sess.InviteRequest.CallID()), localTag)
	l := newLeg(s, info, key)
	l.uac = sess
	l.remote = answer
	l.stream = stream
	l.srtp = sec
	l.overTLS = isTLS(b.Transport)
	if gw != nil {
		l.gw, l.wsSource = gw, b.Source
		f := l.lost
		gw.onFail.Store(&f)
		gw = nil // the leg's now
	}
	stream.Update(answer.Addr, answer.Codecs[0], answer.DTMFPT)
	lp.Store(l)
	l.markAnswered()
	s.addLeg(key, l)
	s.log.Info("sip call out answered", "leg", info.ID, "target", maskTarget(t), "codec", info.Codec)
	return l, 200, nil
}

var errBrowserGone = errors.New("the browser's websocket closed while it rang")

// waitAnswer is sess.WaitAnswer that gives up at once when gone closes
// (nil: never); the transaction then ends in the background (a 200 that
// still came is acknowledged and hung up).
func waitAnswer(ctx context.Context, sess *sipgo.DialogClientSession, opts sipgo.AnswerOptions, gone <-chan struct{}) error {
	if gone == nil {
		return sess.WaitAnswer(ctx, opts)
	}
	errc := make(chan error, 1)
	go func() { errc <- sess.WaitAnswer(ctx, opts) }()
	select {
	case err := <-errc:
		return err
	case <-gone:
		go func() {
			if err := <-errc; err == nil {
				endLateAnswer(sess)
				return
			}
			_ = sess.Close()
		}()
		return errBrowserGone
	}
}

// endLateAnswer ends a dialog that answered when nobody wanted it any more:
// ACK the 200 (or the phone retransmits it and shows a call) and BYE.
func endLateAnswer(sess *sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = sess.Ack(ctx)
	_ = sess.Bye(ctx)
	_ = sess.Close()
}

// contactMissLimit is how many INVITEs in a row a registered contact may
// leave without any response at all (each one gets 64*T1 = 32 s, and
// costs nothing but a background transaction since the fork does not wait
// for it) before its binding is dropped. A phone that registers again gets
// a fresh binding.
const contactMissLimit = 3

// contactMissed counts an INVITE an agent's contact never responded to
// (see registrar.missed) and drops the binding at the limit.
func (s *Switch) contactMissed(t sip.Target, b binding, err error) {
	if t.Agent == "" {
		return
	}
	select {
	case <-s.closed:
		return // transactions end with the switch: that says nothing of the phone
	default:
	}
	if s.reg.missed(t.Agent, b.Contact, contactMissLimit) {
		s.persist.mark(t.Agent)
		s.log.Warn("sip contact dropped: no response to INVITEs", "user", t.Agent,
			"contact", b.Contact.String(), "misses", contactMissLimit, "error", err)
		return
	}
	s.log.Info("sip contact did not respond", "user", t.Agent, "contact", b.Contact.String(), "error", err)
}

func (s *Switch) contactReached(t sip.Target, b binding) {
	if t.Agent != "" {
		s.reg.reached(t.Agent, b.Contact)
	}
}

func maskTarget(t sip.Target) string {
	if t.Agent != "" {
		return "agent:" + t.Agent
	}
	return "number:" + MaskNumber(t.Number)
}

// routable reports whether host is an address we can send to directly.
func routable(host string) bool {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return true // a host name
	}
	return !a.IsUnspecified()
}

// srtpAnswer keys an SRTP stream from the answer to hotline's SRTP offer;
// an answer without SRTP, or with another tag, is refused (the phone
// answered a call it cannot encrypt).
func srtpAnswer(stream *media.Stream, sec *sdesCrypto, answer remoteMedia) error {
	if !answer.Secure || answer.Crypto == nil || answer.Crypto.Tag != sec.Tag {
		return errors.New("the answer has no SRTP key (a=crypto " + media.SRTPSuite + "), and SRTP is required")
	}
	return stream.SetSRTPKeys(sec.Key, answer.Crypto.Key)
}

// pathHop is the host:port a Path value (e.g. "<sip:192.0.2.10:5070;lr>")
// points at.
func pathHop(v string) (string, bool) {
	var u gosip.Uri
	var p gosip.HeaderParams
	if _, err := gosip.ParseAddressValue(v, &u, &p); err != nil || u.Host == "" {
		return "", false
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return net.JoinHostPort(u.Host, strconv.Itoa(port)), true
}
