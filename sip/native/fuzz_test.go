package native

import (
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/icholy/digest"
)

// Fuzz targets for what sip/native reads from the network: SDP bodies of
// INVITEs, re-INVITEs and 200s, SIP INFO DTMF bodies and digest
// Authorization headers. Seeds are in testdata/fuzz/<target>; see
// docs/fuzzing.md.

// FuzzParseSDP checks parseSDP, which reads every offer and answer. An
// accepted body must describe a usable audio stream (a unicast port, G.711
// only, payload types within 0..127, a known direction), and what
// buildSDP writes from it must parse back to the same thing.
func FuzzParseSDP(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		rm, err := parseSDP(body)
		if err != nil {
			if !errors.Is(err, errNoCommonCodec) && !strings.HasPrefix(err.Error(), "bad SDP") {
				t.Fatalf("error %q does not say the SDP is bad", err)
			}
			return
		}
		checkRemoteMedia(t, rm)
		ours := buildSDP(rm.Addr, rm.Codecs, rm.DTMFPT, rm.Dir, rm.Crypto)
		back, err := parseSDP(ours)
		if err != nil {
			t.Fatalf("our own SDP does not parse: %v\n%s", err, ours)
		}
		if !reflect.DeepEqual(back, rm) {
			t.Fatalf("round trip changed the media:\n got %+v\nwant %+v\nvia\n%s", back, rm, ours)
		}
	})
}

// checkRemoteMedia asserts what parseSDP promises about an accepted body.
func checkRemoteMedia(t *testing.T, rm remoteMedia) {
	t.Helper()
	if !rm.Addr.IsValid() || rm.Addr.Port() == 0 {
		t.Fatalf("accepted without a usable address: %v", rm.Addr)
	}
	if len(rm.Codecs) == 0 {
		t.Fatal("accepted without a codec")
	}
	for _, c := range rm.Codecs {
		if (c.Name != "PCMU" && c.Name != "PCMA") || c.PT > 127 {
			t.Fatalf("codec %+v: want PCMU or PCMA on a payload type 0..127", c)
		}
	}
	if rm.DTMFPT > 127 {
		t.Fatalf("telephone-event payload type %d out of 0..127", rm.DTMFPT)
	}
	switch rm.Dir {
	case "sendrecv", "sendonly", "recvonly", "inactive":
	default:
		t.Fatalf("direction %q", rm.Dir)
	}
	if hold := rm.Dir == "sendonly" || rm.Dir == "inactive" || rm.Addr.Addr().IsUnspecified(); hold != rm.Hold {
		t.Fatalf("Hold = %v for direction %s at %v", rm.Hold, rm.Dir, rm.Addr)
	}
}

// infoDigits are the digits SIP INFO may carry, as parseInfoDTMF returns
// them.
const infoDigits = "0123456789*#ABCD"

// FuzzParseInfoDTMF checks parseInfoDTMF. The content type is lower-cased
// and trimmed as onInfo does. An accepted body gives one digit of
// infoDigits, only for the two DTMF media types, and formatting that digit
// in either type parses back to it.
func FuzzParseInfoDTMF(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Add("application/dtmf", []byte("#"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		ct = strings.ToLower(strings.TrimSpace(ct))
		d, ok := parseInfoDTMF(ct, body)
		if !ok {
			if d != 0 {
				t.Fatalf("refused body gave digit %q", d)
			}
			return
		}
		if !strings.ContainsRune(infoDigits, d) {
			t.Fatalf("digit %q not one of %s", d, infoDigits)
		}
		mt, _, _ := strings.Cut(ct, ";")
		if mt = strings.TrimSpace(mt); mt != "application/dtmf-relay" && mt != "application/dtmf" {
			t.Fatalf("accepted content type %q", ct)
		}
		for _, tc := range []struct{ ct, body string }{
			{"application/dtmf-relay", "Signal=" + string(d) + "\r\nDuration=160\r\n"},
			{"application/dtmf-relay; charset=utf-8", "signal = " + strings.ToLower(string(d)) + "\n"},
			{"application/dtmf", string(d)},
		} {
			if got, ok := parseInfoDTMF(tc.ct, []byte(tc.body)); !ok || got != d {
				t.Fatalf("%s %q: got %q %v, want %q", tc.ct, tc.body, got, ok, d)
			}
		}
	})
}

// Fuzzing the digest verifier needs nonces it accepts: fuzzAuthenticator
// has a fixed key, clock and sequence, so fuzzNonce (the first nonce it
// issues to fuzzSrc) is a constant the seed corpus can use in valid
// headers.
var (
	fuzzNow   = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	fuzzCreds = StaticCredentials{"1001": "secret", "agent-2": "pässword"}
	fuzzSrc   = netip.MustParseAddr("192.0.2.10")
	fuzzOther = netip.MustParseAddr("192.0.2.66")
)

func fuzzAuthenticator(algs []string, now *time.Time) *authenticator {
	a := &authenticator{realm: "hotline", algs: algs,
		creds: func() Credentials { return fuzzCreds }, now: func() time.Time { return *now }}
	copy(a.key[:], "hotline fuzz key, not a secret..")
	return a
}

// fuzzNonce is what fuzzAuthenticator issues first at fuzzNow to fuzzSrc.
const fuzzNonce = "GOpcOK_sgAAAAAAAAAAAAYdhWZo6qud-YAyi9XE4MLX0ZCJAcwwR7Q"

func TestFuzzNonce(t *testing.T) {
	now := fuzzNow
	if got := fuzzAuthenticator(nil, &now).nonce(fuzzSrc); got != fuzzNonce {
		t.Fatalf("fuzzNonce = %q, want %q (update it and the seeds of FuzzVerifyDigest)", fuzzNonce, got)
	}
}

// FuzzVerifyDigest checks authenticator.verify on any Authorization value.
// Every outcome is one of its errors or a known user; an acceptance only
// for a challenge we could have issued (offered algorithm, qop auth or
// none), and the same header is refused as stale when it comes again (a
// replay), from another address, or after the nonce expired. From any
// header that parses it also builds the correct answer to our challenge
// with the header's URI, cnonce, nc, qop and algorithm, which must be
// accepted exactly when we offered them, and refused with a wrong
// password.
func FuzzVerifyDigest(f *testing.F) {
	f.Add(`Digest username="1001", realm="hotline", nonce="`+fuzzNonce+`", uri="sip:127.0.0.1", response="0", algorithm=MD5`, "REGISTER")
	f.Fuzz(func(t *testing.T, header, method string) {
		for _, algs := range [][]string{{"SHA-256", "MD5"}, {"MD5"}} {
			now := fuzzNow
			a := fuzzAuthenticator(algs, &now)
			a.nonce(fuzzSrc) // fuzzNonce is issued
			r, err := a.verify(header, method, fuzzSrc)
			switch {
			case err == nil:
				if _, known := fuzzCreds[r.User]; !known {
					t.Fatalf("accepted unknown user %q", r.User)
				}
				c, perr := digest.ParseCredentials(header)
				if perr != nil || c.Username != r.User {
					t.Fatalf("accepted %q for a header that does not name them", r.User)
				}
				if !offered(algs, c.Algorithm) || (c.QOP != "" && c.QOP != "auth") {
					t.Fatalf("algs %v: accepted algorithm %q qop %q", algs, c.Algorithm, c.QOP)
				}
				if !r.First {
					t.Fatal("the first acceptance of a nonce is not First")
				}
				for _, again := range []struct {
					name string
					src  netip.Addr
					wait time.Duration
				}{{"replayed", fuzzSrc, 0}, {"from another address", fuzzOther, 0}, {"after the nonce TTL", fuzzSrc, nonceTTL}} {
					now = fuzzNow.Add(again.wait)
					if _, err := a.verify(header, method, again.src); err != errStaleNonce {
						t.Fatalf("%s: err = %v, want errStaleNonce", again.name, err)
					}
				}
			case header == "" && err != errNoCredentials:
				t.Fatalf("no header: err = %v", err)
			case err != errNoCredentials && err != errBadCredentials && err != errStaleNonce:
				t.Fatalf("unexpected error %v", err)
			}
			if err != nil && r.First {
				t.Fatalf("First with error %v", err)
			}
			now = fuzzNow
			answerOurChallenge(t, a, header, method)
		}
	})
}

// offered reports whether alg (empty means MD5) is one of algs.
func offered(algs []string, alg string) bool {
	if alg == "" {
		alg = "MD5"
	}
	for _, a := range algs {
		if strings.EqualFold(a, alg) {
			return true
		}
	}
	return false
}

// answerOurChallenge answers a's current challenge the way a phone would,
// with the fields of header, and checks verify's verdict on it.
func answerOurChallenge(t *testing.T, a *authenticator, header, method string) {
	t.Helper()
	c, err := digest.ParseCredentials(header)
	if err != nil || !quotable(c.URI, c.Cnonce, c.Opaque, c.QOP, c.Algorithm) {
		return // the header format cannot carry these (digest quotes with strconv.Quote)
	}
	if strings.ContainsAny(c.Algorithm+c.QOP, " ,\"") {
		return // unquoted parameters: a phone could not send these either
	}
	chal := &digest.Challenge{Realm: a.realm, Nonce: a.nonce(fuzzSrc), Algorithm: c.Algorithm, Opaque: c.Opaque}
	if c.QOP != "" {
		chal.QOP = []string{c.QOP}
	}
	if c.QOP != "" && c.Cnonce == "" {
		return // digest would invent a random cnonce
	}
	for _, tc := range []struct {
		pass string
		ok   bool
	}{{"secret", true}, {"wrong", false}} {
		ans, err := digest.Digest(chal, digest.Options{Method: method, URI: c.URI, Username: "1001", Password: tc.pass, Cnonce: c.Cnonce, Count: c.Nc})
		if err != nil {
			return // an algorithm or qop digest cannot compute
		}
		want := tc.ok && offered(a.algs, c.Algorithm) && (c.QOP == "" || c.QOP == "auth")
		r, err := a.verify(ans.String(), method, fuzzSrc)
		if (err == nil) != want || (err == nil && r.User != "1001") || (err != nil && err != errBadCredentials) {
			t.Fatalf("algs %v: answer %s with password %q: user %q err %v, want accepted=%v", a.algs, ans, tc.pass, r.User, err, want)
		}
	}
}

// quotable reports whether every s survives digest's strconv.Quote and its
// parser's simpler unquoting.
func quotable(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
		for _, r := range s {
			if !strconv.IsPrint(r) {
				return false
			}
		}
	}
	return true
}
