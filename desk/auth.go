package desk

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Roles.
const (
	RoleAgent      = "agent"
	RoleSupervisor = "supervisor"
	RoleAdmin      = "admin"
)

// User is someone who may log in to the desk.
type User struct {
	ID, Name string
	Role     string // RoleAgent, RoleSupervisor or RoleAdmin
	// Hash is the bcrypt hash of the password ("" for an agent without a
	// web password: no login).
	Hash string
	// Teams and Queues: what a supervisor oversees.
	Teams, Queues []string
}

// Agent is what the desk knows of an agent beyond its login.
type Agent struct {
	ID, Name, Team string
	Line           int
	Wrapup         time.Duration
}

// Lockout refuses a user name, and separately a source address, for Ban
// after Failures failed logins within Window.
type Lockout struct {
	Failures    int
	Window, Ban time.Duration
}

// principal is who makes a request.
type principal struct {
	user    *User
	machine bool // the bearer token (admin scope)
	sess    *session
}

func (p principal) id() string {
	if p.machine {
		return "api-token"
	}
	return p.user.ID
}

func (p principal) role() string {
	if p.machine {
		return RoleAdmin
	}
	return p.user.Role
}

type session struct {
	token, csrf string
	user        string
	expires     time.Time
}

// sessions are the live logins, in memory (a restart logs everybody out).
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) create(user string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m { // drop expired ones as we go
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	ss := &session{token: randomToken(), csrf: randomToken(), user: user, expires: now.Add(s.ttl)}
	s.m[ss.token] = ss
	return ss
}

// get returns the live session of token and extends it.
func (s *sessions) get(token string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[token]
	if !ok {
		return nil
	}
	if now.After(ss.expires) {
		delete(s.m, token)
		return nil
	}
	ss.expires = now.Add(s.ttl)
	return ss
}

func (s *sessions) drop(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, token)
}

// dropUser ends every session of user (after a password reset).
func (s *sessions) dropUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if v.user == user {
			delete(s.m, k)
		}
	}
}

// limiter counts failed logins per key ("user:NAME", "src:IP").
type limiter struct {
	mu   sync.Mutex
	cfg  Lockout
	fail map[string][]time.Time
	ban  map[string]time.Time
}

// banned returns until when key is refused (zero: not).
func (l *limiter) banned(key string, now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until, ok := l.ban[key]; ok {
		if now.Before(until) {
			return until
		}
		delete(l.ban, key)
	}
	return time.Time{}
}

func (l *limiter) failed(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fs := slices.DeleteFunc(l.fail[key], func(t time.Time) bool { return now.Sub(t) > l.cfg.Window })
	fs = append(fs, now)
	if len(fs) >= l.cfg.Failures {
		l.ban[key] = now.Add(l.cfg.Ban)
		fs = nil
	}
	if len(fs) == 0 {
		delete(l.fail, key)
		return
	}
	l.fail[key] = fs
}

func (l *limiter) succeeded(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fail, key)
}

// dummyHash is compared against when the user is unknown, so that an
// unknown name takes as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("hotline-no-such-user"), bcrypt.DefaultCost)

// checkPassword reports whether password matches hash (constant work when
// hash is "").
func checkPassword(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
