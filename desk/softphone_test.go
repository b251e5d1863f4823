package desk

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// fakePhone stands for the switch's WebSocket side: it records whom it
// served and whether the connection was closed.
type fakePhone struct {
	mu     sync.Mutex
	served []string
	closed int
}

func (f *fakePhone) Info(user string) SoftphoneInfo {
	if user == "sv2" { // a supervisor without a SIP user
		return SoftphoneInfo{Reason: "no-phone"}
	}
	return SoftphoneInfo{Available: true, User: "sip-" + user, Domain: "192.0.2.1", Path: "/desk/sip"}
}

func (f *fakePhone) ServeSoftphone(w http.ResponseWriter, _ *http.Request, agent string) (SoftphoneConn, error) {
	f.mu.Lock()
	f.served = append(f.served, agent)
	f.mu.Unlock()
	_, _ = io.WriteString(w, "served")
	return &fakeConn{f: f, done: make(chan struct{})}, nil
}

type fakeConn struct {
	f    *fakePhone
	once sync.Once
	done chan struct{}
}

func (c *fakeConn) Close() error {
	c.once.Do(func() {
		c.f.mu.Lock()
		c.f.closed++
		c.f.mu.Unlock()
		close(c.done)
	})
	return nil
}

func (c *fakeConn) Done() <-chan struct{} { return c.done }

// TestSoftphoneGate: only a logged-in agent's or supervisor's page of this
// origin gets the socket, bound to that user (a supervisor without a SIP
// user of their own gets none; admins none); Asterisk mode (no Softphone)
// says so; logout closes the socket.
func TestSoftphoneGate(t *testing.T) {
	f := newFixture(t)
	host := strings.TrimPrefix(f.srv.URL, "http://")
	upgrade := func(origin string) map[string]string {
		return map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Origin": origin}
	}
	agent := f.client(t)
	agent.login("a1", "pw-a1")
	admin := f.client(t)
	admin.login("root", "pw-root")
	sup := f.client(t)
	sup.login("sv1", "pw-sv1")
	supNoPhone := f.client(t)
	supNoPhone.login("sv2", "pw-sv2")

	// Asterisk mode: no softphone.
	if _, body := agent.do(http.MethodGet, "/desk/api/softphone", "", nil); !strings.Contains(body, `"reason":"asterisk"`) {
		t.Errorf("info without a softphone: %s", body)
	}
	if code, _ := agent.do(http.MethodGet, "/desk/sip", "", upgrade("http://"+host)); code != http.StatusNotFound {
		t.Errorf("socket without a softphone: %d, want 404", code)
	}

	fp := &fakePhone{}
	f.d.cfg.Softphone = fp
	for _, tc := range []struct {
		name string
		c    *client
		hdr  map[string]string
		want int
	}{
		{"logged out", f.client(t), upgrade("http://" + host), http.StatusUnauthorized},
		{"an admin", admin, upgrade("http://" + host), http.StatusForbidden},
		{"another origin", agent, upgrade("http://evil.example"), http.StatusForbidden},
		{"no origin", agent, map[string]string{"Upgrade": "websocket"}, http.StatusForbidden},
		{"not an upgrade", agent, map[string]string{"Origin": "http://" + host}, http.StatusBadRequest},
		{"a supervisor without a SIP user", supNoPhone, upgrade("http://" + host), http.StatusForbidden},
		{"the agent's own page", agent, upgrade("http://" + host), http.StatusOK},
		{"a supervisor's own page", sup, upgrade("http://" + host), http.StatusOK},
	} {
		if code, _ := tc.c.do(http.MethodGet, "/desk/sip", "", tc.hdr); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
	}
	if len(fp.served) != 2 || fp.served[0] != "a1" || fp.served[1] != "sv1" {
		t.Fatalf("served %v, want [a1 sv1] (each as themselves)", fp.served)
	}
	if _, body := sup.do(http.MethodGet, "/desk/api/softphone", "", nil); !strings.Contains(body, `"user":"sip-sv1"`) {
		t.Errorf("the supervisor's info: %s", body)
	}
	if _, body := agent.do(http.MethodGet, "/desk/api/softphone", "", nil); !strings.Contains(body, `"user":"sip-a1"`) {
		t.Errorf("the agent's info: %s", body)
	}
	if _, body := admin.do(http.MethodGet, "/desk/api/softphone", "", nil); !strings.Contains(body, `"reason":"not-an-agent"`) {
		t.Errorf("an admin's info: %s", body)
	}
	if code, _ := agent.do(http.MethodPost, "/desk/logout", "", nil); code != http.StatusOK {
		t.Fatalf("logout: %d", code)
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if fp.closed != 1 {
		t.Errorf("logout closed %d softphone connections, want 1", fp.closed)
	}
}
