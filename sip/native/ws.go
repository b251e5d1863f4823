package native

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/sip"
)

// SIP over WebSocket (RFC 7118) for the desk's softphone. The switch has no
// WebSocket listener of its own: hotline's HTTP(S) server upgrades
// GET /desk/sip for a logged-in agent (same origin as the page, the desk
// session's cookie, an Origin check; internal/server/softphone.go) and
// hands the connection here with the agent's SIP user. The connection is
// bound to that user: a REGISTER or INVITE over it acts as that user and
// no other (403), with no digest (the desk session is the authentication;
// docs/security.md). When the connection closes — the tab closed, the
// network gone, the desk session logged out — its registrations are
// dropped and its calls end at once (the queue's "agent leg ended"
// handling applies).
//
// sipgo's WS transport reads the frames; sipgo labels such requests "WS"
// also when the page is served over HTTPS (the TLS is the HTTP server's).

// isWS reports whether a SIP transport name is WebSocket.
func isWS(transport string) bool {
	return strings.EqualFold(transport, "ws") || strings.EqualFold(transport, "wss")
}

// wsListener feeds hijacked HTTP connections to sipgo's WS transport,
// which performs the WebSocket handshake on them.
type wsListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
}

func (l *wsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *wsListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *wsListener) Addr() net.Addr { return l.addr }

// wsConn is one softphone's connection: the agent it is bound to, and
// the clean-up when it goes.
type wsConn struct {
	net.Conn
	s    *Switch
	user string
	once sync.Once
	done chan struct{} // closed when the connection is gone
	// ringing are the cancels of INVITEs ringing this browser (wsWatch).
	ringing map[uint64]func()
}

func (c *wsConn) gone() {
	c.once.Do(func() {
		c.s.wsGone(c)
		close(c.done)
	})
}

func (c *wsConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		c.gone()
	}
	return n, err
}

func (c *wsConn) Close() error {
	err := c.Conn.Close()
	c.gone()
	return err
}

var errNoWebSocket = errors.New("native: SIP over WebSocket is not running (the switch has not started)")

// startWS prepares the WebSocket side: the listener sipgo's WS transport
// serves, and the dialog UA whose Contact says transport=ws.
func (s *Switch) startWS(adv netip.Addr, sipLog *slog.Logger) error {
	cli, err := sipgo.NewClient(s.ua, sipgo.WithClientLogger(sipLog), sipgo.WithClientHostname(adv.String()))
	if err != nil {
		return err
	}
	uri := gosip.Uri{Scheme: "sip", User: "hotline", Host: adv.String(), UriParams: gosip.NewParams()}
	uri.UriParams.Add("transport", "ws")
	s.wsContact = gosip.ContactHeader{Address: uri}
	s.duaWS = &sipgo.DialogUA{Client: cli, ContactHDR: s.wsContact, RewriteContact: true}
	s.wsLn = &wsListener{conns: make(chan net.Conn), closed: make(chan struct{}),
		addr: &net.TCPAddr{IP: adv.AsSlice(), Port: 443}}
	s.wsUsers = map[netip.AddrPort]*wsConn{}
	go func() { _ = s.srv.ServeWS(s.wsLn) }()
	return nil
}

// ServeWebSocket takes a connection hijacked from an HTTP request that
// asked for a WebSocket upgrade (with the request's bytes still to be
// read: sipgo's WS transport answers the handshake) and serves SIP over
// it for user, the agent's SIP user, until it closes. It returns at once,
// with a channel closed when the connection is gone.
func (s *Switch) ServeWebSocket(conn net.Conn, user string) (<-chan struct{}, error) {
	if s.wsLn == nil {
		return nil, errNoWebSocket
	}
	src := addrPortOf(conn.RemoteAddr())
	if !src.IsValid() {
		return nil, errors.New("native: websocket: the connection has no remote address")
	}
	c := &wsConn{Conn: conn, s: s, user: user, done: make(chan struct{})}
	s.wsMu.Lock()
	if old := s.wsUsers[src]; old != nil {
		s.wsMu.Unlock()
		return nil, errors.New("native: websocket: a connection from this address and port is open")
	}
	s.wsUsers[src] = c
	s.wsMu.Unlock()
	select {
	case s.wsLn.conns <- c:
	case <-s.wsLn.closed:
		c.gone()
		return nil, errNoWebSocket
	}
	s.log.Info("sip websocket connected", "user", user, "source", src.String())
	return c.done, nil
}

// wsWatch registers what fails an INVITE ringing the browser at src: it
// is called when that connection goes (at once if it has). It returns the
// unregistering.
func (s *Switch) wsWatch(src netip.AddrPort, cancel func()) func() {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	c := s.wsUsers[src]
	if c == nil {
		cancel() // already gone
		return func() {}
	}
	id := s.seq.Add(1)
	if c.ringing == nil {
		c.ringing = map[uint64]func(){}
	}
	c.ringing[id] = cancel
	return func() {
		s.wsMu.Lock()
		delete(c.ringing, id)
		s.wsMu.Unlock()
	}
}

// wsUser is the agent a WebSocket source is bound to ("" none).
func (s *Switch) wsUser(src netip.AddrPort) string {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	if c := s.wsUsers[src]; c != nil {
		return c.user
	}
	return ""
}

// wsGone forgets a closed connection: its registrations go, and every leg
// signalled over it ends (the browser cannot hang up any more).
func (s *Switch) wsGone(c *wsConn) {
	src := addrPortOf(c.Conn.RemoteAddr())
	s.wsMu.Lock()
	if s.wsUsers[src] == c {
		delete(s.wsUsers, src)
	}
	ringing := c.ringing
	c.ringing = nil
	s.wsMu.Unlock()
	for _, cancel := range ringing {
		cancel()
	}
	if n := s.reg.dropSource(c.user, src); n > 0 {
		s.persist.mark(c.user)
	}
	s.mu.Lock()
	var legs []*leg
	for _, l := range s.legs {
		if l.wsSource == src {
			legs = append(legs, l)
		}
	}
	s.mu.Unlock()
	for _, l := range legs {
		s.log.Warn("sip leg ended: the softphone's websocket closed", "leg", l.info.ID, "agent", l.info.Agent)
		l.rejectCode.CompareAndSwap(0, 480)
		l.finish(sip.CauseFailure, sip.SideRemote)
	}
	s.log.Info("sip websocket closed", "user", c.user, "source", src.String(), "calls_ended", len(legs))
}

// wsAgent authenticates a request that came over a WebSocket: it acts as
// the connection's agent, and names only that agent (From, and To for a
// REGISTER). It answers 403 itself when not.
func (s *Switch) wsAgent(req *gosip.Request, tx gosip.ServerTransaction, register bool) (string, bool) {
	src := source(req)
	user := s.wsUser(src)
	from := ""
	if f := req.From(); f != nil {
		from = f.Address.User
	}
	to := ""
	if t := req.To(); t != nil {
		to = t.Address.User
	}
	if user == "" || from != user || (register && to != user) {
		s.floods.note(slog.LevelWarn, "sip websocket request refused: not the connection's agent", src, "method", req.Method.String())
		respond(tx, req, 403, "Forbidden")
		return "", false
	}
	return user, true
}

// wsMalformed answers a WebSocket frame that does not parse as SIP, in
// place of sipgo (whose parse error would close the connection and so
// end the agent's calls): a 400 with a Warning naming the error when the
// frame carries enough of a request to answer it (Via, From, To, Call-ID,
// CSeq), else nothing; either way a log line, and the connection stays.
func (s *Switch) wsMalformed(src netip.AddrPort, data []byte, perr error) {
	s.floods.note(slog.LevelWarn, "sip websocket: malformed message dropped", src, "bytes", len(data), "error", perr.Error())
	text := string(data)
	if strings.HasPrefix(text, "SIP/2.0") {
		return // a response: nobody to answer
	}
	head, _, _ := strings.Cut(text, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	if len(lines) < 2 {
		return
	}
	res := gosip.NewResponse(400, "Bad Request")
	need := map[string]bool{"via": true, "v": true, "from": true, "f": true, "to": true, "t": true, "call-id": true, "i": true, "cseq": true}
	found := 0
	for _, ln := range lines[1:] {
		k, v, ok := strings.Cut(ln, ":")
		if !ok || !need[strings.ToLower(strings.TrimSpace(k))] {
			continue
		}
		res.AppendHeader(gosip.NewHeader(strings.TrimSpace(k), strings.TrimSpace(v)))
		found++
	}
	if found < 5 {
		return
	}
	reason := strings.NewReplacer(`"`, "'", "\r", " ", "\n", " ").Replace(perr.Error())
	if len(reason) > 200 {
		reason = reason[:200]
	}
	res.AppendHeader(gosip.NewHeader("Warning", `399 hotline "malformed SIP message: `+reason+`"`))
	conn, err := s.ua.TransportLayer().GetConnection("ws", src.String())
	if err != nil || conn == nil {
		return
	}
	go func() { _ = conn.WriteMsg(res) }()
}

// dropSource removes user's bindings registered from src (a closed
// WebSocket); it returns how many went.
func (r *registrar) dropSource(user string, src netip.AddrPort) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.bindings[user]
	keep := cur[:0]
	for _, b := range cur {
		if b.Source != src {
			keep = append(keep, b)
		}
	}
	n := len(cur) - len(keep)
	if len(keep) == 0 {
		delete(r.bindings, user)
	} else {
		r.bindings[user] = keep
	}
	return n
}
