// Package native is hotline's own SIP switch: a back-to-back user agent on
// github.com/emiago/sipgo that takes calls from SIP trunks (trusted by source
// address), registers agents' softphones (digest authentication, MD5 and
// SHA-256), dials agents and numbers, and moves audio with sip/media. It
// implements the sip.Switch contract.
package native

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"
	"github.com/pion/webrtc/v4"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
)

// Trunk is a SIP trunk: where calls may come from and where outbound calls go.
type Trunk struct {
	Name string
	// Allow lists the sources allowed to send INVITEs: "203.0.113.7",
	// "203.0.113.0/24" or "203.0.113.7:5060" (address and port).
	Allow []string
	// Address is host:port to send outbound calls to; empty for inbound only.
	Address string
	// Transport for outbound calls: "udp" (default) or "tcp".
	Transport string
	// CallerID is the default From user and P-Asserted-Identity for outbound calls.
	CallerID string
	// Username and Password answer the trunk's digest challenge, if it sends one.
	Username, Password string
}

// Config configures a Switch.
type Config struct {
	// Listen is the address for SIP over UDP and TCP, e.g. "0.0.0.0:5060".
	// Port 0 picks a free port (tests).
	Listen string
	// TLSListen, when set, is the address for SIP over TLS, e.g.
	// "0.0.0.0:5061" (port 0: a free port), served with TLS (its
	// certificate; tls.go). Agents registered over it are rung over their
	// registration's connection; trunks stay on UDP/TCP.
	TLSListen string
	TLS       *tls.Config
	// SRTPForTLS makes every leg of an agent over TLS SRTP with SDES keys
	// (tls.go): required in both directions.
	SRTPForTLS bool
	// AdvertiseIP is put in Contact headers and SDP; defaults to Listen's IP
	// (which then must not be unspecified).
	AdvertiseIP netip.Addr
	// Realm for digest authentication; default "hotline".
	Realm string
	// DigestAlgorithms are offered in this order, one challenge each;
	// default SHA-256 then MD5 (RFC 8760). Some clients (SIPp, older
	// phones) only read the first challenge: put MD5 first for them.
	DigestAlgorithms []string
	// Trunks in order; the first with an Address is the default for Dial.
	Trunks []Trunk
	// Credentials of agents (SIP user → password).
	Credentials Credentials
	// Media sends and receives RTP; Catalog resolves prompts and MOH.
	Media   *media.Engine
	Catalog *media.Catalog

	RingTimeout       time.Duration // default ring timeout for Dial; 30 s
	RegisterMinExpiry time.Duration // 60 s
	RegisterMaxExpiry time.Duration // 3600 s
	// AuthFailLimit failures (wrong passwords, refused INVITEs) from one
	// source address within AuthFailWindow ban that address for
	// AuthBanTime, doubled for each further ban up to AuthMaxBan;
	// AuthUserFailLimit failures naming one user within AuthUserFailWindow
	// lock that user the same way (see LockoutConfig). Defaults 10 in
	// 10 min, 20 in 1 h, 10 min, 24 h.
	AuthFailLimit      int
	AuthFailWindow     time.Duration
	AuthUserFailLimit  int
	AuthUserFailWindow time.Duration
	AuthBanTime        time.Duration
	AuthMaxBan         time.Duration
	// TCPIdleTimeout closes an inbound SIP/TCP connection that carried
	// nothing for this long, unless a live registration came over it
	// (default 2 min; negative: never). TCPMaxPerSource bounds the inbound
	// connections from one address that carry no registration (default
	// 16; negative: no limit; trunks are not limited).
	TCPIdleTimeout  time.Duration
	TCPMaxPerSource int
	// FloodLogInterval is how often repeated log lines about one source
	// (refused requests, failed authentications, dropped datagrams) are
	// summarised into one line with a count; default 10 s.
	FloodLogInterval time.Duration
	// WebRTC configures the media of the desk softphone's legs (SIP over
	// WebSocket, ws.go; DTLS-SRTP and ICE, webrtc.go).
	WebRTC WebRTCConfig
	// Bindings, when set, keeps registrations across restarts: saved after
	// every change, loaded at Start (crash recovery), or at Activate when
	// the switch starts as a standby.
	Bindings BindingStore
	// Standby starts the switch as a standby node's (SetStandby): it
	// listens but answers 503 until Activate.
	Standby bool
	// IncomingQueue is how many unanswered inbound legs may wait for the
	// consumer; more get 503. Default 1024.
	IncomingQueue int
	UserAgent     string
	Logger        *slog.Logger
	// Now is the wall clock (tests); default time.Now.
	Now func() time.Time
}

type allowRule struct {
	prefix netip.Prefix
	port   uint16 // 0: any
}

type trunk struct {
	Trunk
	allow []allowRule
}

// Switch is the native SIP switch.
type Switch struct {
	cfg Config
	// bridgeMu serialises claiming two legs for a bridge.
	bridgeMu sync.Mutex
	mons     sip.MonitorSet[*leg, *monitor] // monitor.go
	log      *slog.Logger
	trunks   []trunk
	auth     *authenticator
	lock     *lockout
	floods   *floodLog
	parser   *gosip.Parser // checks datagrams before sipgo parses them (readFilter)
	reg      *registrar
	persist  *persister // nil without Config.Bindings

	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	cli     *sipgo.Client
	dua     *sipgo.DialogUA
	contact gosip.ContactHeader
	addr    netip.AddrPort // bound SIP address (UDP and TCP)
	// sipPort and listenIP are what the SIP sockets are bound to (an SDP
	// pointing RTP there is refused, pointsAtSIP).
	sipPort  uint16
	listenIP netip.Addr
	tcp      *tcpGuard // the SIP/TCP listener
	// SIP over TLS (tls.go); nil/invalid without Config.TLSListen.
	tlsGuard   *tcpGuard
	tlsAddr    netip.AddrPort
	tlsContact gosip.ContactHeader
	duaTLS     *sipgo.DialogUA
	// SIP over WebSocket (ws.go) and the browser legs' WebRTC (webrtc.go).
	wsLn      *wsListener
	wsContact gosip.ContactHeader
	duaWS     *sipgo.DialogUA
	wsMu      sync.Mutex
	wsUsers   map[netip.AddrPort]*wsConn
	rtcAPI    *webrtc.API
	rtcConn   io.Closer // the UDP socket of every browser leg's ICE and media

	incoming chan sip.Leg
	draining atomic.Bool
	// standby: another node takes the line's calls (SetStandby).
	standby  atomic.Bool
	closed   chan struct{}
	stopOnce sync.Once

	mu   sync.Mutex
	legs map[string]*leg // by dialog key (Call-ID + our tag)
	// initial: the initial INVITEs of inbound legs not yet ended, by
	// merge key (Call-ID, From tag, CSeq) → the top Via branch; a second
	// request with the same key and another branch is a merged request
	// (RFC 3261 §8.2.2.2), e.g. a proxy's retry to this node again.
	initial map[string]string
	seq     atomic.Uint64

	creds atomic.Pointer[Credentials]
}

// New validates cfg and creates a switch; Start binds it.
func New(cfg Config) (*Switch, error) {
	if cfg.Media == nil || cfg.Catalog == nil {
		return nil, errors.New("native: Media and Catalog are required")
	}
	return newSwitch(cfg)
}

// newSwitch is New without media (unit tests of the SIP edge).
func newSwitch(cfg Config) (*Switch, error) {
	if cfg.Realm == "" {
		cfg.Realm = "hotline"
	}
	if cfg.RingTimeout == 0 {
		cfg.RingTimeout = 30 * time.Second
	}
	if cfg.RegisterMinExpiry == 0 {
		cfg.RegisterMinExpiry = 60 * time.Second
	}
	if cfg.RegisterMaxExpiry == 0 {
		cfg.RegisterMaxExpiry = time.Hour
	}
	if cfg.TCPIdleTimeout == 0 {
		cfg.TCPIdleTimeout = 2 * time.Minute
	}
	if cfg.TCPMaxPerSource == 0 {
		cfg.TCPMaxPerSource = 16
	}
	if cfg.FloodLogInterval == 0 {
		cfg.FloodLogInterval = 10 * time.Second
	}
	if cfg.IncomingQueue == 0 {
		cfg.IncomingQueue = 1024
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "hotline"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Credentials == nil {
		cfg.Credentials = StaticCredentials{}
	}
	s := &Switch{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "sip"),
		incoming: make(chan sip.Leg, cfg.IncomingQueue),
		closed:   make(chan struct{}),
		legs:     map[string]*leg{},
		initial:  map[string]string{},
	}
	s.creds.Store(&cfg.Credentials)
	for _, t := range cfg.Trunks {
		tr := trunk{Trunk: t}
		for _, a := range t.Allow {
			r, err := parseAllow(a)
			if err != nil {
				return nil, fmt.Errorf("native: trunk %q: %w", t.Name, err)
			}
			tr.allow = append(tr.allow, r)
		}
		s.trunks = append(s.trunks, tr)
	}
	for _, a := range cfg.DigestAlgorithms {
		if a != "MD5" && a != "SHA-256" {
			return nil, fmt.Errorf("native: digest algorithm %q: want MD5 or SHA-256", a)
		}
	}
	s.auth = newAuthenticator(cfg.Realm, cfg.DigestAlgorithms, func() Credentials { return *s.creds.Load() }, cfg.Now)
	s.lock = newLockout(LockoutConfig{
		SourceFailures: cfg.AuthFailLimit, SourceWindow: cfg.AuthFailWindow,
		UserFailures: cfg.AuthUserFailLimit, UserWindow: cfg.AuthUserFailWindow,
		Ban: cfg.AuthBanTime, MaxBan: cfg.AuthMaxBan,
	}, cfg.Now)
	s.floods = newFloodLog(s.log, cfg.FloodLogInterval, cfg.Now)
	s.parser = gosip.NewParser()
	s.reg = newRegistrar(cfg.RegisterMinExpiry, cfg.RegisterMaxExpiry, cfg.Now)
	return s, nil
}

func parseAllow(s string) (allowRule, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return allowRule{prefix: netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen()), port: ap.Port()}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return allowRule{prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return allowRule{prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	return allowRule{}, fmt.Errorf("allow %q: want an address, address:port or CIDR", s)
}

// SetCredentials replaces the agents' credentials (config reload).
func (s *Switch) SetCredentials(c Credentials) { s.creds.Store(&c) }

// listenPair binds UDP and TCP on the same port. With port 0 the kernel
// picks the UDP port, and that number may already be held on TCP (an
// outgoing connection's ephemeral port), so it tries again with a new
// pick; a fixed port that is taken is an error at once.
func listenPair(host, port string) (net.PacketConn, net.Listener, int, error) {
	tries := 1
	if port == "0" {
		tries = 32
	}
	var last error
	for range tries {
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, 0, fmt.Errorf("native: listen udp %s: %w", net.JoinHostPort(host, port), err)
		}
		p := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return udp, tcp, p, nil
		}
		udp.Close()
		last = fmt.Errorf("native: listen tcp %s:%d (the UDP port must be free on TCP too): %w", host, p, err)
	}
	return nil, nil, 0, last
}

// Start binds UDP and TCP and serves until ctx is cancelled or Close.
func (s *Switch) Start(ctx context.Context) error {
	host, portStr, err := net.SplitHostPort(s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("native: listen %q: %w", s.cfg.Listen, err)
	}
	udp, tcp, port, err := listenPair(host, portStr)
	if err != nil {
		return err
	}
	ip, _ := netip.ParseAddr(host)
	adv := s.cfg.AdvertiseIP
	if !adv.IsValid() {
		if !ip.IsValid() || ip.IsUnspecified() {
			udp.Close()
			tcp.Close()
			return fmt.Errorf("native: listen %q has no concrete IP: set advertise_ip", s.cfg.Listen)
		}
		adv = ip
	}
	s.addr = netip.AddrPortFrom(adv, uint16(port))

	sipLog := slog.New(redactHandler{s.log.Handler()}).With("component", "sipgo")
	s.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent(s.cfg.UserAgent),
		sipgo.WithUserAgentHostname(adv.String()),
		sipgo.WithUserAgentTransportLayerOptions(
			gosip.WithTransportLayerLogger(sipLog),
			gosip.WithTransportLayerReadFilter(s.readFilter),
		),
		// Outbound TLS is never opened to a phone (tls.go); should sipgo
		// try, it verifies the peer against the system's roots.
		sipgo.WithUserAgenTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}),
		sipgo.WithUserAgentTransactionLayerOptions(gosip.WithTransactionLayerLogger(sipLog)),
	)
	if err != nil {
		return err
	}
	s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		return err
	}
	s.cli, err = sipgo.NewClient(s.ua,
		sipgo.WithClientLogger(sipLog),
		sipgo.WithClientHostname(adv.String()),
		sipgo.WithClientPort(port),
		sipgo.WithClientConnectionAddr(net.JoinHostPort(host, strconv.Itoa(port))),
	)
	if err != nil {
		return err
	}
	s.contact = gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: "hotline", Host: adv.String(), Port: port}}
	s.dua = &sipgo.DialogUA{Client: s.cli, ContactHDR: s.contact}
	tlsLn, err := s.startTLS(adv, sipLog)
	if err == nil {
		err = s.startWS(adv, sipLog)
	}
	if err == nil {
		s.rtcAPI, s.rtcConn, err = newWebRTCAPI(s.cfg.Media.IP(), s.cfg.WebRTC, s.log)
	}
	if err != nil {
		udp.Close()
		tcp.Close()
		if tlsLn != nil {
			tlsLn.Close()
		}
		return err
	}

	if s.cfg.Bindings != nil {
		s.persist = newPersister(s.cfg.Bindings, s.reg, s.log)
	}
	s.standby.Store(s.cfg.Standby)
	if !s.cfg.Standby {
		// Registrations from before a restart, before the first REGISTER
		// is read (a newer one replaces a restored contact).
		s.restoreBindings(ctx)
	}
	s.srv.OnInvite(s.onInvite)
	s.srv.OnAck(s.onAck)
	s.srv.OnBye(s.onBye)
	s.srv.OnCancel(func(req *gosip.Request, tx gosip.ServerTransaction) {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	})
	s.srv.OnOptions(s.onOptions)
	s.srv.OnRegister(s.onRegister)
	s.srv.OnInfo(s.onInfo)
	s.srv.OnRefer(s.onRefer)
	s.srv.OnNotify(func(req *gosip.Request, tx gosip.ServerTransaction) {
		_ = tx.Respond(gosip.NewResponseFromRequest(req, 200, "OK", nil))
	})

	s.sipPort = uint16(port)
	s.listenIP = ip
	s.tcp = s.guardTCP(tcp)
	go func() { _ = s.srv.ServeUDP(udp) }()
	go func() { _ = s.srv.ServeTCP(s.tcp) }()
	transports := "udp,tcp"
	if tlsLn != nil {
		go func() { _ = s.srv.ServeTLS(tlsLn) }()
		transports += ",tls " + s.tlsAddr.String()
	}
	go s.floods.run(ctx, s.closed)
	if s.persist != nil {
		go s.persist.run(ctx)
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-s.closed:
		}
		udp.Close()
		tcp.Close()
		if tlsLn != nil {
			tlsLn.Close()
		}
		s.wsLn.Close()
		s.rtcConn.Close()
	}()
	s.log.Info("sip listening", "addr", s.addr.String(), "transports", transports)
	return nil
}

// restoreBindings loads the saved registrations.
func (s *Switch) restoreBindings(ctx context.Context) {
	if s.persist == nil {
		return
	}
	saved, err := s.cfg.Bindings.LoadBindings(ctx)
	if err != nil {
		s.log.Warn("loading saved registrations failed: agents are rung once their phones register again", "error", err)
	}
	n, err := s.reg.restore(saved)
	if err != nil {
		s.log.Warn("a saved registration was not restored", "error", err)
	}
	if n > 0 {
		s.log.Info("registrations restored from before the restart", "contacts", n)
	}
}

// SetStandby makes the switch a standby's (on) at once: new INVITEs,
// REGISTERs and OPTIONS are answered 503 (a proxy's OPTIONS probing marks
// the node inactive, a proxy tries the next node) and Dial refuses; calls
// already up go on. A node that loses its line's lease calls it first.
func (s *Switch) SetStandby(on bool) { s.standby.Store(on) }

// Standby reports whether the switch answers as a standby.
func (s *Switch) Standby() bool { return s.standby.Load() }

// Activate makes a standby switch the line's: it loads the registrations
// saved by the node before it (the shared store), then takes calls.
func (s *Switch) Activate(ctx context.Context) {
	s.restoreBindings(ctx)
	s.standby.Store(false)
}

// Addr is the address the switch listens on (as advertised).
func (s *Switch) Addr() netip.AddrPort { return s.addr }

// Incoming implements sip.Switch.
func (s *Switch) Incoming() <-chan sip.Leg { return s.incoming }

// Registered reports whether an agent has at least one live registration.
func (s *Switch) Registered(user string) bool { return len(s.reg.contacts(user)) > 0 }

// RegisteredUsers lists users with live registrations.
func (s *Switch) RegisteredUsers() []string { return s.reg.users() }

// ActiveLegs counts legs that have not ended.
func (s *Switch) ActiveLegs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.legs)
}

// Shutdown stops taking new calls (503) and waits for active calls to end
// until ctx is done; then it hangs up what is left (CauseShutdown) and closes.
func (s *Switch) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for s.ActiveLegs() > 0 {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			left := make([]*leg, 0, len(s.legs))
			for _, l := range s.legs {
				left = append(left, l)
			}
			s.mu.Unlock()
			for _, l := range left {
				_ = l.Hangup(sip.CauseShutdown)
			}
			s.Close()
			return ctx.Err()
		case <-t.C:
		}
	}
	s.Close()
	return nil
}

// Close stops the switch at once.
func (s *Switch) Close() {
	s.stopOnce.Do(func() {
		s.draining.Store(true)
		close(s.closed)
		if s.ua != nil {
			_ = s.ua.Close()
		}
		close(s.incoming)
	})
}

func (s *Switch) trunkFor(src netip.AddrPort) *trunk {
	a := src.Addr().Unmap()
	for i := range s.trunks {
		for _, r := range s.trunks[i].allow {
			if r.prefix.Contains(a) && (r.port == 0 || r.port == src.Port()) {
				return &s.trunks[i]
			}
		}
	}
	return nil
}

func source(req *gosip.Request) netip.AddrPort {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func respond(tx gosip.ServerTransaction, req *gosip.Request, code int, reason string, hdrs ...gosip.Header) {
	res := gosip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

func (s *Switch) onOptions(req *gosip.Request, tx gosip.ServerTransaction) {
	if s.standby.Load() || s.draining.Load() {
		respond(tx, req, 503, "Service Unavailable")
		return
	}
	respond(tx, req, 200, "OK",
		gosip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, REFER, NOTIFY"),
		gosip.NewHeader("Accept", "application/sdp, application/dtmf-relay, application/dtmf"),
		gosip.NewHeader("Supported", "replaces"),
	)
}

// dialogKey identifies a dialog on our side: Call-ID and our own tag.
func dialogKey(callID, localTag string) string { return callID + "|" + localTag }

// lookupLeg finds the leg an in-dialog request belongs to (our tag is in To).
func (s *Switch) lookupLeg(req *gosip.Request) *leg {
	cid := req.CallID()
	to := req.To()
	if cid == nil || to == nil {
		return nil
	}
	tag, _ := to.Params.Get("tag")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.legs[dialogKey(string(*cid), tag)]
}

func (s *Switch) addLeg(key string, l *leg) {
	s.mu.Lock()
	s.legs[key] = l
	s.mu.Unlock()
}

func (s *Switch) removeLeg(key string) {
	s.mu.Lock()
	delete(s.legs, key)
	s.mu.Unlock()
}

// claimInitial records an initial INVITE by its merge key (Call-ID, From
// tag, CSeq number). fresh is false when another INVITE with that key and
// a different top Via branch is still a live leg: a merged request, which
// RFC 3261 §8.2.2.2 answers with 482 rather than making it a second call.
// (A retransmission has the same branch and never gets here: the
// transaction layer absorbs it.)
func (s *Switch) claimInitial(req *gosip.Request) (key string, fresh bool) {
	cid, from, cseq, via := req.CallID(), req.From(), req.CSeq(), req.Via()
	if cid == nil || from == nil || cseq == nil || via == nil {
		return "", true
	}
	tag, _ := from.Params.Get("tag")
	branch, _ := via.Params.Get("branch")
	key = string(*cid) + "|" + tag + "|" + strconv.FormatUint(uint64(cseq.SeqNo), 10)
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.initial[key]; ok && b != branch {
		return key, false
	}
	s.initial[key] = branch
	return key, true
}

// releaseInitial forgets an initial INVITE claimed by claimInitial.
func (s *Switch) releaseInitial(key string) {
	if key == "" {
		return
	}
	s.mu.Lock()
	delete(s.initial, key)
	s.mu.Unlock()
}

func (s *Switch) newID() string {
	return fmt.Sprintf("n%x-%d", s.cfg.Now().UnixMilli(), s.seq.Add(1))
}

func (s *Switch) onInvite(req *gosip.Request, tx gosip.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			s.onReInvite(req, tx)
			return
		}
	}
	src := source(req)
	caller := ""
	if f := req.From(); f != nil {
		caller = f.Address.User
	}
	if pai := req.GetHeader("P-Asserted-Identity"); pai != nil {
		var u gosip.Uri
		var p gosip.HeaderParams
		if _, err := gosip.ParseAddressValue(pai.Value(), &u, &p); err == nil && u.User != "" {
			caller = u.User
		}
	}
	info := sip.CallInfo{Direction: sip.Inbound, From: caller, To: req.Recipient.User, Created: s.cfg.Now()}
	if f := req.From(); f != nil {
		info.FromName = f.DisplayName
	}

	if tr := s.trunkFor(src); tr != nil {
		info.Trunk = tr.Name
	} else {
		if s.sourceRefused(src) || !s.reg.knownSource(src.Addr()) {
			s.refuse(req, tx, src, "sip invite refused: source is not a trunk or a registered agent device",
				"caller", MaskNumber(caller), "called", MaskNumber(info.To))
			return
		}
		user, ok := s.agentOf(req, tx)
		if !ok {
			return
		}
		info.Agent = user
		info.From = user
	}
	if s.draining.Load() || s.standby.Load() {
		respond(tx, req, 503, "Service Unavailable", gosip.NewHeader("Retry-After", "30"))
		return
	}
	var offer remoteMedia
	var err error
	if isWS(req.Transport()) {
		offer, err = browserSDP(req.Body())
	} else {
		offer, err = s.remoteSDP(req.Body())
		if err == nil {
			err = s.srtpOfferable(offer, req.Transport(), info.Agent != "")
		}
	}
	if err != nil {
		s.log.Warn("sip invite rejected", "reason", err.Error(), "caller", MaskNumber(caller), "source", src.String())
		respond(tx, req, 488, "Not Acceptable Here", gosip.NewHeader("Warning", `305 hotline "`+err.Error()+`"`))
		return
	}
	merge, fresh := s.claimInitial(req)
	if !fresh {
		s.log.Warn("sip invite rejected: merged request (the same INVITE on another branch)",
			"caller", MaskNumber(caller), "source", src.String())
		respond(tx, req, 482, "Loop Detected")
		return
	}
	dlg, err := s.dialogUA(req.Transport()).ReadInvite(req, tx)
	if err != nil {
		s.releaseInitial(merge)
		respond(tx, req, 400, "Bad Request")
		return
	}
	info.ID = s.newID()
	info.Codec = offer.Codecs[0].Name
	localTag, _ := dlg.InviteRequest.To().Params.Get("tag")
	key := dialogKey(string(*req.CallID()), localTag)
	l := newLeg(s, info, key)
	l.uas = dlg
	l.merge = merge
	l.remote = offer
	l.overTLS = isTLS(req.Transport())
	if isWS(req.Transport()) {
		l.wsSource = src
		l.browserOffer = req.Body()
	}
	s.addLeg(key, l)

	_ = dlg.Respond(180, "Ringing", nil)
	select {
	case s.incoming <- l:
	default:
		s.log.Warn("sip invite rejected: consumer is not keeping up", "caller", MaskNumber(caller))
		_ = dlg.Respond(503, "Service Unavailable", nil)
		l.finish(sip.CauseFailure, sip.SideLocal)
		return
	}
	s.log.Info("sip call in", "leg", info.ID, "caller", MaskNumber(caller), "called", MaskNumber(info.To), "trunk", info.Trunk, "agent", info.Agent, "codec", info.Codec)

	// The transaction must live until a final response: wait for Answer,
	// Hangup (which sends the final response), or the caller's CANCEL.
	select {
	case <-l.answered:
	case <-l.done:
		if code, reason, ok := l.rejectAfterEnd(); ok {
			_ = dlg.Respond(code, reason, nil)
		}
	case <-dlg.Context().Done():
		l.finish(sip.CauseCancelled, sip.SideRemote)
	}
}

func (s *Switch) onReInvite(req *gosip.Request, tx gosip.ServerTransaction) {
	l := s.lookupLeg(req)
	if l == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	body, code, reason := l.reinvite(req.Body())
	if code != 200 {
		respond(tx, req, code, reason)
		return
	}
	res := gosip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(gosip.HeaderClone(s.contactFor(req.Transport())))
	_ = tx.Respond(res)
}

func (s *Switch) onAck(req *gosip.Request, tx gosip.ServerTransaction) {
	l := s.lookupLeg(req)
	if l == nil || l.uas == nil {
		return
	}
	_ = l.uas.ReadAck(req, tx)
}

func (s *Switch) onBye(req *gosip.Request, tx gosip.ServerTransaction) {
	l := s.lookupLeg(req)
	if l == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	respond(tx, req, 200, "OK")
	l.finish(sip.CauseNormal, sip.SideRemote)
}

func (s *Switch) onInfo(req *gosip.Request, tx gosip.ServerTransaction) {
	l := s.lookupLeg(req)
	if l == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(h.Value()))
	}
	d, ok := parseInfoDTMF(ct, req.Body())
	if !ok {
		if mt := mediaType(ct); mt == "application/dtmf-relay" || mt == "application/dtmf" {
			respond(tx, req, 400, "Bad Request")
		} else {
			respond(tx, req, 415, "Unsupported Media Type", gosip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		}
		return
	}
	respond(tx, req, 200, "OK")
	l.digit(d)
}

// mediaType is the type/subtype of a lower-cased Content-Type value,
// without parameters.
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(mt)
}

// parseInfoDTMF reads SIP INFO DTMF: application/dtmf-relay ("Signal=5")
// or application/dtmf ("5"). ct is the lower-cased Content-Type.
func parseInfoDTMF(ct string, body []byte) (rune, bool) {
	var v string
	// The whole media type must match: a prefix test took
	// application/dtmf-relayx or application/dtmfoo for DTMF
	// (FuzzParseInfoDTMF).
	switch mediaType(ct) {
	case "application/dtmf-relay":
		for _, line := range strings.Split(string(body), "\n") {
			k, val, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				v = strings.TrimSpace(val)
			}
		}
	case "application/dtmf":
		v = strings.TrimSpace(string(body))
	default:
		return 0, false
	}
	switch {
	case len(v) == 1 && strings.ContainsRune("0123456789*#ABCDabcd", rune(v[0])):
		return rune(strings.ToUpper(v)[0]), true
	case v == "10":
		return '*', true
	case v == "11":
		return '#', true
	}
	return 0, false
}

func (s *Switch) onRefer(req *gosip.Request, tx gosip.ServerTransaction) {
	l := s.lookupLeg(req)
	if l == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if l.info.Agent != "" {
		// Transfers come from agents' phones: authenticate them like INVITEs.
		user, ok := s.agentOf(req, tx)
		if !ok {
			return
		}
		if user != l.info.Agent {
			respond(tx, req, 403, "Forbidden")
			return
		}
	} else if l.info.Trunk == "" {
		respond(tx, req, 403, "Forbidden")
		return
	}
	rt := req.GetHeader("Refer-To")
	if rt == nil {
		respond(tx, req, 400, "Bad Request")
		return
	}
	var u gosip.Uri
	var p gosip.HeaderParams
	if _, err := gosip.ParseAddressValue(rt.Value(), &u, &p); err != nil || u.User == "" {
		respond(tx, req, 400, "Bad Request")
		return
	}
	respond(tx, req, 202, "Accepted")
	l.transfer(u.User)
}

// agentOf authenticates an agent's request: by its WebSocket's binding
// (ws.go) or by digest.
func (s *Switch) agentOf(req *gosip.Request, tx gosip.ServerTransaction) (string, bool) {
	if isWS(req.Transport()) {
		return s.wsAgent(req, tx, false)
	}
	return s.authenticate(req, tx)
}
