package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a YAML syntax error into an *Error with its line.
func yamlError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return &Error{File: file, Line: 1, Msg: strings.Replace(msg, "yaml: ", "YAML syntax: ", 1)}
}

var (
	identRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	envRefRe   = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	featureRe  = regexp.MustCompile(`^[0-9*#]{1,8}$`)
	dtmfKeyRe  = regexp.MustCompile(`^[0-9*#]$`)
	numberRe   = regexp.MustCompile(`^\+?[0-9*#]+$`)
	clockRe    = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
	languages  = []string{"ru", "en"}
	strategies = []string{"longest-idle", "round-robin", "skill-level", "ring-all"}
)

// validate checks c, fills derived fields and cross-references, and
// reports every problem to r.
func validate(c *Config, r *reporter, e env) {
	v := validator{c: c, r: r, e: e}
	v.service()
	v.sip()
	v.media()
	v.http()
	v.database()
	v.agents()
	v.queues()
	v.escalation()
	v.features()
	v.calendar()
	v.survey()
	v.numbering()
	v.dialling()
	v.reporting()
	v.privacy()
	v.recording()
	v.web()
}

type validator struct {
	c *Config
	r *reporter
	e env
}

func (v *validator) errorf(path, format string, args ...any) { v.r.errorf(path, format, args...) }

// expand replaces ${VAR} references in s from the environment.
func (v *validator) expand(path, s string) string {
	return envRefRe.ReplaceAllStringFunc(s, func(ref string) string {
		name := envRefRe.FindStringSubmatch(ref)[1]
		val, ok := v.e.lookupEnv(name)
		if !ok {
			v.errorf(path, "environment variable %s is not set", name)
		}
		return val
	})
}

func (v *validator) oneOf(path, val string, allowed []string) bool {
	if slices.Contains(allowed, val) {
		return true
	}
	v.errorf(path, "%q is not one of %s", val, strings.Join(allowed, ", "))
	return false
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.errorf(path, "must be greater than 0")
	}
}

func (v *validator) ident(path, what, s string) bool {
	if s == "" {
		v.errorf(path, "%s is required", what)
		return false
	}
	if !identRe.MatchString(s) {
		v.errorf(path, "%s %q may only contain letters, digits, '.', '_' and '-'", what, s)
		return false
	}
	return true
}

// soundDirExists records a missing prompt or music-on-hold directory in
// Media.Missing, with what provides it (not as a warning: commands that play
// no sound do not need it, and those that do refuse to start).
func (v *validator) soundDirExists(path, dir string) {
	fi, err := v.e.stat(dir)
	var msg string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		msg = fmt.Sprintf("directory %q does not exist", dir)
	case err != nil:
		msg = fmt.Sprintf("directory %q: %v", dir, err)
	case !fi.IsDir():
		msg = fmt.Sprintf("%q is not a directory", dir)
	default:
		return
	}
	if fix := SoundsFix(dir); fix != "" {
		msg += ": " + fix
	}
	v.c.Media.Missing = append(v.c.Media.Missing, &Error{File: v.r.file, Line: v.r.lineOf(path), Path: path, Msg: msg})
}

// debianSounds is where Debian's sound packages put their files.
const debianSounds = "/usr/share/asterisk/sounds/"

// debianSoundLangs are the languages Debian 12 has asterisk-core-sounds-*
// packages for.
var debianSoundLangs = []string{"en", "es", "fr", "it", "ru"}

// SoundsFix says what provides a well-known sound directory: the Debian
// package (Asterisk's core sounds, the opsound music on hold) or the
// command that generates hotline's own prompts; "" when it is not known.
func SoundsFix(dir string) string {
	d := filepath.Clean(dir)
	switch {
	case d == "/usr/share/asterisk/moh":
		return "install it: apt-get install asterisk-moh-opsound-wav"
	case filepath.Base(filepath.Dir(d)) == "generated" && filepath.Base(filepath.Dir(filepath.Dir(d))) == "prompts":
		return "generate hotline's prompts with `make prompts` (scripts/make-prompts.sh)"
	case strings.HasPrefix(d, debianSounds):
		name, _, _ := strings.Cut(strings.TrimPrefix(d, debianSounds), "/")
		// ru, ru_RU (links made by asterisk-core-sounds-ru) or
		// ru_RU_f_IvrvoiceRU (the files, in asterisk-core-sounds-ru-wav).
		lang, rest, _ := strings.Cut(name, "_")
		if !slices.Contains(debianSoundLangs, lang) {
			return ""
		}
		// The first makes the links and depends on any of -wav, -gsm or
		// -g722; hotline reads WAV.
		pkgs := "asterisk-core-sounds-" + lang + " asterisk-core-sounds-" + lang + "-wav"
		if strings.Contains(rest, "_") {
			pkgs = "asterisk-core-sounds-" + lang + "-wav"
		}
		return "install it: apt-get install " + pkgs
	}
	return ""
}

func (v *validator) service() {
	s := &v.c.Service
	if s.Name == "" {
		v.errorf("service.name", "must not be empty")
	}
	v.oneOf("service.language", s.Language, languages)
	loc, err := v.e.loadLocation(s.Timezone)
	if err != nil || s.Timezone == "" {
		v.errorf("service.timezone", "unknown time zone %q", s.Timezone)
		loc = time.UTC
	}
	s.Location = loc
}

// parseHostPort parses "IP:port" where IP may be empty (all interfaces).
func parseHostPort(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("invalid address %q (want IP:port)", s)
	}
	p, ok := atoiStrict(port)
	if !ok || p < 1 || p > 65535 {
		return netip.AddrPort{}, fmt.Errorf("invalid port in %q", s)
	}
	addr := netip.IPv4Unspecified()
	if host != "" {
		if addr, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, fmt.Errorf("invalid IP address in %q", s)
		}
	}
	return netip.AddrPortFrom(addr, uint16(p)), nil
}

func (v *validator) sip() {
	s := &v.c.SIP
	switch s.Mode {
	case "", "native":
		s.Mode = "native"
	case "asterisk":
		a := &v.c.Asterisk
		a.Password = Secret(v.expand("asterisk.password", string(a.Password)))
		if a.URL == "" {
			v.errorf("asterisk.url", "required when sip.mode is asterisk")
		} else if u, err := url.Parse(a.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.errorf("asterisk.url", "want an http(s) URL of ARI, e.g. http://127.0.0.1:8088/ari")
		}
		if a.Username == "" {
			v.errorf("asterisk.username", "required when sip.mode is asterisk")
		}
		if a.AgentEndpoint != "" && !strings.Contains(a.AgentEndpoint, "%s") {
			v.errorf("asterisk.agent_endpoint", "must contain %%s for the agent's user")
		}
		// Sorted keys here and below: only the first error of a path is
		// kept, and errors on one line keep their order, so map order made
		// the reported problems vary between runs (FuzzParse).
		for _, name := range sortedKeys(a.Trunks) {
			if dial := a.Trunks[name]; !strings.Contains(dial, "%s") {
				v.errorf("asterisk.trunks", "trunk %q: dial string must contain %%s for the number", name)
			}
		}
	default:
		v.errorf("sip.mode", "unknown mode %q (want native or asterisk)", s.Mode)
	}
	if ap, err := parseHostPort(s.Listen); err != nil {
		v.errorf("sip.listen", "%v", err)
	} else {
		s.ListenAddr = ap
		s.Advertise = ap.Addr()
	}
	if s.AdvertiseIP != "" {
		a, err := netip.ParseAddr(s.AdvertiseIP)
		switch {
		case err != nil:
			v.errorf("sip.advertise_ip", "invalid IP address %q", s.AdvertiseIP)
		case a.IsUnspecified():
			v.errorf("sip.advertise_ip", "must be a specific address, not %s", a)
		default:
			s.Advertise = a
		}
	} else if s.ListenAddr.IsValid() && s.ListenAddr.Addr().IsUnspecified() {
		v.r.errorAt(v.r.lineOf("sip.listen"), "sip.advertise_ip", "required when sip.listen is %s (the address peers send media and requests to)", s.Listen)
	}
	v.sipTLS()
	v.sipWebRTC()
	if s.Realm == "" {
		v.errorf("sip.realm", "must not be empty")
	}
	seenAlg := map[string]bool{}
	for i, a := range s.DigestAlgorithms {
		path := fmt.Sprintf("sip.digest_algorithms[%d]", i)
		switch {
		case a != "MD5" && a != "SHA-256":
			v.errorf(path, "unknown digest algorithm %q (want MD5 or SHA-256)", a)
		case seenAlg[a]:
			v.errorf(path, "%s listed twice", a)
		}
		seenAlg[a] = true
	}
	v.positive("sip.ring_timeout", s.RingTimeout)
	v.positive("sip.register.min_expiry", s.Register.MinExpiry)
	if s.Register.MaxExpiry < s.Register.MinExpiry {
		v.errorf("sip.register.max_expiry", "%v is less than min_expiry %v", s.Register.MaxExpiry, s.Register.MinExpiry)
	}
	if s.AuthLockout.Failures < 1 {
		v.errorf("sip.auth_lockout.failures", "must be at least 1")
	}
	v.positive("sip.auth_lockout.window", s.AuthLockout.Window)
	if s.AuthLockout.UserFailures < 1 {
		v.errorf("sip.auth_lockout.user_failures", "must be at least 1")
	}
	v.positive("sip.auth_lockout.user_window", s.AuthLockout.UserWindow)
	v.positive("sip.auth_lockout.ban", s.AuthLockout.Ban)
	if s.AuthLockout.MaxBan < s.AuthLockout.Ban {
		v.errorf("sip.auth_lockout.max_ban", "%v is less than ban %v", s.AuthLockout.MaxBan, s.AuthLockout.Ban)
	}
	if s.TCP.IdleTimeout < 0 {
		v.errorf("sip.tcp.idle_timeout", "must not be negative (0 never closes idle connections)")
	}
	if s.TCP.MaxPerSource < 0 {
		v.errorf("sip.tcp.max_connections_per_source", "must not be negative (0 is no limit)")
	}

	if len(s.Trunks) == 0 {
		v.errorf("sip.trunks", "at least one trunk is required")
	}
	names := map[string]bool{}
	for i := range s.Trunks {
		t := &s.Trunks[i]
		p := joinIndex("sip.trunks", i)
		if v.ident(p+".name", "name", t.Name) {
			if names[t.Name] {
				v.errorf(p+".name", "duplicate trunk %q", t.Name)
			}
			names[t.Name] = true
		}
		// In asterisk mode Asterisk admits trunk calls (pjsip.conf identify);
		// hotline never sees their SIP.
		if len(t.Allow) == 0 && s.Mode != "asterisk" {
			v.errorf(p+".allow", "at least one source address or CIDR is required")
		}
		t.AllowRules = make([]AllowRule, 0, len(t.Allow))
		for j, a := range t.Allow {
			rule, err := parseAllow(a)
			if err != nil {
				v.errorf(joinIndex(p+".allow", j), "%v", err)
				continue
			}
			t.AllowRules = append(t.AllowRules, rule)
		}
		if t.Address != "" {
			host, port, err := net.SplitHostPort(t.Address)
			if n, ok := atoiStrict(port); err != nil || host == "" || !ok || n < 1 || n > 65535 {
				v.errorf(p+".address", "invalid address %q (want host:port)", t.Address)
			}
		}
		v.oneOf(p+".transport", t.Transport, []string{"udp", "tcp"})
		if t.CallerID != "" && !numberRe.MatchString(t.CallerID) {
			v.errorf(p+".caller_id", "invalid number %q", t.CallerID)
		}
		t.Password = Secret(v.expand(p+".password", string(t.Password)))
		if t.Password != "" && t.Username == "" {
			v.errorf(p+".username", "required when a password is set")
		}
	}
	if s.Mode == "asterisk" {
		for _, name := range sortedKeys(v.c.Asterisk.Trunks) {
			if !names[name] {
				v.errorf("asterisk.trunks", "trunk %q is not in sip.trunks", name)
			}
		}
	}
	for _, num := range sortedKeys(s.Numbers) {
		flow := s.Numbers[num]
		p := joinKey("sip.numbers", num)
		if num == "" {
			v.errorf(p, "empty number")
		}
		if flow == "" {
			v.errorf(p, "flow name must not be empty")
		}
	}
}

// parseAllow parses a trunk allow entry: address, address:port or CIDR.
func parseAllow(s string) (AllowRule, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return AllowRule{}, fmt.Errorf("invalid CIDR %q", s)
		}
		return AllowRule{Prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return AllowRule{Prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Port() != 0 {
		a := ap.Addr().Unmap()
		return AllowRule{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: ap.Port()}, nil
	}
	return AllowRule{}, fmt.Errorf("invalid address %q (want IP, IP:port or CIDR)", s)
}

func (v *validator) media() {
	m := &v.c.Media
	if m.IP != "" {
		a, err := netip.ParseAddr(m.IP)
		if err != nil {
			v.errorf("media.ip", "invalid IP address %q", m.IP)
		}
		m.Addr = a
	} else if v.c.SIP.ListenAddr.IsValid() {
		m.Addr = v.c.SIP.ListenAddr.Addr()
		m.IP = m.Addr.String()
	}
	lo, hi, ok := strings.Cut(m.RTPPorts, "-")
	min, okMin := atoiStrict(strings.TrimSpace(lo))
	max, okMax := atoiStrict(strings.TrimSpace(hi))
	switch {
	case !ok || !okMin || !okMax:
		v.errorf("media.rtp_ports", "invalid range %q (want start-end, such as 20000-29999)", m.RTPPorts)
	case min < 1024 || max > 65535:
		v.errorf("media.rtp_ports", "range %q must lie within 1024-65535", m.RTPPorts)
	case min%2 != 0:
		v.errorf("media.rtp_ports", "range %q must start at an even port (RTP uses even ports)", m.RTPPorts)
	case min >= max:
		v.errorf("media.rtp_ports", "range %q: start must be less than end", m.RTPPorts)
	default:
		m.RTPPortMin, m.RTPPortMax = min, max
	}
	v.positive("media.inactivity_timeout", m.InactivityTimeout)
	for _, lang := range sortedKeys(m.Prompts) {
		p := joinKey("media.prompts", lang)
		if len(m.Prompts[lang]) == 0 {
			v.errorf(p, "at least one directory is required")
		}
		for i, dir := range m.Prompts[lang] {
			v.soundDirExists(joinIndex(p, i), dir)
		}
	}
	if _, ok := m.Prompts[v.c.Service.Language]; !ok && slices.Contains(languages, v.c.Service.Language) {
		v.errorf("media.prompts", "no prompt directories for service.language %q", v.c.Service.Language)
	}
	for _, class := range sortedKeys(m.MOH) {
		p := joinKey("media.moh", class)
		if m.MOH[class] == "" {
			v.errorf(p, "directory must not be empty")
			continue
		}
		v.soundDirExists(p, m.MOH[class])
	}
}

func (v *validator) http() {
	h := &v.c.HTTP
	h.Token = Secret(v.expand("http.token", string(h.Token)))
	ap, err := parseHostPort(h.Listen)
	if err != nil {
		v.errorf("http.listen", "%v", err)
		return
	}
	if !ap.Addr().IsLoopback() && h.Token == "" {
		v.r.errorAt(v.r.lineOf("http.listen"), "http.token",
			"required when http.listen (%s) is not a loopback address: the API controls agents and shows callers' numbers", h.Listen)
	}
	v.keyPair("http", h.TLSCert, h.TLSKey)
	if !ap.Addr().IsLoopback() && !h.TLS() && !h.AllowPlain {
		v.r.errorAt(v.r.lineOf("http.listen"), "http.tls_cert",
			"required when http.listen (%s) is not a loopback address: the token, desk passwords and session cookies would cross the network in clear (set http.tls_cert and http.tls_key, or http.allow_plain: true behind a TLS-terminating proxy)", h.Listen)
	}
}

func (v *validator) database() {
	d := &v.c.Database
	d.URL = v.expand("database.url", d.URL)
	if d.URL == "" {
		d.URL, _ = v.e.lookupEnv("DATABASE_URL")
	}
	if d.SpoolDir == "" {
		v.errorf("database.spool_dir", "must not be empty")
	}
	n := &v.c.Node
	if n.ID == "" {
		n.ID, _ = os.Hostname()
		if n.ID == "" {
			n.ID = "hotline"
		}
	}
	if n.LeaseTimeout == 0 {
		n.LeaseTimeout = 4 * time.Second
	}
	if n.LeaseTimeout < time.Second {
		v.errorf("node.lease_timeout", "must be at least 1s (got %s)", n.LeaseTimeout)
	}
	if n.Line != "" && d.URL == "" {
		v.errorf("node.line", "needs database.url (the lease lives in PostgreSQL)")
	}
}

func (v *validator) agents() {
	ids, users := map[string]int{}, map[string]int{}
	for i := range v.c.Agents {
		a := &v.c.Agents[i]
		p := joinIndex("agents", i)
		if v.ident(p+".id", "id", a.ID) {
			if j, dup := ids[a.ID]; dup {
				v.errorf(p+".id", "duplicate agent id %q (also agents[%d], line %d)", a.ID, j, v.r.lineOf(joinIndex("agents", j)))
			} else {
				ids[a.ID] = i
			}
		}
		if a.SIPUser == "" {
			a.SIPUser = a.ID
		}
		if a.SIPUser != "" && v.ident(p+".sip_user", "sip_user", a.SIPUser) {
			if j, dup := users[a.SIPUser]; dup {
				v.errorf(p+".sip_user", "duplicate sip_user %q (also agents[%d], line %d)", a.SIPUser, j, v.r.lineOf(joinIndex("agents", j)))
			} else {
				users[a.SIPUser] = i
			}
		}
		a.Password = Secret(v.expand(p+".password", string(a.Password)))
		// In asterisk mode phones register with Asterisk (pjsip.conf auth).
		if a.Password == "" && v.c.SIP.Mode != "asterisk" {
			v.errorf(p+".password", "is required")
		}
		if a.Line != 1 && a.Line != 2 {
			v.errorf(p+".line", "must be 1 or 2, not %d", a.Line)
		}
		for _, skill := range sortedKeys(a.Skills) {
			if lvl := a.Skills[skill]; lvl < 1 || lvl > 5 {
				v.errorf(joinKey(p+".skills", skill), "level %d out of range 1..5", lvl)
			}
		}
		if a.MaxMissed < 0 {
			v.errorf(p+".max_missed", "must not be negative")
		}
	}
}

func (v *validator) queueIndex() map[string]int {
	m := map[string]int{}
	for i, q := range v.c.Queues {
		if _, dup := m[q.Name]; !dup && q.Name != "" {
			m[q.Name] = i
		}
	}
	return m
}

func (v *validator) queues() {
	seen := map[string]int{}
	for i := range v.c.Queues {
		q := &v.c.Queues[i]
		p := joinIndex("queues", i)
		if v.ident(p+".name", "name", q.Name) {
			if j, dup := seen[q.Name]; dup {
				v.errorf(p+".name", "duplicate queue %q (also queues[%d], line %d)", q.Name, j, v.r.lineOf(joinIndex("queues", j)))
			} else {
				seen[q.Name] = i
			}
		}
	}
	for i := range v.c.Queues {
		q := &v.c.Queues[i]
		p := joinIndex("queues", i)
		if q.Line != 1 && q.Line != 2 {
			v.errorf(p+".line", "must be 1 or 2, not %d", q.Line)
		}
		if q.MinLevel < 1 || q.MinLevel > 5 {
			v.errorf(p+".min_level", "level %d out of range 1..5", q.MinLevel)
		}
		v.oneOf(p+".strategy", q.Strategy, strategies)
		v.positive(p+".sl_threshold", q.SLThreshold)
		if q.SLTarget <= 0 || q.SLTarget > 1 {
			v.errorf(p+".sl_target", "%g out of range (0, 1]", q.SLTarget)
		}
		v.positive(p+".ring_timeout", q.RingTimeout)
		if q.MaxLength < 0 {
			v.errorf(p+".max_length", "must not be negative")
		}
		v.action(p+".on_max_wait", q.Name, q.OnMaxWait, seen)
		v.action(p+".on_full", q.Name, q.OnFull, seen)
		if _, ok := v.c.Media.MOH[q.MOH]; !ok {
			v.errorf(p+".moh", "unknown moh class %q (define it in media.moh)", q.MOH)
		}
		if q.Callback.Enabled {
			if !dtmfKeyRe.MatchString(q.Callback.Key) {
				v.errorf(p+".callback.key", "invalid DTMF key %q (want one of 0-9, * or #)", q.Callback.Key)
			}
			if q.Callback.Retries < 0 {
				v.errorf(p+".callback.retries", "must not be negative")
			}
			v.positive(p+".callback.retry_delay", q.Callback.RetryDelay)
		}
		v.callback(p+".callback", &q.Callback)
		if q.Name != "" && !v.served(q) {
			v.r.warnf(p, "no agent can serve queue %q (line %d, skill %q at level %d or more)", q.Name, q.Line, q.Skill, q.MinLevel)
		}
	}
}

// callback checks a queue's callback keys that apply whether or not the
// key is enabled (a callback also comes from on_max_wait and the IVR).
func (v *validator) callback(p string, cb *Callback) {
	v.oneOf(p+".mode", cb.Mode, []string{CallbackAgentFirst, CallbackCallerFirst})
	v.positive(p+".dial_timeout", cb.DialTimeout)
	v.positive(p+".expire", cb.Expire)
	v.positive(p+".sl_threshold", cb.SLThreshold)
	from, ok1 := v.clock(p+".hours.from", cb.Hours.From)
	to, ok2 := v.clock(p+".hours.to", cb.Hours.To)
	if ok1 && ok2 {
		if from >= to {
			v.errorf(p+".hours.to", "%s is not after from %s", cb.Hours.To, cb.Hours.From)
		}
		cb.Hours.FromOffset, cb.Hours.ToOffset = from, to
	}
	o := cb.Offer
	if o.After < 0 {
		v.errorf(p+".offer.after", "must not be negative")
	}
	offered := o.OnJoin || o.After > 0 || o.WithAnnouncements
	switch {
	case offered && !cb.Enabled:
		v.errorf(p+".offer", "offers a callback key that is off: set callback.enabled")
	case offered && cb.Key != "1" && o.Prompt == "":
		v.errorf(p+".offer", "the default prompt hotline/callback-offer says \"press 1\" but callback.key is %q: set callback.offer.prompt", cb.Key)
	case o.Prompt != "" && !offered:
		v.errorf(p+".offer.prompt", "only used with on_join, after or with_announcements")
	}
}

// served reports whether some agent can take calls of q.
func (v *validator) served(q *Queue) bool {
	for _, a := range v.c.Agents {
		if a.Line == q.Line && (q.Skill == "" || a.Skills[q.Skill] >= q.MinLevel) {
			return true
		}
	}
	return false
}

func (v *validator) action(path, self string, a Action, queues map[string]int) {
	switch a.Action {
	case "", ActionMessage, ActionCallback:
		if a.Queue != "" {
			v.errorf(path+".queue", "only used with action overflow")
		}
	case ActionOverflow:
		switch _, ok := queues[a.Queue]; {
		case a.Queue == "":
			v.errorf(path+".queue", "required for action overflow")
		case a.Queue == self:
			v.errorf(path+".queue", "queue %q cannot overflow to itself", a.Queue)
		case !ok:
			v.errorf(path+".queue", "unknown queue %q", a.Queue)
		}
	default:
		v.errorf(path+".action", "%q is not one of overflow, message, callback", a.Action)
	}
	if a.Message != "" && a.Action != ActionMessage {
		v.errorf(path+".message", "only used with action message")
	}
}

func (v *validator) escalation() {
	e := &v.c.Escalation
	if e.Queue == "" {
		if e.Number != "" {
			v.errorf("escalation.queue", "required when escalation.number is set")
		}
		return
	}
	i, ok := v.queueIndex()[e.Queue]
	switch {
	case !ok:
		v.errorf("escalation.queue", "unknown queue %q", e.Queue)
	case v.c.Queues[i].Line != 2:
		v.errorf("escalation.queue", "queue %q is line %d; escalation needs a line 2 queue", e.Queue, v.c.Queues[i].Line)
	}
	if e.Number == "" {
		v.errorf("escalation.number", "required when escalation.queue is set")
	} else if !numberRe.MatchString(e.Number) {
		v.errorf("escalation.number", "invalid number %q", e.Number)
	}
	seen := map[string]bool{}
	for i, r := range e.Reasons {
		p := joinIndex("escalation.reasons", i)
		if v.ident(p, "reason", r) && seen[r] {
			v.errorf(p, "duplicate reason %q", r)
		}
		seen[r] = true
	}
}

func (v *validator) features() {
	f := v.c.Features
	codes := []struct{ key, code string }{
		{"login", f.Login}, {"logout", f.Logout}, {"pause", f.Pause}, {"ready", f.Ready}, {"escalate", f.Escalate},
		{"listen", f.Listen}, {"whisper", f.Whisper}, {"barge", f.Barge},
	}
	// The monitor codes are followed by an agent, pause by a reason code:
	// none of these prefixes may start another.
	prefixes := codes[5:]
	prefixes = append(prefixes, codes[2])
	for i, a := range prefixes {
		for j, b := range prefixes {
			if i != j && a.code != "" && b.code != "" && a.code != b.code && strings.HasPrefix(b.code, a.code) {
				v.errorf("features."+b.key, "code %q starts with features.%s %q (both are followed by more digits)", b.code, a.key, a.code)
			}
		}
	}
	seen := map[string]string{}
	for _, c := range codes {
		p := "features." + c.key
		if !featureRe.MatchString(c.code) {
			v.errorf(p, "invalid feature code %q (want 1-8 of 0-9, * and #)", c.code)
			continue
		}
		if other, dup := seen[c.code]; dup {
			v.errorf(p, "code %q is also features.%s", c.code, other)
		}
		seen[c.code] = c.key
	}
}

func (v *validator) dates(path string, in []string) []time.Time {
	out := make([]time.Time, 0, len(in))
	for i, s := range in {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			v.errorf(joinIndex(path, i), "invalid date %q (want YYYY-MM-DD)", s)
			continue
		}
		out = append(out, d)
	}
	return out
}

var (
	daySpecRe = regexp.MustCompile(`^(holiday|off|short|normal|work( (mon|tue|wed|thu|fri))?( short)?)$`)
	prefixRe  = regexp.MustCompile(`^\+[1-9][0-9]{0,14}$`)
)

// calendar checks the one calendar section (docs/configuration.md), so
// that package ivr, which builds it, finds nothing wrong. The deprecated
// keys: holidays and workdays are migrated into dates (a warning each),
// year_data is refused.
func (v *validator) calendar() {
	c := &v.c.Calendar
	if c.Builtin != "" {
		v.oneOf("calendar.builtin", c.Builtin, []string{"ru", "none"})
	}
	for i, y := range c.Years {
		if y < 2000 || y > 2200 {
			v.errorf(joinIndex("calendar.years", i), "year %d out of range 2000..2200", y)
		}
	}
	for _, d := range sortedKeys(c.Dates) {
		p := joinKey("calendar.dates", d)
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			v.errorf(p, "invalid date %q (want YYYY-MM-DD)", d)
		}
		if spec := strings.Join(strings.Fields(c.Dates[d]), " "); !daySpecRe.MatchString(spec) {
			v.errorf(p, "%q: want holiday, off, work [mon..fri] [short], short or normal", c.Dates[d])
		}
	}
	for _, old := range []struct {
		key, kind string
		dates     []string
	}{{"holidays", "holiday", c.Holidays}, {"workdays", "work", c.Workdays}} {
		if len(old.dates) == 0 {
			continue
		}
		v.r.warnf("calendar."+old.key, "deprecated (and not read before this version): these dates now apply as calendar.dates: {YYYY-MM-DD: %s}; write them there", old.kind)
		for i, d := range old.dates {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				v.errorf(joinIndex("calendar."+old.key, i), "invalid date %q (want YYYY-MM-DD)", d)
			} else if _, dup := c.Dates[d]; dup {
				v.errorf(joinIndex("calendar."+old.key, i), "%s is also in calendar.dates", d)
			}
		}
	}
	if c.YearData != "" {
		v.errorf("calendar.year_data", "no longer supported (it was never read): list the year's dates under calendar.dates and the year under calendar.years")
	}
}

// numbering checks that the numbering plan's files exist (serve loads
// them and names a malformed line as file:line).
func (v *validator) numbering() {
	for i, f := range v.c.Numbering.Files {
		p := joinIndex("numbering.files", i)
		fi, err := v.e.stat(f)
		switch {
		case err != nil:
			v.errorf(p, "cannot read %q: %v (the regulator's registry: see docs/survey.md)", f, errors.Unwrap(err))
		case fi.IsDir():
			v.errorf(p, "%q is a directory, want a registry file such as DEF-9xx.csv", f)
		}
	}
}

// dialling checks the dialling policy.
func (v *validator) dialling() {
	d := &v.c.Dialling
	for _, l := range []struct {
		key  string
		list []string
	}{{"allow", d.Allow}, {"deny", d.Deny}} {
		for i, p := range l.list {
			if !prefixRe.MatchString(p) {
				v.errorf(joinIndex("dialling."+l.key, i), "%q is not an E.164 prefix (+ and 1 to 15 digits, e.g. \"+7\" or \"+7809\")", p)
			}
		}
	}
	for i, t := range d.Trunks {
		if !slices.ContainsFunc(v.c.SIP.Trunks, func(x Trunk) bool { return x.Name == t }) {
			v.errorf(joinIndex("dialling.trunks", i), "unknown trunk %q", t)
		}
	}
	if d.DailyCap < 1 {
		v.errorf("dialling.daily_cap", "must be at least 1")
	}
	if d.PerNumber < 1 {
		v.errorf("dialling.per_number", "must be at least 1")
	}
	v.positive("dialling.per_number_window", d.PerNumberWindow)
}

// clock parses "HH:MM" into an offset from midnight.
func (v *validator) clock(path, s string) (time.Duration, bool) {
	m := clockRe.FindStringSubmatch(s)
	if m == nil {
		v.errorf(path, "invalid time %q (want HH:MM, 00:00 to 23:59)", s)
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	min, _ := strconv.Atoi(m[2])
	return time.Duration(h)*time.Hour + time.Duration(min)*time.Minute, true
}

func (v *validator) survey() {
	s := &v.c.Survey
	if s.Trunk == "" && s.Enabled && len(v.c.SIP.Trunks) > 0 {
		s.Trunk = v.c.SIP.Trunks[0].Name
	}
	if s.Trunk != "" {
		i := slices.IndexFunc(v.c.SIP.Trunks, func(t Trunk) bool { return t.Name == s.Trunk })
		if i < 0 {
			v.errorf("survey.trunk", "unknown trunk %q", s.Trunk)
		} else if s.CallerID == "" {
			s.CallerID = v.c.SIP.Trunks[i].CallerID
		}
	}
	if s.CallerID != "" && !numberRe.MatchString(s.CallerID) {
		v.errorf("survey.caller_id", "invalid number %q", s.CallerID)
	}
	if s.Language == "" {
		s.Language = v.c.Service.Language // checked as service.language
	} else {
		v.oneOf("survey.language", s.Language, languages)
	}
	from, ok1 := v.clock("survey.window.from", s.Window.From)
	to, ok2 := v.clock("survey.window.to", s.Window.To)
	if ok1 && ok2 {
		if from >= to {
			v.errorf("survey.window.to", "%s is not after from %s", s.Window.To, s.Window.From)
		}
		s.Window.FromOffset, s.Window.ToOffset = from, to
	}
	queues := v.queueIndex()
	for _, k := range sortedKeys(s.Sampling) {
		p := joinKey("survey.sampling", k)
		if _, ok := queues[k]; !ok && k != "default" {
			v.errorf(p, "unknown queue %q (keys are queue names or \"default\")", k)
		}
		if r := s.Sampling[k]; r < 0 || r > 1 {
			v.errorf(p, "rate %g out of range 0..1", r)
		}
	}
	for _, n := range []struct {
		key string
		val int
	}{
		{"max_concurrent", s.MaxConcurrent}, {"per_minute", s.PerMinute}, {"daily_cap", s.DailyCap},
		{"attempts", s.Attempts}, {"last_day", s.LastDay},
	} {
		if n.val < 1 {
			v.errorf("survey."+n.key, "must be at least 1")
		}
	}
	if s.CooldownDays < 0 {
		v.errorf("survey.cooldown_days", "must not be negative")
	}
	if s.Attempts > 1 {
		v.positive("survey.retry_delay", s.RetryDelay)
	}
	v.oneOf("survey.unknown_zone", s.UnknownZone, []string{"intersect", "skip"})
}

func (v *validator) reporting() {
	r := v.c.Reporting
	v.positive("reporting.fcr_window", r.FCRWindow)
	if _, set := v.r.lines["reporting.intervals"]; set {
		if r.Intervals == 15*time.Minute {
			v.r.warnf("reporting.intervals", "deprecated and not read: interval rollups are always 15 minutes; remove the key")
		} else {
			v.errorf("reporting.intervals", "%v is not supported: interval rollups are always 15 minutes (the key was never read); remove it", r.Intervals)
		}
	}
	v.positive("reporting.short_abandon", r.ShortAbandon)
}

func (v *validator) privacy() {
	p := v.c.Privacy
	v.positive("privacy.caller_numbers", p.CallerNumbers)
	v.positive("privacy.collected", p.Collected)
	v.positive("privacy.notes", p.Notes)
	if p.CallerNumbers > 0 && p.CallerNumbers < v.c.Reporting.FCRWindow {
		v.errorf("privacy.caller_numbers", "%v is shorter than reporting.fcr_window (%v): repeat calls would not be matched", p.CallerNumbers, v.c.Reporting.FCRWindow)
	}
	if cd := time.Duration(v.c.Survey.CooldownDays) * 24 * time.Hour; v.c.Survey.Enabled && p.CallerNumbers > 0 && p.CallerNumbers < cd {
		v.r.warnf("privacy.caller_numbers", "%v is shorter than survey.cooldown_days (%d): a number may be surveyed again sooner", p.CallerNumbers, v.c.Survey.CooldownDays)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
