package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hotline-cc/hotline/desk"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/sip/native"
)

// softphone serves the desk pages' SIP over WebSocket into the native
// switch (docs/desk.md, Softphone): the desk has checked the session,
// the role (agent or supervisor) and the Origin; this hijacks the HTTP
// connection and gives it to the switch bound to the user's own SIP user
// (an agent's; a supervisor's desk phone, web.users[].sip_user, which
// monitoring rings).
type softphone struct {
	sw   *native.Switch
	cfg  *config.Config
	user map[string]string // desk user id → SIP user
}

func newSoftphone(sw *native.Switch, cfg *config.Config) *softphone {
	p := &softphone{sw: sw, cfg: cfg, user: map[string]string{}}
	for _, a := range cfg.Agents {
		p.user[a.ID] = a.SIPUser
	}
	for _, u := range cfg.Web.Users {
		if u.Role == config.RoleSupervisor && u.SIPUser != "" {
			p.user[u.ID] = u.SIPUser
		}
	}
	return p
}

var _ desk.Softphone = (*softphone)(nil)

func (p *softphone) Info(user string) desk.SoftphoneInfo {
	u, ok := p.user[user]
	if !ok {
		for _, w := range p.cfg.Web.Users {
			if w.ID == user && w.Role == config.RoleSupervisor {
				return desk.SoftphoneInfo{Reason: "no-phone"}
			}
		}
		return desk.SoftphoneInfo{Reason: "not-an-agent"}
	}
	return desk.SoftphoneInfo{Available: true, User: u, Domain: p.sw.Addr().Addr().String(), Path: "/desk/sip"}
}

func (p *softphone) ServeSoftphone(w http.ResponseWriter, r *http.Request, user string) (desk.SoftphoneConn, error) {
	u, ok := p.user[user]
	if !ok {
		return nil, errors.New("no SIP user for this desk user")
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errors.New("the connection cannot be taken over (HTTP/2?): the page must reach /desk/sip over HTTP/1.1")
	}
	// The switch's WebSocket transport answers the handshake itself: it
	// reads the request again, so it is written back in front of what
	// follows on the connection.
	var head bytes.Buffer
	fmt.Fprintf(&head, "GET %s HTTP/1.1\r\nHost: %s\r\n", r.URL.RequestURI(), r.Host)
	_ = r.Header.Write(&head)
	head.WriteString("\r\n")
	c, rw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	conn := &replayConn{Conn: c, r: io.MultiReader(&head, rw.Reader)}
	if conn.done, err = p.sw.ServeWebSocket(conn, u); err != nil {
		_ = c.Close()
		return nil, err
	}
	return conn, nil
}

// replayConn is a hijacked connection whose first bytes are the request
// the HTTP server had already read; Done is closed when the switch is
// done with it.
type replayConn struct {
	net.Conn
	r    io.Reader
	done <-chan struct{}
}

func (c *replayConn) Done() <-chan struct{} { return c.done }

func (c *replayConn) Read(b []byte) (int, error) { return c.r.Read(b) }
