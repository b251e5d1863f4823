package native

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/icholy/digest"
)

// Credentials looks up an agent's SIP password. It is consulted on every
// authentication, so a config reload takes effect at once.
type Credentials interface {
	Password(user string) (string, bool)
}

// StaticCredentials is a fixed user → password map.
type StaticCredentials map[string]string

// Password returns the user's password.
func (s StaticCredentials) Password(user string) (string, bool) {
	p, ok := s[user]
	return p, ok
}

// authenticator issues digest challenges (SHA-256 and MD5, RFC 8760) and
// verifies responses. Nonces are stateless: a timestamp signed with a
// per-process key, valid for nonceTTL.
type authenticator struct {
	realm string
	algs  []string
	key   [32]byte
	creds func() Credentials
	now   func() time.Time
}

const nonceTTL = 5 * time.Minute

var (
	errNoCredentials  = errors.New("no credentials")
	errBadCredentials = errors.New("bad credentials")
	errStaleNonce     = errors.New("stale nonce")
)

func newAuthenticator(realm string, algs []string, creds func() Credentials, now func() time.Time) *authenticator {
	if len(algs) == 0 {
		algs = []string{"SHA-256", "MD5"}
	}
	a := &authenticator{realm: realm, algs: algs, creds: creds, now: now}
	_, _ = rand.Read(a.key[:])
	return a
}

func (a *authenticator) nonce() string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(a.now().UnixNano()))
	m := hmac.New(sha256.New, a.key[:])
	m.Write(b[:8])
	copy(b[8:], m.Sum(nil)[:16])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkNonce reports whether nonce is ours and still fresh.
func (a *authenticator) checkNonce(nonce string) (ours, fresh bool) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return false, false
	}
	m := hmac.New(sha256.New, a.key[:])
	m.Write(b[:8])
	if !hmac.Equal(m.Sum(nil)[:16], b[8:]) {
		return false, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	return true, a.now().Sub(issued) < nonceTTL
}

// challenges returns WWW-Authenticate values, one per configured algorithm
// in order of preference (RFC 8760: SHA-256 first, then MD5, by default).
func (a *authenticator) challenges(stale bool) []string {
	n := a.nonce()
	out := make([]string, 0, len(a.algs))
	for _, alg := range a.algs {
		c := digest.Challenge{Realm: a.realm, Nonce: n, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		out = append(out, c.String())
	}
	return out
}

// offers reports whether alg is one of the challenged algorithms; a
// response naming none is MD5 (RFC 2617 §3.2.1).
func (a *authenticator) offers(alg string) bool {
	if alg == "" {
		alg = "MD5"
	}
	for _, o := range a.algs {
		if strings.EqualFold(o, alg) {
			return true
		}
	}
	return false
}

// verify checks an Authorization header value for method. It returns the
// authenticated user. Unknown users and wrong passwords both give
// errBadCredentials, after the same work, so neither can be told apart.
func (a *authenticator) verify(header, method string) (string, error) {
	if header == "" {
		return "", errNoCredentials
	}
	cred, err := digest.ParseCredentials(header)
	if err != nil {
		return "", errBadCredentials
	}
	if !strings.EqualFold(cred.Realm, a.realm) {
		return "", errBadCredentials
	}
	// Only answers to a challenge we issue: one of the configured
	// algorithms and qop "auth" (or none, RFC 2069). digest.Digest computes
	// a response for whatever the header names, so without this an answer
	// with MD5 passed where only SHA-256 is configured, and one with
	// auth-int passed without its body being checked (FuzzVerifyDigest).
	if !a.offers(cred.Algorithm) || (cred.QOP != "" && cred.QOP != "auth") {
		return "", errBadCredentials
	}
	ours, fresh := a.checkNonce(cred.Nonce)
	if !ours {
		return "", errBadCredentials
	}
	pass, known := a.creds().Password(cred.Username)
	if !known {
		pass = "\x00unknown-user\x00" // same computation as for a known user
	}
	chal := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, Opaque: cred.Opaque}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	want, err := digest.Digest(chal, digest.Options{
		Method: method, URI: cred.URI, Username: cred.Username, Password: pass,
		Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	if err != nil {
		return "", errBadCredentials
	}
	if subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) != 1 || !known {
		return "", errBadCredentials
	}
	if !fresh {
		return "", errStaleNonce
	}
	return cred.Username, nil
}

// lockout refuses a source address after too many authentication failures
// within a window.
type lockout struct {
	mu      sync.Mutex
	limit   int
	window  time.Duration
	banFor  time.Duration
	now     func() time.Time
	sources map[netip.Addr]*failures
}

type failures struct {
	times       []time.Time
	bannedUntil time.Time
}

func newLockout(limit int, window, banFor time.Duration, now func() time.Time) *lockout {
	return &lockout{limit: limit, window: window, banFor: banFor, now: now, sources: map[netip.Addr]*failures{}}
}

// banned reports whether addr is refused now.
func (l *lockout) banned(addr netip.Addr) bool {
	if l.limit <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.sources[addr]
	return f != nil && l.now().Before(f.bannedUntil)
}

// fail records a failure and reports whether addr is now banned.
func (l *lockout) fail(addr netip.Addr) bool {
	if l.limit <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.sources[addr]
	if f == nil {
		if len(l.sources) > 100000 { // bound memory under a spray of sources
			l.gcLocked(now)
		}
		f = &failures{}
		l.sources[addr] = f
	}
	keep := f.times[:0]
	for _, t := range f.times {
		if now.Sub(t) < l.window {
			keep = append(keep, t)
		}
	}
	f.times = append(keep, now)
	if len(f.times) >= l.limit {
		f.bannedUntil = now.Add(l.banFor)
		f.times = f.times[:0]
		return true
	}
	return false
}

// succeed clears addr's failures.
func (l *lockout) succeed(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.sources[addr]; f != nil && !l.now().Before(f.bannedUntil) {
		delete(l.sources, addr)
	}
}

func (l *lockout) gcLocked(now time.Time) {
	for a, f := range l.sources {
		if now.After(f.bannedUntil) && (len(f.times) == 0 || now.Sub(f.times[len(f.times)-1]) > l.window) {
			delete(l.sources, a)
		}
	}
}
