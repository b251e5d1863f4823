package config

import (
	"slices"

	"golang.org/x/crypto/bcrypt"
)

// Default catalogues of the desk (web.pause_reasons, web.outcome_categories).
var (
	defaultPauseReasons      = []string{"break", "lunch", "training", "meeting"}
	defaultOutcomeCategories = []string{"question", "complaint", "technical", "billing", "other"}
)

// web validates the web section and the agents' web credentials: roles,
// teams and queues that exist, one password or hash each, catalogues of
// identifiers. Plain passwords are hashed here (bcrypt) and blanked in
// the config's fields; the process keeps them in memory only (unexported,
// never logged or marshalled) for SameWebPassword.
func (v *validator) web() {
	w := &v.c.Web
	if w.PauseReasons == nil {
		w.PauseReasons = slices.Clone(defaultPauseReasons)
	}
	if w.OutcomeCategories == nil {
		w.OutcomeCategories = slices.Clone(defaultOutcomeCategories)
	}
	for i, r := range w.PauseReasons {
		v.ident(joinIndex("web.pause_reasons", i), "pause reason", r)
	}
	for i, c := range w.OutcomeCategories {
		v.ident(joinIndex("web.outcome_categories", i), "outcome category", c)
	}
	v.positive("web.session_ttl", w.SessionTTL)
	v.positive("web.login_lockout.window", w.LoginLockout.Window)
	v.positive("web.login_lockout.ban", w.LoginLockout.Ban)
	if w.LoginLockout.Failures < 1 {
		v.errorf("web.login_lockout.failures", "must be at least 1")
	}
	if w.BcryptCost < bcrypt.MinCost || w.BcryptCost > bcrypt.MaxCost {
		v.errorf("web.bcrypt_cost", "must be between %d and %d", bcrypt.MinCost, bcrypt.MaxCost)
		w.BcryptCost = bcrypt.DefaultCost
	}
	teams, queues, ids := map[string]bool{}, map[string]bool{}, map[string]string{}
	for i := range v.c.Agents {
		a := &v.c.Agents[i]
		p := joinIndex("agents", i)
		if a.Team != "" {
			teams[a.Team] = true
		}
		ids[a.ID] = p
		a.WebPasswordHash = v.webHash(a.ID, p, "web_password", a.WebPassword, a.WebPasswordHash, false)
		a.WebPassword = ""
	}
	for _, q := range v.c.Queues {
		queues[q.Name] = true
	}
	sipUsers := map[string]string{}
	for i, a := range v.c.Agents {
		sipUsers[a.SIPUser] = joinIndex("agents", i)
	}
	for i := range w.Users {
		u := &w.Users[i]
		p := joinIndex("web.users", i)
		if v.ident(p+".id", "id", u.ID) {
			if other, dup := ids[u.ID]; dup {
				v.errorf(p+".id", "duplicate user id %q (also %s, line %d): agents and web users share one name space", u.ID, other, v.r.lineOf(other))
			}
			ids[u.ID] = p
		}
		if v.oneOf(p+".role", u.Role, []string{RoleSupervisor, RoleAdmin}) && u.Role == RoleSupervisor && len(u.Teams)+len(u.Queues) == 0 {
			v.errorf(p, "a supervisor needs teams or queues to oversee")
		}
		for j, t := range u.Teams {
			if !teams[t] {
				v.errorf(joinIndex(p+".teams", j), "no agent is in team %q", t)
			}
		}
		for j, q := range u.Queues {
			if !queues[q] {
				v.errorf(joinIndex(p+".queues", j), "unknown queue %q", q)
			}
		}
		u.PasswordHash = v.webHash(u.ID, p, "password", u.Password, u.PasswordHash, true)
		u.Password = ""
		v.webPhone(p, u, sipUsers)
	}
}

// SameWebPassword reports whether the desk password this config gives
// user (an agent's web_password or a web user's password) is the one hash
// is a bcrypt hash of: for a plain password by bcrypt (hashes made at two
// loads differ by their salt), for a *_hash entry by equality. The desk
// keeps sessions and password resets across reloads and restarts while
// the file's password stays the same.
func (c *Config) SameWebPassword(user, hash string) bool {
	if plain, ok := c.Web.plain[user]; ok {
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(plain)) == nil
	}
	for _, a := range c.Agents {
		if a.ID == user {
			return a.WebPasswordHash == hash
		}
	}
	for _, u := range c.Web.Users {
		if u.ID == user {
			return u.PasswordHash == hash
		}
	}
	return false
}

// webHash returns the bcrypt hash of user id's web password: plain hashed
// with web.bcrypt_cost (and kept in memory for SameWebPassword), or hash
// checked. Both given is an error; neither is an
// error when required (else "": that user has no desk login).
func (v *validator) webHash(id, p, key string, plain Secret, hash string, required bool) string {
	plain = Secret(v.expand(p+"."+key, string(plain)))
	switch {
	case plain != "" && hash != "":
		v.errorf(p+"."+key, "give %s or %s_hash, not both", key, key)
		return ""
	case plain != "":
		if len(plain) > 72 {
			v.errorf(p+"."+key, "longer than 72 bytes (bcrypt's limit)")
			return ""
		}
		h, err := bcrypt.GenerateFromPassword([]byte(plain), v.c.Web.BcryptCost)
		if err != nil {
			v.errorf(p+"."+key, "hashing: %v", err)
			return ""
		}
		if v.c.Web.plain == nil {
			v.c.Web.plain = map[string]Secret{}
		}
		v.c.Web.plain[id] = plain // for SameWebPassword
		return string(h)
	case hash != "":
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			v.errorf(p+"."+key+"_hash", "not a bcrypt hash ($2a$/$2b$/$2y$...): %v", err)
			return ""
		}
		return hash
	case required:
		v.errorf(p+"."+key, "is required (or %s_hash)", key)
	}
	return ""
}

// webPhone checks a desk user's SIP phone (the supervisor's phone that
// monitoring rings): a SIP user of its own, with a password on the native
// switch (Asterisk authenticates its own endpoints).
func (v *validator) webPhone(p string, u *WebUser, sipUsers map[string]string) {
	u.SIPPassword = Secret(v.expand(p+".sip_password", string(u.SIPPassword)))
	if u.SIPUser == "" {
		if u.SIPPassword != "" {
			v.errorf(p+".sip_password", "set without sip_user")
		}
		return
	}
	if !v.ident(p+".sip_user", "sip_user", u.SIPUser) {
		return
	}
	if other, dup := sipUsers[u.SIPUser]; dup {
		v.errorf(p+".sip_user", "SIP user %q is also %s's", u.SIPUser, other)
	}
	sipUsers[u.SIPUser] = p
	if u.SIPPassword == "" && v.c.SIP.Mode != "asterisk" {
		v.errorf(p+".sip_password", "is required with sip_user (the phone registers with hotline)")
	}
}
