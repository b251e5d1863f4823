package desk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
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
	// Same reports whether the config's password for the user is the one
	// a bcrypt hash is of (config.SameWebPassword; nil: Hash == hash). A
	// plain password in the file is hashed anew at each load: Same tells
	// an unchanged password, so that a reload or a restart keeps the
	// user's sessions and password reset.
	Same func(hash string) bool
}

func (u *User) same(hash string) bool {
	if u.Same != nil {
		return u.Same(hash)
	}
	return u.Hash == hash
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
	token, csrf string // token only in the process that created it (the cookie)
	hash        string // what is stored: SHA-256 of the token
	user        string
	expires     time.Time
	stored      time.Time // the expiry Persist has
}

// Persist keeps sessions and password resets across restarts and reloads
// (PostgreSQL: package desk/deskpg). Sessions are stored by the SHA-256 of
// their token, never the token; the CSRF token is derived from the token.
type Persist interface {
	SaveSession(ctx context.Context, s StoredSession) error
	// Session returns the stored session of hash (false: none or expired
	// at now).
	Session(ctx context.Context, hash string, now time.Time) (StoredSession, bool, error)
	ExtendSession(ctx context.Context, hash string, expires time.Time) error
	DeleteSession(ctx context.Context, hash string) error
	DeleteUserSessions(ctx context.Context, user string) error
	SaveReset(ctx context.Context, r Reset) error
	Resets(ctx context.Context) ([]Reset, error)
	DeleteReset(ctx context.Context, user string) error
}

// StoredSession is a session as Persist keeps it. UserHash is the user's
// password hash when the session began: a session found in the store
// after a restart is valid only while the user's password is still that
// one.
type StoredSession struct {
	Hash, User, UserHash string
	Expires              time.Time
}

// Reset is a password set by a supervisor or admin. It replaces the
// config's hash as long as the config still has ConfigHash (the hash it
// had at the reset, "" for an agent without a web password); a new
// password in the config file wins over an older reset.
type Reset struct {
	User, Hash, ConfigHash string
	At                     time.Time
	By                     string
}

// sessions are the live logins: in memory, written through to Persist
// (when set) so that they survive a restart.
type sessions struct {
	mu      sync.Mutex
	m       map[string]*session // by hash
	ttl     time.Duration
	persist Persist
	log     *slog.Logger
	// valid tells whether a stored session's user still has the password
	// the session began with (Desk.validStored).
	valid func(user, userHash string) bool
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenHash is what is stored of a session token.
func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// csrfOf derives a session's CSRF token from its token (so that nothing
// but the token's hash need be stored).
func csrfOf(token string) string {
	h := sha256.Sum256([]byte("hotline desk csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

const persistTimeout = 5 * time.Second

func (s *sessions) store() Persist {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.persist
}

func (s *sessions) create(user, userHash string, now time.Time) *session {
	tok := randomToken()
	ss := &session{token: tok, csrf: csrfOf(tok), hash: tokenHash(tok), user: user, expires: now.Add(s.ttl)}
	ss.stored = ss.expires
	s.mu.Lock()
	for k, v := range s.m { // drop expired ones as we go
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[ss.hash] = ss
	s.mu.Unlock()
	if p := s.store(); p != nil {
		ctx, cancel := context.WithTimeout(context.Background(), persistTimeout)
		defer cancel()
		if err := p.SaveSession(ctx, StoredSession{Hash: ss.hash, User: user, UserHash: userHash, Expires: ss.expires}); err != nil {
			s.log.Warn("desk session not stored: it ends with this process", "user", user, "err", err)
		}
	}
	return ss
}

// extendEvery: a session's stored expiry is moved on at most this often.
const extendEvery = time.Minute

// get returns the live session of token and extends it; a session
// another process (or this one before a restart) created is read from
// Persist.
func (s *sessions) get(token string, now time.Time) *session {
	if token == "" {
		return nil
	}
	hash := tokenHash(token)
	s.mu.Lock()
	ss, ok := s.m[hash]
	p := s.persist
	s.mu.Unlock()
	if !ok && p != nil {
		ctx, cancel := context.WithTimeout(context.Background(), persistTimeout)
		st, found, err := p.Session(ctx, hash, now)
		cancel()
		if err != nil {
			s.log.Warn("desk session lookup failed", "err", err)
		}
		if !found {
			return nil
		}
		if s.valid != nil && !s.valid(st.User, st.UserHash) {
			s.persistDo(func(ctx context.Context) error { return p.DeleteSession(ctx, hash) })
			return nil
		}
		ss = &session{token: token, csrf: csrfOf(token), hash: hash, user: st.User, expires: st.Expires, stored: st.Expires}
		s.mu.Lock()
		s.m[hash] = ss
		s.mu.Unlock()
		ok = true
	}
	if !ok {
		return nil
	}
	s.mu.Lock()
	if now.After(ss.expires) {
		delete(s.m, hash)
		s.mu.Unlock()
		if p != nil {
			s.persistDo(func(ctx context.Context) error { return p.DeleteSession(ctx, hash) })
		}
		return nil
	}
	ss.expires = now.Add(s.ttl)
	exp := ss.expires
	extend := p != nil && exp.Sub(ss.stored) >= extendEvery
	if extend {
		ss.stored = exp
	}
	s.mu.Unlock()
	if extend {
		s.persistDo(func(ctx context.Context) error { return p.ExtendSession(ctx, hash, exp) })
	}
	return ss
}

func (s *sessions) persistDo(f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), persistTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		s.log.Warn("desk session store failed", "err", err)
	}
}

func (s *sessions) drop(hash string) {
	s.mu.Lock()
	delete(s.m, hash)
	p := s.persist
	s.mu.Unlock()
	if p != nil {
		s.persistDo(func(ctx context.Context) error { return p.DeleteSession(ctx, hash) })
	}
}

// dropUser ends every session of user (after a password reset).
func (s *sessions) dropUser(user string) {
	s.mu.Lock()
	for k, v := range s.m {
		if v.user == user {
			delete(s.m, k)
		}
	}
	p := s.persist
	s.mu.Unlock()
	if p != nil {
		s.persistDo(func(ctx context.Context) error { return p.DeleteUserSessions(ctx, user) })
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
