package queue_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/queue"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/native"
)

// End-to-end tests over the native switch with real peers: SIPp callers
// on the trunk, SIPp agents (digest-registered, echoing RTP), a baresip
// softphone, tcpdump. `go test -short` skips them. Loopback addresses
// .12–.14 are used only here (sip/native's tests use .2–.9).

const (
	e2eTrunkIP = "127.0.0.12" // SIPp callers (the trunk)
	e2eAgentIP = "127.0.0.13" // SIPp agents
	e2ePhoneIP = "127.0.0.14" // baresip
	promptsRU  = "/usr/share/asterisk/sounds/ru"
	mohDir     = "/usr/share/asterisk/moh"
	escNumber  = "7000"
)

func needPeers(t *testing.T, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with real SIP peers: skipped with -short")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run scripts/install-deps.sh test (Debian packages sip-tester, baresip, tcpdump)", tool)
		}
	}
	for _, d := range []string{promptsRU, mohDir} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("%s missing: install asterisk-core-sounds-ru-wav and asterisk-moh-opsound-wav", d)
		}
	}
}

type logBuffer = sipptest.Buffer

func tail(s string) string { return sipptest.Tail(s, 4000) }

// centre is a native switch, a Runner over it and the API on httptest.
type centre struct {
	sw      *native.Switch
	port    int
	r       *queue.Runner
	api     *httptest.Server
	swLog   *logBuffer
	qLog    *logBuffer
	callers chan sip.Leg
}

var e2eRTPBase = 34000

func startCentre(t *testing.T, qcfg queue.Config, passwords map[string]string) *centre {
	t.Helper()
	c := &centre{swLog: &logBuffer{}, qLog: &logBuffer{}, callers: make(chan sip.Leg, 16)}
	swLogger := slog.New(slog.NewTextHandler(c.swLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr("127.0.0.1"), PortMin: e2eRTPBase, PortMax: e2eRTPBase + 399,
		InactivityTimeout: 30 * time.Second, Logger: swLogger})
	e2eRTPBase += 400
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	cat, err := media.NewCatalog(media.CatalogConfig{
		Langs: map[string][]string{"ru": {filepath.Join("..", "prompts", "generated", "ru"), promptsRU}},
		MOH:   map[string]string{"default": mohDir},
	})
	if err != nil {
		t.Fatal(err)
	}
	sw, err := native.New(native.Config{
		Listen: "127.0.0.1:0",
		Trunks: []native.Trunk{{Name: "provider", Allow: []string{e2eTrunkIP}, Address: e2eTrunkIP + ":5399", CallerID: "88001234567"}},
		// SIPp and Debian's baresip answer MD5 challenges only.
		DigestAlgorithms: []string{"MD5"},
		Credentials:      native.StaticCredentials(passwords),
		Media:            eng, Catalog: cat, Logger: swLogger,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := sw.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	c.sw, c.port = sw, int(sw.Addr().Port())
	// The wiring serve does: the Runner publishes on a bus, the live
	// stream is one of its consumers.
	bus := eventlog.NewBus(nil)
	live := eventlog.NewBroadcaster(0)
	bus.Subscribe(live)
	r, err := queue.NewRunner(queue.RunnerConfig{
		Queue: qcfg, Switch: sw, Presence: sw, EscalationNumber: escNumber, Publisher: bus, IDs: bus.IDs(),
		Logger: slog.New(slog.NewTextHandler(c.qLog, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c.r = r
	runDone := make(chan struct{})
	go func() { _ = r.Run(ctx); close(runDone) }()
	// The wiring cmd/hotline does: agents' calls are feature codes, trunk
	// calls go to the test (in production: the IVR, then Enqueue).
	go func() {
		for leg := range sw.Incoming() {
			if leg.Info().Agent != "" {
				go r.HandleAgentCall(ctx, leg)
				continue
			}
			c.callers <- leg
		}
	}()
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", r.Handler())
	mux.Handle("GET /api/v1/events", live)
	c.api = httptest.NewServer(mux)
	t.Cleanup(func() {
		defer live.Close()
		defer bus.Close()
		c.api.CloseClientConnections()
		c.api.Close()
		cancel()
		<-runDone
		sw.Close()
		if dir := os.Getenv("HOTLINE_E2E_LOGS"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, t.Name()+".queue.log"), []byte(c.qLog.String()), 0o644)
			_ = os.WriteFile(filepath.Join(dir, t.Name()+".switch.log"), []byte(c.swLog.String()), 0o644)
		}
		if t.Failed() {
			t.Logf("queue log:\n%s", tail(c.qLog.String()))
			t.Logf("switch log:\n%s", tail(c.swLog.String()))
		}
	})
	return c
}

// api sends a request and decodes the JSON answer into out (may be nil).
func (c *centre) apiDo(t *testing.T, method, path, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, c.api.URL+path, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s = %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// stream is a client of /api/v1/events.
type stream struct {
	mu  sync.Mutex
	evs []eventlog.Event
	new chan struct{}
}

func (c *centre) openStream(t *testing.T) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", c.api.URL+"/api/v1/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{new: make(chan struct{}, 1)}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev eventlog.Event
				if json.Unmarshal([]byte(data), &ev) == nil {
					s.mu.Lock()
					s.evs = append(s.evs, ev)
					s.mu.Unlock()
					select {
					case s.new <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return s
}

// wait returns the first event matching, waiting for it (the deadline
// only guards against hangs).
func (s *stream) wait(t *testing.T, what string, match func(eventlog.Event) bool) eventlog.Event {
	t.Helper()
	deadline := time.After(40 * time.Second)
	for {
		s.mu.Lock()
		for _, ev := range s.evs {
			if match(ev) {
				s.mu.Unlock()
				return ev
			}
		}
		s.mu.Unlock()
		select {
		case <-s.new:
		case <-deadline:
			t.Fatalf("no event on the stream: %s", what)
		}
	}
}

func (s *stream) all(match func(eventlog.Event) bool) []eventlog.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []eventlog.Event
	for _, ev := range s.evs {
		if match(ev) {
			out = append(out, ev)
		}
	}
	return out
}

func is(typ eventlog.Type, call, agent string) func(eventlog.Event) bool {
	return func(ev eventlog.Event) bool {
		return ev.Type == typ && (call == "" || ev.CallID == call) && (agent == "" || ev.Agent == agent)
	}
}

type sipp = sipptest.SIPp

func startSIPp(t *testing.T, scenario string, replace map[string]string, args ...string) *sipp {
	t.Helper()
	return sipptest.Start(t, filepath.Join("..", "deploy", "sipp", scenario), replace, args...)
}

// sippAgent starts a SIPp agent scenario on uasPort and registers user.
func (c *centre) sippAgent(t *testing.T, scenario string, replace map[string]string, user, pass string, uasPort, rtpPort, calls int) *sipp {
	t.Helper()
	uas := startSIPp(t, scenario, replace, "-i", e2eAgentIP, "-p", strconv.Itoa(uasPort), "-mp", strconv.Itoa(rtpPort),
		"-rtp_echo", "-m", strconv.Itoa(calls), "-s", user, "-au", user, "-ap", pass, "-timeout", "55s", "-timeout_error")
	reg := startSIPp(t, "register.xml", nil, "-i", e2eAgentIP, "-p", strconv.Itoa(uasPort+1), "-m", "1",
		"-s", user, "-au", user, "-ap", pass, "-key", "expires", "300",
		"-key", "contact_host", e2eAgentIP, "-key", "contact_port", strconv.Itoa(uasPort),
		"-timeout", "20s", "-timeout_error", fmt.Sprintf("127.0.0.1:%d", c.port))
	reg.Wait(t, "register "+user, 50*time.Second)
	if !c.sw.Registered(user) {
		t.Fatalf("%s is not registered after a successful REGISTER", user)
	}
	return uas
}

// feature dials a feature code from a registered phone's address.
func (c *centre) feature(t *testing.T, fromIP, user, pass, code string, port int) {
	t.Helper()
	p := startSIPp(t, "feature.xml", nil, "-i", fromIP, "-p", strconv.Itoa(port), "-m", "1", "-s", code,
		"-au", user, "-ap", pass, "-key", "agent", user, "-timeout", "20s", "-timeout_error", fmt.Sprintf("127.0.0.1:%d", c.port))
	p.Wait(t, user+" dials "+code, 50*time.Second)
}

// SIPp takes the media port given and the next ones (RTP, RTCP, video):
// tests space them by 10.

// caller starts a SIPp caller on the trunk and enqueues its leg.
func (c *centre) caller(t *testing.T, number string, port, rtpPort int, talk time.Duration, nc queue.NewCall) (*sipp, string) {
	t.Helper()
	p := startSIPp(t, "caller.xml", map[string]string{"PAUSE_MS": "500", "DIGIT": "1", "TALK": strconv.Itoa(int(talk / time.Millisecond))},
		"-i", e2eTrunkIP, "-p", strconv.Itoa(port), "-mp", strconv.Itoa(rtpPort), "-m", "1", "-s", "88001234567",
		"-key", "caller", number, "-timeout", "55s", "-timeout_error", fmt.Sprintf("127.0.0.1:%d", c.port))
	var leg sip.Leg
	select {
	case leg = <-c.callers:
	case <-time.After(15 * time.Second):
		t.Fatalf("caller %s did not arrive; SIPp:\n%s", number, tail(p.Output()))
	}
	if leg.Info().From != number {
		t.Fatalf("leg from %q, want %q", leg.Info().From, number)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.r.Enqueue(ctx, leg, nc); err != nil {
		t.Fatal(err)
	}
	return p, leg.Info().ID
}

func startBaresip(t *testing.T, c *centre, user, pass string, sipPort, rtpPort int) *logBuffer {
	t.Helper()
	logs := sipptest.StartBaresip(t, sipptest.Baresip{
		IP: e2ePhoneIP, SIPPort: sipPort, RTPPort: rtpPort, User: user, Password: pass,
		Registrar: fmt.Sprintf("127.0.0.1:%d", c.port), Mic: filepath.Join(promptsRU, "vm-intro.wav"), Seconds: 90,
	})
	deadline := time.Now().Add(20 * time.Second)
	for !c.sw.Registered(user) {
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s did not register", user)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return logs
}

// packetsTo counts captured packets to each "ip.port" so far.
func packetsTo(c *sipptest.Capture, dsts ...string) map[string]int {
	n := map[string]int{}
	for _, line := range c.Lines() {
		for _, d := range dsts {
			if strings.Contains(line, "> "+d+":") {
				n[d]++
			}
		}
	}
	return n
}

type callJSON struct {
	ID      string `json:"id"`
	Queue   string `json:"queue"`
	State   string `json:"state"`
	Agent   string `json:"agent"`
	Caller  string `json:"caller"`
	Context struct {
		IVRPath     []string          `json:"ivr_path"`
		Data        map[string]string `json:"data"`
		FirstAgent  string            `json:"first_agent"`
		Agents      []string          `json:"agents"`
		Escalations []struct {
			FromQueue string `json:"from_queue"`
			FromAgent string `json:"from_agent"`
			ToQueue   string `json:"to_queue"`
			Mode      string `json:"mode"`
		} `json:"escalations"`
	} `json:"context"`
}

// TestE2EFairOrderAndEscalationByREFER: three callers queue and hear music
// on hold; first-line agents logging in one by one take them in arrival
// order; the second agent's phone escalates its caller by REFER to the
// escalation number (digest-challenged); a baresip second-line agent, who
// logged in with a feature code, answers; the API shows the escalation
// context and the event stream carries call.escalated.
func TestE2EFairOrderAndEscalationByREFER(t *testing.T) {
	needPeers(t, "sipp", "baresip", "tcpdump")
	pw := map[string]string{"f1": "pf1", "f2": "pf2", "f3": "pf3", "s1": "ps1"}
	c := startCentre(t, queue.Config{
		Agents: []queue.AgentConfig{{ID: "f1", Line: 1}, {ID: "f2", Line: 1}, {ID: "f3", Line: 1}, {ID: "s1", Line: 2, Name: "Second Line"}},
		Queues: []queue.QueueConfig{
			{Name: "support", Line: 1, EscalateTo: "second", RingTimeout: 10 * time.Second},
			{Name: "second", Line: 2, RingTimeout: 10 * time.Second},
		},
	}, pw)
	ev := c.openStream(t)

	f1 := c.sippAgent(t, "agent.xml", map[string]string{"RING": "300"}, "f1", pw["f1"], 5380, 6600, 1)
	f2 := c.sippAgent(t, "agent-refer.xml", map[string]string{"RING": "300", "REFER_MS": "1500", "ESCALATION": escNumber},
		"f2", pw["f2"], 5382, 6610, 1)
	f3 := c.sippAgent(t, "agent.xml", map[string]string{"RING": "300"}, "f3", pw["f3"], 5384, 6620, 1)
	startBaresip(t, c, "s1", pw["s1"], 5480, 6500)
	c.feature(t, e2ePhoneIP, "s1", pw["s1"], "*1", 5486) // s1 logs in from its phone's address
	ev.wait(t, "s1 logged in by feature code", func(e eventlog.Event) bool {
		return e.Type == eventlog.AgentState && e.Agent == "s1" && e.Data["to"] == "available"
	})

	capt := sipptest.StartCapture(t, "udp and dst host "+e2eTrunkIP)
	numbers := []string{"79123450001", "79123450002", "79123450003"}
	talk := []time.Duration{12 * time.Second, 18 * time.Second, 12 * time.Second}
	var callers []*sipp
	var ids []string
	for i, n := range numbers {
		p, id := c.caller(t, n, 5370+2*i, 6400+10*i, talk[i], queue.NewCall{Queue: "support", IVRPath: []string{"main", "support"},
			Data: map[string]string{"history": fmt.Sprintf("%d earlier calls", i+1)}})
		callers = append(callers, p)
		ids = append(ids, id)
	}
	// Every waiting caller hears music on hold.
	var dsts []string
	for i := range numbers {
		dsts = append(dsts, fmt.Sprintf("%s.%d", e2eTrunkIP, 6400+10*i))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := packetsTo(capt, dsts...)
		if n[dsts[0]] >= 25 && n[dsts[1]] >= 25 && n[dsts[2]] >= 25 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callers did not receive music on hold while waiting: %v packets", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var q struct {
		Waiting []struct {
			ID       string `json:"id"`
			Position int    `json:"position"`
		} `json:"waiting"`
	}
	c.apiDo(t, "GET", "/api/v1/queues/support", "", &q)
	if len(q.Waiting) != 3 || q.Waiting[0].ID != ids[0] || q.Waiting[2].ID != ids[2] || q.Waiting[2].Position != 3 {
		t.Fatalf("queue before any agent = %+v, want the three callers in arrival order", q.Waiting)
	}

	// Agents log in one by one: each takes the longest-waiting caller.
	c.apiDo(t, "POST", "/api/v1/agents/f1/login", "", nil)
	ev.wait(t, "first caller answered by f1", is(eventlog.QueueAnswered, ids[0], "f1"))
	c.apiDo(t, "POST", "/api/v1/agents/f2/login", "", nil)
	ev.wait(t, "second caller answered by f2", is(eventlog.QueueAnswered, ids[1], "f2"))
	c.feature(t, e2eAgentIP, "f3", pw["f3"], "*1", 5388) // f3 logs in from its phone
	ev.wait(t, "third caller answered by f3", is(eventlog.QueueAnswered, ids[2], "f3"))
	var order []string
	for _, e := range ev.all(func(e eventlog.Event) bool { return e.Type == eventlog.QueueAnswered && e.Queue == "support" }) {
		order = append(order, e.CallID+"@"+e.Agent)
	}
	if want := []string{ids[0] + "@f1", ids[1] + "@f2", ids[2] + "@f3"}; strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("answer order %v, want %v", order, want)
	}

	// f2's phone transfers (REFER) to the escalation number.
	esc := ev.wait(t, "call.escalated", is(eventlog.CallEscalated, ids[1], "f2"))
	if esc.Data["to_queue"] != "second" || esc.Data["mode"] != "blind" || esc.Queue != "support" {
		t.Fatalf("call.escalated = %+v", esc)
	}
	ans := ev.wait(t, "second line answers", is(eventlog.EscalationAnswered, ids[1], "s1"))
	if ans.Data["from_agent"] != "f2" || ans.Data["from_queue"] != "support" || ans.Data["reach_ms"] == "" {
		t.Fatalf("call.escalation_answered = %+v", ans)
	}
	var call callJSON
	c.apiDo(t, "GET", "/api/v1/calls/"+ids[1], "", &call)
	x := call.Context
	if call.Queue != "second" || call.State != "connected" || call.Agent != "s1" || call.Caller != numbers[1] ||
		x.FirstAgent != "f2" || strings.Join(x.Agents, ",") != "f2,s1" || x.Data["history"] != "2 earlier calls" ||
		strings.Join(x.IVRPath, ",") != "main,support" || len(x.Escalations) != 1 ||
		x.Escalations[0].FromAgent != "f2" || x.Escalations[0].FromQueue != "support" || x.Escalations[0].ToQueue != "second" ||
		x.Escalations[0].Mode != "blind" {
		t.Fatalf("GET /api/v1/calls/%s = %+v", ids[1], call)
	}
	f2.Wait(t, "f2 (REFER accepted, BYE taken)", 50*time.Second)

	// Everybody hangs up in the end; every call finishes once, answered.
	for i, p := range callers {
		p.Wait(t, "caller "+numbers[i], 50*time.Second)
	}
	f1.Wait(t, "f1", 50*time.Second)
	f3.Wait(t, "f3", 50*time.Second)
	for _, id := range ids {
		ev.wait(t, "call finished", func(e eventlog.Event) bool { return e.Type == eventlog.CallFinished && e.CallID == id })
		if n := len(ev.all(is(eventlog.CallFinished, id, ""))); n != 1 {
			t.Fatalf("%d call_finished events for %s", n, id)
		}
		if e := ev.all(is(eventlog.CallFinished, id, ""))[0]; e.Reason != "answered" {
			t.Fatalf("call %s finished %q", id, e.Reason)
		}
	}
	for _, n := range numbers {
		if strings.Contains(c.qLog.String(), n) {
			t.Fatalf("the queue log contains the caller number %s unmasked", n)
		}
	}
}

// TestE2ERingNoAnswerAutoPause: an agent who does not pick up is skipped
// for the next one after the ring timeout, and paused ("missed calls")
// after a second miss; over real SIP (CANCEL on the ring timeout).
func TestE2ERingNoAnswerAutoPause(t *testing.T) {
	needPeers(t, "sipp")
	pw := map[string]string{"n1": "pn1", "y1": "py1"}
	c := startCentre(t, queue.Config{
		Agents: []queue.AgentConfig{{ID: "n1"}, {ID: "y1"}},
		Queues: []queue.QueueConfig{{Name: "support", RingTimeout: 2 * time.Second}},
	}, pw)
	ev := c.openStream(t)
	n1 := c.sippAgent(t, "agent-noanswer.xml", nil, "n1", pw["n1"], 5390, 6630, 2)
	y1 := c.sippAgent(t, "agent.xml", map[string]string{"RING": "300"}, "y1", pw["y1"], 5392, 6640, 2)
	// n1 logs in first: it is the longest idle and is offered first.
	c.apiDo(t, "POST", "/api/v1/agents/n1/login", "", nil)
	c.apiDo(t, "POST", "/api/v1/agents/y1/login", "", nil)

	c1, id1 := c.caller(t, "79123450011", 5374, 6700, 8*time.Second, queue.NewCall{Queue: "support"})
	ev.wait(t, "n1 misses the first call", is(eventlog.AgentRingNoAnswer, id1, "n1"))
	ev.wait(t, "y1 answers the first call", is(eventlog.QueueAnswered, id1, "y1"))

	c2, id2 := c.caller(t, "79123450012", 5376, 6710, 16*time.Second, queue.NewCall{Queue: "support"})
	ev.wait(t, "n1 misses the second call", is(eventlog.AgentRingNoAnswer, id2, "n1"))
	ev.wait(t, "n1 paused", func(e eventlog.Event) bool {
		return e.Type == eventlog.AgentState && e.Agent == "n1" && e.Data["to"] == "paused" && e.Reason == "missed calls"
	})
	var a struct {
		State      string `json:"state"`
		Reason     string `json:"reason"`
		Missed     int    `json:"missed"`
		Registered *bool  `json:"registered"`
	}
	c.apiDo(t, "GET", "/api/v1/agents/n1", "", &a)
	if a.State != "paused" || a.Reason != "missed calls" || a.Missed != 2 || a.Registered == nil || !*a.Registered {
		t.Fatalf("GET /api/v1/agents/n1 = %+v", a)
	}
	// The second caller waits for y1, who is free once the first hangs up.
	ev.wait(t, "y1 answers the second call", is(eventlog.QueueAnswered, id2, "y1"))
	c1.Wait(t, "caller 1", 50*time.Second)
	c2.Wait(t, "caller 2", 50*time.Second)
	n1.Wait(t, "n1 (two CANCELled INVITEs)", 50*time.Second)
	y1.Wait(t, "y1", 50*time.Second)
	if n := len(ev.all(is(eventlog.AgentRingNoAnswer, "", "n1"))); n != 2 {
		t.Fatalf("%d misses for n1, want 2", n)
	}
}

// TestE2EEscalationByCodeAndWarmConsult: a first-line agent presses *9 in
// the call (RFC 4733 from SIPp) and the caller reaches a second-line agent;
// then another caller's agent consults second line through the API while the
// caller waits on hold, and completes the transfer.
func TestE2EEscalationByCodeAndWarmConsult(t *testing.T) {
	needPeers(t, "sipp")
	pw := map[string]string{"f1": "pf1", "f2": "pf2", "s1": "ps1", "s2": "ps2"}
	c := startCentre(t, queue.Config{
		Agents: []queue.AgentConfig{{ID: "f1", Line: 1}, {ID: "f2", Line: 1}, {ID: "s1", Line: 2}, {ID: "s2", Line: 2}},
		Queues: []queue.QueueConfig{
			{Name: "support", Line: 1, EscalateTo: "second", RingTimeout: 10 * time.Second},
			{Name: "second", Line: 2, RingTimeout: 10 * time.Second},
		},
	}, pw)
	ev := c.openStream(t)
	f1 := c.sippAgent(t, "agent-code.xml", map[string]string{"RING": "300", "CODE_MS": "1000"}, "f1", pw["f1"], 5400, 6800, 1)
	f2 := c.sippAgent(t, "agent.xml", map[string]string{"RING": "300"}, "f2", pw["f2"], 5402, 6810, 1)
	s1 := c.sippAgent(t, "agent.xml", map[string]string{"RING": "300"}, "s1", pw["s1"], 5404, 6820, 1)
	s2 := c.sippAgent(t, "agent.xml", map[string]string{"RING": "300"}, "s2", pw["s2"], 5406, 6830, 1)
	c.apiDo(t, "POST", "/api/v1/agents/f1/login", "", nil)
	c.apiDo(t, "POST", "/api/v1/agents/s1/login", "", nil)

	x, idX := c.caller(t, "79123450021", 5410, 6840, 14*time.Second, queue.NewCall{Queue: "support"})
	ev.wait(t, "f1 answers", is(eventlog.QueueAnswered, idX, "f1"))
	esc := ev.wait(t, "f1 escalates with *9", is(eventlog.CallEscalated, idX, "f1"))
	if esc.Data["mode"] != "code" || esc.Data["to_queue"] != "second" {
		t.Fatalf("call.escalated = %+v", esc)
	}
	ev.wait(t, "s1 answers the escalated call", is(eventlog.EscalationAnswered, idX, "s1"))
	// f1's phone took its BYE and is gone: log it out, bring in f2 and s2.
	c.apiDo(t, "POST", "/api/v1/agents/f1/logout", "", nil)
	c.apiDo(t, "POST", "/api/v1/agents/f2/login", "", nil)
	c.apiDo(t, "POST", "/api/v1/agents/s2/login", "", nil)

	y, idY := c.caller(t, "79123450022", 5412, 6850, 14*time.Second, queue.NewCall{Queue: "support"})
	ev.wait(t, "f2 answers", is(eventlog.QueueAnswered, idY, "f2"))
	c.apiDo(t, "POST", "/api/v1/calls/"+idY+"/consult", `{"reason":"billing","notes":"double charge"}`, nil)
	ev.wait(t, "s2 answers the consultation", is(eventlog.ConsultAnswered, idY, "s2"))
	var call callJSON
	c.apiDo(t, "POST", "/api/v1/calls/"+idY+"/consult/complete", "", &call)
	if call.Agent != "s2" || call.Queue != "second" || len(call.Context.Escalations) != 1 || call.Context.Escalations[0].Mode != "warm" ||
		call.Context.FirstAgent != "f2" {
		t.Fatalf("after consult/complete: %+v", call)
	}
	ev.wait(t, "call.escalated warm", func(e eventlog.Event) bool {
		return e.Type == eventlog.CallEscalated && e.CallID == idY && e.Data["mode"] == "warm" && e.Reason == "billing"
	})
	f1.Wait(t, "f1 (sent *9, took the BYE)", 50*time.Second)
	f2.Wait(t, "f2 (released after the consultation)", 50*time.Second)
	x.Wait(t, "caller X", 50*time.Second)
	y.Wait(t, "caller Y", 50*time.Second)
	s1.Wait(t, "s1", 50*time.Second)
	s2.Wait(t, "s2", 50*time.Second)
	for _, id := range []string{idX, idY} {
		e := ev.wait(t, "call finished", is(eventlog.CallFinished, id, ""))
		if e.Reason != "answered" || len(ev.all(is(eventlog.CallFinished, id, ""))) != 1 {
			t.Fatalf("call %s finished %q (%d times)", id, e.Reason, len(ev.all(is(eventlog.CallFinished, id, ""))))
		}
	}
}
