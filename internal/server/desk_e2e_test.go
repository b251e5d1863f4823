package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestDeskInChromium is the agent's desk with real peers: hotline as
// `serve` runs it (PostgreSQL, the native switch, the IVR), a SIPp phone
// answering for two registered agents, SIPp callers through the IVR menu,
// and the agents' pages in headless Chromium (Debian's chromium). First
// line (d1) logs in, goes ready, the card pops with the digit pressed;
// they record "not resolved". The same caller calls again: the card shows
// the earlier call; d1 records the outcome and escalates with a note;
// second line's page (d2) pops with that note. The report's FCR and
// escalation figures include the calls. Loopback addresses 127.0.0.70-72
// are this test's. Screenshots go to docs/desk/ when missing or with
// HOTLINE_DESK_SCREENSHOTS=1.
func TestDeskInChromium(t *testing.T) {
	sipptest.NeedTools(t, "sipp", "sox", "chromium")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	db := pgtest.New(t)
	yml := fillConfig(t, root, deskConfig, "DBURL", db.DSN)
	srv := startTestServe(t, "desk.yaml", yml)
	sipAddr, base := srv.SIPAddr().String(), srv.api

	// One SIPp phone answers for both agents (first line's two calls and
	// the escalated one).
	agentPhone := sippRun(t, root, "agent.xml", map[string]string{"RING": "300"},
		"-i", "127.0.0.70", "-p", "5700", "-mp", "6800", "-rtp_echo", "-m", "3", "-timeout", "180s")
	registerAgents(t, root, sipAddr, "127.0.0.70", 5700, 5701, "d1", "d2")

	b := newBrowser(t)
	d1 := b.page(t, base, "d1", "web-d1")
	d2 := b.page(t, base, "d2", "web-d2")
	for _, p := range []*deskPage{d1, d2} {
		p.click("#btn-login")
		p.click("#btn-ready")
		p.waitFor("ready", `document.querySelector('#state').dataset.state === 'available'`)
	}
	d1.shot(root, "1-ready")

	// The first call: the caller presses 2 in the menu; the card pops.
	voice := map[string]string{"PAUSE_MS": "1500", "DIGIT": "2", "TALK": "8000"}
	caller1 := sippRun(t, root, "caller.xml", voice, "-i", "127.0.0.71", "-p", "5710", "-mp", "6810", "-m", "1",
		"-s", "88001234567", "-key", "caller", "79161234567", "-timeout", "60s", sipAddr)
	d1.waitFor("the first card", `document.querySelector('#card-caller').textContent.includes('79161234567') &&
		document.querySelector('#card-digits').textContent.includes('menu: 2')`)
	first := d1.text("#card[data-call]", `document.querySelector('#card').dataset.call`)
	d1.waitFor("the first call answered", `document.querySelector('#card').dataset.state === 'talking'`)
	d1.shot(root, "2-card")
	d1.setValue("#outcome-resolved", "not_resolved")
	d1.setValue("#outcome-category", "router")
	d1.setValue("#outcome-notes", "rebooted the router")
	d1.click("#btn-outcome")
	d1.waitFor("the first outcome", `document.querySelectorAll('#card-outcomes li').length === 1`)
	caller1.Wait(t, "first caller", 60*time.Second)
	// The first call is stored before the caller calls again.
	waitUntil(t, "the first call in the call records", func() bool {
		var rep struct {
			Data []struct {
				Queue    string `json:"queue"`
				Answered int    `json:"answered"`
			} `json:"data"`
		}
		adminJSON(t, base, "/api/v1/reports/queues", &rep)
		for _, r := range rep.Data {
			if r.Queue == "support" && r.Answered == 1 {
				return true
			}
		}
		return false
	})
	d1.waitFor("ready after wrap-up", `document.querySelector('#state').dataset.state === 'available'`)

	// The second call: the card shows the first one in its history.
	voice["TALK"] = "25000"
	caller2 := sippRun(t, root, "caller.xml", voice, "-i", "127.0.0.71", "-p", "5711", "-mp", "6820", "-m", "1",
		"-s", "88001234567", "-key", "caller", "79161234567", "-timeout", "90s", sipAddr)
	d1.waitFor("the second card with the first call in its history", fmt.Sprintf(`(() => {
		const card = document.querySelector('#card');
		const rows = document.querySelectorAll('#card-history tbody tr');
		return card.dataset.call && card.dataset.call !== %q && rows.length === 1 &&
			rows[0].dataset.call === %q && rows[0].textContent.includes('d1') && rows[0].dataset.outcome === 'not_resolved' &&
			document.querySelector('#card-digits').textContent.includes('menu: 2');
	})()`, first, first))
	second := d1.text("#card[data-call]", `document.querySelector('#card').dataset.call`)
	d1.waitFor("the second call answered", `document.querySelector('#card').dataset.state === 'talking'`)
	d1.shot(root, "3-history")
	d1.setValue("#outcome-resolved", "not_resolved")
	d1.setValue("#outcome-category", "router")
	d1.click("#btn-outcome")
	d1.waitFor("the second outcome", `document.querySelectorAll('#card-outcomes li').length === 1`)
	d1.setValue("#esc-reason", "technical")
	d1.setValue("#esc-notes", "router resets every hour, firmware?")
	d1.click("#btn-escalate")
	d1.waitFor("the escalation on the card", `document.querySelector('#card-escalations').textContent.includes('router resets every hour')`)
	d1.shot(root, "4-escalated")

	// Second line's page pops with first line's note and reason.
	d2.waitFor("second line's card with the note", fmt.Sprintf(`(() => {
		const card = document.querySelector('#card');
		const esc = document.querySelector('#card-escalations').textContent;
		return card.dataset.call === %q && card.dataset.state === 'talking' &&
			esc.includes('router resets every hour, firmware?') && esc.includes('technical');
	})()`, second))
	d2.setValue("#outcome-resolved", "resolved")
	d2.setValue("#outcome-category", "router")
	d2.click("#btn-outcome")
	d2.waitFor("second line's outcome", `document.querySelectorAll('#card-outcomes li').length === 2`)
	// English on request (Russian is the default).
	d2.do("switch to English", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#lang'); s.value = 'en'; s.dispatchEvent(new Event('change')); })()`))
	d2.waitFor("English", `document.querySelector('#card-h').textContent === "Caller's card"`)
	d2.shot(root, "5-second-line")
	caller2.Wait(t, "second caller", 90*time.Second)
	agentPhone.Wait(t, "agents' phone", 60*time.Second)

	// The report's escalation and FCR figures include the calls.
	waitUntil(t, "the escalation in the report", func() bool {
		var rep struct {
			Data struct {
				Escalated         int `json:"escalated"`
				SecondLineReached int `json:"second_line_reached"`
			} `json:"data"`
		}
		adminJSON(t, base, "/api/v1/reports/escalations", &rep)
		return rep.Data.Escalated == 1 && rep.Data.SecondLineReached == 1
	})
	waitUntil(t, "both calls' dispositions in the FCR report", func() bool {
		var rep struct {
			Data []struct {
				Line        string `json:"line"`
				Population  int    `json:"population"`
				Disposition struct {
					Covered  int `json:"covered"`
					Resolved int `json:"resolved"`
				} `json:"disposition"`
			} `json:"data"`
		}
		adminJSON(t, base, "/api/v1/reports/fcr", &rep)
		for _, r := range rep.Data {
			// First line's two answered calls, both disposed: the first
			// not resolved, the second resolved by second line.
			if r.Line == "first" && r.Population == 2 && r.Disposition.Covered == 2 && r.Disposition.Resolved == 1 {
				return true
			}
		}
		return false
	})
	// The actions were recorded with who did them.
	evs := deskActions(t, base)
	recorded := map[string]bool{}
	for _, e := range evs {
		recorded[e.Reason+" "+e.Data["actor"]+" "+e.CallID] = true
	}
	for _, want := range []string{"call.escalate d1 " + second, "call.disposition d2 " + second, "call.disposition d1 " + first, "agent.ready d1 "} {
		if !recorded[want] {
			t.Errorf("no desk.action %q in %v", want, recorded)
		}
	}
}

const deskConfig = `
service: {name: hotline-desk}
sip:
  listen: "127.0.0.1:SIPPORT"
  digest_algorithms: [MD5]
  trunks:
    - {name: provider, allow: ["127.0.0.71"]}
  numbers: {"*": support}
media:
  rtp_ports: "37400-37599"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT", token: admin-token}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: d1, name: Dina, password: pw-d1, team: first, skills: {general: 1}, wrapup: 1s, web_password: web-d1}
  - {id: d2, name: Oleg, password: pw-d2, team: second, line: 2, skills: {expert: 1}, wrapup: 1s, web_password: web-d2}
queues:
  - {name: support, skill: general, ring_timeout: 10s, announce: {every: 0s}}
  - {name: expert, line: 2, skill: expert, ring_timeout: 10s, announce: {every: 0s}}
escalation: {queue: expert, number: "*77", reasons: [technical, billing]}
web:
  bcrypt_cost: 4
  pause_reasons: [break, lunch]
  outcome_categories: [router, billing, other]
  users:
    - {id: sv, role: supervisor, teams: [first], password: web-sv}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        menu:
          type: menu
          prompt: hotline/menu-main
          invalid_prompt: hotline/menu-invalid
          timeout_prompt: hotline/menu-timeout
          timeout: 5s
          tries: 2
          options: {"2": queue}
          fallback: queue
        queue: {type: queue, queue: support}
`

// adminDo makes a request with the admin token.
func adminDo(t *testing.T, base, method, path, body string, hdr map[string]string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer admin-token")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // an event stream ends at the deadline
	return resp.StatusCode, string(b)
}

func adminJSON(t *testing.T, base, path string, v any) {
	t.Helper()
	code, body := adminDo(t, base, http.MethodGet, path, "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// browser is one headless Chromium; each page gets its own browser
// context (its own cookies), as two agents' machines would.
type browser struct {
	ctx context.Context
}

func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run scripts/install-deps.sh test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1000, 760), chromedp.Flag("lang", "ru"))
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return &browser{ctx: ctx}
}

// deskPage is one agent's page.
type deskPage struct {
	t    *testing.T
	ctx  context.Context
	name string
}

// page opens the desk in a new browser context and logs in through the
// form.
func (b *browser) page(t *testing.T, base, user, password string) *deskPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first action makes the tab, which lives as long as that call's
	// context: no timeout on it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("%s's tab: %v", user, err)
	}
	p := &deskPage{t: t, ctx: ctx, name: user}
	p.do("open the desk", chromedp.Navigate(base+"/desk/"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), user), chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#desk")))
	return p
}

func (p *deskPage) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s's page: %s: %v (status: %q; page: %s)", p.name, what, err, p.status(), p.dump())
	}
}

func (p *deskPage) status() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#status').textContent`))
	return s
}

// dump is the page's visible text, for a failure's message.
func (p *deskPage) dump() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	return s
}

func (p *deskPage) click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

func (p *deskPage) setValue(sel, v string) {
	p.t.Helper()
	p.do("set "+sel, chromedp.SetValue(chromedp.CSS(sel), v))
}

// waitFor waits until the JavaScript expression is true.
func (p *deskPage) waitFor(what, expr string) {
	p.t.Helper()
	p.do("wait for "+what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(0), chromedp.WithPollingInterval(100*time.Millisecond)))
}

func (p *deskPage) text(what, expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("%s's page: %s: %v", p.name, what, err)
	}
	return s
}

// shot writes a screenshot of the page to docs/desk/NAME.png when it is
// missing or HOTLINE_DESK_SCREENSHOTS=1 (else into the test's directory).
func (p *deskPage) shot(root, name string, at ...string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	// The card, when it is up, from its top (or the element at, in the
	// middle).
	scroll := `(() => { const c = document.querySelector('#card'); if (!c.hidden) c.scrollIntoView(); })()`
	if len(at) > 0 {
		scroll = fmt.Sprintf(`document.querySelector(%q).scrollIntoView({block: 'center'})`, at[0])
	}
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](scroll))
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(root, "docs", "desk", name+".png")
	if _, err := os.Stat(path); err == nil && os.Getenv("HOTLINE_DESK_SCREENSHOTS") != "1" {
		path = filepath.Join(p.t.TempDir(), name+".png")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}
