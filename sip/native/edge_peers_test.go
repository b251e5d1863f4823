package native

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"

	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// The SIP edge against real SIP over loopback (issue 17): a replayed
// REGISTER, an office behind one address with a guesser among it, spread
// guessing, a refused-INVITE flood. Addresses 127.0.0.40-59 are this
// file's.

// udpAgent is a hand-written SIP client on one UDP socket, for messages a
// real phone would not send (replays, guesses).
type udpAgent struct {
	conn *net.UDPConn
	dst  *net.UDPAddr
	seq  int
}

func newUDPAgent(t *testing.T, ip string, sw *testSwitch) *udpAgent {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &udpAgent{conn: conn, dst: &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: sw.port}}
}

func (u *udpAgent) addr() string { return u.conn.LocalAddr().String() }

// register sends a REGISTER for user with contact and auth (a whole
// Authorization header line or ""), and returns the response ("" when
// none came within wait).
func (u *udpAgent) register(user, contact, auth string, wait time.Duration) string {
	u.seq++
	msg := fmt.Sprintf("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKedge%d%d\r\nFrom: <sip:%s@127.0.0.1>;tag=e%d\r\nTo: <sip:%s@127.0.0.1>\r\nCall-ID: edge-%s-%s\r\nCSeq: %d REGISTER\r\nContact: <sip:%s@%s>\r\n%sExpires: 300\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		u.addr(), u.conn.LocalAddr().(*net.UDPAddr).Port, u.seq, user, u.seq, user, user, u.addr(), u.seq, user, contact, auth)
	_, _ = u.conn.WriteToUDP([]byte(msg), u.dst)
	return u.read(wait)
}

// read returns the next message, or "" when none came within wait.
func (u *udpAgent) read(wait time.Duration) string {
	buf := make([]byte, 8192)
	_ = u.conn.SetReadDeadline(time.Now().Add(wait))
	n, _, err := u.conn.ReadFromUDP(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func statusOf(res string) string {
	if f := strings.Fields(res); len(f) > 1 && f[0] == "SIP/2.0" {
		return f[1]
	}
	return "none"
}

// authorize answers the challenge in a 401 like a phone: MD5, qop auth,
// nonce count nc.
func authorize(t *testing.T, res, user, pass string, nc int) string {
	t.Helper()
	var chal string
	for _, line := range strings.Split(res, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "WWW-Authenticate") {
			chal = strings.TrimSpace(v)
			break
		}
	}
	c, err := digest.ParseChallenge(chal)
	if err != nil {
		t.Fatalf("no challenge in %q: %v", res, err)
	}
	cred, err := digest.Digest(c, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: user, Password: pass, Cnonce: "0a4f113b", Count: nc})
	if err != nil {
		t.Fatal(err)
	}
	return "Authorization: " + cred.String() + "\r\n"
}

// TestReplayedRegisterIsRefused is the first finding: the
// Authorization of a legitimate REGISTER, replayed from another address
// (and from another port of the same address) with the attacker's own
// Contact, is refused, and the next call rings the agent's phone only.
func TestReplayedRegisterIsRefused(t *testing.T) {
	needPeer(t)
	sw := startSwitch(t, func(c *Config) { c.DigestAlgorithms = []string{"MD5"} })

	phone := newUDPAgent(t, "127.0.0.50", sw)
	res := phone.register("a1", phone.addr(), "", time.Second)
	if statusOf(res) != "401" {
		t.Fatalf("first REGISTER: %q", res)
	}
	captured := authorize(t, res, "a1", "secret", 1)
	if res := phone.register("a1", phone.addr(), captured, time.Second); statusOf(res) != "200" {
		t.Fatalf("phone's REGISTER: %q", res)
	}

	for _, ip := range []string{"127.0.0.51", "127.0.0.50"} { // another address; the phone's address, another port
		thief := newUDPAgent(t, ip, sw)
		res := thief.register("a1", thief.addr(), captured, time.Second)
		if s := statusOf(res); s != "401" && s != "403" {
			t.Fatalf("replay from %s: %q, want 401 or 403", thief.addr(), res)
		}
		if !strings.Contains(res, "stale=true") {
			t.Fatalf("replay from %s: %q, want a stale=true challenge", thief.addr(), res)
		}
	}
	bs := sw.reg.contacts("a1")
	if len(bs) != 1 || bs[0].Source.String() != phone.addr() {
		t.Fatalf("bindings after the replays: %+v, want the phone's only", bs)
	}

	// The phone itself refreshes with the next nonce count, as phones do.
	if res := phone.register("a1", phone.addr(), authorize(t, res, "a1", "secret", 2), time.Second); statusOf(res) != "200" {
		t.Fatalf("phone's refresh with nc 2: %q", res)
	}

	// The next call rings the phone.
	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan error, 1)
	go func() {
		_, err := sw.Dial(ctx, sip.Target{Agent: "a1", RingTimeout: 10 * time.Second})
		dialed <- err
	}()
	if inv := phone.read(10 * time.Second); !strings.HasPrefix(inv, "INVITE ") {
		t.Fatalf("the phone was not rung: %q", inv)
	}
	cancel()
	<-dialed
}

// guess sends one REGISTER with a wrong password for user from a new
// port of ip and returns the final status ("none" when dropped).
func guess(t *testing.T, sw *testSwitch, ip, user string) string {
	t.Helper()
	g := newUDPAgent(t, ip, sw)
	res := g.register(user, g.addr(), "", 700*time.Millisecond)
	if statusOf(res) != "401" {
		return statusOf(res)
	}
	return statusOf(g.register(user, g.addr(), authorize(t, res, user, "guess", 1), 700*time.Millisecond))
}

// TestOfficeBehindOneAddress is the second finding turned round:
// two phones behind one address (same IP, other ports) keep registering
// and being rung while a third party guesses passwords from that address
// (the address is banned, the phones are not); guesses at one user spread
// over other addresses lock that user everywhere but where its phone is.
func TestOfficeBehindOneAddress(t *testing.T) {
	needPeer(t)
	sw := startSwitch(t, func(c *Config) {
		c.DigestAlgorithms = []string{"MD5"}
		c.AuthFailLimit = 5
		c.AuthUserFailLimit = 8
	})
	const office = "127.0.0.40"
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr(office), PortMin: 43000, PortMax: 43099, InactivityTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	registrar := fmt.Sprintf("127.0.0.1:%d", sw.port)
	phones := map[string]*siptest.Phone{}
	for _, u := range []struct{ user, pass string }{{"a1", "secret"}, {"a2", "secret2"}} {
		p, err := siptest.NewPhone(siptest.PhoneConfig{IP: office, User: u.user, Password: u.pass, Media: eng, QuietSIP: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		phones[u.user] = p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	registerAll := func(when string) {
		t.Helper()
		for user, p := range phones {
			if err := p.Register(ctx, registrar, 300*time.Second); err != nil {
				t.Fatalf("%s: %s could not register: %v", when, user, err)
			}
		}
	}
	ring := func(when string) {
		t.Helper()
		for user := range phones {
			l, err := sw.Dial(ctx, sip.Target{Agent: user, RingTimeout: 10 * time.Second})
			if err != nil {
				t.Fatalf("%s: ringing %s: %v", when, user, err)
			}
			_ = l.Hangup(sip.CauseNormal)
		}
	}
	registerAll("before the guessing")

	// A third party at the office's address guesses a3's password.
	var got []string
	for range 8 {
		got = append(got, guess(t, sw, office, "a3"))
	}
	if want := "403,403,403,403,403,none,none,none"; strings.Join(got, ",") != want {
		t.Fatalf("guesses from the office address: %v, want %s", got, want)
	}
	if !sw.lock.sourceBanned(netip.MustParseAddr(office)) {
		t.Fatal("the guessing address is not banned")
	}
	registerAll("while the office address is banned")
	ring("while the office address is banned")

	// Guesses at a1 spread over four other addresses, two each: no
	// address is banned, a1 is locked.
	for i := range 8 {
		if s := guess(t, sw, fmt.Sprintf("127.0.0.%d", 41+i%4), "a1"); s != "403" {
			t.Fatalf("spread guess %d: %s, want 403", i, s)
		}
	}
	if !sw.lock.userLocked("a1") {
		t.Fatal("spread guessing did not lock a1")
	}
	if sw.lock.sourceBanned(netip.MustParseAddr("127.0.0.41")) {
		t.Fatal("an address that guessed twice is banned")
	}
	// Even the right password is refused for a1 from elsewhere...
	stranger, err := siptest.NewPhone(siptest.PhoneConfig{IP: "127.0.0.45", User: "a1", Password: "secret", Media: eng, QuietSIP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stranger.Close)
	if err := stranger.Register(ctx, registrar, 300*time.Second); siptest.StatusOf(err) != 403 {
		t.Fatalf("a1 from another address while locked: %v, want 403", err)
	}
	// ... while a1's phone at the office goes on.
	registerAll("while a1 is locked")
	ring("while a1 is locked")
	if logs := sw.logs.String(); !strings.Contains(logs, "sip user locked out") || !strings.Contains(logs, "sip source locked out") {
		t.Fatalf("bans not logged:\n%s", tail(logs))
	}
}

// TestRefusedInviteFlood: INVITEs from an address that is neither a trunk
// nor a registered phone count against it like wrong passwords (a pike-like
// limit): after AuthFailLimit it is dropped; the log has one line for the
// flood (and the ban), not one per INVITE.
func TestRefusedInviteFlood(t *testing.T) {
	needPeer(t)
	sw := startSwitch(t, func(c *Config) {
		c.AuthFailLimit = 5
		c.FloodLogInterval = time.Hour // no summary line during the test
	})
	const flooder = "127.0.0.52"
	var got []string
	for i := range 12 {
		got = append(got, strings.Join(statusCodes(rawSIP(t, flooder, sw.port, inviteMsg(fmt.Sprintf("flood%d", i), "79991234567", "0"), 200*time.Millisecond)), "+"))
	}
	for i, s := range got {
		want := "403"
		if i >= 5 {
			want = ""
		}
		if s != want {
			t.Fatalf("INVITE %d: %q, want %q (all: %v)", i, s, want, got)
		}
	}
	logs := sw.logs.String()
	if n := strings.Count(logs, `msg="sip invite refused`); n != 1 {
		t.Fatalf("%d log lines for the refused INVITEs, want 1 (then a summary per interval):\n%s", n, tail(logs))
	}
	if !strings.Contains(logs, "sip source locked out") || strings.Contains(logs, "79991234567") {
		t.Fatalf("want the ban logged and the caller masked:\n%s", tail(logs))
	}
	// A trunk call goes on.
	done := make(chan []string)
	go func() {
		done <- statusCodes(rawSIP(t, trunkIP, sw.port, inviteMsg("after-invite-flood", "79123456789", "0 8"), 2*time.Second))
	}()
	leg := nextLeg(t, sw, 5*time.Second)
	_ = leg.Hangup(sip.CauseBusy)
	if got := <-done; len(got) == 0 || got[len(got)-1] != "486" {
		t.Fatalf("trunk call after the flood: %v", got)
	}
}

// TestSIPOverTCPLimits: the switch closes an idle SIP/TCP connection and
// refuses connections from one address past the limit (the 2,000
// idle connections each held a goroutine and a descriptor for good).
func TestSIPOverTCPLimits(t *testing.T) {
	needPeer(t)
	sw := startSwitch(t, func(c *Config) {
		c.TCPIdleTimeout = 300 * time.Millisecond
		c.TCPMaxPerSource = 3
	})
	const src = "127.0.0.53"
	dial := func() net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", sw.port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	closed := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound for a failing test, not a timing assertion
		_, err := c.Read(make([]byte, 1))
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}
	var held []net.Conn
	for range 3 {
		held = append(held, dial())
	}
	for sw.tcp.connections(netip.MustParseAddr(src)) < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	if !closed(dial()) || !strings.Contains(sw.logs.String(), "sip tcp connection refused: too many from this address") {
		t.Fatalf("a fourth connection from one address was not refused; log:\n%s", tail(sw.logs.String()))
	}
	for i, c := range held {
		if !closed(c) {
			t.Fatalf("idle connection %d was not closed", i)
		}
	}
	for sw.tcp.connections(netip.MustParseAddr(src)) > 0 {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTrunkRTPAtOurSIPPort: a trunk's offer that points RTP at hotline's
// own SIP socket gets 488 with a warning that says so.
func TestTrunkRTPAtOurSIPPort(t *testing.T) {
	needPeer(t)
	sw := startSwitch(t, nil)
	msg := strings.Replace(inviteMsg("rtp-at-sip", "79123456789", "0"), "m=audio 6010", fmt.Sprintf("m=audio %d", sw.port), 1)
	msg = strings.Replace(msg, "c=IN IP4 127.0.0.2", "c=IN IP4 127.0.0.1", 1)
	rs := rawSIP(t, trunkIP, sw.port, msg, time.Second)
	got := statusCodes(rs)
	if len(got) == 0 || got[len(got)-1] != "488" || !strings.Contains(rs[len(rs)-1], "own SIP port") {
		t.Fatalf("offer with RTP at the SIP port: %v\n%s", got, strings.Join(rs, "\n"))
	}
}

// TestBaresipKeepsRegistering: a real softphone refreshes its registration
// (with the nonce it holds and the next nc, or after a stale=true
// challenge) without ever being refused; refreshes are not "new bindings".
func TestBaresipKeepsRegistering(t *testing.T) {
	needPeer(t, "baresip")
	sw := startSwitch(t, func(c *Config) {
		c.DigestAlgorithms = []string{"MD5"}
		c.RegisterMinExpiry = 5 * time.Second
		c.RegisterMaxExpiry = 10 * time.Second // baresip asks 60 s: it refreshes every ~9 s
	})
	sipptest.StartBaresip(t, sipptest.Baresip{
		IP: phoneIP, SIPPort: 5284, RTPPort: 6240, User: "a2", Password: "secret2",
		Registrar: fmt.Sprintf("127.0.0.1:%d", sw.port), Mic: filepath.Join(promptRU, "vm-intro.wav"),
	})
	registered := func() int { return len(registerLine.FindAllString(sw.logs.String(), -1)) }
	if !waitFor(func() bool { return registered() >= 3 }, 40*time.Second) {
		t.Fatalf("baresip did not register three times; log:\n%s", tail(sw.logs.String()))
	}
	logs := sw.logs.String()
	if strings.Contains(logs, "sip authentication failed") || strings.Contains(logs, "locked out") {
		t.Fatalf("a refresh was refused:\n%s", tail(logs))
	}
	if !sw.Registered("a2") {
		t.Fatal("a2 is not registered")
	}
	t.Logf("registrations: %d, fresh authentications asked for: %d", registered(), strings.Count(logs, "needs a fresh authentication"))
}

var registerLine = regexp.MustCompile(`msg="sip register" .*user=a2 `)

// TestMergedInviteRefused: the same initial INVITE (Call-ID, From tag,
// CSeq) arriving again on another branch, as Kamailio's retry sends it to
// a node that was slow to answer, gets 482 and does not become a second
// call (RFC 3261 §8.2.2.2); once the first call has ended, that key is
// free again.
func TestMergedInviteRefused(t *testing.T) {
	needPeer(t)
	sw := startSwitch(t, nil)
	legs := make(chan sip.Leg, 4)
	go func() {
		for l := range sw.Incoming() {
			legs <- l
		}
	}()
	first := inviteMsg("merged1", "79123456789", "8")
	if got := statusCodes(rawSIP(t, trunkIP, sw.port, first, 500*time.Millisecond)); len(got) == 0 || got[len(got)-1] != "180" {
		t.Fatalf("first INVITE: %v, want ringing", got)
	}
	var l sip.Leg
	select {
	case l = <-legs:
	case <-time.After(5 * time.Second):
		t.Fatal("the first INVITE made no call")
	}
	again := strings.Replace(first, "branch=z9hG4bKmerged1", "branch=z9hG4bKmerged1-retry", 1)
	if got := statusCodes(rawSIP(t, trunkIP, sw.port, again, time.Second)); len(got) == 0 || got[len(got)-1] != "482" {
		t.Fatalf("the same INVITE on another branch: %v, want 482", got)
	}
	select {
	case extra := <-legs:
		t.Fatalf("the merged request became a second call %s", extra.Info().ID)
	default:
	}
	l.Hangup(sip.CauseNormal)
	<-l.Done()
	later := strings.Replace(first, "branch=z9hG4bKmerged1", "branch=z9hG4bKmerged1-later", 1)
	if got := statusCodes(rawSIP(t, trunkIP, sw.port, later, 500*time.Millisecond)); len(got) == 0 || got[len(got)-1] != "180" {
		t.Fatalf("after the first call ended: %v, want ringing", got)
	}
}
