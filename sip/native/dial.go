package native

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
)

// Dial implements sip.Switch.
func (s *Switch) Dial(ctx context.Context, t sip.Target) (sip.Leg, error) {
	if s.draining.Load() {
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

// fork rings every binding at once; the first to answer wins and the others
// are cancelled (or hung up if they answered too).
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
	var winner *leg
	best := forkResult{code: 0}
	for range bs {
		r := <-results
		if r.l != nil {
			if winner == nil {
				winner = r.l
				cancelForks()
				continue
			}
			_ = r.l.Hangup(sip.CauseNormal) // answered too late
			continue
		}
		if best.err == nil || causeRank(r.code) > causeRank(best.code) {
			best = r
		}
	}
	if winner != nil {
		return winner, nil
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
	// The stream exists before the leg does (its port goes in the offer);
	// its callbacks reach the leg once there is one.
	var lp atomic.Pointer[leg]
	stream, err := s.cfg.Media.NewStream(media.StreamConfig{
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
	offer := buildSDP(stream.LocalAddr(), []media.Codec{media.PCMU, media.PCMA}, media.DefaultDTMFPT, "sendrecv")

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
	if t.Agent != "" && b.Source.IsValid() && !routable(recipient.Host) {
		req.SetDestination(b.Source.String())
	}

	sess, err := s.dua.WriteInvite(ctx, req)
	if err != nil {
		stream.Close()
		return nil, 0, err
	}
	var opts sipgo.AnswerOptions
	if len(tr) > 0 && tr[0] != nil && tr[0].Password != "" {
		opts.Username, opts.Password = tr[0].Username, tr[0].Password
	}
	if err := sess.WaitAnswer(ctx, opts); err != nil {
		stream.Close()
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
	answer, err := parseSDP(sess.InviteResponse.Body())
	if err != nil {
		_ = sess.Ack(context.Background())
		_ = sess.Bye(context.Background())
		stream.Close()
		return nil, 488, err
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
	stream.Update(answer.Addr, answer.Codecs[0], answer.DTMFPT)
	lp.Store(l)
	l.markAnswered()
	s.addLeg(key, l)
	s.log.Info("sip call out answered", "leg", info.ID, "target", maskTarget(t), "codec", info.Codec)
	return l, 200, nil
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
