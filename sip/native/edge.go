package native

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	gosip "github.com/emiago/sipgo/sip"
)

// The SIP edge: what reaches the switch from the network before a call or
// a registration exists. docs/security.md describes the threats and how
// each defence here was tested.

var (
	errBanned   = errors.New("source is locked out after repeated authentication failures")
	errRTPAtSIP = errors.New("bad SDP: RTP address is hotline's own SIP port")
)

// addrPortOf is a net.Addr as an unmapped AddrPort (zero if it is none).
func addrPortOf(a net.Addr) netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// sourceRefused reports whether requests from src are dropped: its address
// is banned, and it is neither a trunk nor the exact address:port of a
// registered phone. So a guesser behind an office's NAT gets the address
// banned while the office's registered phones (other ports) go on.
func (s *Switch) sourceRefused(src netip.AddrPort) bool {
	if !s.lock.sourceBanned(src.Addr()) {
		return false
	}
	return s.trunkFor(src) == nil && !s.reg.boundAt(src)
}

// readFilter runs before sipgo parses what arrived. From a refused source
// (sourceRefused) it drops everything but SIP responses, which can only
// complete transactions hotline started (the 180/200 of a phone it rings).
// Over UDP it returns no data (sipgo skips the datagram; an error would
// stop the whole listener); over TCP the error closes that connection only.
// A datagram that does not parse as SIP is dropped here with a log line
// that names its source and not its bytes (sipgo's own line has the bytes
// and not the source).
func (s *Switch) readFilter(info gosip.TransportReadProps, data []byte) ([]byte, error) {
	src := addrPortOf(info.RemoteAddr)
	if !src.IsValid() {
		return data, nil
	}
	udp := strings.EqualFold(info.Transport, "udp")
	if s.sourceRefused(src) {
		if udp && bytes.HasPrefix(data, []byte("SIP/2.0 ")) {
			return data, nil
		}
		s.floods.note(slog.LevelWarn, "sip dropped: source is locked out", src, "transport", strings.ToLower(info.Transport))
		if udp {
			return nil, nil
		}
		return nil, errBanned
	}
	if isWS(info.Transport) && !keepAlive(data) {
		if _, err := s.parser.ParseSIP(data); err != nil {
			s.wsMalformed(src, data, err)
			return nil, nil
		}
	}
	if udp && !keepAlive(data) {
		if _, err := s.parser.ParseSIP(data); err != nil {
			// Not the parser's error: it quotes the datagram.
			s.floods.note(slog.LevelWarn, "sip unparsable datagram dropped", src, "bytes", len(data))
			return nil, nil
		}
	}
	return data, nil
}

// keepAlive reports whether sipgo skips data without parsing it: NUL
// padding or a CRLF keep-alive (RFC 5626 §3.5.1).
func keepAlive(data []byte) bool {
	return len(bytes.Trim(data, "\x00")) == 0 || (len(data) <= 4 && len(bytes.Trim(data, "\r\n")) == 0)
}

// refuse answers 403 to a request from a source that may not send it,
// counts it against the source (a pike-like limit: enough refusals ban
// the address like wrong passwords do) and logs it rate-limited.
func (s *Switch) refuse(req *gosip.Request, tx gosip.ServerTransaction, src netip.AddrPort, msg string, attrs ...any) {
	v := s.lock.fail(src.Addr(), "")
	s.floods.note(slog.LevelWarn, msg, src, append(attrs, "locked_out", v.SourceBanned)...)
	s.logBans(src, "", v)
	respond(tx, req, 403, "Forbidden")
}

// logBans logs the bans a failure started (always, not rate-limited:
// there is at most one per ban).
func (s *Switch) logBans(src netip.AddrPort, user string, v verdict) {
	if v.SourceBan > 0 {
		s.log.Warn("sip source locked out", "source", src.Addr().String(), "ban", v.SourceBan.String())
	}
	if v.UserBan > 0 {
		name := "(unknown user)"
		if _, known := (*s.creds.Load()).Password(user); known {
			name = user
		}
		s.log.Warn("sip user locked out: only addresses where it is registered may authenticate as it",
			"user", name, "ban", v.UserBan.String(), "last_source", src.Addr().String())
	}
}

// challenge answers 401 with a fresh challenge per configured algorithm.
func (s *Switch) challenge(req *gosip.Request, tx gosip.ServerTransaction, src netip.AddrPort, stale bool) {
	var hs []gosip.Header
	for _, c := range s.auth.challenges(stale, src.Addr()) {
		hs = append(hs, gosip.NewHeader("WWW-Authenticate", c))
	}
	respond(tx, req, 401, "Unauthorized", hs...)
}

// authenticate checks an agent's request. It answers the request itself
// (401 challenge or 403) and returns ok=false when it is not authenticated.
func (s *Switch) authenticate(req *gosip.Request, tx gosip.ServerTransaction) (string, bool) {
	r, ok := s.checkAuth(req, tx)
	return r.User, ok
}

// checkAuth is authenticate with what verify learned (whether this was the
// first answer to its challenge).
func (s *Switch) checkAuth(req *gosip.Request, tx gosip.ServerTransaction) (authResult, bool) {
	src := source(req)
	hdr := ""
	if h := req.GetHeader("Authorization"); h != nil {
		hdr = h.Value()
	}
	method := req.Method.String()
	r, err := s.auth.verify(hdr, method, src.Addr())
	// A user under attack may authenticate only from addresses where it
	// is registered: its phones go on, guessers elsewhere get 403 whatever
	// they send (even the right password, until the lock ends).
	if r.User != "" && s.lock.userLocked(r.User) && !s.reg.userAt(r.User, src.Addr()) {
		v := s.lock.fail(src.Addr(), "")
		s.floods.note(slog.LevelWarn, "sip authentication refused: user is locked out", src, "method", method, "locked_out", v.SourceBanned)
		s.logBans(src, "", v)
		respond(tx, req, 403, "Forbidden")
		return authResult{}, false
	}
	switch {
	case err == nil:
		return r, true
	case errors.Is(err, errNoCredentials), errors.Is(err, errStaleNonce):
		s.challenge(req, tx, src, errors.Is(err, errStaleNonce))
		return authResult{}, false
	default:
		v := s.lock.fail(src.Addr(), r.User)
		s.floods.note(slog.LevelWarn, "sip authentication failed", src, "method", method, "locked_out", v.SourceBanned)
		s.logBans(src, r.User, v)
		respond(tx, req, 403, "Forbidden")
		return authResult{}, false
	}
}

func (s *Switch) onRegister(req *gosip.Request, tx gosip.ServerTransaction) {
	if s.standby.Load() {
		// A proxy sends the REGISTER on to the line's node.
		respond(tx, req, 503, "Service Unavailable")
		return
	}
	src := source(req)
	if s.sourceRefused(src) {
		respond(tx, req, 403, "Forbidden")
		return
	}
	var r authResult
	if isWS(req.Transport()) {
		// Bound to the desk session: the connection's agent, fresh.
		user, ok := s.wsAgent(req, tx, true)
		if !ok {
			return
		}
		r = authResult{User: user, First: true}
	} else {
		var ok bool
		if r, ok = s.checkAuth(req, tx); !ok {
			return
		}
	}
	user := r.User
	if to := req.To(); to == nil || to.Address.User != user {
		// An agent registers its own address of record only.
		respond(tx, req, 403, "Forbidden")
		return
	}
	res := s.reg.register(user, req, src, r.First)
	switch res.status {
	case 200:
		_ = tx.Respond(registerOK(req, res.contacts, s.cfg.Now()))
		s.persist.mark(user)
		s.log.Info("sip register", "user", user, "contacts", len(res.contacts), "source", src.String())
	case 401:
		// A new or moved binding with a reused nonce: ask for a fresh
		// answer (stale=true, the phone answers without its user).
		s.log.Info("sip register needs a fresh authentication", "user", user, "source", src.String())
		s.challenge(req, tx, src, true)
	case 423:
		respond(tx, req, 423, "Interval Too Brief", gosip.NewHeader("Min-Expires", strconv.Itoa(int(res.minExp/time.Second))))
	default:
		respond(tx, req, res.status, "Bad Request")
	}
}

// registerOK is the 200 to a REGISTER: the user's bindings with what is
// left of each, and the request's Path values in their order (RFC 3327
// §5.3: the registrar copies Path into the 200, so the phone learns the
// route its proxies recorded).
func registerOK(req *gosip.Request, contacts []binding, now time.Time) *gosip.Response {
	out := gosip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, b := range contacts {
		ch := &gosip.ContactHeader{Address: *b.Contact.Clone()}
		ch.Params = gosip.NewParams()
		ch.Params.Add("expires", strconv.Itoa(int(b.Expires.Sub(now).Round(time.Second)/time.Second)))
		out.AppendHeader(ch)
	}
	for _, h := range req.GetHeaders("Path") {
		out.AppendHeader(gosip.NewHeader("Path", h.Value()))
	}
	return out
}

// remoteSDP reads a peer's offer or answer (an INVITE, its 200, a
// re-INVITE) and refuses one that points RTP at hotline's own SIP socket.
func (s *Switch) remoteSDP(body []byte) (remoteMedia, error) {
	rm, err := parseSDP(body)
	if err == nil && s.pointsAtSIP(rm.Addr) {
		return remoteMedia{}, errRTPAtSIP
	}
	return rm, err
}

// pointsAtSIP reports whether an SDP's RTP address is hotline's own SIP
// socket: audio sent there would be parsed as SIP by hotline itself.
func (s *Switch) pointsAtSIP(ap netip.AddrPort) bool {
	if s.sipPort == 0 || ap.Port() != s.sipPort {
		return false
	}
	ip := ap.Addr().Unmap()
	if ip == s.addr.Addr() || ip == s.listenIP || ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	if !s.listenIP.IsUnspecified() {
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == ip {
			return true
		}
	}
	return false
}

// tcpGuard is the SIP/TCP listener with an idle timeout and a limit of
// connections per source address (Config.TCPIdleTimeout, TCPMaxPerSource).
type tcpGuard struct {
	net.Listener
	s    *Switch
	kept func() // called when an idle connection stays for its registration (tests)

	mu   sync.Mutex
	open map[netip.Addr]map[*guardedConn]struct{}
}

func (s *Switch) guardTCP(l net.Listener) *tcpGuard {
	return &tcpGuard{Listener: l, s: s, open: map[netip.Addr]map[*guardedConn]struct{}{}}
}

// Accept returns the next connection that may stay: connections from a
// refused source or past the source's limit are closed at once.
func (g *tcpGuard) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := addrPortOf(c.RemoteAddr())
		if g.s.sourceRefused(src) {
			g.s.floods.note(slog.LevelWarn, "sip dropped: source is locked out", src, "transport", "tcp")
			_ = c.Close()
			continue
		}
		gc := &guardedConn{Conn: c, g: g, src: src}
		if !g.admit(gc) {
			g.s.floods.note(slog.LevelWarn, "sip tcp connection refused: too many from this address", src,
				"limit", g.s.cfg.TCPMaxPerSource)
			_ = c.Close()
			continue
		}
		return gc, nil
	}
}

// admit counts c against its address; connections that carry a live
// registration and trunks' connections are not limited.
func (g *tcpGuard) admit(c *guardedConn) bool {
	limit := g.s.cfg.TCPMaxPerSource
	ip := c.src.Addr()
	g.mu.Lock()
	defer g.mu.Unlock()
	set := g.open[ip]
	if limit > 0 && len(set) >= limit && g.s.trunkFor(c.src) == nil {
		n := 0
		for o := range set {
			if !g.s.reg.boundAt(o.src) {
				n++
			}
		}
		if n >= limit {
			return false
		}
	}
	if set == nil {
		set = map[*guardedConn]struct{}{}
		g.open[ip] = set
	}
	set[c] = struct{}{}
	return true
}

// connections counts the open inbound connections from ip (tests).
func (g *tcpGuard) connections(ip netip.Addr) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.open[ip])
}

func (g *tcpGuard) release(c *guardedConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if set := g.open[c.src.Addr()]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(g.open, c.src.Addr())
		}
	}
}

// guardedConn is an accepted SIP/TCP connection that closes itself after
// TCPIdleTimeout without data, unless a live registration came over it
// (the phone is reached through it; RFC 5626 keep-alives also count as
// data).
type guardedConn struct {
	net.Conn
	g    *tcpGuard
	src  netip.AddrPort
	once sync.Once
}

func (c *guardedConn) Read(b []byte) (int, error) {
	idle := c.g.s.cfg.TCPIdleTimeout
	if idle <= 0 {
		return c.Conn.Read(b)
	}
	for {
		if err := c.Conn.SetReadDeadline(time.Now().Add(idle)); err != nil {
			return 0, err
		}
		n, err := c.Conn.Read(b)
		var ne net.Error
		if n == 0 && errors.As(err, &ne) && ne.Timeout() {
			if c.g.s.reg.boundAt(c.src) {
				if c.g.kept != nil {
					c.g.kept()
				}
				continue
			}
			c.g.s.floods.note(slog.LevelInfo, "sip tcp connection closed: idle", c.src, "idle", idle.String())
			_ = c.Close()
			// EOF: sipgo closes quietly instead of logging a read error.
			return 0, io.EOF
		}
		return n, err
	}
}

func (c *guardedConn) Close() error {
	var err error
	c.once.Do(func() {
		c.g.release(c)
		err = c.Conn.Close()
	})
	return err
}
