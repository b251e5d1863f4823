package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestDeskWarmEscalationInChromium is warm escalation and a scheduled
// callback from the page, with real peers: hotline as `serve` runs it
// (PostgreSQL, the native switch, the IVR, the durable callbacks), a SIPp
// phone answering for two registered agents, SIPp callers, both agents'
// pages in headless Chromium. First call: first line (w1) consults second
// line with a reason and a note; w2's page pops with them while the caller
// is on hold; w1 transfers; w2's card then has the escalation with the
// note. Second call: w1 consults again and returns to the caller, then
// schedules a callback for the caller; the card and w1's list show it, and
// it is a durable row (source agent) in PostgreSQL. Every action is a
// desk.action naming w1, and an agent who never had the call (w3) gets 403
// for consult, callback and w1's list. Loopback 127.0.2.10-11.
func TestDeskWarmEscalationInChromium(t *testing.T) {
	sipptest.NeedTools(t, "sipp", "sox", "chromium")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	db := pgtest.New(t)
	yml := fillConfig(t, root, deskWarmConfig, "DBURL", db.DSN)
	srv := startTestServe(t, "desk-warm.yaml", yml)
	sipAddr, base := srv.SIPAddr().String(), srv.api

	// One SIPp phone answers for both agents: two calls to w1 and two
	// consultations to w2.
	agentPhone := sippRun(t, root, "agent.xml", map[string]string{"RING": "300"},
		"-i", "127.0.2.10", "-p", "5700", "-mp", "6800", "-rtp_echo", "-m", "4", "-timeout", "180s")
	registerAgents(t, root, sipAddr, "127.0.2.10", 5700, 5701, "w1", "w2")

	b := newBrowser(t)
	w1 := b.page(t, base, "w1", "web-w1")
	w2 := b.page(t, base, "w2", "web-w2")
	for _, p := range []*deskPage{w1, w2} {
		p.click("#btn-login")
		p.click("#btn-ready")
		p.waitFor("ready", `document.querySelector('#state').dataset.state === 'available'`)
	}

	// The first call: consult, then transfer.
	voice := map[string]string{"PAUSE_MS": "1500", "DIGIT": "2", "TALK": "30000"}
	caller1 := sippRun(t, root, "caller.xml", voice, "-i", "127.0.2.11", "-p", "5710", "-mp", "6810", "-m", "1",
		"-s", "88001234567", "-key", "caller", "79161112233", "-timeout", "90s", sipAddr)
	w1.waitFor("the first call answered", `document.querySelector('#card').dataset.state === 'talking' &&
		document.querySelector('#card-caller').textContent.includes('79161112233')`)
	first := w1.text("the first call", `document.querySelector('#card').dataset.call`)
	w1.setValue("#esc-reason", "technical")
	w1.setValue("#esc-notes", "modem firmware 2.1, needs a remote check")
	w1.click("#btn-consult")
	// Second line's page pops with the reason and note while the caller
	// is on hold.
	w2.waitFor("second line's card with the consultation", fmt.Sprintf(`(() => {
		const card = document.querySelector('#card'), k = document.querySelector('#consult');
		const text = document.querySelector('#consult-text').textContent;
		return card.dataset.call === %q && !k.hidden && k.dataset.state === 'talking' &&
			text.includes('modem firmware 2.1, needs a remote check') && text.includes('technical') && text.includes('w1');
	})()`, first))
	w2.shot(root, "7-consult")
	w1.waitFor("the consultant answered", `document.querySelector('#consult').dataset.state === 'talking' &&
		!document.querySelector('#btn-consult-complete').disabled && !document.querySelector('#btn-consult-complete').hidden`)
	w1.click("#btn-consult-complete")
	w1.waitFor("transferred", `document.querySelector('#consult').dataset.state === 'completed' &&
		document.querySelector('#card-escalations').textContent.includes('modem firmware')`)
	w2.waitFor("second line's card after the transfer", `(() => {
		const esc = document.querySelector('#card-escalations').textContent;
		return document.querySelector('#consult').dataset.state === 'completed' &&
			esc.includes('modem firmware 2.1, needs a remote check') && esc.includes('technical');
	})()`)
	w2.waitFor("second line on the call", `document.querySelector('#state').dataset.state === 'on-call'`)
	caller1.Wait(t, "first caller", 90*time.Second)
	w1.waitFor("w1 ready again", `document.querySelector('#state').dataset.state === 'available'`)
	w2.waitFor("w2 ready again", `document.querySelector('#state').dataset.state === 'available'`)

	// The second call: consult, return to the caller, schedule a callback.
	voice["TALK"] = "25000"
	caller2 := sippRun(t, root, "caller.xml", voice, "-i", "127.0.2.11", "-p", "5711", "-mp", "6820", "-m", "1",
		"-s", "88001234567", "-key", "caller", "79162223344", "-timeout", "90s", sipAddr)
	w1.waitFor("the second call answered", fmt.Sprintf(`document.querySelector('#card').dataset.call !== %q &&
		document.querySelector('#card').dataset.state === 'talking' && document.querySelector('#card-caller').textContent.includes('79162223344')`, first))
	second := w1.text("the second call", `document.querySelector('#card').dataset.call`)
	w1.setValue("#esc-reason", "billing")
	w1.setValue("#esc-notes", "asks for a refund")
	w1.click("#btn-consult")
	w2.waitFor("second line consulted again", fmt.Sprintf(`document.querySelector('#card').dataset.call === %q &&
		document.querySelector('#consult').dataset.state === 'talking' &&
		document.querySelector('#consult-text').textContent.includes('asks for a refund')`, second))
	w1.waitFor("the consultant answered", `document.querySelector('#consult').dataset.state === 'talking'`)
	w1.click("#btn-consult-cancel")
	w1.waitFor("back with the caller", `document.querySelector('#consult').dataset.state === 'returned' &&
		document.querySelector('#btn-consult-cancel').hidden && document.querySelector('#card').dataset.state === 'talking' &&
		document.querySelectorAll('#card-escalations li').length === 0`)
	w2.waitFor("w2 released", `document.querySelector('#state').dataset.state !== 'on-call'`)

	due := time.Now().Add(26 * time.Hour).Truncate(time.Minute)
	// The page's datetime-local input takes the browser's local time.
	w1.do("set the callback time", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const d = new Date(%d), p = (n) => String(n).padStart(2, '0');
		document.querySelector('#cb-at').value = d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
	})()`, due.UnixMilli())))
	w1.setValue("#cb-notes", "call back with the refund decision")
	w1.click("#btn-callback")
	w1.waitFor("the callback on the card and in the list", fmt.Sprintf(`(() => {
		const li = document.querySelectorAll('#card-callbacks li');
		const rows = document.querySelectorAll('#my-callbacks tbody tr');
		return li.length === 1 && li[0].textContent.includes('call back with the refund decision') &&
			rows.length === 1 && rows[0].dataset.state === 'scheduled' && rows[0].textContent.includes('79162223344');
	})()`))
	w1.shot(root, "8-callback", "#card-callbacks")
	caller2.Wait(t, "second caller", 90*time.Second)
	agentPhone.Wait(t, "agents' phone", 60*time.Second)

	// The callback is durable: a row of source agent, due when asked, with
	// a River job scheduled for then.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var (
		agent, ofCall, state, source, number string
		dueAt, jobAt                         time.Time
	)
	if err := pool.QueryRow(ctx, `SELECT c.agent, c.of_call, c.state, c.source, c.number, c.due_at, j.scheduled_at
		FROM callback c JOIN river_job j ON j.args->>'call_id' = c.call_id WHERE c.agent <> ''`).
		Scan(&agent, &ofCall, &state, &source, &number, &dueAt, &jobAt); err != nil {
		t.Fatalf("the scheduled callback: %v", err)
	}
	if agent != "w1" || ofCall != second || state != "scheduled" || source != "agent" || !strings.HasSuffix(number, "79162223344") ||
		!dueAt.Equal(due) || !jobAt.Equal(due) {
		t.Errorf("callback row: agent %q of %q state %q source %q number %q due %s job %s; want w1, %q, scheduled, agent, …79162223344, %s",
			agent, ofCall, state, source, number, dueAt, jobAt, second, due)
	}

	// Who did what.
	recorded := map[string]bool{}
	for _, e := range deskActions(t, base) {
		recorded[e.Reason+" "+e.Data["actor"]+" "+e.CallID] = true
	}
	for _, want := range []string{"call.consult w1 " + first, "call.consult.complete w1 " + first, "call.consult w1 " + second,
		"call.consult.cancel w1 " + second, "call.callback w1 " + second} {
		if !recorded[want] {
			t.Errorf("no desk.action %q in %v", want, recorded)
		}
	}

	// An agent who never had the call may not consult, escalate or
	// schedule a callback for it, nor read w1's callbacks.
	w3 := deskLogin(t, base, "w3", "web-w3")
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/calls/" + second + "/consult", `{"notes":"x"}`},
		{"POST", "/api/v1/calls/" + second + "/escalate", `{"notes":"x"}`},
		{"POST", "/desk/api/calls/" + second + "/callback", fmt.Sprintf(`{"at":%q}`, due.Format(time.RFC3339))},
		{"GET", "/desk/api/agents/w1/callbacks", ""},
	} {
		if code, body := w3.do(tc.method, tc.path, tc.body); code != http.StatusForbidden {
			t.Errorf("w3 %s %s: %d %s, want 403", tc.method, tc.path, code, body)
		}
	}
}

const deskWarmConfig = `
service: {name: hotline-desk-warm}
sip:
  listen: "127.0.0.1:SIPPORT"
  digest_algorithms: [MD5]
  trunks:
    - {name: provider, allow: ["127.0.2.11"]}
  numbers: {"*": support}
media:
  rtp_ports: "37600-37799"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT", token: admin-token}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: w1, name: Vera, password: pw-w1, team: first, skills: {general: 1}, wrapup: 1s, web_password: web-w1}
  - {id: w2, name: Ivan, password: pw-w2, team: second, line: 2, skills: {expert: 1}, wrapup: 1s, web_password: web-w2}
  - {id: w3, name: Nina, password: pw-w3, team: first, skills: {general: 1}, wrapup: 1s, web_password: web-w3}
queues:
  - {name: support, skill: general, ring_timeout: 10s, announce: {every: 0s}}
  - {name: expert, line: 2, skill: expert, ring_timeout: 10s, announce: {every: 0s}}
escalation: {queue: expert, number: "*77", reasons: [technical, billing]}
web:
  bcrypt_cost: 4
  pause_reasons: [break, lunch]
  outcome_categories: [router, billing, other]
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

// deskAction is a desk.action event as the admin's event stream shows it.
type deskAction struct {
	Type   string            `json:"type"`
	Reason string            `json:"reason"`
	CallID string            `json:"call_id"`
	Data   map[string]string `json:"data"`
}

// deskActions reads every desk.action event so far from the live stream.
func deskActions(t *testing.T, base string) []deskAction {
	t.Helper()
	status, body := adminDo(t, base, http.MethodGet, "/api/v1/events?type=desk.action", "", map[string]string{"Last-Event-ID": "0"})
	if status != http.StatusOK {
		t.Fatalf("events: %d", status)
	}
	var out []deskAction
	for _, line := range strings.Split(body, "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var e deskAction
			if json.Unmarshal([]byte(data), &e) == nil {
				out = append(out, e)
			}
		}
	}
	return out
}
