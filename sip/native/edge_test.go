package native

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/hotline-cc/hotline/internal/sipptest"
)

// Unit tests of the SIP edge (edge.go, lockout.go, the nonce rules in
// auth.go, the fresh-authentication rule in registrar.go, floodLog). The
// same defences against real peers are in edge_peers_test.go.

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

// answerChallenge answers a challenge the way a phone does, with nonce
// count nc (0: no qop).
func answerChallenge(t *testing.T, chal, method, user, pass string, nc int) string {
	t.Helper()
	c, err := digest.ParseChallenge(chal)
	if err != nil {
		t.Fatal(err)
	}
	if nc == 0 {
		c.QOP = nil
	}
	cred, err := digest.Digest(c, digest.Options{Method: method, URI: "sip:127.0.0.1", Username: user, Password: pass, Cnonce: "c0ffee", Count: nc})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

// TestNonceReplay: an accepted answer cannot be used again, from the same
// or another address; a higher nonce count can (phones refresh that way);
// an answer without qop is good once; a wrong password with a used nonce
// is still a failure, not a stale nonce.
func TestNonceReplay(t *testing.T) {
	now := t0
	a := newAuthenticator("hotline", []string{"MD5"}, func() Credentials { return StaticCredentials{"a1": "secret"} }, func() time.Time { return now })
	phone := netip.MustParseAddr("192.0.2.10")
	thief := netip.MustParseAddr("198.51.100.66")
	chal := a.challenges(false, phone)[0]

	h1 := answerChallenge(t, chal, "REGISTER", "a1", "secret", 1)
	for _, tc := range []struct {
		name      string
		header    string
		src       netip.Addr
		wantErr   error
		wantFirst bool
	}{
		{"first answer", h1, phone, nil, true},
		{"the same header again (replay)", h1, phone, errStaleNonce, false},
		{"the same header from another address", h1, thief, errStaleNonce, false},
		{"nc 2 from the phone (a refresh)", answerChallenge(t, chal, "REGISTER", "a1", "secret", 2), phone, nil, false},
		{"nc 2 again", answerChallenge(t, chal, "REGISTER", "a1", "secret", 2), phone, errStaleNonce, false},
		{"nc 1 after 2", h1, phone, errStaleNonce, false},
		{"nc 3 from another address", answerChallenge(t, chal, "REGISTER", "a1", "secret", 3), thief, errStaleNonce, false},
		{"wrong password with the used nonce", answerChallenge(t, chal, "REGISTER", "a1", "guess", 9), phone, errBadCredentials, false},
	} {
		r, err := a.verify(tc.header, "REGISTER", tc.src)
		if err != tc.wantErr || (err == nil && r.First != tc.wantFirst) {
			t.Fatalf("%s: err %v first %v, want %v %v", tc.name, err, r.First, tc.wantErr, tc.wantFirst)
		}
		if r.User != "a1" {
			t.Fatalf("%s: user %q, want the claimed a1 whatever the verdict", tc.name, r.User)
		}
	}

	// After a restart (a new key) the phone's answer to the old process's
	// nonce is stale, not a failure: it is challenged again silently.
	restarted := newAuthenticator("hotline", []string{"MD5"}, func() Credentials { return StaticCredentials{"a1": "secret"} }, func() time.Time { return now })
	if _, err := restarted.verify(answerChallenge(t, chal, "REGISTER", "a1", "secret", 5), "REGISTER", phone); err != errStaleNonce {
		t.Fatalf("answer to a nonce of the process before a restart: %v, want errStaleNonce", err)
	}
	if _, err := restarted.verify(answerChallenge(t, chal, "REGISTER", "a1", "guess", 5), "REGISTER", phone); err != errBadCredentials {
		t.Fatalf("wrong password with a nonce of the process before a restart: %v, want errBadCredentials", err)
	}

	noQOP := answerChallenge(t, a.challenges(false, phone)[0], "REGISTER", "a1", "secret", 0)
	if _, err := a.verify(noQOP, "REGISTER", phone); err != nil {
		t.Fatalf("answer without qop: %v", err)
	}
	if _, err := a.verify(noQOP, "REGISTER", phone); err != errStaleNonce {
		t.Fatalf("answer without qop twice: %v, want errStaleNonce", err)
	}

	// Used nonces are forgotten once they expire (they are stale then).
	if len(a.used) != 2 {
		t.Fatalf("%d used nonces, want 2", len(a.used))
	}
	now = now.Add(nonceTTL)
	a.mu.Lock()
	a.gcLocked()
	a.mu.Unlock()
	if len(a.used) != 0 {
		t.Fatalf("%d used nonces after their TTL, want 0", len(a.used))
	}
}

// TestLockout: per-source and per-user counting, slow and spread
// guessing, and the progressive back-off.
func TestLockout(t *testing.T) {
	cfg := LockoutConfig{SourceFailures: 10, SourceWindow: 10 * time.Minute, UserFailures: 20, UserWindow: time.Hour, Ban: 10 * time.Minute, MaxBan: time.Hour}
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }

	t.Run("9 guesses a minute from one address", func(t *testing.T) {
		now := t0
		l := newLockout(cfg, func() time.Time { return now })
		var banned time.Duration
		for i := 0; i < 30 && banned == 0; i++ {
			if l.fail(ip(1), "a1").SourceBan > 0 {
				banned = now.Sub(t0)
			}
			now = now.Add(time.Minute / 9)
		}
		if banned == 0 || banned > 2*time.Minute {
			t.Fatalf("banned after %v, want within 2 min", banned)
		}
		if !l.sourceBanned(ip(1)) || l.sourceBanned(ip(2)) {
			t.Fatal("the ban must hit the guessing address only")
		}
	})
	t.Run("90 guesses at one user spread over 10 addresses", func(t *testing.T) {
		now := t0
		l := newLockout(cfg, func() time.Time { return now })
		lockedAt := -1
		for i := 0; i < 90; i++ {
			v := l.fail(ip(10+i%10), "a1")
			if v.SourceBanned {
				t.Fatalf("guess %d banned an address that guessed 9 times", i)
			}
			if v.UserBan > 0 && lockedAt < 0 {
				lockedAt = i
				if !l.userLocked("a1") || l.userLocked("a2") {
					t.Fatal("the lock must hit the guessed user only")
				}
			}
			now = now.Add(10 * time.Second)
		}
		if lockedAt != 19 {
			t.Fatalf("user locked at guess %d, want the 20th", lockedAt)
		}
	})
	t.Run("each ban lasts twice the last, up to MaxBan; a quiet MaxBan starts over", func(t *testing.T) {
		now := t0
		l := newLockout(cfg, func() time.Time { return now })
		var bans []time.Duration
		for range 4 {
			var v verdict
			for range 10 {
				v = l.fail(ip(1), "")
			}
			bans = append(bans, v.SourceBan)
			now = now.Add(v.SourceBan)
			if l.sourceBanned(ip(1)) {
				t.Fatal("still banned when the ban ended")
			}
		}
		want := []time.Duration{10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour}
		if !equalDurations(bans, want) {
			t.Fatalf("bans %v, want %v", bans, want)
		}
		now = now.Add(time.Hour)
		var v verdict
		for range 10 {
			v = l.fail(ip(1), "")
		}
		if v.SourceBan != 10*time.Minute {
			t.Fatalf("ban after a quiet hour = %v, want 10m again", v.SourceBan)
		}
	})
	t.Run("failures during a ban do not extend it", func(t *testing.T) {
		now := t0
		l := newLockout(cfg, func() time.Time { return now })
		for range 10 {
			l.fail(ip(1), "")
		}
		now = now.Add(9 * time.Minute)
		for range 100 {
			if l.fail(ip(1), "").SourceBan != 0 {
				t.Fatal("a failure during the ban started another")
			}
		}
		now = now.Add(time.Minute)
		if l.sourceBanned(ip(1)) {
			t.Fatal("the ban was extended")
		}
	})
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFloodLog: a flood from one source is one line at once and one line
// per interval with the count; a quiet interval starts over.
func TestFloodLog(t *testing.T) {
	var out bytes.Buffer
	f := newFloodLog(slog.New(slog.NewTextHandler(&out, nil)), 10*time.Second, func() time.Time { return t0 })
	a := netip.MustParseAddrPort("192.0.2.7:5060")
	b := netip.MustParseAddrPort("192.0.2.8:5060")
	for range 30000 {
		f.note(slog.LevelWarn, "sip invite refused", a, "locked_out", false)
	}
	f.note(slog.LevelWarn, "sip invite refused", b, "locked_out", false)
	lines := func() []string {
		s := strings.TrimSpace(out.String())
		out.Reset()
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
	if got := lines(); len(got) != 2 || !strings.Contains(got[0], "source=192.0.2.7:5060") || !strings.Contains(got[1], "source=192.0.2.8:5060") {
		t.Fatalf("first lines: %q", got)
	}
	f.flush()
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "count=29999") || !strings.Contains(got[0], "192.0.2.7") {
		t.Fatalf("summary: %q, want one line for 192.0.2.7 with count=29999", got)
	}
	f.note(slog.LevelWarn, "sip invite refused", a, "locked_out", true)
	if got := lines(); len(got) != 0 {
		t.Fatalf("a flood going on logged %q before the interval ended", got)
	}
	f.flush() // the interval with one more
	f.flush() // a quiet interval: forgotten
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "count=1") || !strings.Contains(got[0], "locked_out=true") {
		t.Fatalf("second summary: %q", got)
	}
	f.note(slog.LevelWarn, "sip invite refused", a)
	if got := lines(); len(got) != 1 {
		t.Fatalf("after a quiet interval the first line is logged at once: %q", got)
	}
}

// registerReq builds a REGISTER for user with one contact.
func registerReq(user, contact string, cseq uint32, expires string) *gosip.Request {
	req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: "127.0.0.1"})
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1"}})
	h, p, _ := net.SplitHostPort(contact)
	port := 0
	for _, c := range p {
		port = port*10 + int(c-'0')
	}
	req.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: user, Host: h, Port: port}})
	req.AppendHeader(gosip.NewHeader("Expires", expires))
	cid := gosip.CallIDHeader("reg-" + user)
	req.AppendHeader(&cid)
	req.AppendHeader(&gosip.CSeqHeader{SeqNo: cseq, MethodName: gosip.REGISTER})
	req.SetTransport("UDP")
	return req
}

// TestRegisterNeedsFreshAuthentication: a REGISTER that adds or moves a
// binding must be the first answer to its challenge; refreshes and
// removals need not be.
func TestRegisterNeedsFreshAuthentication(t *testing.T) {
	r := newRegistrar(time.Minute, time.Hour, func() time.Time { return t0 })
	phone := netip.MustParseAddrPort("192.0.2.10:5060")
	other := netip.MustParseAddrPort("198.51.100.66:5060")
	for _, tc := range []struct {
		name    string
		contact string
		src     netip.AddrPort
		cseq    uint32
		expires string
		fresh   bool
		want    int
	}{
		{"new binding, reused nonce", "192.0.2.10:5060", phone, 1, "300", false, 401},
		{"new binding, fresh", "192.0.2.10:5060", phone, 2, "300", true, 200},
		{"refresh, reused nonce", "192.0.2.10:5060", phone, 3, "300", false, 200},
		{"another contact, reused nonce", "198.51.100.66:5060", phone, 4, "300", false, 401},
		{"same contact from another source, reused nonce", "192.0.2.10:5060", other, 5, "300", false, 401},
		{"removal, reused nonce", "192.0.2.10:5060", phone, 6, "0", false, 200},
	} {
		res := r.register("a1", registerReq("a1", tc.contact, tc.cseq, tc.expires), tc.src, tc.fresh)
		if res.status != tc.want {
			t.Fatalf("%s: status %d, want %d", tc.name, res.status, tc.want)
		}
	}
	if bs := r.contacts("a1"); len(bs) != 0 {
		t.Fatalf("bindings left: %+v", bs)
	}
}

// edgeSwitch is a Switch with what the edge needs and no sockets.
func edgeSwitch(t testing.TB, now *time.Time, mutate func(*Config)) (*Switch, *sipptest.Buffer) {
	t.Helper()
	logs := &sipptest.Buffer{}
	cfg := Config{
		Trunks:      []Trunk{{Name: "provider", Allow: []string{"203.0.113.5"}}},
		Credentials: StaticCredentials{"a1": "secret", "a2": "secret2"},
		Logger:      slog.New(slog.NewTextHandler(logs, nil)),
		Now:         func() time.Time { return *now }, AuthFailLimit: 3,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := newSwitch(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

// TestReadFilter: a banned address loses its requests but keeps its
// responses, its registered phones and (for a trunk) everything; an
// unparsable datagram is dropped with its source named and its bytes not
// logged.
func TestReadFilter(t *testing.T) {
	now := t0
	s, logs := edgeSwitch(t, &now, nil)
	office := netip.MustParseAddr("192.0.2.10")
	phone := netip.AddrPortFrom(office, 5062)
	guesser := netip.AddrPortFrom(office, 40000)
	if res := s.reg.register("a1", registerReq("a1", phone.String(), 1, "300"), phone, true); res.status != 200 {
		t.Fatal(res.status)
	}
	for range 3 {
		s.lock.fail(office, "")
	}
	trunk := netip.MustParseAddrPort("203.0.113.5:5060")
	for range 3 {
		s.lock.fail(trunk.Addr(), "")
	}
	request := []byte("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
	response := []byte("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a1@y>;tag=2\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
	filter := func(src netip.AddrPort, transport string, data []byte) (bool, error) {
		out, err := s.readFilter(gosip.TransportReadProps{Transport: transport, RemoteAddr: net.UDPAddrFromAddrPort(src)}, data)
		return len(out) > 0, err
	}
	for _, tc := range []struct {
		name      string
		src       netip.AddrPort
		transport string
		data      []byte
		pass      bool
		err       error
	}{
		{"request from the guesser's port", guesser, "UDP", request, false, nil},
		{"request over TCP from the guesser", guesser, "TCP", request, false, errBanned},
		{"response from the banned address", guesser, "UDP", response, true, nil},
		{"request from the registered phone", phone, "UDP", request, true, nil},
		{"request from a banned trunk address", trunk, "UDP", request, true, nil},
		{"keep-alive", netip.MustParseAddrPort("198.51.100.1:5060"), "UDP", []byte("\r\n\r\n"), true, nil},
		{"garbage", netip.MustParseAddrPort("198.51.100.1:5060"), "UDP", []byte("this is not SIP, password=hunter2 79123456789\r\n\r\n"), false, nil},
	} {
		pass, err := filter(tc.src, tc.transport, tc.data)
		if pass != tc.pass || !errors.Is(err, tc.err) && err != tc.err {
			t.Fatalf("%s: pass %v err %v, want %v %v", tc.name, pass, err, tc.pass, tc.err)
		}
	}
	l := logs.String()
	if !strings.Contains(l, "sip unparsable datagram dropped") || !strings.Contains(l, "source=198.51.100.1:5060") {
		t.Fatalf("unparsable datagram not logged with its source:\n%s", l)
	}
	if strings.Contains(l, "hunter2") || strings.Contains(l, "79123456789") {
		t.Fatalf("raw bytes in the log:\n%s", l)
	}
}

// TestPointsAtSIP: an SDP may not send RTP to hotline's own SIP socket.
func TestPointsAtSIP(t *testing.T) {
	now := t0
	s, _ := edgeSwitch(t, &now, nil)
	s.sipPort, s.listenIP = 5060, netip.MustParseAddr("0.0.0.0")
	s.addr = netip.MustParseAddrPort("192.0.2.1:5060")
	for _, tc := range []struct {
		ap   string
		want bool
	}{
		{"192.0.2.1:5060", true},
		{"127.0.0.1:5060", true},
		{"0.0.0.0:5060", true},
		{"192.0.2.1:5062", false},
		{"198.51.100.7:5060", false},
	} {
		if got := s.pointsAtSIP(netip.MustParseAddrPort(tc.ap)); got != tc.want {
			t.Errorf("pointsAtSIP(%s) = %v, want %v", tc.ap, got, tc.want)
		}
	}
}

// TestTCPGuard: connections past the per-source limit are closed at once,
// idle ones are closed after the idle timeout, and one that carries a
// registration stays.
func TestTCPGuard(t *testing.T) {
	now := t0
	var kept atomic.Int32
	s, _ := edgeSwitch(t, &now, func(c *Config) {
		c.TCPIdleTimeout = 200 * time.Millisecond
		c.TCPMaxPerSource = 2
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := s.guardTCP(ln)
	g.kept = func() { kept.Add(1) }
	t.Cleanup(func() { g.Close() })
	// Serve like sipgo: read each connection until it fails, then close it.
	go func() {
		for {
			c, err := g.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	dial := func(ip string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	closedByServer := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a failure bound, not a timing assertion
		_, err := c.Read(make([]byte, 1))
		return errors.Is(err, io.EOF)
	}

	registered := dial("127.0.0.61")
	src := addrPortOf(registered.LocalAddr())
	if res := s.reg.register("a1", registerReq("a1", src.String(), 1, "300"), src, true); res.status != 200 {
		t.Fatal(res.status)
	}
	idle := dial("127.0.0.61")
	if !closedByServer(idle) {
		t.Fatal("an idle connection was not closed")
	}
	// The registered connection outlived an idle timeout.
	for kept.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := registered.Write([]byte("\r\n\r\n")); err != nil {
		t.Fatalf("the registered connection was closed: %v", err)
	}
	if n := g.connections(src.Addr()); n != 1 {
		t.Fatalf("%d open connections from the address, want the registered one", n)
	}

	// The limit counts connections without a registration: two more fit,
	// the third is refused.
	a, b := dial("127.0.0.61"), dial("127.0.0.61")
	for g.connections(src.Addr()) < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	if !closedByServer(dial("127.0.0.61")) {
		t.Fatal("a connection past the limit was accepted")
	}
	if n := g.connections(src.Addr()); n != 3 {
		t.Fatalf("%d open connections, want 3 (the registered one and two)", n)
	}
	// Another address has its own count.
	dial("127.0.0.62")
	for g.connections(netip.MustParseAddr("127.0.0.62")) < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	_, _ = a, b
}

// BenchmarkReadFilter is the cost the read filter adds to each UDP
// datagram: the ban check and a parse to drop garbage with its source
// named (sipgo parses the datagram again after it). docs/benchmarks.md.
func BenchmarkReadFilter(b *testing.B) {
	now := t0
	s, _ := edgeSwitch(b, &now, nil)
	invite := []byte(strings.ReplaceAll("INVITE sip:88001234567@127.0.0.1 SIP/2.0\n"+
		"Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK776asdhds\n"+
		"Max-Forwards: 70\nTo: <sip:88001234567@127.0.0.1>\nFrom: <sip:79123456789@203.0.113.5>;tag=1928301774\n"+
		"Call-ID: a84b4c76e66710@203.0.113.5\nCSeq: 314159 INVITE\nContact: <sip:79123456789@203.0.113.5:5060>\n"+
		"Content-Type: application/sdp\nContent-Length: 0\n\n", "\n", "\r\n"))
	props := gosip.TransportReadProps{Transport: "UDP", RemoteAddr: net.UDPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.5:5060"))}
	b.Run("filter", func(b *testing.B) {
		for b.Loop() {
			if out, _ := s.readFilter(props, invite); len(out) == 0 {
				b.Fatal("dropped")
			}
		}
	})
	b.Run("sipgo-parse", func(b *testing.B) { // what sipgo does with every datagram anyway
		p := gosip.NewParser()
		for b.Loop() {
			if _, err := p.ParseSIP(invite); err != nil {
				b.Fatal(err)
			}
		}
	})
}
