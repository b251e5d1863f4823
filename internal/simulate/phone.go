package simulate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// phone is a SIP user agent on sipgo with RTP from sip/media: it places
// calls with an SDP offer, answers calls handed to its handler, registers
// with digest authentication, and sends BYE, REFER and RFC 4733 digits.
// While a call is up it loops its voice, as a person on a phone talks.
type phone struct {
	user, password string
	ip             string
	addr           netip.AddrPort
	media          *media.Engine
	voice          *media.Sound
	log            *slog.Logger

	ua   *sipgo.UserAgent
	cli  *sipgo.Client
	dua  *sipgo.DialogUA
	conn net.PacketConn

	handler callHandler

	mu        sync.Mutex
	calls     map[string]*call // by Call-ID
	regCallID string
	regCSeq   uint32
}

type phoneConfig struct {
	IP             string
	Port           int // 0: any free port
	User, Password string
	Media          *media.Engine
	Voice          *media.Sound
	Logger         *slog.Logger
	Handler        callHandler // nil: incoming calls are refused
}

// callHandler is what a phone's user does with incoming calls.
type callHandler interface {
	// ring runs in the INVITE's handler after 180 Ringing and returns true
	// to answer. It must return when cancelled is closed (the caller gave
	// up).
	ring(c *call, cancelled <-chan struct{}) bool
	// answered runs in its own goroutine once the 200 OK went out.
	answered(c *call)
	// missed runs when ring said yes but the call could not be answered
	// (cancelled meanwhile, no media), or ring said no.
	missed(c *call)
}

// newPhone binds the phone's UDP socket and starts serving SIP on it.
func newPhone(cfg phoneConfig) (*phone, error) {
	conn, err := net.ListenPacket("udp", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("phone %s: %w", cfg.User, err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	local := net.JoinHostPort(cfg.IP, strconv.Itoa(port))
	log := cfg.Logger.With("phone", cfg.User)
	// sipgo logs every retransmission and dialog detail at debug/info;
	// keep only its errors.
	sipLog := slog.New(levelFilter{h: log.Handler(), min: slog.LevelError})
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("hotline-simulate"),
		sipgo.WithUserAgentHostname(cfg.IP),
		sipgo.WithUserAgentTransportLayerOptions(gosip.WithTransportLayerLogger(sipLog)),
		sipgo.WithUserAgentTransactionLayerOptions(gosip.WithTransactionLayerLogger(sipLog)),
	)
	if err != nil {
		conn.Close()
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		conn.Close()
		return nil, err
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog), sipgo.WithClientHostname(cfg.IP),
		sipgo.WithClientPort(port), sipgo.WithClientConnectionAddr(local))
	if err != nil {
		conn.Close()
		return nil, err
	}
	p := &phone{
		user: cfg.User, password: cfg.Password, ip: cfg.IP, addr: netip.MustParseAddrPort(local),
		media: cfg.Media, voice: cfg.Voice, log: log, ua: ua, cli: cli, conn: conn, handler: cfg.Handler,
		calls:     map[string]*call{},
		regCallID: fmt.Sprintf("reg-%s-%d@%s", cfg.User, rand.Uint32(), cfg.IP),
	}
	p.dua = &sipgo.DialogUA{Client: cli, ContactHDR: gosip.ContactHeader{
		Address: gosip.Uri{Scheme: "sip", User: cfg.User, Host: cfg.IP, Port: port}}}
	srv.OnInvite(p.handleInvite)
	srv.OnAck(p.handleAck)
	srv.OnBye(p.handleBye)
	srv.OnCancel(func(req *gosip.Request, tx gosip.ServerTransaction) { reply(tx, req, 200, "OK") })
	srv.OnNotify(func(req *gosip.Request, tx gosip.ServerTransaction) { reply(tx, req, 200, "OK") })
	srv.OnInfo(func(req *gosip.Request, tx gosip.ServerTransaction) { reply(tx, req, 200, "OK") })
	srv.OnOptions(func(req *gosip.Request, tx gosip.ServerTransaction) { reply(tx, req, 200, "OK") })
	go func() { _ = srv.ServeUDP(conn) }()
	// Requests must leave from the listening socket: wait until the
	// transport layer has it, or sipgo would bind the port again.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if c, err := ua.TransportLayer().GetConnection("udp", local); err == nil && c != nil {
			break
		}
		if time.Now().After(deadline) {
			p.close()
			return nil, fmt.Errorf("phone %s: the SIP socket %s is not served", cfg.User, local)
		}
	}
	return p, nil
}

// levelFilter drops records below min.
type levelFilter struct {
	h   slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.h.Enabled(ctx, l)
}
func (f levelFilter) Handle(ctx context.Context, r slog.Record) error { return f.h.Handle(ctx, r) }
func (f levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFilter{h: f.h.WithAttrs(as), min: f.min}
}
func (f levelFilter) WithGroup(g string) slog.Handler {
	return levelFilter{h: f.h.WithGroup(g), min: f.min}
}

func reply(tx gosip.ServerTransaction, req *gosip.Request, code int, reason string) {
	_ = tx.Respond(gosip.NewResponseFromRequest(req, code, reason, nil))
}

// close ends every call's media and stops the phone at once (no BYE).
func (p *phone) close() {
	p.mu.Lock()
	calls := make([]*call, 0, len(p.calls))
	for _, c := range p.calls {
		calls = append(calls, c)
	}
	p.mu.Unlock()
	for _, c := range calls {
		c.finish()
	}
	_ = p.ua.Close()
	_ = p.conn.Close()
}

// register binds the phone's address at registrar (host:port) for expires,
// answering a digest challenge with the phone's password; 0 unregisters.
func (p *phone) register(ctx context.Context, registrar string, expires time.Duration) error {
	host, port, err := gosip.ParseAddr(registrar)
	if err != nil {
		return fmt.Errorf("registrar %q: %w", registrar, err)
	}
	req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: host, Port: port})
	from := &gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: p.user, Host: host}, Params: gosip.NewParams()}
	from.Params.Add("tag", gosip.GenerateTagN(10))
	req.AppendHeader(from)
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: p.user, Host: host}, Params: gosip.NewParams()})
	req.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: p.user, Host: p.ip, Port: int(p.addr.Port())}})
	req.AppendHeader(gosip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	cid := gosip.CallIDHeader(p.regCallID)
	req.AppendHeader(&cid)
	p.mu.Lock()
	p.regCSeq++
	req.AppendHeader(&gosip.CSeqHeader{SeqNo: p.regCSeq, MethodName: gosip.REGISTER})
	p.mu.Unlock()
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("REGISTER %s: %w", p.user, err)
	}
	if (res.StatusCode == 401 || res.StatusCode == 407) && p.password != "" {
		res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: p.password})
		if err != nil {
			return fmt.Errorf("REGISTER %s with credentials: %w", p.user, err)
		}
		p.mu.Lock()
		p.regCSeq = req.CSeq().SeqNo
		p.mu.Unlock()
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("REGISTER %s: %s", p.user, res.StartLine())
	}
	return nil
}

// call is one call of a phone, placed or received.
type call struct {
	p        *phone
	callID   string
	from, to string // users of the INVITE (To is the Request-URI user for received calls)
	header   func(name string) string
	status   int // final answer: 200 or the refusal

	uac *sipgo.DialogClientSession
	uas *sipgo.DialogServerSession

	mu     sync.Mutex
	stream *media.Stream

	cseq      atomic.Uint32
	done      chan struct{}
	doneOnce  sync.Once
	remoteBye atomic.Bool
}

func newCall(p *phone) *call {
	return &call{p: p, done: make(chan struct{}), header: func(string) string { return "" }}
}

func (c *call) mediaStream() *media.Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stream
}

// finish ends the call locally: media closed, forgotten. Idempotent.
func (c *call) finish() {
	c.doneOnce.Do(func() {
		if st := c.mediaStream(); st != nil {
			_ = st.Close()
		}
		c.p.mu.Lock()
		delete(c.p.calls, c.callID)
		c.p.mu.Unlock()
		close(c.done)
	})
}

// Done is closed when the call has ended.
func (c *call) Done() <-chan struct{} { return c.done }

func (p *phone) track(c *call) {
	p.mu.Lock()
	p.calls[c.callID] = c
	p.mu.Unlock()
}

func (p *phone) lookup(req *gosip.Request) *call {
	cid := req.CallID()
	if cid == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[string(*cid)]
}

// dial places a call to user@addr from the number from and returns once it
// is answered, refused or ctx is done (a CANCEL is sent then). The call is
// returned even on failure, for its status.
func (p *phone) dial(ctx context.Context, addr, to, from string) (*call, error) {
	host, port, err := gosip.ParseAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %q: %w", addr, err)
	}
	c := newCall(p)
	stream, err := p.media.NewStream(media.StreamConfig{Codec: media.PCMU, DTMFPT: media.DefaultDTMFPT})
	if err != nil {
		return nil, err
	}
	c.stream = stream
	c.from, c.to = from, to
	req := gosip.NewRequest(gosip.INVITE, gosip.Uri{Scheme: "sip", User: to, Host: host, Port: port})
	fh := &gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: from, Host: p.ip}, Params: gosip.NewParams()}
	fh.Params.Add("tag", gosip.GenerateTagN(12))
	req.AppendHeader(fh)
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: to, Host: host}, Params: gosip.NewParams()})
	cid := gosip.CallIDHeader(fmt.Sprintf("sim-%d-%d@%s", time.Now().UnixNano(), rand.Uint32(), p.ip))
	req.AppendHeader(&cid)
	req.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(gosip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY"))
	req.SetBody(siptest.OfferSDP(stream.LocalAddr(), nil))
	c.callID = string(cid)
	p.track(c)
	sess, err := p.dua.WriteInvite(ctx, req)
	if err != nil {
		c.finish()
		return c, err
	}
	c.uac = sess
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: p.user, Password: p.password}); err != nil {
		var de *sipgo.ErrDialogResponse
		var dv sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &de):
			c.status = de.Res.StatusCode
		case errors.As(err, &dv):
			c.status = dv.Res.StatusCode
		}
		c.finish()
		return c, err
	}
	c.status = 200
	ans, err := siptest.ParseSDP(sess.InviteResponse.Body())
	if err != nil {
		_ = sess.Ack(context.Background())
		_ = sess.Bye(context.Background())
		c.finish()
		return c, err
	}
	stream.Update(ans.Addr, ans.Codec, ans.DTMFPT)
	if err := sess.Ack(context.Background()); err != nil {
		c.finish()
		return c, err
	}
	stream.Loop([]*media.Sound{p.voice})
	return c, nil
}

func (p *phone) handleInvite(req *gosip.Request, tx gosip.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			p.handleReInvite(req, tx)
			return
		}
	}
	offer, err := siptest.ParseSDP(req.Body())
	if err != nil {
		reply(tx, req, 488, "Not Acceptable Here")
		return
	}
	dlg, err := p.dua.ReadInvite(req, tx)
	if err != nil {
		reply(tx, req, 400, "Bad Request")
		return
	}
	c := newCall(p)
	c.uas = dlg
	c.callID = string(*req.CallID())
	c.to = req.Recipient.User
	if f := req.From(); f != nil {
		c.from = f.Address.User
	}
	c.header = func(name string) string {
		if h := req.GetHeader(name); h != nil {
			return h.Value()
		}
		return ""
	}
	c.cseq.Store(uint32(1000 + rand.IntN(1000)))
	p.track(c)
	_ = dlg.Respond(180, "Ringing", nil)
	if p.handler == nil || !p.handler.ring(c, dlg.Context().Done()) {
		if dlg.Context().Err() == nil {
			c.status = 486
			_ = dlg.Respond(486, "Busy Here", nil)
		} else {
			c.status = 487
		}
		c.finish()
		if p.handler != nil {
			p.handler.missed(c)
		}
		return
	}
	missed := func(status int) {
		c.status = status
		c.finish()
		p.handler.missed(c)
	}
	if dlg.Context().Err() != nil {
		missed(487)
		return
	}
	stream, err := p.media.NewStream(media.StreamConfig{Remote: offer.Addr, Codec: offer.Codec, DTMFPT: offer.DTMFPT})
	if err != nil {
		_ = dlg.Respond(503, "Service Unavailable", nil)
		missed(503)
		return
	}
	c.mu.Lock()
	c.stream = stream
	c.mu.Unlock()
	stream.Loop([]*media.Sound{p.voice})
	if err := dlg.RespondSDP(siptest.OfferSDP(stream.LocalAddr(), &offer.Codec)); err != nil {
		missed(487) // a CANCEL crossed the answer, or no ACK
		return
	}
	c.status = 200
	go p.handler.answered(c)
}

func (p *phone) handleReInvite(req *gosip.Request, tx gosip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	st := c.mediaStream()
	if st == nil {
		reply(tx, req, 488, "Not Acceptable Here")
		return
	}
	if rm, err := siptest.ParseSDP(req.Body()); err == nil {
		st.Update(rm.Addr, rm.Codec, rm.DTMFPT)
	}
	res := gosip.NewSDPResponseFromRequest(req, siptest.OfferSDP(st.LocalAddr(), nil))
	res.AppendHeader(&p.dua.ContactHDR)
	_ = tx.Respond(res)
}

func (p *phone) handleAck(req *gosip.Request, tx gosip.ServerTransaction) {
	if c := p.lookup(req); c != nil && c.uas != nil {
		_ = c.uas.ReadAck(req, tx)
	}
}

func (p *phone) handleBye(req *gosip.Request, tx gosip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	reply(tx, req, 200, "OK")
	c.remoteBye.Store(true)
	c.finish()
}

// sendDigits sends RFC 4733 events of 120 ms with 80 ms between them.
func (c *call) sendDigits(ctx context.Context, digits string) error {
	st := c.mediaStream()
	if st == nil {
		return errors.New("call has no media")
	}
	for _, d := range digits {
		if err := st.SendDTMF(ctx, d, 120*time.Millisecond); err != nil {
			return err
		}
		if !sleep(ctx, 80*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// waitPrompt waits until the other side has played something and then
// been quiet for quiet (hotline sends RTP only while it plays: a quiet
// stream after a prompt means it waits for input). It returns false if
// that did not happen within limit, or the call or ctx ended.
func (c *call) waitPrompt(ctx context.Context, quiet, limit time.Duration) bool {
	st := c.mediaStream()
	if st == nil {
		return false
	}
	base := st.Stats().PacketsReceived
	deadline := time.Now().Add(limit)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-c.done:
			return false
		case now := <-t.C:
			s := st.Stats()
			if s.PacketsReceived > base+5 && now.Sub(s.LastReceived) >= quiet {
				return true
			}
			if now.After(deadline) {
				return false
			}
		}
	}
}

// dialogRequest builds an in-dialog request towards the other side.
func (c *call) dialogRequest(method gosip.RequestMethod) *gosip.Request {
	var target gosip.Uri
	if c.uas != nil {
		target = *c.uas.InviteRequest.Contact().Address.Clone()
	} else if ct := c.uac.InviteResponse.Contact(); ct != nil {
		target = *ct.Address.Clone()
	} else {
		target = *c.uac.InviteRequest.Recipient.Clone()
	}
	req := gosip.NewRequest(method, target)
	if c.uas != nil {
		// sipgo reuses the INVITE's CSeq for requests on the UAS side;
		// keep our own increasing sequence instead.
		req.AppendHeader(&gosip.CSeqHeader{SeqNo: c.cseq.Add(1), MethodName: method})
	}
	return req
}

// do sends an in-dialog request, answering a digest challenge once.
func (c *call) do(ctx context.Context, req *gosip.Request) (*gosip.Response, error) {
	var res *gosip.Response
	var err error
	if c.uas != nil {
		res, err = c.uas.Do(ctx, req)
	} else {
		res, err = c.uac.Do(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	if (res.StatusCode == 401 || res.StatusCode == 407) && c.p.password != "" {
		res, err = c.p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: c.p.user, Password: c.p.password})
		if c.uas != nil && err == nil {
			c.cseq.Store(req.CSeq().SeqNo)
		}
	}
	return res, err
}

// refer asks the other side to transfer the call to target and returns
// the REFER's status (202 when accepted).
func (c *call) refer(ctx context.Context, target string) (int, error) {
	req := c.dialogRequest(gosip.REFER)
	host := req.Recipient.Host
	req.AppendHeader(gosip.NewHeader("Refer-To", "<sip:"+target+"@"+host+">"))
	req.AppendHeader(gosip.NewHeader("Referred-By", "<sip:"+c.p.user+"@"+c.p.ip+">"))
	res, err := c.do(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

// hangup sends BYE if the call is still up.
func (c *call) hangup(ctx context.Context) error {
	defer c.finish()
	select {
	case <-c.done:
		return nil
	default:
	}
	if c.uac != nil {
		return c.uac.Bye(ctx)
	}
	if c.uas != nil {
		bye := c.dialogRequest(gosip.BYE)
		bye.SetTransport(c.uas.InviteRequest.Transport())
		return c.uas.WriteBye(ctx, bye)
	}
	return nil
}

// sleep waits d or until ctx is done; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
