package native

import (
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

func TestRedactHidesNumbersAndAuth(t *testing.T) {
	msg := "INVITE sip:88001234567@1.2.3.4 SIP/2.0\r\nFrom: <sip:79123456789@1.2.3.5>\r\nAuthorization: Digest username=\"a1\", response=\"abc\"\r\n"
	got := redact(msg)
	for _, leak := range []string{"79123456789", "88001234567", "response=\"abc\""} {
		if strings.Contains(got, leak) {
			t.Errorf("redacted text still holds %q:\n%s", leak, got)
		}
	}
	if !strings.Contains(got, "6789") || !strings.Contains(got, "[redacted]") {
		t.Errorf("redacted text lost its shape:\n%s", got)
	}
}

func TestDigestVerify(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a := newAuthenticator("hotline", nil, func() Credentials { return StaticCredentials{"a1": "secret"} }, clock)
	phone := netip.MustParseAddr("192.0.2.10")
	chals := a.challenges(false, phone)
	if len(chals) != 2 || !strings.Contains(chals[0], "SHA-256") || !strings.Contains(chals[1], "MD5") {
		t.Fatalf("challenges = %v, want SHA-256 then MD5", chals)
	}
	answer := func(chal, user, pass string) string {
		c, err := digest.ParseChallenge(chal)
		if err != nil {
			t.Fatal(err)
		}
		cred, err := digest.Digest(c, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: user, Password: pass})
		if err != nil {
			t.Fatal(err)
		}
		return cred.String()
	}
	for _, tc := range []struct {
		name       string
		chal       int
		user, pass string
		method     string
		advance    time.Duration
		wantErr    error
	}{
		{"sha256 ok", 0, "a1", "secret", "REGISTER", 0, nil},
		{"md5 ok", 1, "a1", "secret", "REGISTER", 0, nil},
		{"wrong password", 0, "a1", "nope", "REGISTER", 0, errBadCredentials},
		{"unknown user gets the same error", 0, "zz", "secret", "REGISTER", 0, errBadCredentials},
		{"method mismatch", 0, "a1", "secret", "INVITE", 0, errBadCredentials},
		{"stale nonce", 1, "a1", "secret", "REGISTER", nonceTTL + time.Second, errStaleNonce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
			h := answer(a.challenges(false, phone)[tc.chal], tc.user, tc.pass)
			now = now.Add(tc.advance)
			r, err := a.verify(h, tc.method, phone)
			if err != tc.wantErr {
				t.Fatalf("verify err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (r.User != tc.user || !r.First) {
				t.Fatalf("result = %+v", r)
			}
		})
	}
	if _, err := a.verify("", "REGISTER", phone); err != errNoCredentials {
		t.Fatalf("no header: %v", err)
	}
	forged := strings.Replace(answer(chals[0], "a1", "secret"), "nonce=\"", "nonce=\"x", 1)
	if _, err := a.verify(forged, "REGISTER", phone); err != errBadCredentials {
		t.Fatalf("forged nonce: %v", err)
	}
}

// TestDigestVerifyOnlyWhatWasOffered: a correct response is refused when it
// names an algorithm or qop hotline did not challenge with.
func TestDigestVerifyOnlyWhatWasOffered(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	creds := func() Credentials { return StaticCredentials{"a1": "secret"} }
	for _, tc := range []struct {
		name    string
		algs    []string
		alg     string
		qop     []string
		wantErr error
	}{
		{"offered SHA-256", []string{"SHA-256"}, "SHA-256", []string{"auth"}, nil},
		{"MD5 when only SHA-256 is offered", []string{"SHA-256"}, "MD5", []string{"auth"}, errBadCredentials},
		{"no algorithm means MD5", []string{"SHA-256"}, "", []string{"auth"}, errBadCredentials},
		{"no algorithm, MD5 offered", []string{"MD5"}, "", nil, nil},
		{"lower-case name", []string{"MD5"}, "md5", []string{"auth"}, nil},
		{"SHA-512 never offered", nil, "SHA-512", []string{"auth"}, errBadCredentials},
		{"qop auth-int never offered", nil, "SHA-256", []string{"auth-int"}, errBadCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthenticator("hotline", tc.algs, creds, func() time.Time { return now })
			src := netip.MustParseAddr("192.0.2.10")
			chal := &digest.Challenge{Realm: "hotline", Nonce: a.nonce(src), Algorithm: tc.alg, QOP: tc.qop}
			cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: "a1", Password: "secret"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.verify(cred.String(), "REGISTER", src); err != tc.wantErr {
				t.Fatalf("verify err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestParseSDP(t *testing.T) {
	offer := "v=0\r\no=x 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	rm, err := parseSDP([]byte(offer))
	if err != nil {
		t.Fatal(err)
	}
	if rm.Codecs[0].Name != "PCMA" || rm.DTMFPT != 101 || rm.Addr.String() != "127.0.0.2:6000" || rm.Hold {
		t.Fatalf("parsed %+v", rm)
	}
	hold := strings.Replace(offer, "t=0 0\r\n", "t=0 0\r\na=sendonly\r\n", 1)
	if rm, _ := parseSDP([]byte(hold)); !rm.Hold || answerDir(rm.Dir) != "recvonly" {
		t.Fatalf("hold not seen: %+v", rm)
	}
	g729 := strings.Replace(strings.Replace(offer, "8 0 101", "18 101", 1), "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:18 G729/8000\r\n", 1)
	if _, err := parseSDP([]byte(g729)); err != errNoCommonCodec {
		t.Fatalf("G.729-only offer: err = %v, want errNoCommonCodec", err)
	}
	if _, err := parseSDP([]byte("garbage")); err == nil {
		t.Fatal("garbage SDP accepted")
	}
	ours := string(buildSDP(netip.MustParseAddrPort("127.0.0.1:20000"), nil, 101, "sendrecv", nil))
	if !strings.Contains(ours, "m=audio 20000 RTP/AVP 101") {
		t.Fatalf("built SDP: %s", ours)
	}
	// The o= session id must fit int64: strict peers answer 488 otherwise.
	back, err := parseSDP(buildSDP(netip.MustParseAddrPort("127.0.0.1:20000"), nil, 0, "", nil))
	_ = back
	if err == nil {
		t.Fatal("an SDP with no codec must not parse as usable")
	}
}

func TestParseInfoDTMF(t *testing.T) {
	for _, tc := range []struct {
		ct, body string
		want     rune
		ok       bool
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', true},
		{"application/dtmf-relay", "Signal= #\r\n", '#', true},
		{"application/dtmf-relay", "Signal=10\r\n", '*', true},
		{"application/dtmf", "9", '9', true},
		{"application/dtmf", "x", 0, false},
		{"text/plain", "5", 0, false},
		{"application/dtmf-relay; charset=utf-8", "Signal=7\r\n", '7', true},
		{"application/dtmf-relayx", "Signal=5\r\n", 0, false},
		{"application/dtmfoo", "5", 0, false},
	} {
		got, ok := parseInfoDTMF(tc.ct, []byte(tc.body))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s %q: got %q %v, want %q %v", tc.ct, tc.body, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseAllow(t *testing.T) {
	for _, tc := range []struct {
		in      string
		src     string
		matches bool
	}{
		{"127.0.0.2", "127.0.0.2:5070", true},
		{"127.0.0.2", "127.0.0.3:5070", false},
		{"10.0.0.0/8", "10.1.2.3:5060", true},
		{"127.0.0.2:5070", "127.0.0.2:5070", true},
		{"127.0.0.2:5070", "127.0.0.2:5071", false},
	} {
		r, err := parseAllow(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		ap := netip.MustParseAddrPort(tc.src)
		got := r.prefix.Contains(ap.Addr()) && (r.port == 0 || r.port == ap.Port())
		if got != tc.matches {
			t.Errorf("allow %q vs %s = %v", tc.in, tc.src, got)
		}
	}
	if _, err := parseAllow("not-an-address"); err == nil {
		t.Error("bad allow entry accepted")
	}
}

func TestRedactRawMessageData(t *testing.T) {
	var out strings.Builder
	log := slog.New(redactHandler{slog.NewTextHandler(&out, nil)})
	raw := "REGISTER sip:127.0.0.1 SIP/2.0\r\nFrom: <sip:79123456789@x>\r\nX-Broken: password=hunter2\r\n\r\n"
	log.Error("failed to parse", "data", raw)
	got := out.String()
	if strings.Contains(got, "hunter2") || strings.Contains(got, "79123456789") || strings.Contains(got, "REGISTER") || !strings.Contains(got, "bytes, not logged") {
		t.Fatalf("raw message not reduced to its size: %s", got)
	}
}

// TestListenPair: a fixed port held on TCP is an error that says so; port
// 0 always ends with UDP and TCP on one port.
func TestListenPair(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	port := strconv.Itoa(held.Addr().(*net.TCPAddr).Port)
	if _, _, _, err := listenPair("127.0.0.1", port); err == nil || !strings.Contains(err.Error(), "must be free on TCP too") {
		t.Fatalf("listenPair on a TCP-held port: err = %v", err)
	}
	for range 20 {
		udp, tcp, p, err := listenPair("127.0.0.1", "0")
		if err != nil {
			t.Fatal(err)
		}
		if udp.LocalAddr().(*net.UDPAddr).Port != p || tcp.Addr().(*net.TCPAddr).Port != p {
			t.Fatalf("ports differ: udp %v tcp %v want %d", udp.LocalAddr(), tcp.Addr(), p)
		}
		udp.Close()
		tcp.Close()
	}
}
