package config

import (
	"net/netip"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration file.
type Config struct {
	// File is the file name the configuration was read from (as given to
	// Load or Parse); package ivr uses it to name lines of the IVR section.
	File string `yaml:"-"`

	Service  Service  `yaml:"service"`
	SIP      SIP      `yaml:"sip"`
	Media    Media    `yaml:"media"`
	HTTP     HTTP     `yaml:"http"`
	Database Database `yaml:"database"`
	// Node names this process and, with node.line, makes it one of
	// several nodes sharing a line (docs/scaling.md).
	Node       Node       `yaml:"node"`
	Agents     []Agent    `yaml:"agents"`
	Queues     []Queue    `yaml:"queues"`
	Escalation Escalation `yaml:"escalation"`
	Features   Features   `yaml:"features"`
	// IVR is the raw ivr section (nil when absent), parsed by package ivr.
	IVR *yaml.Node `yaml:"ivr"`
	// ivrMerged is IVR with the calendar section in it (IVRSection).
	ivrMerged *yaml.Node
	Calendar  Calendar  `yaml:"calendar"`
	Survey    Survey    `yaml:"survey"`
	Numbering Numbering `yaml:"numbering"`
	Dialling  Dialling  `yaml:"dialling"`
	Reporting Reporting `yaml:"reporting"`
	Privacy   Privacy   `yaml:"privacy"`
	// Recording configures call recording (recording.go).
	Recording Recording `yaml:"recording"`
	// Web configures the agents' desk: web users, roles, catalogues
	// (docs/desk.md).
	Web Web `yaml:"web"`
	// Asterisk configures the ARI switch (used when sip.mode is asterisk).
	Asterisk Asterisk `yaml:"asterisk"`

	// Warnings are non-fatal findings, each "FILE:LINE: path: message".
	Warnings []string `yaml:"-"`
}

// Service holds service-wide settings.
type Service struct {
	Name     string `yaml:"name"`     // default "hotline"
	Timezone string `yaml:"timezone"` // IANA zone, default "Europe/Moscow"
	Language string `yaml:"language"` // "ru" (default) or "en"

	// Location is Timezone loaded with time.LoadLocation.
	Location *time.Location `yaml:"-"`
}

// SIP configures the SIP listener, registrar and trunks.
type SIP struct {
	// Mode picks the switch: "native" (default: hotline's own SIP stack) or
	// "asterisk" (an existing Asterisk drives SIP and media; hotline takes
	// the calls over ARI, see the asterisk section).
	Mode        string `yaml:"mode"`
	Listen      string `yaml:"listen"`       // "IP:port", UDP and TCP; default "127.0.0.1:5060"
	AdvertiseIP string `yaml:"advertise_ip"` // required when Listen is unspecified (0.0.0.0)
	Realm       string `yaml:"realm"`        // digest realm, default "hotline"
	// DigestAlgorithms are offered to agents in this order, one challenge
	// each: MD5 and/or SHA-256; default [SHA-256, MD5] (RFC 8760). Phones
	// that read only the first challenge or fail on SHA-256 (Debian 12's
	// baresip 1.0, SIPp 3.6) need [MD5].
	DigestAlgorithms []string      `yaml:"digest_algorithms"`
	RingTimeout      time.Duration `yaml:"ring_timeout"` // default 20s
	Register         Register      `yaml:"register"`
	AuthLockout      AuthLockout   `yaml:"auth_lockout"`
	TCP              SIPTCP        `yaml:"tcp"`
	// TLSListen is "IP:port" for SIP over TLS (RFC 3261 transport=tls) in
	// native mode, for agents outside the office; empty: no TLS. It needs
	// TLSCert and TLSKey (PEM files, read at load). Agents registered over
	// TLS are rung over their registration's connection; trunks stay on
	// UDP/TCP.
	TLSListen string `yaml:"tls_listen"`
	TLSCert   string `yaml:"tls_cert"`
	TLSKey    string `yaml:"tls_key"`
	// TLSSRTP makes every call leg of an agent over TLS SRTP (SDES keys in
	// the SDP, RFC 4568; AES_CM_128_HMAC_SHA1_80), required both ways.
	// Needs TLSListen: SDES keys must not cross the network in clear.
	TLSSRTP bool `yaml:"tls_srtp"`
	// WebRTC is the media of the desk's softphone (native mode).
	WebRTC WebRTC  `yaml:"webrtc"`
	Trunks []Trunk `yaml:"trunks"`
	// Numbers maps a called number to an IVR flow name; "*" is the default.
	Numbers map[string]string `yaml:"numbers"`

	// ListenAddr is Listen parsed.
	ListenAddr netip.AddrPort `yaml:"-"`
	// TLSListenAddr is TLSListen parsed (invalid when empty).
	TLSListenAddr netip.AddrPort `yaml:"-"`
	// Advertise is the address written into SDP and Contact headers:
	// AdvertiseIP if set, else the listen address.
	Advertise netip.Addr `yaml:"-"`
}

// WebRTC configures the browser legs of the desk's softphone (native
// mode; docs/desk.md): ICE and DTLS-SRTP on one UDP port of the media
// address.
type WebRTC struct {
	// Port is the UDP port of every browser leg's ICE and media; 0 (the
	// default) picks a free one at start (fine on a LAN; open a fixed one
	// in the firewall otherwise).
	Port int `yaml:"port"`
	// PublicIPs are announced in ICE candidates in place of the media
	// address (hotline behind 1:1 NAT).
	PublicIPs []string `yaml:"public_ips"`
}

// Asterisk configures the ARI connection of sip.mode: asterisk.
type Asterisk struct {
	URL         string `yaml:"url"`         // ARI root, e.g. http://127.0.0.1:8088/ari (required in asterisk mode)
	Username    string `yaml:"username"`    // ari.conf user
	Password    Secret `yaml:"password"`    // ari.conf password (secret, ${VAR} expands)
	Application string `yaml:"application"` // Stasis application, default "hotline"
	// AgentEndpoint is the dial string of an agent's phone with %s for its
	// SIP user; default "PJSIP/%s".
	AgentEndpoint string `yaml:"agent_endpoint"`
	// Trunks maps a trunk name (as in sip.trunks) to the dial string of a
	// number through it with %s for the number, e.g. "PJSIP/%s@provider".
	Trunks map[string]string `yaml:"trunks"`
}

// Register bounds the expiry agents may ask for in REGISTER.
type Register struct {
	MinExpiry time.Duration `yaml:"min_expiry"` // default 60s
	MaxExpiry time.Duration `yaml:"max_expiry"` // default 3600s
}

// AuthLockout bans a source address after Failures failures (wrong
// passwords, refused INVITEs) within Window, and locks a user after
// UserFailures failed authentications naming it within UserWindow (then
// only addresses where it is registered may authenticate as it). The
// first ban lasts Ban, each further one twice the last, up to MaxBan
// (docs/security.md).
type AuthLockout struct {
	Failures     int           `yaml:"failures"`      // default 10
	Window       time.Duration `yaml:"window"`        // default 10m
	UserFailures int           `yaml:"user_failures"` // default 20
	UserWindow   time.Duration `yaml:"user_window"`   // default 1h
	Ban          time.Duration `yaml:"ban"`           // default 10m
	MaxBan       time.Duration `yaml:"max_ban"`       // default 24h
}

// SIPTCP bounds inbound SIP over TCP.
type SIPTCP struct {
	// IdleTimeout closes a connection that carried nothing for this long,
	// unless a live registration came over it; 0 never closes. Default 2m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxPerSource bounds the connections from one address that carry no
	// registration (trunks are not limited); 0 is no limit. Default 16.
	MaxPerSource int `yaml:"max_connections_per_source"`
}

// Trunk is a SIP trunk to a provider.
type Trunk struct {
	Name string `yaml:"name"`
	// Allow lists the sources trusted for inbound INVITEs: an address, an
	// address:port or a CIDR prefix.
	Allow     []string `yaml:"allow"`
	Address   string   `yaml:"address"`   // outbound target "host:port", optional
	Transport string   `yaml:"transport"` // "udp" (default) or "tcp"
	CallerID  string   `yaml:"caller_id"`
	Username  string   `yaml:"username"`
	Password  Secret   `yaml:"password"`

	// AllowRules is Allow parsed, in the same order.
	AllowRules []AllowRule `yaml:"-"`
}

// AllowRule is one parsed trunk allow entry. Port 0 means any port.
type AllowRule struct {
	Prefix netip.Prefix
	Port   uint16
}

// Matches reports whether a packet from src is allowed by the rule.
func (r AllowRule) Matches(src netip.AddrPort) bool {
	return r.Prefix.Contains(src.Addr().Unmap()) && (r.Port == 0 || r.Port == src.Port())
}

// Media configures RTP and audio files.
type Media struct {
	IP                string        `yaml:"ip"`        // RTP bind IP; default: the SIP listen IP
	RTPPorts          string        `yaml:"rtp_ports"` // "start-end", default "20000-29999"
	InactivityTimeout time.Duration `yaml:"inactivity_timeout"`
	// PrecisePacing wakes the RTP pacer from a timerfd (Linux): lower
	// jitter, a few per cent more CPU (docs/bench-media.md).
	PrecisePacing bool `yaml:"precise_pacing"`
	// RTPMux multiplexes RTP: a few shared sockets (one per CPU) with
	// batched system calls instead of a port per stream; peers are told
	// apart by address, so phones behind NAT without an SBC are not heard
	// (docs/configuration.md, docs/bench-media.md).
	RTPMux bool `yaml:"rtp_mux"`
	// Prompts maps a language to the directories searched for prompts, in
	// order.
	Prompts map[string][]string `yaml:"prompts"`
	// MOH maps a music-on-hold class to a directory of WAV files.
	MOH map[string]string `yaml:"moh"`

	// Addr is IP parsed (invalid when IP and the SIP listen IP are
	// unspecified, meaning all interfaces).
	Addr netip.Addr `yaml:"-"`
	// RTPPortMin and RTPPortMax are RTPPorts parsed (both inclusive).
	RTPPortMin int `yaml:"-"`
	RTPPortMax int `yaml:"-"`
	// Missing lists the prompt and music-on-hold directories that do not
	// exist, each as "FILE:LINE: path: directory ... does not exist: <what
	// provides it>". Loading only warns (report and migrate need no
	// sounds); what plays them (serve, check-config) refuses to start.
	Missing ErrorList `yaml:"-"`
}

// HTTP configures the HTTP server (API, metrics, health).
type HTTP struct {
	Listen string `yaml:"listen"` // default "127.0.0.1:8080"
	// Token, when set, is required as "Authorization: Bearer <token>" on
	// /api/ (agents' control, calls with caller numbers, reports, surveys);
	// /metrics and the health checks stay open. Required when Listen is not
	// a loopback address. Secret; ${VAR} expands.
	Token Secret `yaml:"token"`
	// TLSCert and TLSKey are PEM files (certificate chain, private key);
	// set both and HTTP is served as HTTPS only. Both are read at load, so
	// a missing or mismatched pair is refused with its line.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// AllowPlain permits plain HTTP on a non-loopback Listen (behind a
	// TLS-terminating proxy on a trusted network); without it such a
	// Listen needs TLSCert and TLSKey.
	AllowPlain bool `yaml:"allow_plain"`
}

// TLS reports whether HTTP is served over TLS.
func (h HTTP) TLS() bool { return h.TLSCert != "" }

// Database configures PostgreSQL and the local spool used while it is down.
type Database struct {
	// URL is the PostgreSQL connection string; empty means the DATABASE_URL
	// environment variable (applied by Parse). May contain ${VAR}.
	URL      string `yaml:"url"`
	SpoolDir string `yaml:"spool_dir"` // default "var/spool"
}

// Node configures this process as one node of a line served by several
// (active–standby through a PostgreSQL lease, docs/scaling.md).
type Node struct {
	// ID names the node in the event log (call.arrived's node), the
	// heartbeat and the lease; default the host name.
	ID string `yaml:"id"`
	// Line, when set, is the lease this node competes for: only the
	// lease's holder takes the line's calls; the others stand by (SIP
	// answers 503, /readyz 503). Needs database.url.
	Line string `yaml:"line"`
	// LeaseTimeout is the lease time (default 4s, at least 1s): a holder
	// cut off from the database stops taking calls within half of it; a
	// standby takes over from a dead holder within it plus half of it.
	LeaseTimeout time.Duration `yaml:"lease_timeout"`
}

// Agent is one call-centre agent.
type Agent struct {
	ID        string         `yaml:"id"`
	Name      string         `yaml:"name"`
	SIPUser   string         `yaml:"sip_user"` // default: ID
	Password  Secret         `yaml:"password"` // required; ${VAR} expands from the environment
	Line      int            `yaml:"line"`     // 1 (default) or 2
	Team      string         `yaml:"team"`
	Skills    map[string]int `yaml:"skills"`     // skill → level 1..5
	Wrapup    time.Duration  `yaml:"wrapup"`     // default 0
	MaxMissed int            `yaml:"max_missed"` // default 2
	// WebPassword is the agent's password for the desk (secret, ${VAR}
	// expands); it is hashed at load (bcrypt) into WebPasswordHash and
	// blanked (kept in memory only, for SameWebPassword). WebPasswordHash may be given instead (a bcrypt hash,
	// e.g. from `htpasswd -nbBC 10 "" PASSWORD`). Neither: no desk login.
	WebPassword     Secret `yaml:"web_password"`
	WebPasswordHash string `yaml:"web_password_hash"`
}

// Web configures the agents' desk (docs/desk.md): who may log in to the
// web pages and the API with a session, and the catalogues the page offers.
type Web struct {
	// Users are the supervisors and admins; agents log in with their
	// agents[].web_password.
	Users []WebUser `yaml:"users"`
	// PauseReasons is the catalogue an agent picks a pause reason from
	// (default [break, lunch, training, meeting]).
	PauseReasons []string `yaml:"pause_reasons"`
	// OutcomeCategories is the list an agent picks a call's category from
	// (the disposition code; default [question, complaint, technical, billing, other]).
	OutcomeCategories []string `yaml:"outcome_categories"`
	// SessionTTL is how long a session lasts without use (default 12h).
	SessionTTL time.Duration `yaml:"session_ttl"`
	// SecureCookies marks session cookies Secure even when the request
	// came over plain HTTP (set it behind a TLS-terminating proxy);
	// requests over TLS always get Secure cookies.
	SecureCookies bool `yaml:"secure_cookies"`
	// LoginLockout refuses a user name, and separately a source address,
	// for Ban after Failures failed logins within Window (default 5, 15m, 15m).
	LoginLockout AuthLockout `yaml:"login_lockout"`
	// BcryptCost is the cost of the hashes made at load (default 10).
	BcryptCost int `yaml:"bcrypt_cost"`

	// plain are the plain web passwords given in the file, by user id,
	// kept in memory only (never logged, marshalled or stored) so that
	// SameWebPassword can tell an unchanged password from a new one.
	plain map[string]Secret
}

// Web roles.
const (
	RoleAgent      = "agent"
	RoleSupervisor = "supervisor"
	RoleAdmin      = "admin"
)

// WebUser is a supervisor or an admin of the desk.
type WebUser struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	Role string `yaml:"role"` // supervisor or admin
	// Teams and Queues are what a supervisor oversees: the agents of these
	// teams and the calls of these queues.
	Teams  []string `yaml:"teams"`
	Queues []string `yaml:"queues"`
	// Password (secret, hashed at load and blanked; kept in memory only,
	// for SameWebPassword) or PasswordHash
	// (bcrypt), exactly one.
	Password     Secret `yaml:"password"`
	PasswordHash string `yaml:"password_hash"`
	// SIPUser and SIPPassword: the supervisor's desk phone, registered
	// with the native switch like an agent's (in Asterisk mode an
	// endpoint of that name). Monitoring a call (listen, whisper, barge)
	// rings it; it also dials the monitor feature codes. Optional.
	SIPUser     string `yaml:"sip_user"`
	SIPPassword Secret `yaml:"sip_password"`
}

// Queue is one ACD queue.
type Queue struct {
	Name               string        `yaml:"name"`
	Line               int           `yaml:"line"` // 1 (default) or 2
	Skill              string        `yaml:"skill"`
	MinLevel           int           `yaml:"min_level"` // default 1
	Strategy           string        `yaml:"strategy"`  // longest-idle (default), round-robin, skill-level, ring-all
	Priority           int           `yaml:"priority"`
	SLThreshold        time.Duration `yaml:"sl_threshold"`  // default 20s
	SLTarget           float64       `yaml:"sl_target"`     // default 0.8
	ShortAbandon       time.Duration `yaml:"short_abandon"` // default 5s
	RingTimeout        time.Duration `yaml:"ring_timeout"`  // default 15s
	Wrapup             time.Duration `yaml:"wrapup"`        // overrides the agent's when > 0
	MaxWait            time.Duration `yaml:"max_wait"`      // 0 = unlimited
	OnMaxWait          Action        `yaml:"on_max_wait"`
	MaxLength          int           `yaml:"max_length"` // 0 = unlimited
	OnFull             Action        `yaml:"on_full"`
	JoinEmpty          bool          `yaml:"join_empty"`  // default true
	LeaveEmpty         bool          `yaml:"leave_empty"` // default false
	Announce           Announce      `yaml:"announce"`
	MOH                string        `yaml:"moh"` // class in media.moh, default "default"
	PreferredAgentWait time.Duration `yaml:"preferred_agent_wait"`
	Callback           Callback      `yaml:"callback"`
	// Recording overrides recording's policy for this queue (recording.go).
	Recording RecordingPolicy `yaml:"recording"`
}

// Action values.
const (
	ActionOverflow = "overflow"
	ActionMessage  = "message"
	ActionCallback = "callback"
)

// Action says what happens to a caller leaving a queue without an agent.
// An empty Action means hang up.
type Action struct {
	Action  string `yaml:"action"`  // overflow, message or callback
	Queue   string `yaml:"queue"`   // overflow: target queue (required)
	Message string `yaml:"message"` // message: prompt name
}

// Announce configures position and estimated-wait announcements.
type Announce struct {
	Every    time.Duration `yaml:"every"`     // default 30s; 0 = never
	Position bool          `yaml:"position"`  // default true
	WaitTime bool          `yaml:"wait_time"` // default true
}

// Callback configures queued callback (docs/queue.md, Callbacks).
type Callback struct {
	Enabled     bool          `yaml:"enabled"`      // default false
	Key         string        `yaml:"key"`          // DTMF key, default "1"
	Retries     int           `yaml:"retries"`      // default 2
	RetryDelay  time.Duration `yaml:"retry_delay"`  // default 60s
	DialTimeout time.Duration `yaml:"dial_timeout"` // default 30s
	// Mode: agent-first (default: an agent is reserved, then the caller is
	// dialled) or caller-first (the caller is dialled at their turn and
	// waits at their place for the next agent once they answer).
	Mode string `yaml:"mode"`
	// Hours are the calling hours in the service's zone (default 09:00-21:00).
	Hours Window `yaml:"hours"`
	// Expire: a callback not connected this long after the request ends as
	// expired (default 24h).
	Expire time.Duration `yaml:"expire"`
	// SLThreshold is the callback service level's T: connected within it
	// of the request (default 30m; docs/metrics.md).
	SLThreshold time.Duration `yaml:"sl_threshold"`
	Offer       CallbackOffer `yaml:"offer"`
}

// Callback modes.
const (
	CallbackAgentFirst  = "agent-first"
	CallbackCallerFirst = "caller-first"
)

// CallbackOffer says when waiting callers hear the callback offer.
type CallbackOffer struct {
	OnJoin            bool          `yaml:"on_join"`            // when the caller joins
	After             time.Duration `yaml:"after"`              // once, this long after joining; 0 = never
	WithAnnouncements bool          `yaml:"with_announcements"` // after each periodic announcement
	Prompt            string        `yaml:"prompt"`             // default hotline/callback-offer ("press 1")
}

// Escalation configures escalation from first to second line.
type Escalation struct {
	Queue   string   `yaml:"queue"`  // a line-2 queue; empty disables escalation
	Number  string   `yaml:"number"` // number agents REFER/dial to escalate
	Reasons []string `yaml:"reasons"`
}

// Features are the feature codes agents dial from their softphones.
type Features struct {
	Login    string `yaml:"login"`    // default "*1"
	Logout   string `yaml:"logout"`   // default "*2"
	Pause    string `yaml:"pause"`    // default "*3"
	Ready    string `yaml:"ready"`    // default "*4"
	Escalate string `yaml:"escalate"` // default "*9"
	// Listen, Whisper and Barge are dialled by a supervisor's phone
	// (web.users[].sip_user) followed by the agent's SIP user or id
	// (e.g. *81a1, or *81101 with numeric SIP users) to monitor the call
	// that agent is on (docs/queue.md, Monitoring).
	Listen  string `yaml:"listen"`  // default "*81"
	Whisper string `yaml:"whisper"` // default "*82"
	Barge   string `yaml:"barge"`   // default "*83"
}

// Calendar is the one production calendar: the IVR's schedules, the
// survey's working days and holidays and the line-open gauge all read it
// (docs/configuration.md). Load moves it into the ivr section, where
// package ivr builds it; ivr.calendar, where it used to live, still loads
// with a deprecation warning.
type Calendar struct {
	// Builtin is "ru" (default: the Russian production calendar shipped
	// in ivr/calendar) or "none".
	Builtin string `yaml:"builtin"`
	// Years are years the dates below describe completely (no warning
	// that the built-in calendar does not cover them).
	Years []int `yaml:"years"`
	// Dates adds or overrides dates: YYYY-MM-DD → holiday, off,
	// work [mon..fri] [short], short or normal.
	Dates map[string]string `yaml:"dates"`

	// Holidays and Workdays are the old form of Dates (holiday, work),
	// migrated with a warning; they were never read before.
	Holidays []string `yaml:"holidays,omitempty"`
	Workdays []string `yaml:"workdays,omitempty"`
	// YearData was never read and is refused with a pointer to Dates.
	YearData string `yaml:"year_data,omitempty"`
}

// Numbering configures the numbering plan the survey takes customers'
// time zones from (docs/survey.md).
type Numbering struct {
	// Files are the regulator's registry files (ABC-3xx.csv, ABC-4xx.csv,
	// ABC-8xx.csv, DEF-9xx.csv); none: prefixes and libphonenumber only.
	Files []string `yaml:"files"`
}

// Dialling is the policy for numbers hotline dials on its own (survey
// and callbacks): see package dialpolicy and docs/survey.md.
type Dialling struct {
	// Allow lists E.164 prefixes that may be dialled (default: Russian
	// +73, +74, +78, +79).
	Allow []string `yaml:"allow"`
	// Deny lists prefixes never dialled, on top of the built-in
	// premium-rate list.
	Deny []string `yaml:"deny"`
	// Trunks an inbound number must have arrived on (default: every
	// trunk in sip.trunks).
	Trunks []string `yaml:"trunks"`
	// DailyCap bounds survey and callback dials together per day in the
	// service zone (default 1000).
	DailyCap int `yaml:"daily_cap"`
	// PerNumber bounds dials of one number within PerNumberWindow,
	// survey and callbacks together (default 3 in 24h).
	PerNumber       int           `yaml:"per_number"`
	PerNumberWindow time.Duration `yaml:"per_number_window"`
}

// Survey configures the post-call CSI/FCR survey bot.
type Survey struct {
	Enabled       bool               `yaml:"enabled"`
	Trunk         string             `yaml:"trunk"`     // default: the first trunk
	CallerID      string             `yaml:"caller_id"` // default: the trunk's caller ID
	Delay         time.Duration      `yaml:"delay"`     // minimum delay after the call, default 24h
	Window        Window             `yaml:"window"`
	SkipWeekends  bool               `yaml:"skip_weekends"`
	SkipHolidays  bool               `yaml:"skip_holidays"` // default true
	Sampling      map[string]float64 `yaml:"sampling"`      // queue (or "default") → 0..1
	MaxConcurrent int                `yaml:"max_concurrent"`
	PerMinute     int                `yaml:"per_minute"`
	DailyCap      int                `yaml:"daily_cap"`
	Attempts      int                `yaml:"attempts"`
	RetryDelay    time.Duration      `yaml:"retry_delay"`
	CooldownDays  int                `yaml:"cooldown_days"`
	LastDay       int                `yaml:"last_day"`
	Language      string             `yaml:"language"` // default: service.language
	// UnknownZone: "intersect" (default) calls a number whose zone is
	// ambiguous or unknown only inside the window in every zone it could
	// be in; "skip" does not survey it.
	UnknownZone string `yaml:"unknown_zone"`
}

// Window is a daily calling window in the callee's local time.
type Window struct {
	From string `yaml:"from"` // "HH:MM", default "10:00"
	To   string `yaml:"to"`   // "HH:MM", default "20:00"

	// FromOffset and ToOffset are From and To as offsets from midnight.
	FromOffset time.Duration `yaml:"-"`
	ToOffset   time.Duration `yaml:"-"`
}

// Reporting configures reporting.
type Reporting struct {
	FCRWindow time.Duration `yaml:"fcr_window"` // default 168h
	// Intervals is no longer read: rollups are always 15 minutes. 15m is
	// accepted with a warning, anything else is an error.
	Intervals    time.Duration `yaml:"intervals,omitempty"`
	ShortAbandon time.Duration `yaml:"short_abandon"` // default 5s
}

// Privacy says how long personal data is kept (docs/privacy.md): the
// retention job deletes it after these periods, in the database and the
// writer's spool.
type Privacy struct {
	// CallerNumbers: a caller's number is kept for this long after the
	// number last called (default 8760h, 365 days). At least
	// reporting.fcr_window, so that repeat calls are still matched.
	CallerNumbers time.Duration `yaml:"caller_numbers"`
	// Collected: digits an IVR collect node gathered (default 2160h, 90 days).
	Collected time.Duration `yaml:"collected"`
	// Notes: agents' notes on calls (default 8760h, 365 days).
	Notes time.Duration `yaml:"notes"`
}

// defaults returns a Config holding every default value; the file is
// decoded over it.
func defaults() *Config {
	return &Config{
		Service: Service{Name: "hotline", Timezone: "Europe/Moscow", Language: "ru"},
		SIP: SIP{
			Listen:      "127.0.0.1:5060",
			Realm:       "hotline",
			RingTimeout: 20 * time.Second,
			Register:    Register{MinExpiry: 60 * time.Second, MaxExpiry: 3600 * time.Second},
			AuthLockout: AuthLockout{Failures: 10, Window: 10 * time.Minute, UserFailures: 20, UserWindow: time.Hour,
				Ban: 10 * time.Minute, MaxBan: 24 * time.Hour},
			TCP: SIPTCP{IdleTimeout: 2 * time.Minute, MaxPerSource: 16},
		},
		Media: Media{
			RTPPorts:          "20000-29999",
			InactivityTimeout: 60 * time.Second,
			Prompts: map[string][]string{
				"ru": {"prompts/generated/ru", "/usr/share/asterisk/sounds/ru"},
				"en": {"prompts/generated/en", "/usr/share/asterisk/sounds/en"},
			},
			MOH: map[string]string{"default": "/usr/share/asterisk/moh"},
		},
		HTTP:     HTTP{Listen: "127.0.0.1:8080"},
		Database: Database{SpoolDir: "var/spool"},
		Features: Features{Login: "*1", Logout: "*2", Pause: "*3", Ready: "*4", Escalate: "*9", Listen: "*81", Whisper: "*82", Barge: "*83"},
		Survey: Survey{
			Delay:         24 * time.Hour,
			Window:        Window{From: "10:00", To: "20:00"},
			SkipHolidays:  true,
			Sampling:      map[string]float64{"default": 1.0},
			MaxConcurrent: 5,
			PerMinute:     10,
			DailyCap:      500,
			Attempts:      3,
			RetryDelay:    2 * time.Hour,
			CooldownDays:  30,
			LastDay:       3,
			UnknownZone:   "intersect",
		},
		Dialling:  Dialling{DailyCap: 1000, PerNumber: 3, PerNumberWindow: 24 * time.Hour},
		Reporting: Reporting{FCRWindow: 168 * time.Hour, ShortAbandon: 5 * time.Second},
		Privacy:   Privacy{CallerNumbers: 365 * 24 * time.Hour, Collected: 90 * 24 * time.Hour, Notes: 365 * 24 * time.Hour},
		Recording: Recording{Dir: "var/recordings", Path: "{date}/{call}.wav", Notice: true,
			NoticePrompt: "hotline/recording-notice", Retention: 90 * 24 * time.Hour, Buffer: 500},
		Web: Web{SessionTTL: 12 * time.Hour, LoginLockout: AuthLockout{Failures: 5, Window: 15 * time.Minute, Ban: 15 * time.Minute},
			BcryptCost: 10},
	}
}

// setDefaults is called on every new list element before it is decoded.
func (t *Trunk) setDefaults() { t.Transport = "udp" }

func (a *Agent) setDefaults() { a.Line = 1; a.MaxMissed = 2 }

func (q *Queue) setDefaults() {
	*q = Queue{
		Line:         1,
		MinLevel:     1,
		Strategy:     "longest-idle",
		SLThreshold:  20 * time.Second,
		SLTarget:     0.8,
		ShortAbandon: 5 * time.Second,
		RingTimeout:  15 * time.Second,
		JoinEmpty:    true,
		Announce:     Announce{Every: 30 * time.Second, Position: true, WaitTime: true},
		MOH:          "default",
		Callback: Callback{Key: "1", Retries: 2, RetryDelay: 60 * time.Second, DialTimeout: 30 * time.Second, Mode: CallbackAgentFirst,
			Hours: Window{From: "09:00", To: "21:00"}, Expire: 24 * time.Hour, SLThreshold: 30 * time.Minute},
	}
}

type defaulter interface{ setDefaults() }
