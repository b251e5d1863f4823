package desk

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// memPersist is Persist in memory, shared by two Desks as PostgreSQL is
// by two processes.
type memPersist struct {
	mu     sync.Mutex
	ss     map[string]StoredSession
	resets map[string]Reset
}

func (m *memPersist) SaveSession(_ context.Context, s StoredSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ss[s.Hash] = s
	return nil
}

func (m *memPersist) Session(_ context.Context, hash string, now time.Time) (StoredSession, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.ss[hash]
	return s, ok && s.Expires.After(now), nil
}

func (m *memPersist) ExtendSession(_ context.Context, hash string, exp time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.ss[hash]; ok && s.Expires.Before(exp) {
		s.Expires = exp
		m.ss[hash] = s
	}
	return nil
}

func (m *memPersist) DeleteSession(_ context.Context, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.ss, hash)
	return nil
}

func (m *memPersist) DeleteUserSessions(_ context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, s := range m.ss {
		if s.User == user {
			delete(m.ss, k)
		}
	}
	return nil
}

func (m *memPersist) SaveReset(_ context.Context, r Reset) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resets[r.User] = r
	return nil
}

func (m *memPersist) Resets(context.Context) ([]Reset, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Reset
	for _, r := range m.resets {
		out = append(out, r)
	}
	return out, nil
}

func (m *memPersist) DeleteReset(_ context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.resets, user)
	return nil
}

// TestSessionSlidesInStore: a session used now and then stays alive in the
// store past its first expiry (the stored expiry follows use, at most once a
// minute), so the next process (a new Desk on the same store) takes it with
// the same CSRF token; unused for the TTL, it ends there too.
func TestSessionSlidesInStore(t *testing.T) {
	p := &memPersist{ss: map[string]StoredSession{}, resets: map[string]Reset{}}
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	users := []User{{ID: "a1", Role: RoleAgent, Hash: hash(t, "pw-a1")}}
	newDesk := func() (*Desk, *httptest.Server) {
		d, err := New(Config{Users: users, Agents: []Agent{{ID: "a1"}}, Publisher: &recorder{}, SessionTTL: time.Hour,
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Restore(context.Background(), p, users); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(d.Handler())
		t.Cleanup(srv.Close)
		return d, srv
	}
	_, srv1 := newDesk()
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, base: srv1.URL, hc: &http.Client{Jar: jar}}
	if code := c.login("a1", "pw-a1"); code != 200 {
		t.Fatalf("login: %d", code)
	}
	csrf := c.csrf
	// Used every 10 minutes for 3 hours: well past the 1 h TTL.
	for i := 0; i < 18; i++ {
		now = now.Add(10 * time.Minute)
		if code, _ := c.do("GET", "/desk/api/session", "", nil); code != 200 {
			t.Fatalf("after %d min: %d", (i+1)*10, code)
		}
	}
	// A restart: a new desk on the same store, same cookie.
	_, srv2 := newDesk()
	c2 := &client{t: t, base: srv2.URL, hc: &http.Client{Jar: jar}}
	jar.SetCookies(mustParse(t, srv2.URL), jar.Cookies(mustParse(t, srv1.URL)))
	now = now.Add(30 * time.Minute)
	code, body := c2.do("GET", "/desk/api/session", "", nil)
	if code != 200 {
		t.Fatalf("the next process: %d (the stored expiry did not follow use)", code)
	}
	if !contains(body, csrf) {
		t.Errorf("the next process's CSRF token differs: %s", body)
	}
	// Unused for more than the TTL: ended in the store too.
	now = now.Add(61 * time.Minute)
	_, srv3 := newDesk()
	jar.SetCookies(mustParse(t, srv3.URL), jar.Cookies(mustParse(t, srv1.URL)))
	c3 := &client{t: t, base: srv3.URL, hc: &http.Client{Jar: jar}}
	if code, _ := c3.do("GET", "/desk/api/session", "", nil); code != 401 {
		t.Errorf("unused past the TTL: %d, want 401", code)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
