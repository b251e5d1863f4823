package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeskAccess checks the role check as `serve` wires it, over HTTP
// (the real queue API behind it): logged out 401, another agent's state
// 403, a supervisor of another team 403, a missing CSRF token 403, the
// token still the admin scope, and a brute-force login locked out.
func TestDeskAccess(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru")); err != nil {
		t.Fatalf("generated prompts missing: run make prompts (%v)", err)
	}
	yml := fillConfig(t, root, deskAccessConfig)
	srv := startTestServe(t, "desk-access.yaml", yml)
	base := srv.api

	type browser struct {
		hc   *http.Client
		csrf string
	}
	login := func(user, pw string) (*browser, int) {
		jar, _ := cookiejar.New(nil)
		b := &browser{hc: &http.Client{Jar: jar}}
		resp, err := b.hc.Post(base+"/desk/login", "application/json", strings.NewReader(`{"user":"`+user+`","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s struct {
			CSRF string `json:"csrf"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&s)
		b.csrf = s.CSRF
		return b, resp.StatusCode
	}
	do := func(b *browser, method, path, body string, csrf bool) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		hc := http.DefaultClient
		if b != nil {
			hc = b.hc
			if csrf {
				req.Header.Set("X-CSRF-Token", b.csrf)
			}
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	d1, code := login("d1", "web-d1")
	if code != http.StatusOK {
		t.Fatalf("login d1: %d", code)
	}
	sv, code := login("sv", "web-sv")
	if code != http.StatusOK {
		t.Fatalf("login sv: %d", code)
	}
	for _, tc := range []struct {
		name         string
		b            *browser
		method, path string
		body         string
		csrf         bool
		want         int
	}{
		{"logged out", nil, "GET", "/api/v1/agents/d1", "", false, 401},
		{"logged out desk", nil, "GET", "/desk/api/session", "", false, 401},
		{"own state", d1, "GET", "/api/v1/agents/d1", "", false, 200},
		{"own login without CSRF", d1, "POST", "/api/v1/agents/d1/login", "", false, 403},
		{"own login", d1, "POST", "/api/v1/agents/d1/login", "", true, 200},
		{"own pause outside the catalogue", d1, "POST", "/api/v1/agents/d1/pause", `{"reason":"nap"}`, true, 400},
		{"own pause", d1, "POST", "/api/v1/agents/d1/pause", `{"reason":"lunch"}`, true, 200},
		{"another agent's state", d1, "GET", "/api/v1/agents/d2", "", false, 403},
		{"another agent's state change", d1, "POST", "/api/v1/agents/d2/login", "", true, 403},
		{"a card not theirs", d1, "GET", "/desk/api/calls/nope/card", "", false, 403},
		{"the call list", d1, "GET", "/api/v1/calls", "", false, 403},
		{"supervisor, own team", sv, "POST", "/api/v1/agents/d1/ready", "", true, 200},
		{"supervisor, another team", sv, "POST", "/api/v1/agents/d2/login", "", true, 403},
		{"supervisor, another team's state", sv, "GET", "/api/v1/agents/d2", "", false, 403},
		{"the page", nil, "GET", "/desk/", "", false, 200},
		{"the wallboard, logged out", nil, "GET", "/desk/api/wallboard", "", false, 401},
		{"the wallboard, an agent", d1, "GET", "/desk/api/wallboard", "", false, 403},
		{"the wallboard, a supervisor (no database: live figures only)", sv, "GET", "/desk/api/wallboard", "", false, 200},
	} {
		if got := do(tc.b, tc.method, tc.path, tc.body, tc.csrf); got != tc.want {
			t.Errorf("%s: %s %s = %d, want %d", tc.name, tc.method, tc.path, got, tc.want)
		}
	}
	if code, _ := adminDo(t, base, "GET", "/api/v1/agents", "", nil); code != http.StatusOK {
		t.Errorf("the token: GET /api/v1/agents = %d, want 200", code)
	}
	// Brute force: 3 failures (web.login_lockout.failures) lock the user
	// out, even with the right password next.
	for i := 0; i < 3; i++ {
		if _, code := login("d2", "guess"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	if _, code := login("d2", "web-d2"); code != http.StatusTooManyRequests {
		t.Errorf("right password after 3 failures: %d, want 429", code)
	}
}

const deskAccessConfig = `
sip:
  listen: "127.0.0.1:SIPPORT"
  trunks:
    - {name: provider, allow: ["127.0.0.73"]}
media:
  rtp_ports: "37600-37649"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT", token: admin-token}
database: {spool_dir: SPOOL}
agents:
  - {id: d1, password: pw-d1, team: first, skills: {general: 1}, web_password: web-d1}
  - {id: d2, password: pw-d2, team: second, skills: {general: 1}, web_password: web-d2}
queues:
  - {name: support, skill: general}
web:
  bcrypt_cost: 4
  pause_reasons: [break, lunch]
  login_lockout: {failures: 3, window: 1m, ban: 10m}
  users:
    - {id: sv, role: supervisor, teams: [first], password: web-sv}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        queue: {type: queue, queue: support}
`
