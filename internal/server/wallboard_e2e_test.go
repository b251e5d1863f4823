package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestWallboardInChromium is the supervisors' wallboard with real peers:
// hotline as `serve` runs it (PostgreSQL, the native switch, the IVR), a
// SIPp phone registered for agent w1, SIPp callers on the trunk, and the
// supervisor's page in headless Chromium. A caller waits while nobody is
// ready (the page shows them waiting, live) and hangs up after T: an
// abandon; then w1 goes ready and the next caller is answered. The numbers
// on the page equal today's report (GET /api/v1/reports/...) and /metrics;
// the queue, below its target, is marked; an agent gets 403 on the
// wallboard's data. Loopback addresses 127.0.0.95-96 are this test's.
// The screenshot goes to docs/desk/6-wallboard.png when missing or with
// HOTLINE_DESK_SCREENSHOTS=1.
func TestWallboardInChromium(t *testing.T) {
	sipptest.NeedTools(t, "sipp", "sox", "chromium")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	db := pgtest.New(t)
	yml := fillConfig(t, root, wallboardConfig, "DBURL", db.DSN)
	srv := startTestServe(t, "wallboard.yaml", yml)
	sipAddr, base := srv.SIPAddr().String(), srv.api

	agentPhone := sippRun(t, root, "agent.xml", map[string]string{"RING": "300"},
		"-i", "127.0.0.95", "-p", "5950", "-mp", "6950", "-rtp_echo", "-m", "1", "-timeout", "120s")
	registerAgents(t, root, sipAddr, "127.0.0.95", 5950, 5951, "w1")

	// An agent may not read the wallboard's data.
	if code := agentGet(t, base, "w1", "web-w1", "/desk/api/wallboard"); code != http.StatusForbidden {
		t.Errorf("agent's GET /desk/api/wallboard: %d, want 403", code)
	}

	b := newBrowser(t)
	sv := b.page(t, base, "sv", "web-sv")
	sv.waitFor("the wallboard", `!document.querySelector('#wallboard').hidden && !!document.querySelector('#wb-q-support') &&
		document.querySelector('#wb-w1-state').dataset.state === 'logged-out'`)

	// Nobody is ready: the caller waits (the page shows it without a
	// reload) and hangs up after T (4 s): an abandon, a miss.
	voice := map[string]string{"PAUSE_MS": "500", "DIGIT": "1", "TALK": "9000"}
	abandoner := sippRun(t, root, "caller.xml", voice, "-i", "127.0.0.96", "-p", "5960", "-mp", "6960", "-m", "1",
		"-s", "88001234567", "-key", "caller", "79160000001", "-timeout", "60s", sipAddr)
	sv.waitFor("the caller waiting", `document.querySelector('#wb-support-waiting').dataset.value === '1'`)
	abandoner.Wait(t, "the caller who gave up", 60*time.Second)
	sv.waitFor("the abandon", `document.querySelector('#wb-support-waiting').dataset.value === '0' &&
		document.querySelector('#wb-support-abandoned').dataset.value === '1'`)

	// w1 goes ready (through the API, as their desk would); the next
	// caller is answered at once and hangs up after 4 s of talk.
	for _, op := range []string{"login", "ready"} {
		if code, body := adminDo(t, base, http.MethodPost, "/api/v1/agents/w1/"+op, "", nil); code != http.StatusOK {
			t.Fatalf("w1 %s: %d %s", op, code, body)
		}
	}
	sv.waitFor("w1 ready", `document.querySelector('#wb-w1-state').dataset.state === 'available'`)
	voice["TALK"] = "4000"
	answered := sippRun(t, root, "caller.xml", voice, "-i", "127.0.0.96", "-p", "5961", "-mp", "6970", "-m", "1",
		"-s", "88001234567", "-key", "caller", "79160000002", "-timeout", "60s", sipAddr)
	answered.Wait(t, "the answered caller", 60*time.Second)
	agentPhone.Wait(t, "w1's phone", 60*time.Second)

	// The report has both visits; the page catches up (no reload) and the
	// agent is back to ready after the wrap-up.
	waitUntil(t, "both visits in today's report", func() bool {
		q, ok := supportToday(t, base)
		return ok && q["offered"] == 2.0 && q["answered"] == 1.0 && q["abandoned"] == 1.0
	})
	sv.waitFor("the page with both visits", `(() => {
		const v = (f) => document.querySelector('#wb-support-' + f).dataset.value;
		return v('offered') === '2' && v('answered') === '1' && v('abandoned') === '1' && v('waiting') === '0' &&
			v('agents-available') === '1' && v('agents-on_call') === '0' && v('agents-wrapup') === '0' &&
			document.querySelector('#wb-w1-state').dataset.state === 'available';
	})()`)

	// Every number on the page equals the report's and /metrics'.
	page := map[string]string{}
	if err := json.Unmarshal([]byte(sv.text("the page's figures", `JSON.stringify(Object.fromEntries(
		[...document.querySelectorAll('#wallboard [id^="wb-"][data-value]')].map((el) => [el.id, el.dataset.value + '|' + el.textContent])))`)), &page); err != nil {
		t.Fatal(err)
	}
	q, _ := supportToday(t, base)
	sl := q["service_level"].(map[string]any)
	ratio := func(v any) any { return v.(map[string]any)["value"] }
	pct := func(v any) string {
		if v == nil {
			return "—"
		}
		return fmt.Sprintf("%d %%", int(math.Round(v.(float64)*100)))
	}
	secs := func(v float64) string { // as the page shows them: one decimal under 10 s
		if v < 10 {
			return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " с"
		}
		return fmt.Sprintf("%d с", int(math.Round(v)))
	}
	num := func(v any) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(v.(float64), 'f', -1, 64)
	}
	asa := ratio(q["asa_s"]).(float64)
	want := map[string]string{
		"wb-support-offered":   "2|2",
		"wb-support-answered":  "1|1",
		"wb-support-abandoned": "1|1",
		"wb-support-escalated": num(q["escalated"]) + "|" + num(q["escalated"]),
		"wb-support-sl-today":  num(ratio(sl["offered"])) + "|" + pct(ratio(sl["offered"])),
		"wb-support-asa":       num(asa) + "|" + secs(asa),
	}
	// /metrics: the live figures.
	slNow := metric(t, base, `hotline_service_level_ratio{formula="realtime",queue="support",window="15m"}`)
	want["wb-support-sl-now"] = num(slNow) + "|" + pct(slNow)
	want["wb-support-waiting"] = num(metric(t, base, `hotline_calls_waiting{queue="support"}`)) + "|0"
	want["wb-support-longest"] = num(metric(t, base, `hotline_queue_longest_wait_seconds{queue="support"}`)) + "|0 с"
	want["wb-support-target"] = num(metric(t, base, `hotline_service_level_target_ratio{queue="support"}`)) + "|80 %"
	for _, st := range []string{"available", "ringing", "on_call", "wrapup", "paused", "logged_out"} {
		v := num(metric(t, base, `hotline_agents{queue="support",state="`+st+`"}`))
		want["wb-support-agents-"+st] = v + "|" + v
	}
	// Today's escalations, FCR and CSI reports.
	var esc struct {
		Data struct {
			Escalated         float64 `json:"escalated"`
			SecondLineReached float64 `json:"second_line_reached"`
		} `json:"data"`
	}
	adminJSON(t, base, "/api/v1/reports/escalations", &esc)
	want["wb-esc-escalated"] = num(esc.Data.Escalated) + "|" + num(esc.Data.Escalated)
	want["wb-esc-secondReached"] = num(esc.Data.SecondLineReached) + "|" + num(esc.Data.SecondLineReached)
	var fcr struct {
		Data []struct {
			Line        string `json:"line"`
			Disposition struct {
				Covered  int `json:"covered"`
				Resolved int `json:"resolved"`
				Ratio    struct {
					Value any `json:"value"`
				} `json:"ratio"`
			} `json:"disposition"`
		} `json:"data"`
	}
	adminJSON(t, base, "/api/v1/reports/fcr", &fcr)
	for _, f := range fcr.Data {
		line := f.Line
		if line == "" {
			line = "all"
		}
		want["wb-fcr-"+line+"-fcrDisposition"] = num(f.Disposition.Ratio.Value) + "|" +
			fmt.Sprintf("%s (%d/%d)", pct(f.Disposition.Ratio.Value), f.Disposition.Resolved, f.Disposition.Covered)
	}
	var csi struct {
		Data []struct {
			Key   string `json:"key"`
			Score struct {
				Value any `json:"value"`
			} `json:"score"`
		} `json:"data"`
	}
	adminJSON(t, base, "/api/v1/reports/csi?by=queue", &csi)
	want["wb-support-csi"] = "|—"
	for _, c := range csi.Data {
		if c.Key == "support" && c.Score.Value != nil {
			want["wb-support-csi"] = num(c.Score.Value) + "|" + strconv.Itoa(int(math.Round(c.Score.Value.(float64))))
		}
	}
	for id, w := range want {
		if got, ok := page[id]; !ok {
			t.Errorf("%s is not on the page (page: %v)", id, page)
		} else if got != w {
			t.Errorf("%s on the page = %q, want %q (value|text, from the report and /metrics)", id, got, w)
		}
	}
	// The caller who gave up waited past T and the answered one did not:
	// 50 % on both the real-time and today's SL, below the 80 % target.
	if page["wb-support-sl-now"] != "0.5|50 %" || page["wb-support-sl-today"] != "0.5|50 %" {
		t.Errorf("SL now %q, today %q: want 0.5|50 %% each", page["wb-support-sl-now"], page["wb-support-sl-today"])
	}
	if page["wb-support-answered"] != "1|1" || page["wb-support-abandoned"] != "1|1" {
		t.Errorf("answered %q, abandoned %q: want SIPp's 1 and 1", page["wb-support-answered"], page["wb-support-abandoned"])
	}
	sv.waitFor("the queue marked below target", `document.querySelector('#wb-q-support').classList.contains('past-target')`)

	// TV mode from the keyboard (Alt+W), then English.
	sv.do("Alt+W", chromedp.KeyEvent("w", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	sv.waitFor("TV mode", `document.body.classList.contains('tv') && document.querySelector('#btn-tv').getAttribute('aria-pressed') === 'true'`)
	sv.shot(root, "6-wallboard")
	sv.do("switch to English", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#lang'); s.value = 'en'; s.dispatchEvent(new Event('change')); })()`))
	sv.waitFor("English", `document.querySelector('#wb-h').textContent === 'Wallboard' && document.querySelector('#wb-support-asa').textContent.endsWith(' s') &&
		document.querySelector('#wb-support-longest').textContent === '0 s'`)
	sv.do("Escape", chromedp.KeyEvent("\u001b"))
	sv.waitFor("TV mode off", `!document.body.classList.contains('tv')`)
}

// supportToday is queue support's row of today's queue report.
func supportToday(t *testing.T, base string) (map[string]any, bool) {
	t.Helper()
	var rep struct {
		Data []map[string]any `json:"data"`
	}
	adminJSON(t, base, "/api/v1/reports/queues", &rep)
	for _, q := range rep.Data {
		if q["queue"] == "support" {
			return q, true
		}
	}
	return nil, false
}

// agentGet logs user in to the desk over HTTP and GETs path with the
// session; it returns the status.
func agentGet(t *testing.T, base, user, password, path string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	resp, err := hc.Post(base+"/desk/login", "application/json", strings.NewReader(`{"user":"`+user+`","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s's login: %d", user, resp.StatusCode)
	}
	resp, err = hc.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

const wallboardConfig = `
service: {name: hotline-wallboard}
sip:
  listen: "127.0.0.1:SIPPORT"
  digest_algorithms: [MD5]
  trunks:
    - {name: provider, allow: ["127.0.0.96"]}
  numbers: {"*": support}
media:
  rtp_ports: "37700-37799"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT", token: admin-token}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: w1, name: Vera, password: pw-w1, team: first, skills: {general: 1}, wrapup: 1s, web_password: web-w1}
queues:
  - {name: support, skill: general, ring_timeout: 10s, sl_threshold: 4s, short_abandon: 2s, sl_target: 0.8, announce: {every: 0s}}
web:
  bcrypt_cost: 4
  pause_reasons: [break, lunch]
  users:
    - {id: sv, role: supervisor, teams: [first], queues: [support], password: web-sv}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        queue: {type: queue, queue: support}
`
