package server_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/firefoxtest"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestDeskInFirefox runs the desk page in headless Firefox (Debian's
// firefox-esr, over WebDriver BiDi) with real peers, as
// TestDeskWarmEscalationInChromium does in Chromium: two agents log in
// through the form and go ready, a SIPp caller comes through the IVR, the
// card pops with the digit on first line's page (live stream), first line
// saves an outcome and consults second line, whose page shows the note;
// first line transfers, second line's card has the escalation; first line
// schedules a callback, shown on the card and in "My callbacks"; English
// on request. Loopback 127.0.2.13-14.
func TestDeskInFirefox(t *testing.T) {
	sipptest.NeedTools(t, "sipp", "sox", "firefox-esr")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	db := pgtest.New(t)
	yml := fillConfig(t, root, deskWarmConfig, "DBURL", db.DSN, "127.0.2.11", "127.0.2.14", "37600-37799", "38700-38799", "w1", "f1", "w2", "f2", "w3", "f3")
	srv := startTestServe(t, "desk-firefox.yaml", yml)
	sipAddr, base := srv.SIPAddr().String(), srv.api

	agentPhone := sippRun(t, root, "agent.xml", map[string]string{"RING": "300"},
		"-i", "127.0.2.13", "-p", "5700", "-mp", "6800", "-rtp_echo", "-m", "2", "-timeout", "180s")
	registerAgents(t, root, sipAddr, "127.0.2.13", 5700, 5701, "f1", "f2")

	ff := firefoxtest.Start(t)
	pages := map[string]*firefoxtest.Page{}
	for _, u := range []string{"f1", "f2"} {
		p := ff.NewPage(t, u)
		p.Navigate(base + "/desk/")
		p.WaitFor("the login form", `!document.querySelector('#login-form').hidden`)
		p.Do("log in", fmt.Sprintf(`document.querySelector('#login-user').value = %q;
			document.querySelector('#login-password').value = %q; document.querySelector('#login-submit').click()`, u, "web-"+u))
		p.WaitFor("the desk", `!document.querySelector('#desk').hidden && document.querySelector('#state').dataset.state === 'logged-out'`)
		p.Do("log in to the queues", `document.querySelector('#btn-login').click()`)
		p.WaitFor("logged in to the queues", `document.querySelector('#state').dataset.state !== 'logged-out'`)
		p.Do("ready", `document.querySelector('#btn-ready').click()`)
		p.WaitFor("ready", `document.querySelector('#state').dataset.state === 'available'`)
		pages[u] = p
	}
	f1, f2 := pages["f1"], pages["f2"]
	if lang := f1.Text("the page's language", `document.documentElement.lang + ' ' + document.querySelector('#card-h').textContent`); lang != "ru Карточка звонящего" {
		t.Errorf("the page's language: %q, want Russian by default", lang)
	}

	voice := map[string]string{"PAUSE_MS": "1500", "DIGIT": "2", "TALK": "30000"}
	caller := sippRun(t, root, "caller.xml", voice, "-i", "127.0.2.14", "-p", "5710", "-mp", "6810", "-m", "1",
		"-s", "88001234567", "-key", "caller", "79163334455", "-timeout", "90s", sipAddr)
	f1.WaitFor("the card with the digit", `document.querySelector('#card').dataset.state === 'talking' &&
		document.querySelector('#card-caller').textContent.includes('79163334455') &&
		document.querySelector('#card-digits').textContent.includes('menu: 2')`)
	call := f1.Text("the call", `document.querySelector('#card').dataset.call`)
	f1.Do("an outcome", `document.querySelector('#outcome-resolved').value = 'not_resolved';
		document.querySelector('#outcome-category').value = 'router'; document.querySelector('#btn-outcome').click()`)
	f1.WaitFor("the outcome on the card", `document.querySelectorAll('#card-outcomes li').length === 1`)
	f1.Do("consult", `document.querySelector('#esc-reason').value = 'technical';
		document.querySelector('#esc-notes').value = 'line noise since Monday'; document.querySelector('#btn-consult').click()`)
	f2.WaitFor("second line's card with the consultation", fmt.Sprintf(`document.querySelector('#card').dataset.call === %q &&
		document.querySelector('#consult').dataset.state === 'talking' &&
		document.querySelector('#consult-text').textContent.includes('line noise since Monday')`, call))
	f1.WaitFor("the consultant answered", `!document.querySelector('#btn-consult-complete').disabled`)
	f1.Do("transfer", `document.querySelector('#btn-consult-complete').click()`)
	f2.WaitFor("the escalation on second line's card", `document.querySelector('#card-escalations').textContent.includes('line noise since Monday')`)
	f1.Do("schedule a callback", `(() => {
		const d = new Date(Date.now() + 26 * 3600e3), p = (n) => String(n).padStart(2, '0');
		document.querySelector('#cb-at').value = d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
		document.querySelector('#cb-notes').value = 'check the line again';
		document.querySelector('#btn-callback').click();
	})()`)
	f1.WaitFor("the callback on the card and in the list", `document.querySelectorAll('#card-callbacks li').length === 1 &&
		document.querySelector('#my-callbacks tbody tr') !== null &&
		document.querySelector('#my-callbacks tbody tr').dataset.state === 'scheduled'`)
	f2.Do("English", `(() => { const s = document.querySelector('#lang'); s.value = 'en'; s.dispatchEvent(new Event('change')); })()`)
	f2.WaitFor("English", `document.querySelector('#card-h').textContent === "Caller's card"`)
	caller.Wait(t, "caller", 90*time.Second)
	agentPhone.Wait(t, "agents' phone", 60*time.Second)

	recorded := map[string]bool{}
	for _, e := range deskActions(t, base) {
		recorded[e.Reason+" "+e.Data["actor"]+" "+e.CallID] = true
	}
	for _, want := range []string{"call.disposition f1 " + call, "call.consult f1 " + call, "call.consult.complete f1 " + call, "call.callback f1 " + call} {
		if !recorded[want] {
			t.Errorf("no desk.action %q in %v", want, recorded)
		}
	}
}
