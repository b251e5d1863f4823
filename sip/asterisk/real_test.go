package asterisk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// realEnv is a real Asterisk 22 configured from deploy/asterisk, named by
// the environment (see TestContract); tests that need it are skipped with
// that message otherwise.
type realEnv struct {
	url, user, password string
	sip                 string // the Asterisk SIP address the phones use
	agentPrefix         string // agent password = prefix + user
	log                 *slog.Logger
}

func needAsterisk(t *testing.T) realEnv {
	t.Helper()
	env := map[string]string{}
	for _, k := range []string{"HOTLINE_TEST_ARI_URL", "HOTLINE_TEST_ARI_USER", "HOTLINE_TEST_ARI_PASSWORD", "HOTLINE_TEST_ASTERISK_SIP"} {
		env[k] = os.Getenv(k)
		if env[k] == "" {
			t.Skipf("test against a real Asterisk skipped: set HOTLINE_TEST_ARI_URL, HOTLINE_TEST_ARI_USER, "+
				"HOTLINE_TEST_ARI_PASSWORD and HOTLINE_TEST_ASTERISK_SIP (%s is empty) for an Asterisk 22 configured from deploy/asterisk", k)
		}
	}
	prefix := os.Getenv("HOTLINE_TEST_AGENT_PASSWORD_PREFIX")
	if prefix == "" {
		prefix = "hotline-"
	}
	level := slog.LevelInfo
	if os.Getenv("HOTLINE_TEST_LOG") == "debug" { // every ARI event
		level = slog.LevelDebug
	}
	return realEnv{
		url: env["HOTLINE_TEST_ARI_URL"], user: env["HOTLINE_TEST_ARI_USER"], password: env["HOTLINE_TEST_ARI_PASSWORD"],
		sip: env["HOTLINE_TEST_ASTERISK_SIP"], agentPrefix: prefix,
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
}

// config is the switch configuration the real-Asterisk tests use.
func (e realEnv) config() Config {
	return Config{
		URL: e.url, Username: e.user, Password: e.password, Application: "hotline",
		Trunks: map[string]string{"provider": "PJSIP/%s@provider"}, DefaultTrunk: "provider",
		CallerID: "88001234567", RingTimeout: 10 * time.Second,
		MOHClasses: []string{"default"},
		Logger:     e.log,
	}
}

// needSounds fails with instructions when Asterisk lacks a sound in a
// language (GET /sounds/{name}): the suite plays Asterisk's Russian core
// prompts.
func (e realEnv) needSounds(t *testing.T, lang string, names ...string) {
	t.Helper()
	for _, name := range names {
		req, _ := http.NewRequest(http.MethodGet, strings.TrimRight(e.url, "/")+"/sounds/"+url.PathEscape(name), nil)
		req.SetBasicAuth(e.user, e.password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var snd struct {
			Formats []struct{ Language string }
		}
		err = json.NewDecoder(resp.Body).Decode(&snd)
		resp.Body.Close()
		found := false
		for _, f := range snd.Formats {
			found = found || f.Language == lang
		}
		if err != nil || !found {
			t.Fatalf("Asterisk has no %q sound %q (GET /sounds: %s): install Asterisk's %s core sounds into its sounds directory "+
				"(Debian: asterisk-core-sounds-%s-wav; see deploy/asterisk/README.md, \"Prompts\")", lang, name, resp.Status, lang, lang)
		}
	}
}

// start connects a switch; it is closed at cleanup (Close hangs nothing up).
func (e realEnv) start(t *testing.T) *Switch {
	t.Helper()
	sw, err := New(e.config())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := sw.Start(ctx); err != nil {
		t.Fatalf("connect to ARI: %v", err)
	}
	t.Cleanup(sw.Close)
	return sw
}

// phone starts a test phone on ip (127.0.0.31 is the trunk provider that
// deploy/asterisk/pjsip.conf identifies; it listens on port 5390).
func (e realEnv) phone(t *testing.T, ip string, port int, user string) *siptest.Phone {
	t.Helper()
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr(ip), PortMin: 43000, PortMax: 43999})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	cfg := siptest.PhoneConfig{IP: ip, Port: port, User: user, Media: eng, Logger: e.log}
	if user != "" {
		cfg.Password = e.agentPrefix + user
	}
	p, err := siptest.NewPhone(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if user != "" {
		if err := p.Register(ctxFor(t, 10*time.Second), e.sip, 5*time.Minute); err != nil {
			t.Fatalf("register %s with Asterisk: %v", user, err)
		}
		t.Cleanup(func() { _ = p.Register(ctxFor(t, 5*time.Second), e.sip, 0) })
	}
	return p
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// callIn places a trunk call from number and returns the switch's leg for
// it and a channel with the caller's outcome.
func callIn(t *testing.T, e realEnv, sw *Switch, trunk *siptest.Phone, number string) (sip.Leg, <-chan callOutcome) {
	t.Helper()
	out := make(chan callOutcome, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	go func() {
		c, err := trunk.Call(ctx, siptest.CallOptions{Addr: e.sip, To: "88001234567", From: number})
		out <- callOutcome{c, err}
	}()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l := <-sw.Incoming():
			if l.Info().From == number {
				return l, out
			}
			_ = l.Hangup(sip.CauseRejected) // left over from another test
		case <-deadline:
			t.Fatalf("no leg for the call from %s", number)
		}
	}
}

type callOutcome struct {
	call *siptest.Call
	err  error
}

// answeredCall answers the leg and returns the caller's side.
func answeredCall(t *testing.T, l sip.Leg, out <-chan callOutcome) *siptest.Call {
	t.Helper()
	if err := l.Answer(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-out:
		if r.err != nil {
			t.Fatalf("the caller did not get the answer: %v", r.err)
		}
		t.Cleanup(func() { _ = r.call.Hangup(ctxFor(t, 5*time.Second)) })
		return r.call
	case <-time.After(10 * time.Second):
		t.Fatal("the caller got no answer")
	}
	return nil
}

func flowing(t *testing.T, what string, c *siptest.Call) {
	t.Helper()
	mark := c.Received()
	deadline := time.Now().Add(10 * time.Second)
	for c.Received() < mark+50 {
		if time.Now().After(deadline) {
			t.Fatalf("no audio %s (%d packets, no more)", what, c.Received())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRealHangupStatus: the SIP answer a trunk caller gets when hotline
// hangs up an unanswered call with each cause (the reason hotline sends in
// DELETE /channels, turned into a status by PJSIP). docs/asterisk.md has
// this table.
func TestRealHangupStatus(t *testing.T) {
	env := needAsterisk(t)
	sw := env.start(t)
	trunk := env.phone(t, "127.0.0.31", 5390, "")
	for i, tc := range []struct {
		cause sip.Cause
		want  int
	}{
		{sip.CauseNormal, 480}, // as the native switch
		{sip.CauseCancelled, 480},
		{sip.CauseBusy, 486},
		{sip.CauseNoAnswer, 480},
		{sip.CauseRejected, 403}, // the native switch sends 603
		{sip.CauseUnreachable, 404},
		{sip.CauseShutdown, 503},
		{sip.CauseFailure, 500},
	} {
		t.Run(tc.cause.String(), func(t *testing.T) {
			l, out := callIn(t, env, sw, trunk, fmt.Sprintf("7912000%04d", i))
			if err := l.Hangup(tc.cause); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-out:
				got := siptest.StatusOf(r.err)
				t.Logf("%s → %d (%v)", tc.cause, got, r.err)
				if got != tc.want {
					t.Errorf("Hangup(%s) of an unanswered call: the caller got %d, want %d", tc.cause, got, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the caller got no final answer")
			}
		})
	}
}

// TestRealRestart: hotline goes away (its switch closes without hanging up,
// as a crash or restart does) while one caller waits with music and another
// talks to an agent; a new switch connects. Nothing goes silent: both calls
// keep their audio during the outage, the waiting caller is re-adopted
// (delivered again, answered, with music, and playable), and the talking
// call is left to go on until the agent hangs up, when hotline ends the
// caller's side too.
func TestRealRestart(t *testing.T) {
	env := needAsterisk(t)
	trunk := env.phone(t, "127.0.0.31", 5390, "")
	agent := env.phone(t, "127.0.0.32", 0, "a9")

	sw1, err := New(env.config())
	if err != nil {
		t.Fatal(err)
	}
	if err := sw1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			sw1.Close()
		}
	})
	wleg, out := callIn(t, env, sw1, trunk, "79120001001")
	waiting := answeredCall(t, wleg, out)
	if err := wleg.StartMOH("default"); err != nil {
		t.Fatal(err)
	}
	flowing(t, "of music to the waiting caller", waiting)

	tleg, out := callIn(t, env, sw1, trunk, "79120001002")
	talking := answeredCall(t, tleg, out)
	aleg, err := sw1.Dial(ctxFor(t, 15*time.Second), sip.Target{Agent: "a9", RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("dial the agent: %v", err)
	}
	var agentCall *siptest.Call
	select {
	case agentCall = <-agent.Incoming():
	case <-time.After(10 * time.Second):
		t.Fatal("the agent's phone did not ring")
	}
	go func() { _ = tleg.Bridge(context.Background(), aleg) }()
	flowing(t, "from the agent to the caller", talking)
	flowing(t, "from the caller to the agent", agentCall)

	sw1.Close() // hotline is gone
	closed = true
	flowing(t, "of music to the waiting caller while hotline is away", waiting)
	flowing(t, "from the agent to the caller while hotline is away", talking)

	sw2 := env.start(t)
	var adopted sip.Leg
	select {
	case adopted = <-sw2.Incoming():
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting caller was not re-adopted")
	}
	if info := adopted.Info(); info.ID != wleg.Info().ID || info.Direction != sip.Inbound || info.From != "79120001001" {
		t.Fatalf("re-adopted %+v; want the waiting caller's channel %s", info, wleg.Info().ID)
	}
	if err := adopted.Answer(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatalf("Answer on a re-adopted, answered leg: %v", err)
	}
	flowing(t, "of music to the re-adopted caller", waiting)
	if _, err := adopted.Play(ctxFor(t, 20*time.Second), sip.PlayOptions{Prompts: []sip.Prompt{{Name: "queue-thereare", Lang: "ru"}}}); err != nil {
		t.Fatalf("Play to the re-adopted caller: %v", err)
	}
	select {
	case l := <-sw2.Incoming():
		t.Fatalf("the bridged call was delivered as a new call: %+v", l.Info())
	default:
	}
	flowing(t, "between caller and agent after the restart", talking)

	if err := agentCall.Hangup(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-talking.Done():
		if !talking.RemoteHangup() {
			t.Fatal("the talking caller's call ended without a BYE")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the caller was left in the bridge after the agent hung up")
	}
	if err := adopted.Hangup(sip.CauseNormal); err != nil {
		t.Fatal(err)
	}
	select {
	case <-waiting.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the re-adopted caller got no BYE")
	}
}

// ariProxy relays TCP to Asterisk's HTTP server so that a test can cut the
// ARI connection (websocket and REST) and restore it.
type ariProxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	conns    []net.Conn
	down     bool
}

func newARIProxy(t *testing.T, upstream string) *ariProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ariProxy{ln: ln, upstream: upstream}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

// cut drops every connection and refuses new ones until restore.
func (p *ariProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *ariProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// TestRealOutage: the ARI connection drops (websocket and REST) while one
// caller waits with music and another is in the IVR; the second hangs up
// during the outage, so its events are lost. The switch notices, reconnects
// with backoff, and reconciles from what Asterisk lists rather than from
// events: the waiting caller's leg is kept and usable, the gone caller's leg
// ends, nobody is delivered twice.
func TestRealOutage(t *testing.T) {
	env := needAsterisk(t)
	u, err := url.Parse(env.url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newARIProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	cfg := env.config()
	cfg.URL = u.String()
	cfg.Heartbeat = 500 * time.Millisecond
	cfg.ConnectTimeout = 2 * time.Second
	sw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Start(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Close)
	trunk := env.phone(t, "127.0.0.31", 5390, "")

	wleg, out := callIn(t, env, sw, trunk, "79120002001")
	waiting := answeredCall(t, wleg, out)
	if err := wleg.StartMOH("default"); err != nil {
		t.Fatal(err)
	}
	gleg, out := callIn(t, env, sw, trunk, "79120002002")
	gone := answeredCall(t, gleg, out)

	proxy.cut()
	waitFor(t, "the switch to notice the outage", func() bool { return !sw.Connected() })
	if err := gone.Hangup(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	flowing(t, "of music to the waiting caller during the outage", waiting)
	if _, ok := gleg.Ended(); ok {
		t.Fatal("the gone caller's leg ended although its events could not arrive")
	}
	proxy.restore()
	waitFor(t, "the switch to reconnect", sw.Connected)
	select {
	case <-gleg.Done():
		if e, _ := gleg.Ended(); e.Side != sip.SideRemote {
			t.Fatalf("the gone caller's leg ended %+v, want remote", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the leg of the caller who hung up during the outage did not end after the resync")
	}
	if _, ok := wleg.Ended(); ok {
		t.Fatal("the waiting caller's leg ended in the resync")
	}
	select {
	case l := <-sw.Incoming():
		t.Fatalf("a known call was delivered again after the resync: %+v", l.Info())
	default:
	}
	if _, err := wleg.Play(ctxFor(t, 20*time.Second), sip.PlayOptions{Prompts: []sip.Prompt{{Name: "queue-thereare", Lang: "ru"}}}); err != nil {
		t.Fatalf("Play to the waiting caller after the reconnection: %v", err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRealReferUnbridged: an agent's phone REFERs while its channel is in
// no bridge (e.g. during a whisper prompt before the caller is connected).
// Asterisk has no transferee, so it refuses the REFER; the leg stays up and
// no TransferEvent is reported. docs/asterisk.md "Transfers".
func TestRealReferUnbridged(t *testing.T) {
	env := needAsterisk(t)
	sw := env.start(t)
	agent := env.phone(t, "127.0.0.32", 0, "a9")
	leg, err := sw.Dial(ctxFor(t, 15*time.Second), sip.Target{Agent: "a9", RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("dial the agent: %v", err)
	}
	t.Cleanup(func() { _ = leg.Hangup(sip.CauseNormal) })
	var call *siptest.Call
	select {
	case call = <-agent.Incoming():
	case <-time.After(10 * time.Second):
		t.Fatal("the agent's phone did not ring")
	}
	<-call.Answered()
	// Asterisk answers 202, then fails the transfer in a NOTIFY (400) and
	// reports a BridgeBlindTransfer with result Invalid.
	if st, err := call.Refer(ctxFor(t, 5*time.Second), "2000"); err != nil || st != 202 {
		t.Fatalf("REFER = %d, %v; want 202 (then a failing NOTIFY)", st, err)
	}
	for final := false; !final; {
		select {
		case n := <-call.Notifies():
			if strings.Contains(n, " 1") { // 100 Trying
				continue
			}
			if strings.Contains(n, " 2") {
				t.Fatalf("NOTIFY %q: the transfer succeeded with nobody to transfer", n)
			}
			final = true
		case <-time.After(5 * time.Second):
			t.Fatal("no final NOTIFY for the REFER")
		}
	}
	select {
	case e := <-leg.Events():
		if _, ok := e.(sip.TransferEvent); ok {
			t.Fatalf("TransferEvent for a transfer Asterisk did not carry out: %+v", e)
		}
	case <-time.After(time.Second):
	}
	if _, ok := leg.Ended(); ok {
		t.Fatal("the agent's leg ended after a failed REFER")
	}
}

// TestRealRegistered: Registered follows a phone registering with Asterisk
// and unregistering (PJSIP endpoint online/offline).
func TestRealRegistered(t *testing.T) {
	env := needAsterisk(t)
	sw := env.start(t)
	waitFor(t, "a10 offline before its phone registers", func() bool { return !sw.Registered("a10") })
	p := env.phone(t, "127.0.0.33", 0, "a10")
	waitFor(t, "a10 registered", func() bool { return sw.Registered("a10") })
	if err := p.Register(ctxFor(t, 5*time.Second), env.sip, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a10 offline after unregistering", func() bool { return !sw.Registered("a10") })
}
