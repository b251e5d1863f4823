package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestDeskSessionsSurviveRestart: on real PostgreSQL, a desk session and
// a password reset survive a restart of serve and a SIGHUP reload; the
// session's token is stored only as a hash; a new password in the config
// file wins over an older reset (and ends the user's sessions), and a
// logout ends the session for the next process too.
func TestDeskSessionsSurviveRestart(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	db := pgtest.New(t)
	sipPort, httpPort := sipptest.FreeUDPAndTCPPort(t), sipptest.FreeUDPAndTCPPort(t)
	render := func(d2Password string) string {
		return strings.NewReplacer("ROOT", root, "DBURL", db.DSN, "SPOOL", t.TempDir(), "SIPPORT", strconv.Itoa(sipPort),
			"HTTPPORT", strconv.Itoa(httpPort), "D2PW", d2Password).Replace(deskRestartConfig)
	}
	cfgPath := filepath.Join(t.TempDir(), "desk-restart.yaml")
	if err := os.WriteFile(cfgPath, []byte(render("web-d2")), 0o600); err != nil {
		t.Fatal(err)
	}
	yml, _ := os.ReadFile(cfgPath)
	srv := startTestServe(t, cfgPath, string(yml))
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
	do := func(b *browser, method, path, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", b.csrf)
		resp, err := b.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	d1, code := login("d1", "web-d1")
	if code != http.StatusOK {
		t.Fatalf("d1 login: %d", code)
	}
	sv, _ := login("sv", "web-sv")
	if c := do(sv, "POST", "/desk/api/users/d2/password", `{"password":"reset-pw-d2"}`); c != http.StatusOK {
		t.Fatalf("reset d2: %d", c)
	}
	d2Old, _ := login("d2", "reset-pw-d2")

	// Nothing of the token is in the database but its hash.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var cookie string
	for _, c := range d1.hc.Jar.Cookies(mustURL(t, base)) {
		if c.Name == "hotline_desk" {
			cookie = c.Value
		}
	}
	var n, plain int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE hash = $1) FROM desk_session`, cookie).Scan(&n, &plain); err != nil {
		t.Fatal(err)
	}
	if n != 3 || plain != 0 || cookie == "" {
		t.Errorf("desk_session: %d rows, %d holding the token itself; want 3 and 0", n, plain)
	}

	// A restart: the sessions and the reset are still there.
	srv.stop()
	srv2 := startTestServe(t, cfgPath, string(yml))
	if srv2.api != base {
		t.Fatalf("the restarted server listens on %s, not %s", srv2.api, base)
	}
	check := func(when string) {
		t.Helper()
		if c := do(d1, "POST", "/api/v1/agents/d1/login", ""); c != http.StatusOK {
			t.Errorf("%s: d1's session (with its CSRF token): %d, want 200", when, c)
		}
		if c := do(d2Old, "GET", "/desk/api/session", ""); c != http.StatusOK {
			t.Errorf("%s: d2's session: %d, want 200", when, c)
		}
		if _, c := login("d2", "reset-pw-d2"); c != http.StatusOK {
			t.Errorf("%s: d2 with the reset password: %d, want 200", when, c)
		}
		if _, c := login("d2", "web-d2"); c != http.StatusUnauthorized {
			t.Errorf("%s: d2 with the config's old password: %d, want 401", when, c)
		}
	}
	check("after a restart")

	// A SIGHUP reload with the same file: still there.
	if err := srv2.Reload(cfgPath); err != nil {
		t.Fatal(err)
	}
	check("after a reload")

	// Logging out ends the session for good.
	if c := do(d1, "POST", "/desk/logout", ""); c != http.StatusOK {
		t.Fatalf("logout: %d", c)
	}
	if c := do(d1, "GET", "/desk/api/session", ""); c != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", c)
	}

	// The admin puts a new password for d2 in the file: it wins over the
	// reset, and d2's sessions end.
	h, _ := bcrypt.GenerateFromPassword([]byte("file-pw-d2"), 4)
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(render("web-d2"), "web_password: web-d2", "web_password_hash: '"+string(h)+"'", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv2.Reload(cfgPath); err != nil {
		t.Fatal(err)
	}
	if _, c := login("d2", "file-pw-d2"); c != http.StatusOK {
		t.Errorf("d2 with the file's new password: %d, want 200", c)
	}
	if _, c := login("d2", "reset-pw-d2"); c != http.StatusUnauthorized {
		t.Errorf("d2 with the older reset: %d, want 401", c)
	}
	if c := do(d2Old, "GET", "/desk/api/session", ""); c != http.StatusUnauthorized {
		t.Errorf("d2's session after the file's new password: %d, want 401", c)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM desk_password`).Scan(&n); err != nil || n != 0 {
		t.Errorf("desk_password rows after the file's new password: %d %v, want 0", n, err)
	}
	// And the logged-out session stays out after another restart.
	srv2.stop()
	yml, _ = os.ReadFile(cfgPath)
	startTestServe(t, cfgPath, string(yml))
	if c := do(d1, "GET", "/desk/api/session", ""); c != http.StatusUnauthorized {
		t.Errorf("the logged-out session after a restart: %d, want 401", c)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

const deskRestartConfig = `
sip:
  listen: "127.0.0.1:SIPPORT"
  trunks:
    - {name: provider, allow: ["127.0.2.12"]}
media:
  rtp_ports: "38600-38649"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.0.1:HTTPPORT", token: admin-token}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: d1, password: pw-d1, team: first, skills: {general: 1}, web_password: web-d1}
  - {id: d2, password: pw-d2, team: first, skills: {general: 1}, web_password: D2PW}
queues:
  - {name: support, skill: general}
web:
  bcrypt_cost: 4
  users:
    - {id: sv, role: supervisor, teams: [first], password: web-sv}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        queue: {type: queue, queue: support}
`
