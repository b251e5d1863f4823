package siptest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
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
)

// AnswerMode says what a Phone does with an incoming INVITE.
type AnswerMode int32

const (
	// Answer rings for PhoneConfig.AnswerDelay, then answers with SDP and
	// sends a tone.
	Answer AnswerMode = iota
	// Busy answers 486 Busy Here.
	Busy
	// Ignore rings until the caller cancels.
	Ignore
	// Decline answers 603 Decline.
	Decline
)

// PhoneConfig configures a test phone.
type PhoneConfig struct {
	// IP is the local address for SIP and RTP (a loopback address).
	IP string
	// Port is the local SIP port (UDP); 0 picks a free one.
	Port int
	// User and Password are the SIP identity; Password answers digest
	// challenges (REGISTER, in-dialog REFER).
	User, Password string
	// Media creates the RTP streams; its IP must be IP.
	Media *media.Engine
	// AnswerDelay is how long an Answer-mode phone rings first.
	AnswerDelay time.Duration
	Logger      *slog.Logger
	// UserAgent is the User-Agent header; default User.
	UserAgent string
	// Voice is what the phone sends while a call is up; default a 440 Hz
	// tone.
	Voice *media.Sound
	// OnAudio, when set, gets every audio payload the phone's calls
	// receive (media.StreamConfig.OnAudio; e.g. audiotest.Capture.Add), so
	// a test can tell by frequency what the phone heard.
	OnAudio func(pt uint8, payload []byte)
	// QuietSIP keeps only sipgo's errors in the log (it logs every
	// retransmission and dialog detail otherwise).
	QuietSIP bool
	// Handler, when set, decides about incoming calls instead of the
	// phone's AnswerMode (a simulated person).
	Handler Handler
}

// Handler is what the user of a phone does with incoming calls.
type Handler interface {
	// Ring runs in the INVITE's handler after 180 Ringing and returns true
	// to answer (false: 486 Busy Here). It must return when cancelled is
	// closed (the caller gave up).
	Ring(c *Call, cancelled <-chan struct{}) bool
	// Answered runs in its own goroutine once the 200 OK went out.
	Answered(c *Call)
	// Missed runs when Ring said no, or said yes but the call could not be
	// answered (cancelled meanwhile, no media).
	Missed(c *Call)
}

// Phone is a small SIP user agent for tests, built on sipgo and sip/media:
// it places calls (UAC) with an SDP offer, answers or refuses calls (UAS),
// registers with digest authentication, sends RFC 4733 and SIP INFO
// digits, BYE and REFER, and counts the RTP it receives. While a call is up
// it sends a tone continuously, as real phones send audio.
type Phone struct {
	cfg  PhoneConfig
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	cli  *sipgo.Client
	dua  *sipgo.DialogUA
	conn net.PacketConn
	addr netip.AddrPort
	tone *media.Sound

	mode     atomic.Int32
	incoming chan *Call

	mu        sync.Mutex
	calls     map[string]*Call // by Call-ID
	regCallID string
	regCSeq   uint32
}

// NewPhone binds a phone to cfg.IP and starts serving.
func NewPhone(cfg PhoneConfig) (*Phone, error) {
	if cfg.Media == nil {
		return nil, errors.New("siptest: PhoneConfig.Media is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	conn, err := net.ListenPacket("udp", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("siptest: phone %s: %w", cfg.User, err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	local := net.JoinHostPort(cfg.IP, strconv.Itoa(port))
	log := cfg.Logger.With("phone", cfg.User, "addr", local)
	if cfg.QuietSIP {
		log = slog.New(levelFilter{h: log.Handler(), min: slog.LevelError})
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = cfg.User
	}
	if cfg.Voice == nil {
		cfg.Voice = Tone(440, time.Second)
	}
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentHostname(cfg.IP),
		sipgo.WithUserAgentTransportLayerOptions(gosip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(gosip.WithTransactionLayerLogger(log)),
	)
	if err != nil {
		conn.Close()
		return nil, err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		conn.Close()
		return nil, err
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(log), sipgo.WithClientHostname(cfg.IP),
		sipgo.WithClientPort(port), sipgo.WithClientConnectionAddr(local))
	if err != nil {
		conn.Close()
		return nil, err
	}
	p := &Phone{
		cfg: cfg, ua: ua, srv: srv, cli: cli, conn: conn,
		addr:      netip.MustParseAddrPort(local),
		tone:      cfg.Voice,
		incoming:  make(chan *Call, 16),
		calls:     map[string]*Call{},
		regCallID: fmt.Sprintf("reg-%s-%d@%s", cfg.User, rand.Uint32(), cfg.IP),
		regCSeq:   1,
	}
	p.dua = &sipgo.DialogUA{Client: cli, ContactHDR: gosip.ContactHeader{
		Address: gosip.Uri{Scheme: "sip", User: cfg.User, Host: cfg.IP, Port: port}}}
	srv.OnInvite(p.onInvite)
	srv.OnAck(p.onAck)
	srv.OnBye(p.onBye)
	srv.OnNotify(p.onNotify)
	srv.OnInfo(func(req *gosip.Request, tx gosip.ServerTransaction) { reply(tx, req, 200, "OK") })
	srv.OnOptions(func(req *gosip.Request, tx gosip.ServerTransaction) { reply(tx, req, 200, "OK") })
	go func() { _ = srv.ServeUDP(conn) }()
	// Requests must leave from the listening socket: wait until the
	// transport layer has it, or sipgo would try to bind the port again.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if c, err := ua.TransportLayer().GetConnection("udp", local); err == nil && c != nil {
			break
		}
		if time.Now().After(deadline) {
			p.Close()
			return nil, fmt.Errorf("siptest: phone %s: the SIP socket %s is not served", cfg.User, local)
		}
	}
	return p, nil
}

// Tone returns a sine tone of freq Hz lasting d, as 8 kHz linear PCM.
func Tone(freq float64, d time.Duration) *media.Sound {
	n := int(d * 8000 / time.Second)
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(6000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return &media.Sound{Name: fmt.Sprintf("tone-%g", freq), PCM: pcm}
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

// Addr is the phone's SIP address.
func (p *Phone) Addr() netip.AddrPort { return p.addr }

// User is the phone's SIP user.
func (p *Phone) User() string { return p.cfg.User }

// SetMode sets what the phone does with the next incoming INVITEs.
func (p *Phone) SetMode(m AnswerMode) { p.mode.Store(int32(m)) }

// Incoming delivers incoming calls as soon as their INVITE arrives (before
// they are answered or refused).
func (p *Phone) Incoming() <-chan *Call { return p.incoming }

// Close hangs up nothing and stops the phone at once.
func (p *Phone) Close() {
	p.mu.Lock()
	calls := make([]*Call, 0, len(p.calls))
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

// Register registers the phone's address with registrar (host:port) for
// expires, answering a digest challenge with the phone's password. expires
// 0 removes the binding.
func (p *Phone) Register(ctx context.Context, registrar string, expires time.Duration) error {
	host, port, err := gosip.ParseAddr(registrar)
	if err != nil {
		return fmt.Errorf("siptest: registrar %q: %w", registrar, err)
	}
	req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: host, Port: port})
	from := &gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: p.cfg.User, Host: host}, Params: gosip.NewParams()}
	from.Params.Add("tag", gosip.GenerateTagN(10))
	req.AppendHeader(from)
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: p.cfg.User, Host: host}, Params: gosip.NewParams()})
	req.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: p.cfg.User, Host: p.cfg.IP, Port: int(p.addr.Port())}})
	req.AppendHeader(gosip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	cid := gosip.CallIDHeader(p.regCallID)
	req.AppendHeader(&cid)
	p.mu.Lock()
	p.regCSeq++
	req.AppendHeader(&gosip.CSeqHeader{SeqNo: p.regCSeq, MethodName: gosip.REGISTER})
	p.mu.Unlock()

	res, err := p.cli.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("siptest: REGISTER %s: %w", p.cfg.User, err)
	}
	if (res.StatusCode == 401 || res.StatusCode == 407) && p.cfg.Password != "" {
		res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.cfg.User, Password: p.cfg.Password})
		if err != nil {
			return fmt.Errorf("siptest: REGISTER %s with credentials: %w", p.cfg.User, err)
		}
		p.mu.Lock()
		p.regCSeq = req.CSeq().SeqNo
		p.mu.Unlock()
	}
	if res.StatusCode != 200 {
		return &CallError{Status: res.StatusCode, Err: fmt.Errorf("REGISTER %s: %s", p.cfg.User, res.StartLine())}
	}
	return nil
}

// CallError is a call or registration that got a final non-2xx answer (or
// none: Status 0).
type CallError struct {
	Status int
	Err    error
}

func (e *CallError) Error() string { return fmt.Sprintf("siptest: %v (status %d)", e.Err, e.Status) }
func (e *CallError) Unwrap() error { return e.Err }

// StatusOf returns the SIP status carried by a *CallError, or 0.
func StatusOf(err error) int {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Status
	}
	return 0
}

// CallOptions says whom a Phone calls.
type CallOptions struct {
	// Addr is host:port of the switch (or registrar) to send the INVITE to.
	Addr string
	// To is the called user or number; From the calling user or number
	// (default: the phone's user).
	To, From string
	// FromName is the caller's display name.
	FromName string
}

// Call places a call and returns once it is answered, refused or ctx is
// cancelled (a CANCEL is sent then). The returned *Call is non-nil even on
// failure, for its Status.
func (p *Phone) Call(ctx context.Context, o CallOptions) (*Call, error) {
	host, port, err := gosip.ParseAddr(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("siptest: call %q: %w", o.Addr, err)
	}
	c := newCall(p)
	stream, err := p.cfg.Media.NewStream(media.StreamConfig{Codec: media.PCMU, DTMFPT: media.DefaultDTMFPT, OnDigit: c.digit, OnAudio: p.cfg.OnAudio})
	if err != nil {
		return nil, err
	}
	c.stream = stream
	from := o.From
	if from == "" {
		from = p.cfg.User
	}
	c.From, c.To = from, o.To
	req := gosip.NewRequest(gosip.INVITE, gosip.Uri{Scheme: "sip", User: o.To, Host: host, Port: port})
	fh := &gosip.FromHeader{DisplayName: o.FromName, Address: gosip.Uri{Scheme: "sip", User: from, Host: p.cfg.IP}, Params: gosip.NewParams()}
	fh.Params.Add("tag", gosip.GenerateTagN(12))
	req.AppendHeader(fh)
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: o.To, Host: host}, Params: gosip.NewParams()})
	cid := gosip.CallIDHeader(fmt.Sprintf("st-%d-%d@%s", time.Now().UnixNano(), rand.Uint32(), p.cfg.IP))
	req.AppendHeader(&cid)
	req.AppendHeader(gosip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(gosip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY"))
	req.SetBody(OfferSDP(stream.LocalAddr(), nil))
	c.callID = string(cid)
	p.track(c)

	sess, err := p.dua.WriteInvite(ctx, req)
	if err != nil {
		c.finish()
		return c, &CallError{Err: err}
	}
	c.uac = sess
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: p.cfg.User, Password: p.cfg.Password}); err != nil {
		var de *sipgo.ErrDialogResponse
		var dv sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &de):
			c.Status = de.Res.StatusCode
		case errors.As(err, &dv):
			c.Status = dv.Res.StatusCode
		}
		if ctx.Err() != nil {
			c.cancelled.Store(true)
		}
		c.finish()
		return c, &CallError{Status: c.Status, Err: err}
	}
	c.Status = 200
	ans, err := ParseSDP(sess.InviteResponse.Body())
	if err != nil {
		_ = sess.Ack(context.Background())
		_ = sess.Bye(context.Background())
		c.finish()
		return c, &CallError{Status: 200, Err: err}
	}
	stream.Update(ans.Addr, ans.Codec, ans.DTMFPT)
	if err := sess.Ack(context.Background()); err != nil {
		c.finish()
		return c, &CallError{Status: 200, Err: err}
	}
	stream.Loop([]*media.Sound{p.tone})
	close(c.answered)
	return c, nil
}

func (p *Phone) track(c *Call) {
	p.mu.Lock()
	p.calls[c.callID] = c
	p.mu.Unlock()
}

func (p *Phone) lookup(req *gosip.Request) *Call {
	cid := req.CallID()
	if cid == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[string(*cid)]
}

func (p *Phone) onInvite(req *gosip.Request, tx gosip.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			p.onReInvite(req, tx)
			return
		}
	}
	offer, err := ParseSDP(req.Body())
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
	c.To = req.Recipient.User
	if f := req.From(); f != nil {
		c.From = f.Address.User
	}
	c.cseq.Store(uint32(1000 + rand.IntN(1000)))
	p.track(c)
	if p.cfg.Handler != nil {
		p.handle(c, dlg, offer)
		return
	}
	select {
	case p.incoming <- c:
	default:
	}
	_ = dlg.Respond(180, "Ringing", nil)

	switch AnswerMode(p.mode.Load()) {
	case Busy:
		c.Status = 486
		_ = dlg.Respond(486, "Busy Here", nil)
		c.finish()
		return
	case Decline:
		c.Status = 603
		_ = dlg.Respond(603, "Decline", nil)
		c.finish()
		return
	case Ignore:
		<-dlg.Context().Done()
		c.Status = 487
		c.cancelled.Store(true)
		c.finish()
		return
	}
	if p.cfg.AnswerDelay > 0 {
		select {
		case <-time.After(p.cfg.AnswerDelay):
		case <-dlg.Context().Done():
			c.Status = 487
			c.cancelled.Store(true)
			c.finish()
			return
		}
	}
	stream, err := p.cfg.Media.NewStream(media.StreamConfig{Remote: offer.Addr, Codec: offer.Codec, DTMFPT: offer.DTMFPT, OnDigit: c.digit, OnAudio: p.cfg.OnAudio})
	if err != nil {
		_ = dlg.Respond(503, "Service Unavailable", nil)
		c.finish()
		return
	}
	c.mu.Lock()
	c.stream = stream
	c.mu.Unlock()
	stream.Loop([]*media.Sound{p.tone})
	c.Status = 200
	if err := dlg.RespondSDP(OfferSDP(stream.LocalAddr(), &offer.Codec)); err != nil {
		// A CANCEL that crossed our answer, or no ACK.
		if dlg.Context().Err() != nil {
			c.cancelled.Store(true)
		}
		c.finish()
		return
	}
	close(c.answered)
}

// handle lets the Handler decide about an incoming call.
func (p *Phone) handle(c *Call, dlg *sipgo.DialogServerSession, offer RemoteSDP) {
	h := p.cfg.Handler
	_ = dlg.Respond(180, "Ringing", nil)
	missed := func(status int) {
		c.Status = status
		if status == 487 {
			c.cancelled.Store(true)
		}
		c.finish()
		h.Missed(c)
	}
	if !h.Ring(c, dlg.Context().Done()) {
		if dlg.Context().Err() != nil {
			missed(487)
			return
		}
		_ = dlg.Respond(486, "Busy Here", nil)
		missed(486)
		return
	}
	if dlg.Context().Err() != nil {
		missed(487)
		return
	}
	stream, err := p.cfg.Media.NewStream(media.StreamConfig{Remote: offer.Addr, Codec: offer.Codec, DTMFPT: offer.DTMFPT, OnDigit: c.digit, OnAudio: p.cfg.OnAudio})
	if err != nil {
		_ = dlg.Respond(503, "Service Unavailable", nil)
		missed(503)
		return
	}
	c.mu.Lock()
	c.stream = stream
	c.mu.Unlock()
	stream.Loop([]*media.Sound{p.tone})
	if err := dlg.RespondSDP(OfferSDP(stream.LocalAddr(), &offer.Codec)); err != nil {
		missed(487) // a CANCEL crossed the answer, or no ACK
		return
	}
	c.Status = 200
	close(c.answered)
	go h.Answered(c)
}

func (p *Phone) onReInvite(req *gosip.Request, tx gosip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if rm, err := ParseSDP(req.Body()); err == nil {
		if st := c.mediaStream(); st != nil {
			st.Update(rm.Addr, rm.Codec, rm.DTMFPT)
		}
	}
	st := c.mediaStream()
	if st == nil {
		reply(tx, req, 488, "Not Acceptable Here")
		return
	}
	res := gosip.NewSDPResponseFromRequest(req, OfferSDP(st.LocalAddr(), nil))
	res.AppendHeader(&p.dua.ContactHDR)
	_ = tx.Respond(res)
}

func (p *Phone) onAck(req *gosip.Request, tx gosip.ServerTransaction) {
	if c := p.lookup(req); c != nil && c.uas != nil {
		_ = c.uas.ReadAck(req, tx)
	}
}

func (p *Phone) onBye(req *gosip.Request, tx gosip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	reply(tx, req, 200, "OK")
	c.remoteBye.Store(true)
	c.finish()
}

func (p *Phone) onNotify(req *gosip.Request, tx gosip.ServerTransaction) {
	c := p.lookup(req)
	reply(tx, req, 200, "OK")
	if c != nil {
		select {
		case c.notifies <- string(req.Body()):
		default:
		}
	}
}

// Call is one call of a Phone, placed or received.
type Call struct {
	p      *Phone
	callID string
	// From and To are the users of the INVITE (for a received call, To is
	// the Request-URI user).
	From, To string
	// Status is the final answer: 200, or the refusal's status.
	Status int

	uac *sipgo.DialogClientSession
	uas *sipgo.DialogServerSession

	mu     sync.Mutex
	stream *media.Stream

	cseq      atomic.Uint32 // our CSeq for requests on a received call
	answered  chan struct{}
	done      chan struct{}
	doneOnce  sync.Once
	remoteBye atomic.Bool
	cancelled atomic.Bool
	digits    chan rune
	notifies  chan string
	recvFinal atomic.Uint64 // packets received, frozen when the call ended
}

func newCall(p *Phone) *Call {
	return &Call{
		p: p, answered: make(chan struct{}), done: make(chan struct{}),
		digits: make(chan rune, 64), notifies: make(chan string, 16),
	}
}

func (c *Call) mediaStream() *media.Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stream
}

func (c *Call) digit(d rune) {
	select {
	case c.digits <- d:
	default:
	}
}

func (c *Call) finish() {
	c.doneOnce.Do(func() {
		if st := c.mediaStream(); st != nil {
			c.recvFinal.Store(st.Stats().PacketsReceived)
			_ = st.Close()
		}
		c.p.mu.Lock()
		delete(c.p.calls, c.callID)
		c.p.mu.Unlock()
		close(c.done)
	})
}

// Header returns a header of the INVITE of a received call ("" if absent
// or for a placed call).
func (c *Call) Header(name string) string {
	if c.uas == nil {
		return ""
	}
	if h := c.uas.InviteRequest.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// WaitPrompt waits until the other side has played something and then
// been quiet for quiet (hotline sends RTP only while it plays: a quiet
// stream after a prompt means it waits for input). It returns false if
// that did not happen within limit, or the call or ctx ended.
func (c *Call) WaitPrompt(ctx context.Context, quiet, limit time.Duration) bool {
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

// Answered is closed once the call is answered.
func (c *Call) Answered() <-chan struct{} { return c.answered }

// Done is closed when the call has ended: BYE either way, refused or
// cancelled.
func (c *Call) Done() <-chan struct{} { return c.done }

// RemoteHangup reports whether the other side sent BYE.
func (c *Call) RemoteHangup() bool { return c.remoteBye.Load() }

// Cancelled reports whether the call was cancelled before the answer.
func (c *Call) Cancelled() bool { return c.cancelled.Load() }

// Digits delivers the RFC 4733 digits received.
func (c *Call) Digits() <-chan rune { return c.digits }

// Notifies delivers the bodies of NOTIFY requests received in the dialog
// (REFER progress as message/sipfrag).
func (c *Call) Notifies() <-chan string { return c.notifies }

// Received counts the RTP packets received so far (audio and events).
func (c *Call) Received() uint64 {
	if st := c.mediaStream(); st != nil {
		select {
		case <-c.done:
		default:
			return st.Stats().PacketsReceived
		}
	}
	return c.recvFinal.Load()
}

// SendDTMF sends digits as RFC 4733 events of 100 ms each, one after the
// other with 60 ms of audio in between.
func (c *Call) SendDTMF(ctx context.Context, digits string) error {
	st := c.mediaStream()
	if st == nil {
		return errors.New("siptest: call has no media")
	}
	for _, d := range digits {
		if err := st.SendDTMF(ctx, d, 100*time.Millisecond); err != nil {
			return err
		}
		select {
		case <-time.After(60 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// dialogRequest builds an in-dialog request towards the other side.
func (c *Call) dialogRequest(method gosip.RequestMethod) *gosip.Request {
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
func (c *Call) do(ctx context.Context, req *gosip.Request) (*gosip.Response, error) {
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
	if (res.StatusCode == 401 || res.StatusCode == 407) && c.p.cfg.Password != "" {
		res, err = c.p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: c.p.cfg.User, Password: c.p.cfg.Password})
		if c.uas != nil {
			c.cseq.Store(req.CSeq().SeqNo)
		}
	}
	return res, err
}

// SendInfo sends one digit as SIP INFO (application/dtmf-relay).
func (c *Call) SendInfo(ctx context.Context, d rune) (int, error) {
	req := c.dialogRequest(gosip.INFO)
	req.AppendHeader(gosip.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody([]byte("Signal=" + string(d) + "\r\nDuration=160\r\n"))
	res, err := c.do(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

// Refer asks the other side to transfer the call to target (a user or
// number, sent as sip:target@<other side's host>) and returns the status
// of the REFER (202 when accepted).
func (c *Call) Refer(ctx context.Context, target string) (int, error) {
	req := c.dialogRequest(gosip.REFER)
	host := req.Recipient.Host
	req.AppendHeader(gosip.NewHeader("Refer-To", "<sip:"+target+"@"+host+">"))
	req.AppendHeader(gosip.NewHeader("Referred-By", "<sip:"+c.p.cfg.User+"@"+c.p.cfg.IP+">"))
	res, err := c.do(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

// Hangup sends BYE (a CANCEL is sent by cancelling the Call context before
// the answer instead).
func (c *Call) Hangup(ctx context.Context) error {
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
