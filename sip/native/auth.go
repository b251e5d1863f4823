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
	"sync/atomic"
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
// verifies responses.
//
// A nonce is signed, not stored: issue time, a sequence number, a MAC of
// both with a per-process key, and a second MAC that also covers the
// address it was issued to. Nothing is kept for a challenge, so a flood of
// unauthenticated requests costs no memory. What is kept is the use of
// each nonce that answered correctly (used): the highest nonce count (nc)
// accepted with it, so a captured Authorization header cannot be replayed
// (RFC 7616 §3.4: the same nc twice, or a lower one, is a replay), and a
// nonce answered without qop (no nc) is good once. A replayed, expired or
// moved (answered from another address than it was issued to) nonce with
// a correct response is "stale": the phone is challenged again with
// stale=true and answers without asking its user (RFC 7616 §3.3).
type authenticator struct {
	realm string
	algs  []string
	key   [32]byte
	creds func() Credentials
	now   func() time.Time
	seq   atomic.Uint64

	mu   sync.Mutex
	used map[string]nonceUse // by nonce, only nonces that answered correctly
}

// nonceUse is what was accepted with one nonce.
type nonceUse struct {
	nc      int       // the highest nonce count accepted (0: answered without qop)
	expires time.Time // when the nonce itself expires; the entry goes then
}

const (
	nonceTTL = 5 * time.Minute
	// maxUsedNonces bounds the table of used nonces. Entries are only
	// made by correct answers and live nonceTTL, so this is reached only
	// with thousands of phones re-registering every few seconds; past it,
	// the oldest half is dropped and their phones are re-challenged.
	maxUsedNonces = 200000
	nonceLen      = 8 + 8 + 16 + 8 // issued, sequence, MAC, source MAC
)

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

// nonce issues a nonce for a request from src.
func (a *authenticator) nonce(src netip.Addr) string {
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(a.now().UnixNano()))
	binary.BigEndian.PutUint64(b[8:16], a.seq.Add(1))
	copy(b[16:32], a.mac('n', b[:16], netip.Addr{})[:16])
	copy(b[32:], a.mac('s', b[:16], src)[:8])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *authenticator) mac(kind byte, stamp []byte, src netip.Addr) []byte {
	m := hmac.New(sha256.New, a.key[:])
	m.Write([]byte{kind})
	m.Write(stamp)
	if src.IsValid() {
		ip := src.Unmap().As16()
		m.Write(ip[:])
	}
	return m.Sum(nil)
}

// nonceState is what a nonce says about itself.
type nonceState struct {
	ours  bool // issued by this process
	fresh bool // issued less than nonceTTL ago
	here  bool // issued to the address the answer came from
	until time.Time
}

func (a *authenticator) checkNonce(nonce string, src netip.Addr) nonceState {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceLen {
		return nonceState{}
	}
	if !hmac.Equal(a.mac('n', b[:16], netip.Addr{})[:16], b[16:32]) {
		return nonceState{}
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	return nonceState{
		ours:  true,
		fresh: a.now().Sub(issued) < nonceTTL,
		here:  hmac.Equal(a.mac('s', b[:16], src)[:8], b[32:]),
		until: issued.Add(nonceTTL),
	}
}

// use records an accepted answer with nonce and count nc (0 without qop).
// It reports whether the nonce had not answered before (first), and
// refuses (ok false) a count that is not above every earlier one.
func (a *authenticator) use(nonce string, nc int, qop bool, until time.Time) (first, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used == nil {
		a.used = map[string]nonceUse{}
	}
	u, seen := a.used[nonce]
	if seen && (!qop || nc <= u.nc) {
		return false, false
	}
	if !seen && len(a.used) >= maxUsedNonces {
		a.gcLocked()
	}
	a.used[nonce] = nonceUse{nc: nc, expires: until}
	return !seen, true
}

// gcLocked drops expired entries, and the older half if that is not enough.
func (a *authenticator) gcLocked() {
	now := a.now()
	for n, u := range a.used {
		if !now.Before(u.expires) {
			delete(a.used, n)
		}
	}
	if len(a.used) < maxUsedNonces {
		return
	}
	cut := now.Add(nonceTTL / 2)
	for n, u := range a.used {
		if u.expires.Before(cut) {
			delete(a.used, n)
		}
	}
}

// challenges returns WWW-Authenticate values, one per configured algorithm
// in order of preference (RFC 8760: SHA-256 first, then MD5, by default).
func (a *authenticator) challenges(stale bool, src netip.Addr) []string {
	n := a.nonce(src)
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

// authResult is what verify learned from an Authorization header.
type authResult struct {
	// User is the username the header names, whatever the verdict (empty
	// when it does not parse): failures are counted per user too.
	User string
	// First is true when this answer is the first accepted with its nonce
	// (a fresh authentication, not a repeat of an earlier challenge).
	First bool
}

// verify checks an Authorization header value for method, sent from src.
// Unknown users and wrong passwords both give errBadCredentials, after the
// same work, so neither can be told apart. A correct answer with a nonce
// that expired, was issued to another address or was already used with
// this nonce count gives errStaleNonce.
func (a *authenticator) verify(header, method string, src netip.Addr) (authResult, error) {
	if header == "" {
		return authResult{}, errNoCredentials
	}
	cred, err := digest.ParseCredentials(header)
	if err != nil {
		return authResult{}, errBadCredentials
	}
	res := authResult{User: cred.Username}
	if !strings.EqualFold(cred.Realm, a.realm) {
		return res, errBadCredentials
	}
	// Only answers to a challenge we issue: one of the configured
	// algorithms and qop "auth" (or none, RFC 2069). digest.Digest computes
	// a response for whatever the header names, so without this an answer
	// with MD5 passed where only SHA-256 is configured, and one with
	// auth-int passed without its body being checked (FuzzVerifyDigest).
	if !a.offers(cred.Algorithm) || (cred.QOP != "" && cred.QOP != "auth") {
		return res, errBadCredentials
	}
	ns := a.checkNonce(cred.Nonce, src)
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
		return res, errBadCredentials
	}
	if subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) != 1 || !known {
		return res, errBadCredentials
	}
	// The password is right; is this a fresh answer to a challenge issued
	// to this address? A nonce that is not ours (issued before a restart:
	// the key is per process) is stale too, so phones whose registrations
	// were restored re-authenticate silently instead of being refused.
	if !ns.ours || !ns.fresh || !ns.here {
		return res, errStaleNonce
	}
	nc := cred.Nc
	if cred.QOP != "" && nc == 0 {
		nc = 1 // what digest.Digest computed the response with
	}
	first, ok := a.use(cred.Nonce, nc, cred.QOP != "", ns.until)
	if !ok {
		return res, errStaleNonce // a replay
	}
	res.First = first
	return res, nil
}
