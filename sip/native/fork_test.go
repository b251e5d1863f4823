package native

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip"
)

// Loopback addresses 127.0.0.40-42 are the fork tests': the trunk caller,
// the live agent phone, and the contacts that never respond or answer late.
const (
	forkTrunkIP  = "127.0.0.40"
	forkAgentIP  = "127.0.0.41"
	forkSilentIP = "127.0.0.42"
)

func TestRegistrarMissedReached(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	live := gosip.Uri{Scheme: "sip", User: "a1", Host: "127.0.0.1", Port: 5060}
	silent := gosip.Uri{Scheme: "sip", User: "a1", Host: "127.0.0.2", Port: 5060}
	tests := []struct {
		name    string
		events  []string // "miss" or "reach" of the silent contact
		limit   int
		dropped []bool // missed's answer for each "miss"
		left    int    // bindings of a1 at the end
	}{
		{"dropped at the limit", []string{"miss", "miss", "miss"}, 3, []bool{false, false, true}, 1},
		{"a response starts the count again", []string{"miss", "miss", "reach", "miss", "miss"}, 3, []bool{false, false, false, false}, 2},
		{"limit 1 drops at the first miss", []string{"miss"}, 1, []bool{true}, 1},
		{"limit 0 never drops", []string{"miss", "miss", "miss", "miss"}, 0, []bool{false, false, false, false}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistrar(time.Minute, time.Hour, func() time.Time { return now })
			r.bindings["a1"] = []binding{
				{Contact: live, Expires: now.Add(time.Hour)},
				{Contact: silent, Expires: now.Add(time.Hour)},
			}
			var got []bool
			for _, e := range tc.events {
				switch e {
				case "miss":
					got = append(got, r.missed("a1", silent, tc.limit))
				case "reach":
					r.reached("a1", silent)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.dropped) {
				t.Fatalf("missed answered %v, want %v", got, tc.dropped)
			}
			bs := r.contacts("a1")
			if len(bs) != tc.left {
				t.Fatalf("%d bindings left, want %d: %+v", len(bs), tc.left, bs)
			}
			if contactKey(bs[0].Contact) != contactKey(live) {
				t.Fatalf("the live contact was dropped: %+v", bs)
			}
		})
	}
	t.Run("unknown user or contact", func(t *testing.T) {
		r := newRegistrar(time.Minute, time.Hour, func() time.Time { return now })
		if r.missed("nobody", silent, 1) {
			t.Fatal("missed dropped a binding of a user without bindings")
		}
		r.reached("nobody", silent)
	})
}

// mute is a UDP socket registered as an agent's contact that records the
// INVITEs it gets and answers none of them (a phone that went away without
// unregistering, or one behind a NAT that stopped forwarding). With answer
// set it sends a 200 OK (no provisional before it) when told to.
type mute struct {
	conn *net.UDPConn
	port int

	mu      sync.Mutex
	invites map[string]string // by Call-ID: the first INVITE
	sends   map[string]int    // by Call-ID: INVITE transmissions received
	order   []string
	methods []string // every request method received, in order
	from    *net.UDPAddr
	changed chan struct{}
}

func newMute(t *testing.T, ip string) *mute {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	m := &mute{conn: conn, port: conn.LocalAddr().(*net.UDPAddr).Port, invites: map[string]string{}, sends: map[string]int{}, changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			msg := string(buf[:n])
			method, _, _ := strings.Cut(msg, " ")
			if strings.HasPrefix(method, "SIP/") {
				continue
			}
			m.mu.Lock()
			m.methods = append(m.methods, method)
			m.from = from
			if cid := sipHeader(msg, "Call-ID"); method == "INVITE" {
				if m.invites[cid] == "" {
					m.invites[cid] = msg
					m.order = append(m.order, cid)
				}
				m.sends[cid]++
			}
			if method == "BYE" {
				_, _ = conn.WriteToUDP([]byte(responseTo(msg, "200 OK", "", "")), from)
			}
			close(m.changed)
			m.changed = make(chan struct{})
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return m
}

// sendsOf is how many times the i-th INVITE was transmitted so far.
func (m *mute) sendsOf(i int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sends[m.order[i]]
}

func (m *mute) inviteCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.order)
}

// waitFor waits until ok holds over what the socket received.
func (m *mute) waitFor(t *testing.T, what string, limit time.Duration, ok func(m *mute) bool) {
	t.Helper()
	deadline := time.After(limit)
	for {
		m.mu.Lock()
		ch := m.changed
		good := ok(m)
		m.mu.Unlock()
		if good {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			m.mu.Lock()
			defer m.mu.Unlock()
			t.Fatalf("%s: not within %s; received %v", what, limit, m.methods)
		}
	}
}

// answerLast sends a 200 OK with SDP for the last INVITE received.
func (m *mute) answerLast(t *testing.T, rtpPort int) {
	t.Helper()
	m.mu.Lock()
	inv := m.invites[m.order[len(m.order)-1]]
	from := m.from
	m.mu.Unlock()
	sdp := "v=0\r\no=late 1 1 IN IP4 " + forkSilentIP + "\r\ns=-\r\nc=IN IP4 " + forkSilentIP + "\r\nt=0 0\r\nm=audio " + strconv.Itoa(rtpPort) + " RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	contact := fmt.Sprintf("Contact: <sip:late@%s:%d>\r\nContent-Type: application/sdp\r\n", forkSilentIP, m.port)
	if _, err := m.conn.WriteToUDP([]byte(responseTo(inv, "200 OK", contact+";tag=late1", sdp)), from); err != nil {
		t.Fatal(err)
	}
}

// sipHeader is the value of the first header called name in msg.
func sipHeader(msg, name string) string {
	for _, line := range strings.Split(msg, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// responseTo builds a response to a request: extra headers are added, and
// a ";tag=" suffix on extra is put on To instead.
func responseTo(req, status, extra, body string) string {
	extra, tag, _ := strings.Cut(extra, ";tag=")
	var b strings.Builder
	b.WriteString("SIP/2.0 " + status + "\r\n")
	for _, line := range strings.Split(req, "\r\n")[1:] {
		if line == "" {
			break
		}
		k, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "via", "from", "call-id", "cseq":
			b.WriteString(line + "\r\n")
		case "to":
			if tag != "" {
				line += ";tag=" + tag
			}
			b.WriteString(line + "\r\n")
		}
	}
	b.WriteString(extra)
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	return b.String()
}

// registerContact registers user with SIPp's register.xml from ip, with
// the Contact at ip:contactPort.
func registerContact(t *testing.T, sw *testSwitch, user, pass, ip string, contactPort int) {
	t.Helper()
	reg := startSIPp(t, "register.xml", nil, "-i", ip, "-p", strconv.Itoa(sipptest.FreeUDPPort(t)), "-m", "1",
		"-s", user, "-au", user, "-ap", pass, "-key", "expires", "300",
		"-key", "contact_host", ip, "-key", "contact_port", strconv.Itoa(contactPort),
		"-timeout", "20s", "-timeout_error", fmt.Sprintf("127.0.0.1:%d", sw.port))
	reg.Wait(t, "register "+user+" at "+ip, 30*time.Second)
}

func (sw *testSwitch) binding(user string, host string, port int) (binding, bool) {
	for _, b := range sw.reg.contacts(user) {
		if b.Contact.Host == host && b.Contact.Port == port {
			return b, true
		}
	}
	return binding{}, false
}

// TestForkSilentContact is issue 17's acceptance test for forking: agent
// a1 is registered twice, from a live SIPp phone that rings 300 ms and
// answers (echoing RTP), and from a socket that never responds. SIPp
// callers on the trunk are answered and the agent is dialled, as the queue
// does: each caller is bridged to the live phone while the silent
// contact's INVITE is still waiting for its first response (that is, long
// before Timer B), audio flows both ways, each caller is offered to the
// agent exactly once, and after three INVITEs without any response the
// silent contact is dropped from the binding.
func TestForkSilentContact(t *testing.T) {
	needPeer(t, "sipp", "tcpdump")
	sw := startSwitch(t, func(c *Config) {
		c.DigestAlgorithms = []string{"MD5"}
		c.Trunks[0].Allow = append(c.Trunks[0].Allow, forkTrunkIP)
		c.RingTimeout = 20 * time.Second
	})
	const calls = contactMissLimit
	agentPort := sipptest.FreeUDPPort(t)
	agent := startSIPp(t, "agent.xml", map[string]string{"RING": "300"}, "-i", forkAgentIP, "-p", strconv.Itoa(agentPort), "-mp", "6300",
		"-rtp_echo", "-m", strconv.Itoa(calls), "-timeout", "120s", "-timeout_error")
	registerContact(t, sw, "a1", "secret", forkAgentIP, agentPort)
	silent := newMute(t, forkSilentIP)
	registerContact(t, sw, "a1", "secret", forkSilentIP, silent.port)
	if n := len(sw.reg.contacts("a1")); n != 2 {
		t.Fatalf("a1 has %d contacts, want 2", n)
	}

	capAgent := sipptest.StartCapture(t, "udp and dst host "+forkAgentIP+" and dst port 6300")
	capCaller := sipptest.StartCapture(t, "udp and dst host "+forkTrunkIP+" and dst port 6310")
	caller := startSIPp(t, "caller.xml", map[string]string{"PAUSE_MS": "200", "DIGIT": "1", "TALK": "2500"},
		"-i", forkTrunkIP, "-p", strconv.Itoa(sipptest.FreeUDPPort(t)), "-mp", "6310", "-m", strconv.Itoa(calls), "-l", "1",
		"-s", "88001234567", "-key", "caller", "79123456789",
		"-timeout", "120s", "-timeout_error", fmt.Sprintf("127.0.0.1:%d", sw.port))

	dials := 0
	for i := range calls {
		leg := nextLeg(t, sw, 20*time.Second, caller)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if err := leg.Answer(ctx); err != nil {
			cancel()
			t.Fatal(err)
		}
		dials++
		started := time.Now()
		agentLeg, err := sw.Dial(ctx, sip.Target{Agent: "a1", CallerID: "79123456789"})
		took := time.Since(started)
		if err != nil {
			cancel()
			t.Fatalf("call %d: Dial a1 (one live, one silent contact): %v", i+1, err)
		}
		// Both contacts were rung, and the silent one's INVITE is still
		// pending: over UDP it is sent 7 times (at 0, 0.5, 1.5 ... 31.5 s)
		// before Timer B ends it; the bridge came before the last of them.
		silent.waitFor(t, "the silent contact's INVITE", 10*time.Second, func(m *mute) bool { return len(m.order) == i+1 })
		if n := silent.sendsOf(i); n >= 7 {
			cancel()
			t.Fatalf("call %d: the silent contact had its INVITE %d times (Timer B) before the live one was bridged", i+1, n)
		}
		if b, ok := sw.binding("a1", forkSilentIP, silent.port); !ok || b.Misses > i {
			cancel()
			t.Fatalf("call %d: when the live contact was bridged the silent INVITE had already ended (binding %+v, present %v): the fork waited for it", i+1, b, ok)
		}
		t.Logf("call %d: Dial returned the live contact after %v; the silent one had its INVITE %d time(s)", i+1, took.Round(time.Millisecond), silent.sendsOf(i))
		if err := leg.Bridge(ctx, agentLeg); err != sip.ErrHangup {
			cancel()
			t.Fatalf("call %d: Bridge = %v, want ErrHangup when the caller hangs up", i+1, err)
		}
		_ = agentLeg.Hangup(sip.CauseNormal)
		cancel()
	}
	caller.Wait(t, "callers", 60*time.Second)
	agent.Wait(t, "live agent phone", 60*time.Second)
	if got := caller.Stat(t, "SuccessfulCall(C)"); got != calls {
		t.Fatalf("SIPp callers: %d successful calls, want %d", got, calls)
	}
	// Offered once each: the live phone got exactly one INVITE per caller.
	if got := agent.Stat(t, "SuccessfulCall(C)"); got != calls || dials != calls {
		t.Fatalf("live phone answered %d calls for %d dials, want %d", got, dials, calls)
	}
	toAgent, toCaller := len(capAgent.Stop(t)), len(capCaller.Stop(t))
	if toAgent < 50*calls || toCaller < 50*calls {
		t.Fatalf("RTP through the bridges: %d packets to the agent, %d to the callers; want the callers' audio and its echo", toAgent, toCaller)
	}
	// The silent contact never responded to its INVITEs: at the limit its
	// binding goes; the live one stays.
	eventually(t, fmt.Sprintf("the silent contact dropped after %d unanswered INVITEs", calls), 60*time.Second, func() bool {
		_, ok := sw.binding("a1", forkSilentIP, silent.port)
		return !ok
	})
	if _, ok := sw.binding("a1", forkAgentIP, agentPort); !ok {
		t.Fatal("the live contact was dropped")
	}
	if !strings.Contains(sw.logs.String(), "sip contact dropped") {
		t.Fatal("dropping the contact was not logged")
	}
	if silent.inviteCount() != calls {
		t.Fatalf("the silent contact got %d INVITEs, want %d", silent.inviteCount(), calls)
	}
	t.Logf("RTP: %d packets to the agent, %d to the callers", toAgent, toCaller)
}

// TestForkLateAnswerWithoutProvisional: a contact that sent nothing, not
// even 100 Trying, while another contact answered cannot be cancelled
// (RFC 3261 §9.1); when it answers after all, it gets ACK and BYE, and the
// switch keeps no leg, stream or port for it.
func TestForkLateAnswerWithoutProvisional(t *testing.T) {
	needPeer(t, "sipp")
	sw := startSwitch(t, func(c *Config) { c.DigestAlgorithms = []string{"MD5"} })
	agentPort := sipptest.FreeUDPPort(t)
	agent := startSIPp(t, "agent.xml", map[string]string{"RING": "100"}, "-i", forkAgentIP, "-p", strconv.Itoa(agentPort), "-mp", "6320",
		"-rtp_echo", "-m", "1", "-timeout", "60s", "-timeout_error")
	registerContact(t, sw, "a2", "secret2", forkAgentIP, agentPort)
	late := newMute(t, forkSilentIP)
	registerContact(t, sw, "a2", "secret2", forkSilentIP, late.port)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	agentLeg, err := sw.Dial(ctx, sip.Target{Agent: "a2"})
	if err != nil {
		t.Fatalf("Dial a2: %v", err)
	}
	late.waitFor(t, "the INVITE to the late contact", 10*time.Second, func(m *mute) bool { return len(m.order) == 1 })
	late.answerLast(t, 6330)
	late.waitFor(t, "ACK and BYE for the late 200", 10*time.Second, func(m *mute) bool {
		return strings.Join(m.methods, ",") == "INVITE,ACK,BYE" || strings.HasSuffix(strings.Join(m.methods, ","), "ACK,BYE")
	})
	eventually(t, "only the winner's leg and stream left", 10*time.Second, func() bool {
		return sw.cfg.Media.Streams() == 1 && sw.ActiveLegs() == 1
	})
	if _, ok := sw.binding("a2", forkSilentIP, late.port); !ok {
		t.Fatal("a contact that answered was dropped")
	}
	_ = agentLeg.Hangup(sip.CauseNormal)
	agent.Wait(t, "agent", 30*time.Second)
}

// eventually polls cond until it holds or limit passes (then fails).
func eventually(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
