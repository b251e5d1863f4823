package desk

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/reporting"
)

// ActionEvent is the type of the event that records who did what on the
// desk or the API (see eventlog.DeskAction).
const ActionEvent = eventlog.DeskAction

// History reads a caller's earlier calls from the stored event log
// (*reporting.Store).
type History interface {
	CallsOfNumber(ctx context.Context, number string) ([]string, error)
	CallEvents(ctx context.Context, callID string) ([]eventlog.Event, error)
}

// Figures reads agents' figures (*reporting.Store).
type Figures interface {
	AgentReport(ctx context.Context, from, to, asOf time.Time) (agents, teams []reporting.AgentFigures, err error)
	// CSISurveyedReport: CSI of the calls surveyed in [from, to).
	CSISurveyedReport(ctx context.Context, from, to time.Time, by string) ([]reporting.CSIFigures, error)
}

// Config configures a Desk.
type Config struct {
	Users  []User  // everybody who may log in (agents with a web password, supervisors, admins)
	Agents []Agent // every configured agent
	// Catalogues the page offers.
	PauseReasons, OutcomeCategories, EscalationReasons []string
	EscalationQueue                                    string
	// Token is the machine clients' bearer token (admin scope; "" none).
	Token         string
	Publisher     eventlog.Publisher // where desk.action events go (the bus)
	History       History            // nil without a database: cards have no history
	Figures       Figures            // nil without a database
	FCRWindow     time.Duration
	Location      *time.Location // "today"
	SessionTTL    time.Duration
	SecureCookies bool
	Lockout       Lockout
	Language      string // the page's default language, "ru" or "en"
	Now           func() time.Time
	Log           *slog.Logger
	// KeepCalls is how many recent calls the desk keeps events of (default 20000).
	KeepCalls int
	// The wallboard's sources (wallboard.go): the /metrics registry,
	// today's reports (nil without a database) and the agents' states
	// from the queue.
	Live        Live
	Reports     Reports
	AgentStates func(context.Context) ([]BoardAgent, error)
	// Recordings plays calls' recordings to supervisors (recordings.go);
	// nil: none.
	Recordings Recordings
	// Review is the survey's low-rating list (review.go); nil: empty.
	Review Review
	// Callbacks schedules agents' callbacks (nil without a database).
	Callbacks Callbacks
	// Softphone serves the page's SIP over WebSocket (softphone.go); nil:
	// the page shows its softphone as unavailable (Asterisk mode).
	Softphone Softphone
}

// Desk is the web desk. It is a consumer of the event bus (Publish).
type Desk struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	mu     sync.Mutex
	users  map[string]*User
	base   []User           // the users as the config gives them
	resets map[string]Reset // password resets (kept in Persist)
	agents map[string]Agent
	sess   *sessions
	lock   *limiter
	calls  *callIndex
	live   *eventlog.Broadcaster
	// boardMu guards boardCache, today's reports for the wallboard.
	boardMu    sync.Mutex
	boardCache *boardReports
	phones     phoneConns // open softphone connections (softphone.go)
}

//go:embed web
var webFS embed.FS

// New builds a desk.
func New(cfg Config) (*Desk, error) {
	if cfg.Publisher == nil {
		return nil, errors.New("desk: no event publisher (every action must be recorded)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Lockout.Failures <= 0 {
		cfg.Lockout = Lockout{Failures: 5, Window: 15 * time.Minute, Ban: 15 * time.Minute}
	}
	if cfg.KeepCalls <= 0 {
		cfg.KeepCalls = 20000
	}
	if cfg.Language == "" {
		cfg.Language = "ru"
	}
	d := &Desk{cfg: cfg, log: cfg.Log, now: cfg.Now, users: map[string]*User{}, agents: map[string]Agent{},
		sess:  &sessions{m: map[string]*session{}, ttl: cfg.SessionTTL, log: cfg.Log},
		lock:  &limiter{cfg: cfg.Lockout, fail: map[string][]time.Time{}, ban: map[string]time.Time{}},
		calls: newCallIndex(cfg.KeepCalls), live: eventlog.NewBroadcaster(4096)}
	for _, a := range cfg.Agents {
		d.agents[a.ID] = a
	}
	d.sess.valid = d.validStored
	if err := d.SetUsers(cfg.Users); err != nil {
		return nil, err
	}
	return d, nil
}

// Restore makes sessions and password resets durable in p (a database):
// from now on they are written through to it, and the resets it holds
// apply to users (the config's, with Same: a reset made in an earlier
// process applies while the file's password is the one it replaced). A session created before a restart is found
// in p at its first request. Call it once the database is open, before the
// HTTP service starts.
func (d *Desk) Restore(ctx context.Context, p Persist, users []User) error {
	resets, err := p.Resets(ctx)
	if err != nil {
		return fmt.Errorf("desk: password resets: %w", err)
	}
	d.sess.mu.Lock()
	d.sess.persist = p
	d.sess.mu.Unlock()
	d.mu.Lock()
	d.resets = map[string]Reset{}
	for _, r := range resets {
		d.resets[r.User] = r
	}
	d.mu.Unlock()
	// The stored sessions are checked against the users' passwords as
	// they are read (validStored): nothing to end here.
	return d.setUsers(users, false)
}

// Publish implements eventlog.Publisher: the desk indexes the event (who
// was on which call) and then passes it to its pages' live streams, so a
// page that learns of an event can read the card it belongs to.
func (d *Desk) Publish(ev eventlog.Event) {
	d.calls.add(ev)
	d.live.Publish(ev)
}

// Close ends the pages' live streams.
func (d *Desk) Close() { d.live.Close() }

// Enabled reports whether anybody can log in or a token is set: then the
// API requires one or the other.
func (d *Desk) Enabled() bool { return d.HasUsers() || d.cfg.Token != "" }

// HasUsers reports whether anybody can log in to the desk.
func (d *Desk) HasUsers() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.users) > 0
}

// validStored reports whether a session stored with userHash (by this
// process or one before a restart) is still good: the user exists and
// their password is the one the session began with — the same hash, or,
// for a plain password in the file (hashed anew at each load) without a
// reset since, the same password (Same).
func (d *Desk) validStored(user, userHash string) bool {
	d.mu.Lock()
	u := d.users[user]
	_, reset := d.resets[user]
	d.mu.Unlock()
	if u == nil || userHash == "" {
		return false
	}
	return u.Hash == userHash || (!reset && u.same(userHash))
}

// SetUsers replaces the users (a config reload); sessions of users who
// are gone or whose password changed end. A password reset (Reset) still
// applies while the config keeps the hash it replaced; a user whose
// password the config changed since gets the config's, and the reset is
// forgotten.
func (d *Desk) SetUsers(users []User) error { return d.setUsers(users, true) }

func (d *Desk) setUsers(users []User, endSessions bool) error {
	m := map[string]*User{}
	d.mu.Lock()
	prev := map[string]string{} // the config's hash at the last load
	for _, b := range d.base {
		prev[b.ID] = b.Hash
	}
	d.mu.Unlock()
	base := make([]User, 0, len(users))
	for i := range users {
		u := users[i]
		if err := d.checkUser(u); err != nil {
			return err
		}
		if _, dup := m[u.ID]; dup {
			return fmt.Errorf("desk: duplicate user %q", u.ID)
		}
		// An unchanged password keeps the hash it had (a plain password
		// is hashed anew at each load).
		if h, ok := prev[u.ID]; ok && h != u.Hash && u.same(h) {
			u.Hash = h
		}
		m[u.ID] = &u
		base = append(base, u)
	}
	d.mu.Lock()
	var stale []string
	for id, r := range d.resets {
		u, ok := m[id]
		switch {
		case ok && r.ConfigHash != "" && u.same(r.ConfigHash):
			nu := *u
			nu.Hash = r.Hash
			m[id] = &nu
		case !ok && r.ConfigHash == "":
			if a, isAgent := d.agents[id]; isAgent {
				m[id] = &User{ID: id, Name: a.Name, Role: RoleAgent, Hash: r.Hash}
			} else {
				stale = append(stale, id)
			}
		default: // the config has a newer password, or the user is gone
			stale = append(stale, id)
		}
	}
	for _, id := range stale {
		delete(d.resets, id)
	}
	d.base = base
	old := d.users
	d.users = m
	d.mu.Unlock()
	if p := d.sess.store(); p != nil {
		for _, id := range stale {
			d.sess.persistDo(func(ctx context.Context) error { return p.DeleteReset(ctx, id) })
		}
	}
	for id, u := range old {
		if n, ok := m[id]; endSessions && (!ok || n.Hash != u.Hash || n.Role != u.Role) {
			d.sess.dropUser(id)
		}
	}
	return nil
}

func (d *Desk) checkUser(u User) error {
	switch u.Role {
	case RoleAgent:
		if _, ok := d.agents[u.ID]; !ok {
			return fmt.Errorf("desk: user %q has role agent but is no agent", u.ID)
		}
	case RoleSupervisor, RoleAdmin:
	default:
		return fmt.Errorf("desk: user %q: unknown role %q", u.ID, u.Role)
	}
	return nil
}

// Handler serves the page and its endpoints under /desk/.
func (d *Desk) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web")
	files := http.StripPrefix("/desk/", http.FileServerFS(static))
	mux.Handle("GET /desk/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("POST /desk/login", d.login)
	mux.Handle("POST /desk/logout", d.withSession(d.logout))
	mux.Handle("GET /desk/api/session", d.withSession(d.sessionInfo))
	mux.Handle("GET /desk/api/events", d.withSession(d.events))
	mux.Handle("GET /desk/api/calls/{id}/card", d.withSession(d.card))
	mux.Handle("GET /desk/api/agents/{id}/today", d.withSession(d.today))
	mux.Handle("GET /desk/api/agents/{id}/callbacks", d.withSession(d.agentCallbacks))
	mux.Handle("POST /desk/api/calls/{id}/callback", d.withSession(d.scheduleCallback))
	mux.Handle("POST /desk/api/users/{id}/password", d.withSession(d.resetPassword))
	mux.Handle("GET /desk/api/wallboard", d.withSession(d.wallboard))
	mux.Handle("GET /desk/api/calls/{id}/recording", d.withSession(d.recording))
	mux.Handle("GET /desk/api/live", d.withSession(d.liveCalls))
	mux.Handle("GET /desk/api/review", d.withSession(d.review))
	mux.Handle("GET /desk/api/softphone", d.withSession(d.softphoneInfo))
	mux.Handle("GET /desk/sip", d.withSession(d.softphoneSocket))
	return mux
}

// ---- identification ----

const cookieName = "hotline_desk"

// who identifies the request: the bearer token, or a session cookie.
func (d *Desk) who(r *http.Request) (principal, bool) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, _ := strings.Cut(auth, " ")
		if strings.EqualFold(scheme, "Bearer") && sameToken(d.cfg.Token, tok) {
			return principal{machine: true}, true
		}
		return principal{}, false
	}
	c, err := r.Cookie(cookieName)
	if err != nil {
		return principal{}, false
	}
	ss := d.sess.get(c.Value, d.now())
	if ss == nil {
		return principal{}, false
	}
	d.mu.Lock()
	u := d.users[ss.user]
	d.mu.Unlock()
	if u == nil {
		return principal{}, false
	}
	return principal{user: u, sess: ss}, true
}

// checkCSRF: a state-changing request made with a session cookie must
// carry the session's CSRF token in X-CSRF-Token (or the form field
// csrf); token clients need none.
func checkCSRF(p principal, r *http.Request) bool {
	if p.sess == nil {
		return true
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		tok = r.PostFormValue("csrf")
	}
	return sameToken(p.sess.csrf, tok)
}

type handlerP func(w http.ResponseWriter, r *http.Request, p principal)

// withSession runs h for an identified request (401 otherwise) that
// passed the CSRF check (403 otherwise).
func (d *Desk) withSession(h handlerP) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := d.who(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "log in first")
			return
		}
		if !checkCSRF(p, r) {
			writeError(w, http.StatusForbidden, "missing or wrong CSRF token (X-CSRF-Token)")
			return
		}
		h(w, r, p)
	})
}

// ---- login ----

func (d *Desk) login(w http.ResponseWriter, r *http.Request) {
	// JSON only: a cross-site form cannot send it without a CORS preflight,
	// so another site cannot log a browser in to an account of its choosing.
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "send the login as application/json")
		return
	}
	var body struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if !decode(w, r, &body) {
		return
	}
	now := d.now()
	src := sourceOf(r)
	keys := []string{"user:" + body.User, "src:" + src}
	for _, k := range keys {
		if until := d.lock.banned(k, now); !until.IsZero() {
			w.Header().Set("Retry-After", strconv.Itoa(int(until.Sub(now).Seconds())+1))
			d.log.Warn("desk login refused: locked out", "user", body.User, "source", src, "until", until)
			writeError(w, http.StatusTooManyRequests, "too many failed logins: try again later")
			return
		}
	}
	d.mu.Lock()
	u := d.users[body.User]
	hash := ""
	if u != nil {
		hash = u.Hash
	}
	d.mu.Unlock()
	if !checkPassword(hash, body.Password) || len(body.Password) == 0 {
		for _, k := range keys {
			d.lock.failed(k, now)
		}
		d.log.Warn("desk login failed", "user", body.User, "source", src)
		writeError(w, http.StatusUnauthorized, "wrong user name or password")
		return
	}
	d.lock.succeeded(keys[0])
	ss := d.sess.create(u.ID, u.Hash, now)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: ss.token, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil || d.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	d.record(principal{user: u, sess: ss}, "login", "", "", nil)
	d.sessionInfo(w, r, principal{user: u, sess: ss})
}

func (d *Desk) logout(w http.ResponseWriter, r *http.Request, p principal) {
	if p.sess != nil {
		d.sess.drop(p.sess.hash)
		d.phones.closeSession(p.sess.hash)
		d.record(p, "logout", "", "", nil)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil || d.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// SessionJSON is what the page learns about its user.
type SessionJSON struct {
	User              string   `json:"user"`
	Name              string   `json:"name,omitempty"`
	Role              string   `json:"role"`
	Team              string   `json:"team,omitempty"`
	Line              int      `json:"line,omitempty"`
	WrapupS           float64  `json:"wrapup_s,omitempty"`
	Teams             []string `json:"teams,omitempty"`
	Queues            []string `json:"queues,omitempty"`
	Agents            []string `json:"agents,omitempty"` // the agents a supervisor oversees
	CSRF              string   `json:"csrf,omitempty"`
	Language          string   `json:"language"`
	PauseReasons      []string `json:"pause_reasons"`
	OutcomeCategories []string `json:"outcome_categories"`
	EscalationReasons []string `json:"escalation_reasons"`
	EscalationQueue   string   `json:"escalation_queue,omitempty"`
}

func (d *Desk) sessionInfo(w http.ResponseWriter, _ *http.Request, p principal) {
	j := SessionJSON{User: p.id(), Role: p.role(), Language: d.cfg.Language, PauseReasons: nonNil(d.cfg.PauseReasons),
		OutcomeCategories: nonNil(d.cfg.OutcomeCategories), EscalationReasons: nonNil(d.cfg.EscalationReasons),
		EscalationQueue: d.cfg.EscalationQueue}
	if p.user != nil {
		j.Name, j.Teams, j.Queues = p.user.Name, p.user.Teams, p.user.Queues
		if a, ok := d.agents[p.user.ID]; ok {
			j.Team, j.Line, j.WrapupS = a.Team, a.Line, a.Wrapup.Seconds()
		}
		if p.user.Role == RoleSupervisor {
			for _, a := range d.cfg.Agents {
				if slices.Contains(p.user.Teams, a.Team) {
					j.Agents = append(j.Agents, a.ID)
				}
			}
		}
	}
	if p.sess != nil {
		j.CSRF = p.sess.csrf
	}
	writeJSON(w, http.StatusOK, j)
}

// resetPassword sets a user's password (supervisors for the agents of
// their teams, admins for anybody); the user's sessions end. With a
// database (Restore) the new hash is stored and survives restarts and
// reloads, until the config file gets a new password for the user
// (docs/desk.md).
func (d *Desk) resetPassword(w http.ResponseWriter, r *http.Request, p principal) {
	id := r.PathValue("id")
	var body struct {
		Password string `json:"password"`
	}
	if !decode(w, r, &body) {
		return
	}
	if !d.mayActOnAgent(p, id) && p.role() != RoleAdmin {
		writeError(w, http.StatusForbidden, "you may not reset this user's password")
		return
	}
	if p.role() == RoleAgent { // an agent's own password is reset by a supervisor or admin
		writeError(w, http.StatusForbidden, "ask a supervisor or an admin to reset your password")
		return
	}
	if len(body.Password) < 8 || len(body.Password) > 72 {
		writeError(w, http.StatusBadRequest, "password: 8 to 72 bytes")
		return
	}
	h, err := bcrypt.GenerateFromPassword([]byte(body.Password), bcrypt.DefaultCost)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "hashing failed")
		return
	}
	d.mu.Lock()
	u, ok := d.users[id]
	if !ok {
		a, isAgent := d.agents[id]
		if !isAgent {
			d.mu.Unlock()
			writeError(w, http.StatusNotFound, fmt.Sprintf("unknown user %q", id))
			return
		}
		u = &User{ID: id, Name: a.Name, Role: RoleAgent}
	}
	// The hash the config has for the user (what the reset replaces).
	configHash := ""
	for _, b := range d.base {
		if b.ID == id {
			configHash = b.Hash
		}
	}
	d.mu.Unlock()
	reset := Reset{User: id, Hash: string(h), ConfigHash: configHash, At: d.now().UTC(), By: p.id()}
	if ps := d.sess.store(); ps != nil {
		ctx, cancel := context.WithTimeout(r.Context(), persistTimeout)
		err := ps.SaveReset(ctx, reset)
		cancel()
		if err != nil {
			d.log.Error("desk: password reset not stored", "user", id, "err", err)
			writeError(w, http.StatusServiceUnavailable, "the new password could not be stored: try again")
			return
		}
	}
	d.mu.Lock()
	nu := *u
	nu.Hash = string(h)
	d.users[id] = &nu
	if d.resets == nil {
		d.resets = map[string]Reset{}
	}
	d.resets[id] = reset
	d.mu.Unlock()
	d.sess.dropUser(id)
	agent := ""
	if nu.Role == RoleAgent {
		agent = id
	}
	d.record(p, "password.reset", agent, "", map[string]string{"user": id})
	writeJSON(w, http.StatusOK, map[string]string{"user": id, "reset_by": p.id()})
}

// record publishes a desk.action event: who (actor, role, via) did what
// (action) to which agent or call.
func (d *Desk) record(p principal, action, agent, callID string, data map[string]string) {
	ev := eventlog.Event{Type: ActionEvent, At: d.now().UTC(), Agent: agent, CallID: callID, Reason: action}
	ev = ev.WithString(eventlog.KeyActor, p.id()).WithString(eventlog.KeyRole, p.role())
	via := "session"
	if p.machine {
		via = "token"
	}
	ev = ev.WithString(eventlog.KeyVia, via)
	for k, v := range data {
		ev = ev.WithString(eventlog.StringKey(k), v)
	}
	d.cfg.Publisher.Publish(ev)
}

// ---- helpers ----

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}
