package config

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestWebUsers: plain passwords are hashed at load and forgotten; hashes
// are kept; catalogues default.
func TestWebUsers(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("boss"), bcrypt.MinCost)
	src := `sip:
  trunks:
    - name: provider
      allow: ["127.0.0.2"]
agents:
  - {id: a1, password: p1, team: t1, skills: {general: 3}, web_password: "${HOTLINE_SECRET}"}
  - {id: a2, password: p2, team: t2, skills: {general: 3}}
queues:
  - {name: q1, skill: general}
web:
  bcrypt_cost: 4
  users:
    - {id: sv1, role: supervisor, teams: [t1], password: sv}
    - {id: root, role: admin, password_hash: "` + string(hash) + `"}
`
	c := mustParse(t, src)
	if c.Agents[0].WebPassword != "" || bcrypt.CompareHashAndPassword([]byte(c.Agents[0].WebPasswordHash), []byte("s3cret")) != nil {
		t.Errorf("agent a1: web password not hashed and forgotten: %q", c.Agents[0].WebPasswordHash)
	}
	if c.Agents[1].WebPasswordHash != "" {
		t.Errorf("agent a2 has no web password, got a hash")
	}
	if u := c.Web.Users[0]; u.Password != "" || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("sv")) != nil {
		t.Errorf("sv1: password not hashed")
	}
	if c.Web.Users[1].PasswordHash != string(hash) {
		t.Errorf("root: hash changed")
	}
	if len(c.Web.PauseReasons) == 0 || len(c.Web.OutcomeCategories) == 0 {
		t.Errorf("catalogue defaults missing: %v %v", c.Web.PauseReasons, c.Web.OutcomeCategories)
	}
}

func TestWebErrors(t *testing.T) {
	for _, tc := range []struct{ name, web, msg string }{
		{"role", "  users: [{id: x, role: boss, password: p}]\n", `web.users[0].role: "boss" is not one of supervisor, admin`},
		{"no team", "  users: [{id: x, role: supervisor, password: p}]\n", "needs teams or queues"},
		{"unknown team", "  users: [{id: x, role: supervisor, teams: [t9], password: p}]\n", `no agent is in team "t9"`},
		{"unknown queue", "  users: [{id: x, role: supervisor, queues: [q9], password: p}]\n", `unknown queue "q9"`},
		{"no password", "  users: [{id: x, role: admin}]\n", "web.users[0].password: is required"},
		{"both", "  users: [{id: x, role: admin, password: p, password_hash: h}]\n", "not both"},
		{"bad hash", "  users: [{id: x, role: admin, password_hash: h}]\n", "not a bcrypt hash"},
		{"clash with agent", "  users: [{id: a1, role: admin, password: p}]\n", `duplicate user id "a1"`},
		{"bad reason", "  pause_reasons: [\"a b\"]\n", "pause reason \"a b\" may only contain"},
		{"phone without password", "  users: [{id: x, role: admin, password: p, sip_user: x-phone}]\n", "web.users[0].sip_password: is required with sip_user"},
		{"phone of an agent", "  users: [{id: x, role: admin, password: p, sip_user: a1, sip_password: s}]\n", `SIP user "a1" is also agents[0]'s`},
		{"phone password alone", "  users: [{id: x, role: admin, password: p, sip_password: s}]\n", "sip_password: set without sip_user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(file, []byte(base+"web:\n  bcrypt_cost: 4\n"+tc.web), testEnv())
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
		})
	}
}
