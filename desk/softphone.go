package desk

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The softphone in the page (docs/desk.md, Softphone): the page registers
// over SIP over WebSocket (RFC 7118) at GET /desk/sip, on the desk's own
// origin. The desk lets only a logged-in agent's or supervisor's page
// upgrade (the session cookie; an Origin header naming this host, so
// another site's page cannot open the socket with the user's cookie) and
// hands the request to the Softphone the server gives (the native
// switch's WebSocket), which binds it to that user's own SIP user: an
// agent's, or a supervisor's desk phone (web.users[].sip_user), whose
// browser then carries the audio of monitoring (listen, whisper, barge).
// Admins get no softphone. The connection is bound to the session: it is
// closed when the session ends (logout, expiry, the user's password or
// role changed).

// SoftphoneInfo is what the page learns of its softphone.
type SoftphoneInfo struct {
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"` // why not: "asterisk", "not-an-agent" (an admin), "no-phone" (a supervisor without web.users[].sip_user)
	User      string `json:"user,omitempty"`   // the user's SIP user
	Domain    string `json:"domain,omitempty"` // the SIP domain of its address of record
	Path      string `json:"path,omitempty"`   // the WebSocket's path on this origin
}

// Softphone serves the pages' SIP over WebSocket (internal/server in
// native mode).
type Softphone interface {
	// Info describes the softphone of a desk user (an agent or a
	// supervisor, by id).
	Info(user string) SoftphoneInfo
	// ServeSoftphone takes over r, a WebSocket upgrade request by the
	// user (it hijacks the connection) and binds it to the user's own SIP
	// user; it returns the connection, or an error before anything was
	// written.
	ServeSoftphone(w http.ResponseWriter, r *http.Request, user string) (SoftphoneConn, error)
}

// SoftphoneConn is a served softphone connection: Close ends it, Done is
// closed once it has ended (either way).
type SoftphoneConn interface {
	io.Closer
	Done() <-chan struct{}
}

// sessionCheck is how often a softphone connection checks that its
// session still lives (expiry; logout closes it at once).
const sessionCheck = 10 * time.Second

// phoneConns are the open softphone connections by session (its hash).
type phoneConns struct {
	mu sync.Mutex
	m  map[string][]SoftphoneConn
}

func (p *phoneConns) add(token string, c SoftphoneConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string][]SoftphoneConn{}
	}
	p.m[token] = append(p.m[token], c)
}

// remove forgets a connection that ended.
func (p *phoneConns) remove(token string, c SoftphoneConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := p.m[token]
	for i, x := range cs {
		if x == c {
			cs = append(cs[:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == 0 {
		delete(p.m, token)
	} else {
		p.m[token] = cs
	}
}

// closeSession closes the connections of a session that ended.
func (p *phoneConns) closeSession(token string) {
	p.mu.Lock()
	cs := p.m[token]
	delete(p.m, token)
	p.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
}

// alive reports whether a session (by hash) lives in this process,
// without extending it.
func (s *sessions) alive(hash string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[hash]
	return ok && !now.After(ss.expires)
}

// mayHaveSoftphone: agents (their calls) and supervisors (the audio of
// monitoring); not admins.
func mayHaveSoftphone(p principal) bool {
	return p.user != nil && (p.user.Role == RoleAgent || p.user.Role == RoleSupervisor)
}

func (d *Desk) softphoneInfo(w http.ResponseWriter, r *http.Request, p principal) {
	switch {
	case !mayHaveSoftphone(p):
		writeJSON(w, http.StatusOK, SoftphoneInfo{Reason: "not-an-agent"})
	case d.cfg.Softphone == nil:
		writeJSON(w, http.StatusOK, SoftphoneInfo{Reason: "asterisk"})
	default:
		writeJSON(w, http.StatusOK, d.cfg.Softphone.Info(p.user.ID))
	}
}

// sameOrigin reports whether the request's Origin is this host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

func (d *Desk) softphoneSocket(w http.ResponseWriter, r *http.Request, p principal) {
	switch {
	case p.sess == nil || !mayHaveSoftphone(p):
		writeError(w, http.StatusForbidden, "the softphone is an agent's or a supervisor's, in a desk session")
		return
	case d.cfg.Softphone == nil:
		writeError(w, http.StatusNotFound, "no softphone here: the switch is Asterisk (docs/asterisk.md)")
		return
	case !sameOrigin(r):
		d.log.Warn("desk softphone refused: foreign origin", "user", p.user.ID, "origin", r.Header.Get("Origin"))
		writeError(w, http.StatusForbidden, "the softphone opens only from the desk's own page (Origin)")
		return
	case !strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		writeError(w, http.StatusBadRequest, "a WebSocket upgrade (RFC 7118, subprotocol sip) is expected")
		return
	}
	if info := d.cfg.Softphone.Info(p.user.ID); !info.Available {
		writeError(w, http.StatusForbidden, "no softphone for this user ("+info.Reason+"): a supervisor needs a SIP user of their own (web.users[].sip_user)")
		return
	}
	c, err := d.cfg.Softphone.ServeSoftphone(w, r, p.user.ID)
	if err != nil {
		d.log.Warn("desk softphone not served", "user", p.user.ID, "error", err)
		writeError(w, http.StatusServiceUnavailable, "the softphone is not available: "+err.Error())
		return
	}
	token := p.sess.hash
	d.phones.add(token, c)
	d.log.Info("desk softphone connected", "user", p.user.ID, "source", sourceOf(r))
	go func() {
		t := time.NewTicker(sessionCheck)
		defer t.Stop()
		for {
			select {
			case <-c.Done():
				d.phones.remove(token, c)
				return
			case <-t.C:
				if !d.sess.alive(token, d.now()) {
					d.phones.closeSession(token)
					return
				}
			}
		}
	}()
}
