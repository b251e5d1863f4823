package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// TestServeAsteriskMode runs `serve` in Asterisk mode against a real
// Asterisk 22 configured from deploy/asterisk (the same environment as
// sip/asterisk TestContract; skipped without it), and walks the path a
// support call takes in native mode: a caller on the trunk picks the
// support queue in the IVR menu, a first-line agent answers and blind-
// transfers (REFER) to the escalation number, a second-line agent answers
// with the caller's audio reaching them, and the next "day" (2 s here) the
// survey calls the same number back through the Asterisk trunk and records
// the customer's rating and FCR answer. The phones are real SIP/RTP peers
// registered with Asterisk; hotline only talks ARI.
//
// Asterisk must see hotline's generated prompts (deploy/asterisk/README.md,
// "Prompts"): the test checks that through ARI first.
func TestServeAsteriskMode(t *testing.T) {
	env := needAsteriskEnv(t)
	db := pgtest.New(t)
	srv := startAsteriskServe(t, env, db.DSN, t.TempDir())
	api := srv.api
	events := watchEvents(t, srv.ctx, api)
	sipAddr, prefix := env.sip, env.agentPrefix

	// The phones: the trunk side (caller, later the survey's customer) at
	// the provider's address deploy/asterisk/pjsip.conf identifies, and two
	// agents registered with Asterisk.
	trunk := testPhone(t, "127.0.0.31", 5390, "", "")
	first := testPhone(t, "127.0.0.32", 0, "a9", prefix+"a9")
	second := testPhone(t, "127.0.0.33", 0, "a10", prefix+"a10")
	for _, p := range []*siptest.Phone{first, second} {
		if err := p.Register(ctxTimeout(t, 10*time.Second), sipAddr, 5*time.Minute); err != nil {
			t.Fatalf("register %s with Asterisk: %v", p.User(), err)
		}
		t.Cleanup(func() { _ = p.Register(ctxTimeout(t, 5*time.Second), sipAddr, 0) })
		post(t, api+"/api/v1/agents/"+p.User()+"/login", "")
	}

	// The caller dials the 8-800 number; hotline answers over ARI.
	const caller = "79123456789"
	call, err := trunk.Call(ctxTimeout(t, 20*time.Second), siptest.CallOptions{Addr: sipAddr, To: "88001234567", From: caller})
	if err != nil {
		t.Fatalf("the 8-800 call was not answered: %v", err)
	}
	t.Cleanup(func() { _ = call.Hangup(ctxTimeout(t, 5*time.Second)) })
	entered := events.wait(t, "the call arrives", func(e eventlog.Event) bool { return e.Type == eventlog.CallArrived })
	callID := entered.CallID
	waitFor(t, "the menu prompt", func() bool { return call.Received() > 50 })
	if err := call.SendDTMF(ctxTimeout(t, 5*time.Second), "1"); err != nil {
		t.Fatal(err)
	}

	// First line answers, hears the caller, and escalates by REFER.
	firstCall := nextIncoming(t, first)
	events.wait(t, "first line answers", func(e eventlog.Event) bool {
		return e.Type == eventlog.QueueAnswered && e.CallID == callID && e.Queue == "support" && e.Agent == "a9"
	})
	mark := firstCall.Received()
	waitFor(t, "the caller's audio at the first-line agent", func() bool { return firstCall.Received() > mark+50 })
	if st, err := firstCall.Refer(ctxTimeout(t, 5*time.Second), "2000"); err != nil || st != 202 {
		t.Fatalf("REFER to the escalation number = %d, %v; want 202", st, err)
	}
	esc := events.wait(t, "call.escalated", func(e eventlog.Event) bool { return e.Type == eventlog.CallEscalated && e.CallID == callID })
	if esc.Agent != "a9" || esc.Queue != "support" {
		t.Fatalf("call.escalated = %+v; want from a9 in support", esc)
	}
	// As real phones do, the agent's phone hangs up once told the transfer
	// succeeded: Asterisk defers ending a transferer's session for up to
	// 60 s waiting for that BYE (PJSIP), whatever hotline does with the leg.
	for notified := false; !notified; {
		select {
		case body := <-firstCall.Notifies():
			notified = strings.Contains(body, "200")
		case <-time.After(30 * time.Second):
			t.Fatal("the first-line agent got no NOTIFY 200 for the transfer")
		}
	}
	if err := firstCall.Hangup(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatalf("the first-line agent's BYE after the transfer: %v", err)
	}

	// Second line answers and talks to the same caller.
	secondCall := nextIncoming(t, second)
	events.wait(t, "second line answers", func(e eventlog.Event) bool {
		return e.Type == eventlog.EscalationAnswered && e.CallID == callID && e.Agent == "a10"
	})
	mark = secondCall.Received()
	waitFor(t, "the caller's audio at the second-line agent", func() bool { return secondCall.Received() > mark+50 })
	mark = call.Received()
	waitFor(t, "the second-line agent's audio at the caller", func() bool { return call.Received() > mark+50 })
	if err := secondCall.Hangup(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitChan(t, "the caller to be hung up when second line ends the call", call.Done())
	events.wait(t, "call.ended", func(e eventlog.Event) bool { return e.Type == eventlog.CallEnded && e.CallID == callID })

	// The survey calls the number that called in, through Asterisk's trunk.
	survey := nextIncoming(t, trunk)
	if !strings.HasSuffix(survey.To, caller) {
		t.Fatalf("the survey called %q, want the caller's number %s", survey.To, caller)
	}
	// Answer each question once the bot waits for input (its prompt ended).
	if !survey.WaitPrompt(ctxTimeout(t, 30*time.Second), time.Second, 30*time.Second) {
		t.Fatal("the survey's rating question never ended")
	}
	if err := survey.SendDTMF(ctxTimeout(t, 5*time.Second), "4"); err != nil {
		t.Fatal(err)
	}
	if !survey.WaitPrompt(ctxTimeout(t, 30*time.Second), time.Second, 30*time.Second) {
		t.Fatal("the survey's solved question never ended")
	}
	// The bot may thank and hang up while the digit's last packets go out.
	if err := survey.SendDTMF(ctxTimeout(t, 5*time.Second), "1"); err != nil {
		select {
		case <-survey.Done(): // the call ended under the digit: the event below says whether it counted
		case <-time.After(2 * time.Second):
			t.Fatal(err)
		}
	}
	done := events.wait(t, "survey.completed", func(e eventlog.Event) bool { return e.Type == eventlog.SurveyCompleted && e.CallID == callID })
	if done.Data["rating"] != "4" || done.Data["solved"] != "yes" {
		t.Fatalf("survey.completed = %+v; want rating 4, solved yes", done)
	}

	// The PostgreSQL report has the call, its escalation and its survey.
	var rep struct {
		Data []struct {
			Queue     string `json:"queue"`
			Offered   int    `json:"offered"`
			Answered  int    `json:"answered"`
			Escalated int    `json:"escalated"`
		} `json:"data"`
	}
	waitUntil(t, "the report", func() bool {
		getJSON(t, api+"/api/v1/reports/queues", &rep)
		for _, r := range rep.Data {
			if r.Queue == "support" && r.Offered == 1 && r.Answered == 1 && r.Escalated == 1 {
				return true
			}
		}
		return false
	})
}

// TestServeAsteriskRestart: hotline is restarted (SIGTERM-style shutdown,
// then a new process on the same database) while a caller waits in the
// support queue. In Asterisk mode the call is not dropped: the caller hears
// music throughout, the new process takes the call back into the same
// queue at its place (its wait counts from the first join), an agent who
// logs in afterwards gets it, and the report shows one offered, answered
// call, not an abandon plus a new call.
func TestServeAsteriskRestart(t *testing.T) {
	env := needAsteriskEnv(t)
	db := pgtest.New(t)
	spool := t.TempDir()
	first := startAsteriskServe(t, env, db.DSN, spool)
	events := watchEvents(t, first.ctx, first.api)

	trunk := testPhone(t, "127.0.0.31", 5390, "", "")
	agent := testPhone(t, "127.0.0.32", 0, "a9", env.agentPrefix+"a9")
	if err := agent.Register(ctxTimeout(t, 10*time.Second), env.sip, 5*time.Minute); err != nil {
		t.Fatalf("register a9 with Asterisk: %v", err)
	}
	t.Cleanup(func() { _ = agent.Register(ctxTimeout(t, 5*time.Second), env.sip, 0) })

	call, err := trunk.Call(ctxTimeout(t, 20*time.Second), siptest.CallOptions{Addr: env.sip, To: "88001234567", From: "79123450001"})
	if err != nil {
		t.Fatalf("the 8-800 call was not answered: %v", err)
	}
	t.Cleanup(func() { _ = call.Hangup(ctxTimeout(t, 5*time.Second)) })
	waitFor(t, "the menu prompt", func() bool { return call.Received() > 50 })
	if err := call.SendDTMF(ctxTimeout(t, 5*time.Second), "1"); err != nil {
		t.Fatal(err)
	}
	joined := events.wait(t, "queue.joined", func(e eventlog.Event) bool { return e.Type == eventlog.QueueJoined })
	time.Sleep(2 * time.Second) // the caller waits (nobody is logged in)

	first.stop() // hotline stops; the call stays in Asterisk
	mark := call.Received()
	waitFor(t, "music while hotline is down", func() bool { return call.Received() > mark+50 })

	second := startAsteriskServe(t, env, db.DSN, spool)
	events = watchEvents(t, second.ctx, second.api)
	resumed := events.wait(t, "the call back in its queue", func(e eventlog.Event) bool {
		return e.Type == eventlog.QueueJoined && e.CallID == joined.CallID
	})
	if resumed.Queue != "support" || resumed.Data["resumed"] != "1" {
		t.Fatalf("queue.joined after the restart %+v; want support, resumed", resumed)
	}
	if at, err := time.Parse(time.RFC3339Nano, resumed.Data["joined_at"]); err != nil || at.Sub(joined.At).Abs() > time.Millisecond {
		t.Fatalf("resumed joined_at %q, want the first join %s", resumed.Data["joined_at"], joined.At)
	}
	mark = call.Received()
	waitFor(t, "music after the restart", func() bool { return call.Received() > mark+50 })

	post(t, second.api+"/api/v1/agents/a9/login", "")
	agentCall := nextIncoming(t, agent)
	ans := events.wait(t, "queue.answered", func(e eventlog.Event) bool {
		return e.Type == eventlog.QueueAnswered && e.CallID == joined.CallID
	})
	if w, _ := strconv.Atoi(ans.Data["wait_ms"]); time.Duration(w)*time.Millisecond < ans.At.Sub(joined.At)-time.Second {
		t.Fatalf("wait_ms %s; want the wait since the first join (%s)", ans.Data["wait_ms"], ans.At.Sub(joined.At))
	}
	mark = agentCall.Received()
	waitFor(t, "the caller's audio at the agent", func() bool { return agentCall.Received() > mark+50 })
	if err := agentCall.Hangup(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitChan(t, "the caller to be hung up after the agent", call.Done())

	var rep struct {
		Data []struct {
			Queue     string `json:"queue"`
			Offered   int    `json:"offered"`
			Answered  int    `json:"answered"`
			Abandoned int    `json:"abandoned"`
		} `json:"data"`
	}
	waitUntil(t, "the report", func() bool {
		getJSON(t, second.api+"/api/v1/reports/queues", &rep)
		for _, r := range rep.Data {
			if r.Queue == "support" && r.Answered == 1 {
				return true
			}
		}
		return false
	})
	for _, r := range rep.Data {
		if r.Queue == "support" && (r.Offered != 1 || r.Abandoned != 0) {
			t.Fatalf("report for support %+v; want 1 offered, 1 answered, 0 abandoned", r)
		}
	}
}

// asteriskEnv is a real Asterisk configured from deploy/asterisk (see
// sip/asterisk TestContract).
type asteriskEnv struct {
	ariURL, ariUser, ariPassword, sip, agentPrefix string
}

func needAsteriskEnv(t *testing.T) asteriskEnv {
	t.Helper()
	env := map[string]string{}
	for _, k := range []string{"HOTLINE_TEST_ARI_URL", "HOTLINE_TEST_ARI_USER", "HOTLINE_TEST_ARI_PASSWORD", "HOTLINE_TEST_ASTERISK_SIP"} {
		if env[k] = os.Getenv(k); env[k] == "" {
			t.Skipf("Asterisk mode end to end skipped: set HOTLINE_TEST_ARI_URL, HOTLINE_TEST_ARI_USER, "+
				"HOTLINE_TEST_ARI_PASSWORD and HOTLINE_TEST_ASTERISK_SIP (%s is empty) for an Asterisk 22 configured from deploy/asterisk", k)
		}
	}
	e := asteriskEnv{ariURL: env["HOTLINE_TEST_ARI_URL"], ariUser: env["HOTLINE_TEST_ARI_USER"],
		ariPassword: env["HOTLINE_TEST_ARI_PASSWORD"], sip: env["HOTLINE_TEST_ASTERISK_SIP"],
		agentPrefix: os.Getenv("HOTLINE_TEST_AGENT_PASSWORD_PREFIX")}
	if e.agentPrefix == "" {
		e.agentPrefix = "hotline-"
	}
	// Asterisk must see hotline's generated prompts (deploy/asterisk/README.md).
	for _, p := range []string{"hotline/menu-main", "hotline/survey-greeting", "hotline/survey-rate", "hotline/survey-solved", "hotline/survey-thanks"} {
		req, _ := http.NewRequest(http.MethodGet, e.ariURL+"/sounds/"+url.PathEscape(p), nil)
		req.SetBasicAuth(e.ariUser, e.ariPassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Asterisk has no sound %q (%s): copy prompts/generated/<lang>/hotline into its sounds directory "+
				"as deploy/asterisk/README.md says", p, resp.Status)
		}
	}
	return e
}

// startAsteriskServe starts `serve` in Asterisk mode on env.
func startAsteriskServe(t *testing.T, env asteriskEnv, dsn, spool string) *testServe {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	yml := strings.NewReplacer("ROOT", root, "DBURL", dsn, "SPOOL", spool,
		"HTTPPORT", fmt.Sprint(sipptest.FreeUDPAndTCPPort(t)), "ARIURL", env.ariURL,
		"ARIUSER", env.ariUser, "ARIPASS", env.ariPassword).Replace(asteriskE2EConfig)
	return startTestServe(t, "asterisk-e2e.yaml", yml)
}

const asteriskE2EConfig = `
service: {name: hotline-asterisk-e2e}
sip:
  mode: asterisk
  trunks:
    - {name: provider, caller_id: "88001234567"}
  numbers: {"88001234567": support}
asterisk:
  url: ARIURL
  username: ARIUSER
  password: ARIPASS
  trunks: {provider: "PJSIP/%s@provider"}
media:
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT"}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: a9, line: 1, skills: {general: 1}, wrapup: 1s}
  - {id: a10, line: 2, skills: {expert: 1}, wrapup: 1s}
queues:
  - {name: support, skill: general, line: 1, ring_timeout: 10s, announce: {every: 0s}}
  - {name: second, skill: expert, line: 2, ring_timeout: 10s, announce: {every: 0s}}
escalation: {queue: second, number: "2000"}
survey:
  enabled: true
  delay: 2s
  window: {from: "00:00", to: "23:59"}
  skip_holidays: false
  retry_delay: 5s
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        menu:
          type: menu
          prompt: hotline/menu-main
          timeout: 5s
          tries: 2
          options: {"1": support}
          fallback: support
        support: {type: queue, queue: support}
`

// eventLog follows /api/v1/events and keeps every event.
type eventLog struct {
	mu   sync.Mutex
	all  []eventlog.Event
	more chan struct{}
}

func watchEvents(t *testing.T, ctx context.Context, api string) *eventLog {
	t.Helper()
	return watchEventsWith(t, ctx, api, "")
}

// watchEventsWith is watchEvents with the API's bearer token.
func watchEventsWith(t *testing.T, ctx context.Context, api, token string) *eventLog {
	t.Helper()
	l := &eventLog{more: make(chan struct{}, 1)}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v1/events", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data:")
			if !ok {
				continue
			}
			var e eventlog.Event
			if json.Unmarshal([]byte(strings.TrimSpace(data)), &e) == nil {
				l.mu.Lock()
				l.all = append(l.all, e)
				l.mu.Unlock()
				select {
				case l.more <- struct{}{}:
				default:
				}
			}
		}
	}()
	return l
}

// matching returns the events so far that match.
func (l *eventLog) matching(match func(eventlog.Event) bool) []eventlog.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []eventlog.Event
	for _, e := range l.all {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// wait returns the first event (from the start of the stream) that matches.
func (l *eventLog) wait(t *testing.T, what string, match func(eventlog.Event) bool) eventlog.Event {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		l.mu.Lock()
		for _, e := range l.all {
			if match(e) {
				l.mu.Unlock()
				return e
			}
		}
		l.mu.Unlock()
		select {
		case <-l.more:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			l.mu.Lock()
			var types []string
			for _, e := range l.all {
				types = append(types, string(e.Type))
			}
			l.mu.Unlock()
			t.Fatalf("timed out waiting for %s; events so far: %s", what, strings.Join(types, " "))
		}
	}
}

// testPhone is a SIP/RTP phone on ip (port 0: any).
func testPhone(t *testing.T, ip string, port int, user, password string) *siptest.Phone {
	t.Helper()
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr(ip), PortMin: 43000, PortMax: 43999})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	p, err := siptest.NewPhone(siptest.PhoneConfig{IP: ip, Port: port, User: user, Password: password, Media: eng,
		AnswerDelay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func nextIncoming(t *testing.T, p *siptest.Phone) *siptest.Call {
	t.Helper()
	select {
	case c := <-p.Incoming():
		waitChan(t, "the phone's answer to be confirmed", c.Answered())
		return c
	case <-time.After(60 * time.Second):
		t.Fatalf("phone %s@%s got no call", p.User(), p.Addr())
	}
	return nil
}

func waitChan(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
