package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const file = "test.yaml"

// base is the smallest valid file (lines 1-9); cases that only add
// sections append them from line 10 on.
const base = `sip:
  trunks:
    - name: provider
      allow: ["127.0.0.2"]
` + rest

// rest is the agents and queues of base (its lines 5-9).
const rest = `agents:
  - {id: a1, password: p1, skills: {general: 3}}
queues:
  - name: q1
    skill: general
`

type fakeFileInfo struct {
	os.FileInfo
	dir bool
}

func (f fakeFileInfo) IsDir() bool { return f.dir }

// testEnv has the variables HOTLINE_SECRET and DATABASE_URL, and every
// path exists except those starting with "/missing"; paths ending in
// ".txt" are files, the rest directories.
func testEnv() env {
	vars := map[string]string{"HOTLINE_SECRET": "s3cret", "DATABASE_URL": "postgres://env/db"}
	return env{
		lookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		stat: func(p string) (os.FileInfo, error) {
			if strings.HasPrefix(p, "/missing") {
				return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
			}
			return fakeFileInfo{dir: !strings.HasSuffix(p, ".txt") && !strings.HasSuffix(p, ".csv")}, nil
		},
		loadLocation: time.LoadLocation,
		loadKeyPair: func(cert, key string) error {
			if strings.HasPrefix(cert, "/missing") || strings.HasPrefix(key, "/missing") {
				return &fs.PathError{Op: "open", Path: cert, Err: fs.ErrNotExist}
			}
			return nil
		},
	}
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := parse(file, []byte(src), testEnv())
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}

func TestMinimalDefaults(t *testing.T) {
	c := mustParse(t, base)
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %q", c.Warnings)
	}
	if c.File != file {
		t.Errorf("File = %q", c.File)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"service.name", c.Service.Name, "hotline"},
		{"service.timezone", c.Service.Location.String(), "Europe/Moscow"},
		{"service.language", c.Service.Language, "ru"},
		{"sip.listen", c.SIP.ListenAddr, netip.MustParseAddrPort("127.0.0.1:5060")},
		{"sip.advertise", c.SIP.Advertise, netip.MustParseAddr("127.0.0.1")},
		{"sip.realm", c.SIP.Realm, "hotline"},
		{"sip.ring_timeout", c.SIP.RingTimeout, 20 * time.Second},
		{"sip.register", c.SIP.Register, Register{60 * time.Second, time.Hour}},
		{"sip.auth_lockout", c.SIP.AuthLockout, AuthLockout{10, 10 * time.Minute, 20, time.Hour, 10 * time.Minute, 24 * time.Hour}},
		{"sip.tcp", c.SIP.TCP, SIPTCP{IdleTimeout: 2 * time.Minute, MaxPerSource: 16}},
		{"trunk.transport", c.SIP.Trunks[0].Transport, "udp"},
		{"trunk.allow", c.SIP.Trunks[0].AllowRules[0], AllowRule{Prefix: netip.MustParsePrefix("127.0.0.2/32")}},
		{"media.ip", c.Media.IP, "127.0.0.1"},
		{"media.rtp", [2]int{c.Media.RTPPortMin, c.Media.RTPPortMax}, [2]int{20000, 29999}},
		{"media.inactivity", c.Media.InactivityTimeout, time.Minute},
		{"media.precise_pacing", c.Media.PrecisePacing, false},
		{"media.rtp_mux", c.Media.RTPMux, false},
		{"media.prompts.ru", fmt.Sprint(c.Media.Prompts["ru"]), "[prompts/generated/ru /usr/share/asterisk/sounds/ru]"},
		{"media.moh", c.Media.MOH["default"], "/usr/share/asterisk/moh"},
		{"http.listen", c.HTTP.Listen, "127.0.0.1:8080"},
		{"database.url", c.Database.URL, "postgres://env/db"},
		{"database.spool_dir", c.Database.SpoolDir, "var/spool"},
		{"agent.sip_user", c.Agents[0].SIPUser, "a1"},
		{"agent.line", c.Agents[0].Line, 1},
		{"agent.max_missed", c.Agents[0].MaxMissed, 2},
		{"agent.wrapup", c.Agents[0].Wrapup, time.Duration(0)},
		{"queue.line", c.Queues[0].Line, 1},
		{"queue.min_level", c.Queues[0].MinLevel, 1},
		{"queue.strategy", c.Queues[0].Strategy, "longest-idle"},
		{"queue.sl", c.Queues[0].SLThreshold, 20 * time.Second},
		{"queue.sl_target", c.Queues[0].SLTarget, 0.8},
		{"queue.short_abandon", c.Queues[0].ShortAbandon, 5 * time.Second},
		{"queue.ring_timeout", c.Queues[0].RingTimeout, 15 * time.Second},
		{"queue.join_empty", c.Queues[0].JoinEmpty, true},
		{"queue.leave_empty", c.Queues[0].LeaveEmpty, false},
		{"queue.announce", c.Queues[0].Announce, Announce{30 * time.Second, true, true}},
		{"queue.moh", c.Queues[0].MOH, "default"},
		{"queue.callback", c.Queues[0].Callback, Callback{Key: "1", Retries: 2, RetryDelay: time.Minute, DialTimeout: 30 * time.Second, Mode: "agent-first",
			Hours: Window{From: "09:00", To: "21:00", FromOffset: 9 * time.Hour, ToOffset: 21 * time.Hour}, Expire: 24 * time.Hour,
			SLThreshold: 30 * time.Minute}},
		{"features", c.Features, Features{"*1", "*2", "*3", "*4", "*9", "*81", "*82", "*83"}},
		{"survey.enabled", c.Survey.Enabled, false},
		{"survey.delay", c.Survey.Delay, 24 * time.Hour},
		{"survey.window", [2]time.Duration{c.Survey.Window.FromOffset, c.Survey.Window.ToOffset}, [2]time.Duration{10 * time.Hour, 20 * time.Hour}},
		{"survey.skip_holidays", c.Survey.SkipHolidays, true},
		{"survey.sampling", c.Survey.Sampling["default"], 1.0},
		{"survey.limits", [3]int{c.Survey.MaxConcurrent, c.Survey.PerMinute, c.Survey.DailyCap}, [3]int{5, 10, 500}},
		{"survey.attempts", c.Survey.Attempts, 3},
		{"survey.retry_delay", c.Survey.RetryDelay, 2 * time.Hour},
		{"survey.cooldown_days", c.Survey.CooldownDays, 30},
		{"survey.last_day", c.Survey.LastDay, 3},
		{"survey.language", c.Survey.Language, "ru"},
		{"reporting", c.Reporting, Reporting{168 * time.Hour, 0, 5 * time.Second}},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestFullFile(t *testing.T) {
	c := mustParse(t, `service: {name: hl, timezone: Asia/Vladivostok, language: en}
sip:
  listen: "0.0.0.0:5070"
  advertise_ip: 192.0.2.10
  trunks:
    - name: provider
      allow: ["10.0.0.0/8", "192.0.2.1:5060", "::1"]
      address: "sip.example.net:5060"
      transport: tcp
      caller_id: "+74951234567"
      username: u
      password: "${HOTLINE_SECRET}"
  numbers: {"88001234567": main, "*": main}
media:
  ip: 192.0.2.10
  rtp_ports: "10000-10999"
  rtp_mux: true
  prompts: {en: [/p/en]}
  moh: {calm: /moh/calm}
database: {url: "postgres://u:${HOTLINE_SECRET}@db/hotline"}
agents:
  - {id: a1, sip_user: u1, password: "x${HOTLINE_SECRET}y", line: 2, team: t, skills: {expert: 5}, wrapup: 10s, max_missed: 0}
queues:
  - name: q2
    line: 2
    skill: expert
    min_level: 4
    strategy: ring-all
    moh: calm
    max_length: 5
    on_full: {action: message, message: busy}
    callback: {enabled: true, key: "#", retries: 0, retry_delay: 1m}
escalation: {queue: q2, number: "2000", reasons: [tech]}
features: {escalate: "#9"}
calendar: {builtin: ru, years: [2028], dates: {"2026-12-30": holiday, "2026-12-27": work fri short}}
survey:
  enabled: true
  window: {from: "09:30", to: "21:00"}
  sampling: {q2: 0.25}
numbering: {files: [/data/DEF-9xx.csv]}
dialling: {allow: ["+7"], deny: ["+7914555"], trunks: [provider], daily_cap: 50, per_number: 1, per_number_window: 48h}
ivr:
  flows: {main: {}}
`)
	if got := c.Service.Location.String(); got != "Asia/Vladivostok" {
		t.Errorf("location = %s", got)
	}
	if c.SIP.Advertise != netip.MustParseAddr("192.0.2.10") || c.SIP.ListenAddr.Port() != 5070 {
		t.Errorf("sip = %v %v", c.SIP.ListenAddr, c.SIP.Advertise)
	}
	tr := c.SIP.Trunks[0]
	if tr.Password.Value() != "s3cret" {
		t.Errorf("trunk password = %q", tr.Password.Value())
	}
	wantRules := []AllowRule{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8")},
		{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Port: 5060},
		{Prefix: netip.MustParsePrefix("::1/128")},
	}
	if fmt.Sprint(tr.AllowRules) != fmt.Sprint(wantRules) {
		t.Errorf("allow rules = %v", tr.AllowRules)
	}
	if !tr.AllowRules[1].Matches(netip.MustParseAddrPort("192.0.2.1:5060")) || tr.AllowRules[1].Matches(netip.MustParseAddrPort("192.0.2.1:5061")) {
		t.Error("AllowRule.Matches port handling")
	}
	if !tr.AllowRules[0].Matches(netip.MustParseAddrPort("[::ffff:10.1.2.3]:5060")) {
		t.Error("AllowRule.Matches with a v4-mapped source")
	}
	// Maps merge with the defaults.
	if len(c.Media.Prompts) != 2 || c.Media.Prompts["en"][0] != "/p/en" || len(c.Media.MOH) != 2 || !c.Media.RTPMux {
		t.Errorf("media = %+v", c.Media)
	}
	if c.Database.URL != "postgres://u:s3cret@db/hotline" {
		t.Errorf("database url = %q", c.Database.URL)
	}
	a := c.Agents[0]
	if a.SIPUser != "u1" || a.Password.Value() != "xs3crety" || a.MaxMissed != 0 || a.Wrapup != 10*time.Second {
		t.Errorf("agent = %+v", a)
	}
	q := c.Queues[0]
	if q.OnFull != (Action{Action: "message", Message: "busy"}) || q.Callback.Key != "#" || q.JoinEmpty != true {
		t.Errorf("queue = %+v", q)
	}
	if c.Features.Escalate != "#9" || c.Features.Login != "*1" {
		t.Errorf("features = %+v", c.Features)
	}
	if c.Calendar.Dates["2026-12-30"] != "holiday" || c.Calendar.Years[0] != 2028 {
		t.Errorf("calendar = %+v", c.Calendar)
	}
	if d := c.Dialling; d.DailyCap != 50 || d.PerNumber != 1 || d.PerNumberWindow != 48*time.Hour || d.Deny[0] != "+7914555" || c.Numbering.Files[0] != "/data/DEF-9xx.csv" {
		t.Errorf("dialling %+v numbering %+v", d, c.Numbering)
	}
	s := c.Survey
	if s.Trunk != "provider" || s.CallerID != "+74951234567" || s.Language != "en" ||
		s.Window.FromOffset != 9*time.Hour+30*time.Minute || s.Sampling["default"] != 1 || s.Sampling["q2"] != 0.25 {
		t.Errorf("survey = %+v", s)
	}
	if c.IVR == nil || c.IVR.Line != 43 {
		t.Errorf("ivr node = %+v", c.IVR)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int    // expected line of the error
		msg  string // fragment of the message after "test.yaml:LINE: "
	}{
		{"yaml syntax", base + "service: [\n", 10, "YAML syntax"},
		{"unknown top-level key", base + "servise: {}\n", 10, `unknown key "servise" (did you mean "service"?)`},
		{"unknown nested key", base + "sip2: 1\nsurvey:\n  window: {form: \"10:00\"}\n", 12, `survey.window: unknown key "form" (did you mean "from"?)`},
		{"duplicate key", base + "http: {listen: \"127.0.0.1:1\"}\nhttp: {}\n", 11, `duplicate key "http"`},
		{"wrong kind", base + "http: 5\n", 10, `http: want a mapping, got "5"`},
		{"api open to the network without a token", base + "http:\n  listen: 0.0.0.0:8080\n  allow_plain: true\n", 11, `http.token: required when http.listen (0.0.0.0:8080) is not a loopback address`},
		{"api open to the network in clear", base + "http:\n  listen: 0.0.0.0:8080\n  token: t\n", 11, `http.tls_cert: required when http.listen (0.0.0.0:8080) is not a loopback address`},
		{"sip tls without certificate", strings.Replace(base, "sip:\n", "sip:\n  tls_listen: 127.0.0.1:5061\n", 1), 2, `sip.tls_cert: sip.tls_cert and sip.tls_key are required with sip.tls_listen`},
		{"sip tls on the tcp port", strings.Replace(base, "sip:\n", "sip:\n  tls_listen: 0.0.0.0:5060\n  tls_cert: /c.pem\n  tls_key: /k.pem\n", 1), 2, `sip.tls_listen: port 5060 is sip.listen's TCP port`},
		{"webrtc port", strings.Replace(base, "sip:\n", "sip:\n  webrtc: {port: 70000}\n", 1), 2, `sip.webrtc.port: want 0 (any) or a UDP port up to 65535, not 70000`},
		{"webrtc public ip", strings.Replace(base, "sip:\n", "sip:\n  webrtc: {public_ips: [nowhere]}\n", 1), 2, `sip.webrtc.public_ips: [0]: want an IP address, not "nowhere"`},
		{"srtp without tls", strings.Replace(base, "sip:\n", "sip:\n  tls_srtp: true\n", 1), 2, `sip.tls_srtp: needs sip.tls_listen`},
		{"sip certificate without tls listen", strings.Replace(base, "sip:\n", "sip:\n  tls_cert: /c.pem\n", 1), 2, `sip.tls_cert: set sip.tls_listen too`},
		{"http key without certificate", base + "http:\n  tls_key: /etc/k.pem\n", 11, `http.tls_key: set together with http.tls_cert`},
		{"http certificate missing", base + "http:\n  listen: 0.0.0.0:8080\n  token: t\n  tls_cert: /missing/c.pem\n  tls_key: /etc/k.pem\n", 13, `http.tls_cert: certificate "/missing/c.pem" with key "/etc/k.pem": open /missing/c.pem`},
		{"bad timezone", base + "service: {timezone: Mars/Olympus}\n", 10, `service.timezone: unknown time zone "Mars/Olympus"`},
		{"bad language", base + "service: {language: de}\n", 10, `service.language: "de" is not one of ru, en`},
		{"bad duration", base + "sip:\n", 0, ""}, // placeholder replaced below
		{"listen", "sip:\n  listen: localhost\n" + base[5:], 2, `sip.listen: invalid address "localhost"`},
		{"advertise required", "sip:\n  listen: 0.0.0.0:5060\n" + base[5:], 2, "sip.advertise_ip: required when sip.listen is 0.0.0.0:5060"},
		{"ring timeout duration", "sip:\n  ring_timeout: 20\n" + base[5:], 2, `sip.ring_timeout: invalid duration "20"`},
		{"negative duration", "sip:\n  ring_timeout: -1s\n" + base[5:], 2, `sip.ring_timeout: duration "-1s" must not be negative`},
		{"register", "sip:\n  register: {min_expiry: 10m, max_expiry: 1m}\n" + base[5:], 2, "sip.register.max_expiry: 1m0s is less than min_expiry 10m0s"},
		{"max ban below ban", "sip:\n  auth_lockout: {ban: 1h, max_ban: 10m}\n" + base[5:], 2, "sip.auth_lockout.max_ban: 10m0s is less than ban 1h0m0s"},
		{"user failures", "sip:\n  auth_lockout: {user_failures: -1}\n" + base[5:], 2, "sip.auth_lockout.user_failures: must be at least 1"},
		{"tcp limit", "sip:\n  tcp: {max_connections_per_source: -1}\n" + base[5:], 2, "sip.tcp.max_connections_per_source: must not be negative"},
		{"no trunks", "sip: {}\nagents: []\n", 1, "sip.trunks: at least one trunk is required"},
		{"bad cidr", "sip:\n  trunks:\n    - name: provider\n      allow: [\"10.0.0.0/33\"]\n" + rest, 4, `sip.trunks[0].allow[0]: invalid CIDR "10.0.0.0/33"`},
		{"bad allow address", "sip:\n  trunks:\n    - name: provider\n      allow:\n        - 127.0.0.2\n        - example.com\n" + rest, 6, `sip.trunks[0].allow[1]: invalid address "example.com"`},
		{"bad trunk address", "sip:\n  trunks:\n    - name: provider\n      allow: [\"127.0.0.2\"]\n      address: 127.0.0.2\n" + rest, 5, `sip.trunks[0].address: invalid address "127.0.0.2"`},
		{"bad transport", "sip:\n  trunks:\n    - name: provider\n      allow: [\"127.0.0.2\"]\n      transport: sctp\n" + rest, 5, `sip.trunks[0].transport: "sctp" is not one of udp, tcp`},
		{"duplicate trunk", "sip:\n  trunks:\n    - {name: p, allow: [127.0.0.2]}\n    - {name: p, allow: [127.0.0.3]}\n" + rest, 4, `sip.trunks[1].name: duplicate trunk "p"`},
		{"trunk env unset", "sip:\n  trunks:\n    - {name: p, allow: [127.0.0.2], username: u, password: \"${NOPE}\"}\n" + rest, 3, "sip.trunks[0].password: environment variable NOPE is not set"},
		{"empty flow", base + "sip:\n", 0, ""},
		{"rtp odd", base + "media: {rtp_ports: \"20001-29999\"}\n", 10, "media.rtp_ports: range \"20001-29999\" must start at an even port"},
		{"rtp order", base + "media: {rtp_ports: \"30000-20000\"}\n", 10, "start must be less than end"},
		{"rtp syntax", base + "media: {rtp_ports: \"20000\"}\n", 10, `media.rtp_ports: invalid range "20000"`},
		{"media ip", base + "media:\n  ip: 1.2.3\n", 11, `media.ip: invalid IP address "1.2.3"`},
		{"http listen", base + "http: {listen: \"127.0.0.1:99999\"}\n", 10, `http.listen: invalid port in "127.0.0.1:99999"`},
		{"duplicate agent id", base + "", 0, ""},
		{"agent password missing", "agents:\n  - id: a1\n" + base, 2, "agents[0].password: is required"},
		{"agent env unset", "agents:\n  - {id: a1, password: \"${MISSING_VAR}\"}\n", 2, "agents[0].password: environment variable MISSING_VAR is not set"},
		{"agent line", "agents:\n  - {id: a1, password: p, line: 3}\n", 2, "agents[0].line: must be 1 or 2, not 3"},
		{"skill level", "agents:\n  - id: a1\n    password: p\n    skills:\n      general: 3\n      billing: 6\n", 6, "agents[0].skills.billing: level 6 out of range 1..5"},
		{"agent id chars", "agents:\n  - {id: \"a 1\", password: p}\n", 2, `agents[0].id: id "a 1" may only contain`},
		{"level type", "agents:\n  - {id: a1, password: p, skills: {general: high}}\n", 2, `agents[0].skills.general: want an integer, got "high"`},
		{"duplicate queue", base + "", 0, ""},
		{"unknown overflow queue", base[:len(base)-1] + "\n    on_max_wait: {action: overflow, queue: secnd-line}\n", 10, `queues[0].on_max_wait.queue: unknown queue "secnd-line"`},
		{"overflow without queue", base[:len(base)-1] + "\n    on_full:\n      action: overflow\n", 10, "queues[0].on_full.queue: required for action overflow"},
		{"overflow to itself", base[:len(base)-1] + "\n    on_full: {action: overflow, queue: q1}\n", 10, `queues[0].on_full.queue: queue "q1" cannot overflow to itself`},
		{"bad action", base[:len(base)-1] + "\n    on_full: {action: drop}\n", 10, `queues[0].on_full.action: "drop" is not one of overflow, message, callback`},
		{"unknown moh", base[:len(base)-1] + "\n    moh: jazz\n", 10, `queues[0].moh: unknown moh class "jazz"`},
		{"strategy", base[:len(base)-1] + "\n    strategy: random\n", 10, `queues[0].strategy: "random" is not one of longest-idle`},
		{"sl target", base[:len(base)-1] + "\n    sl_target: 80\n", 10, "queues[0].sl_target: 80 out of range (0, 1]"},
		{"min level", base[:len(base)-1] + "\n    min_level: 0\n", 10, "queues[0].min_level: level 0 out of range 1..5"},
		{"callback key", base[:len(base)-1] + "\n    callback: {enabled: true, key: \"12\"}\n", 10, `queues[0].callback.key: invalid DTMF key "12"`},
		{"callback mode", base[:len(base)-1] + "\n    callback: {mode: later}\n", 10, `queues[0].callback.mode: "later" is not one of agent-first, caller-first`},
		{"callback hours", base[:len(base)-1] + "\n    callback: {hours: {from: \"21:00\", to: \"09:00\"}}\n", 10, "queues[0].callback.hours.to: 09:00 is not after from 21:00"},
		{"callback offer off", base[:len(base)-1] + "\n    callback: {offer: {on_join: true}}\n", 10, "queues[0].callback.offer: offers a callback key that is off: set callback.enabled"},
		{"callback offer key", base[:len(base)-1] + "\n    callback: {enabled: true, key: \"2\", offer: {after: 30s}}\n", 10, `queues[0].callback.offer: the default prompt hotline/callback-offer says "press 1" but callback.key is "2"`},
		{"bool type", base[:len(base)-1] + "\n    join_empty: maybe\n", 10, `queues[0].join_empty: want true or false, got "maybe"`},
		{"escalation unknown queue", base + "escalation: {queue: second, number: \"2000\"}\n", 10, `escalation.queue: unknown queue "second"`},
		{"escalation line 1", base + "escalation:\n  number: \"2000\"\n  queue: q1\n", 12, `escalation.queue: queue "q1" is line 1; escalation needs a line 2 queue`},
		{"escalation number", base + "escalation: {queue: q1}\n", 10, "escalation.number: required when escalation.queue is set"},
		{"feature code", base + "features:\n  pause: \"p3\"\n", 11, `features.pause: invalid feature code "p3"`},
		{"feature duplicate", base + "features:\n  ready: \"*1\"\n", 11, `features.ready: code "*1" is also features.login`},
		{"monitor code under pause", base + "features:\n  listen: \"*31\"\n", 11, `features.listen: code "*31" starts with features.pause "*3"`},
		{"monitor codes nested", base + "features:\n  whisper: \"*8\"\n", 10, `code "*81" starts with features.whisper "*8"`},
		{"holiday date", base + "calendar:\n  holidays:\n    - 2026-12-30\n    - 2026-13-01\n", 13, `calendar.holidays[1]: invalid date "2026-13-01"`},
		{"year data", base + "calendar: {year_data: /cal/ru-2028.txt}\n", 10, `calendar.year_data: no longer supported (it was never read): list the year's dates under calendar.dates`},
		{"calendar builtin", base + "calendar: {builtin: en}\n", 10, `calendar.builtin: "en" is not one of ru, none`},
		{"calendar date", base + "calendar:\n  dates:\n    2026-02-30: holiday\n", 12, `calendar.dates.2026-02-30: invalid date "2026-02-30"`},
		{"calendar spec", base + "calendar:\n  dates:\n    2026-02-03: holyday\n", 12, `calendar.dates.2026-02-03: "holyday": want holiday, off, work [mon..fri] [short], short or normal`},
		{"calendar year", base + "calendar: {years: [1999]}\n", 10, "calendar.years[0]: year 1999 out of range"},
		{"unknown zone", base + "survey: {unknown_zone: moscow}\n", 10, `survey.unknown_zone: "moscow" is not one of intersect, skip`},
		{"numbering file", base + "numbering:\n  files: [/missing/DEF-9xx.csv]\n", 11, `numbering.files[0]: cannot read "/missing/DEF-9xx.csv"`},
		{"dialling prefix", base + "dialling:\n  deny: [\"+7809\", \"8809\"]\n", 11, `dialling.deny[1]: "8809" is not an E.164 prefix`},
		{"dialling trunk", base + "dialling:\n  trunks: [nope]\n", 11, `dialling.trunks[0]: unknown trunk "nope"`},
		{"dialling cap", base + "dialling: {daily_cap: 0}\n", 10, "dialling.daily_cap: must be at least 1"},
		{"survey trunk", base + "survey:\n  enabled: true\n  trunk: nope\n", 12, `survey.trunk: unknown trunk "nope"`},
		{"survey window", base + "survey:\n  window: {from: \"20:00\", to: \"10:00\"}\n", 11, "survey.window.to: 10:00 is not after from 20:00"},
		{"survey window syntax", base + "survey:\n  window:\n    from: \"24:00\"\n", 12, `survey.window.from: invalid time "24:00"`},
		{"sampling range", base + "survey:\n  sampling: {q1: 1.5}\n", 11, "survey.sampling.q1: rate 1.5 out of range 0..1"},
		{"sampling queue", base + "survey:\n  sampling:\n    nope: 0.5\n", 12, `survey.sampling.nope: unknown queue "nope"`},
		{"survey limits", base + "survey: {per_minute: 0}\n", 10, "survey.per_minute: must be at least 1"},
		{"reporting intervals", base + "reporting: {intervals: 7m}\n", 10, "reporting.intervals: 7m0s is not supported: interval rollups are always 15 minutes"},
		{"number type", base + "survey:\n  sampling: {q1: [1]}\n", 11, "survey.sampling.q1: want a number, got a list"},
	}
	// Cases that need more than one line of context.
	for i := range tests {
		switch tests[i].name {
		case "bad duration":
			tests[i].src = base + "reporting:\n  fcr_window: 7d\n"
			tests[i].line, tests[i].msg = 11, `reporting.fcr_window: invalid duration "7d"`
		case "empty flow":
			tests[i].src = "sip:\n  numbers:\n    \"8800\": main\n    \"*\": \"\"\n" + base[5:]
			tests[i].line, tests[i].msg = 4, `sip.numbers["*"]: flow name must not be empty`
		case "duplicate agent id":
			tests[i].src = base + "  - {id: a2, password: p}\n  - {id: a1, sip_user: x, password: p}\n"
			tests[i].src = strings.Replace(base, "agents:\n  - {id: a1, password: p1, skills: {general: 3}}\n",
				"agents:\n  - {id: a1, password: p1, skills: {general: 3}}\n  - {id: a1, sip_user: x, password: p}\n  - {id: a3, sip_user: a1, password: p}\n", 1)
			tests[i].line, tests[i].msg = 7, `agents[1].id: duplicate agent id "a1" (also agents[0], line 6)`
		case "duplicate queue":
			tests[i].src = base + "  - name: q1\n"
			tests[i].line, tests[i].msg = 10, `queues[1].name: duplicate queue "q1" (also queues[0], line 8)`
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(file, []byte(tt.src), testEnv())
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not an ErrorList: %v", err, err)
			}
			want := fmt.Sprintf("%s:%d: ", file, tt.line)
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, want) && strings.Contains(line, tt.msg) {
					return
				}
			}
			t.Errorf("want a line %q...%q, got:\n%v", want, tt.msg, err)
		})
	}
}

func TestDuplicateSIPUser(t *testing.T) {
	_, err := parse(file, []byte("agents:\n  - {id: a1, password: p}\n  - {id: b, sip_user: a1, password: p}\n"), testEnv())
	if err == nil || !strings.Contains(err.Error(), `test.yaml:3: agents[1].sip_user: duplicate sip_user "a1" (also agents[0], line 2)`) {
		t.Errorf("err = %v", err)
	}
}

// TestAllErrorsCollected checks that problems are all reported, one per
// line, in line order.
func TestAllErrorsCollected(t *testing.T) {
	_, err := parse(file, []byte(base+"service: {language: de, timezone: Nowhere/X}\nbogus: 1\nreporting: {intervals: 7x}\n"), testEnv())
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	want := strings.Join([]string{
		`test.yaml:10: service.language: "de" is not one of ru, en`,
		`test.yaml:10: service.timezone: unknown time zone "Nowhere/X"`,
		`test.yaml:11: unknown key "bogus"`,
		`test.yaml:12: reporting.intervals: invalid duration "7x" (want Go syntax such as 20s, 1m30s, 24h)`,
	}, "\n")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestWarnings(t *testing.T) {
	c := mustParse(t, strings.Replace(base, "skill: general", "skill: expert", 1)+"media:\n  prompts:\n    ru: [/missing/ru, /ok]\n  moh: {default: /missing/moh}\n")
	want := []string{
		`test.yaml:8: queues[0]: no agent can serve queue "q1" (line 1, skill "expert" at level 1 or more)`,
	}
	if fmt.Sprint(c.Warnings) != fmt.Sprint(want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(c.Warnings, "\n"), strings.Join(want, "\n"))
	}
	// Missing sound directories are not warnings: serve and check-config
	// refuse them (TestMissingSounds).
	missing := []string{
		`test.yaml:12: media.prompts.ru[0]: directory "/missing/ru" does not exist`,
		`test.yaml:13: media.moh.default: directory "/missing/moh" does not exist`,
	}
	if got, want := c.Media.Missing.Error(), strings.Join(missing, "\n"); got != want {
		t.Errorf("Media.Missing:\n%s\nwant:\n%s", got, want)
	}
}

// TestMissingSounds: a missing sound directory names what provides it.
func TestMissingSounds(t *testing.T) {
	e := testEnv()
	e.stat = func(p string) (os.FileInfo, error) {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	c, err := parse(file, []byte(base+"media:\n  prompts:\n    ru: [prompts/generated/ru, /usr/share/asterisk/sounds/ru]\n    en: [/usr/share/asterisk/sounds/en_US_f_Allison]\n  moh: {default: /usr/share/asterisk/moh}\n"), e)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`test.yaml:13: media.prompts.en[0]: directory "/usr/share/asterisk/sounds/en_US_f_Allison" does not exist: install it: apt-get install asterisk-core-sounds-en-wav`,
		`test.yaml:12: media.prompts.ru[0]: directory "prompts/generated/ru" does not exist: generate hotline's prompts with ` + "`make prompts`" + ` (scripts/make-prompts.sh)`,
		`test.yaml:12: media.prompts.ru[1]: directory "/usr/share/asterisk/sounds/ru" does not exist: install it: apt-get install asterisk-core-sounds-ru asterisk-core-sounds-ru-wav`,
		`test.yaml:14: media.moh.default: directory "/usr/share/asterisk/moh" does not exist: install it: apt-get install asterisk-moh-opsound-wav`,
	}
	if got := c.Media.Missing.Error(); got != strings.Join(want, "\n") {
		t.Errorf("Media.Missing:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestSoundsFix(t *testing.T) {
	tests := []struct{ dir, want string }{
		{"/usr/share/asterisk/sounds/ru", "install it: apt-get install asterisk-core-sounds-ru asterisk-core-sounds-ru-wav"},
		{"/usr/share/asterisk/sounds/en_US/", "install it: apt-get install asterisk-core-sounds-en asterisk-core-sounds-en-wav"},
		{"/usr/share/asterisk/sounds/ru/digits", "install it: apt-get install asterisk-core-sounds-ru asterisk-core-sounds-ru-wav"},
		{"/usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU", "install it: apt-get install asterisk-core-sounds-ru-wav"},
		{"/usr/share/asterisk/moh", "install it: apt-get install asterisk-moh-opsound-wav"},
		{"/srv/hotline/prompts/generated/en", "generate hotline's prompts with `make prompts` (scripts/make-prompts.sh)"},
		{"/usr/share/asterisk/sounds/custom", ""},
		{"/usr/share/asterisk/sounds/de", ""}, // Debian has no German core sounds
		{"/usr/share/asterisk/sounds/fr_FR", "install it: apt-get install asterisk-core-sounds-fr asterisk-core-sounds-fr-wav"},
		{"/srv/recordings", ""},
	}
	for _, tt := range tests {
		if got := SoundsFix(tt.dir); got != tt.want {
			t.Errorf("SoundsFix(%q) = %q, want %q", tt.dir, got, tt.want)
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	tests := []struct {
		password, want string
	}{
		{"${HOTLINE_SECRET}", "s3cret"},
		{"pre-${HOTLINE_SECRET}-post", "pre-s3cret-post"},
		{"$HOTLINE_SECRET", "$HOTLINE_SECRET"}, // only ${NAME} expands
		{"a$b{c}", "a$b{c}"},
	}
	for _, tt := range tests {
		c := mustParse(t, strings.Replace(base, "password: p1", fmt.Sprintf("password: %q", tt.password), 1))
		if got := c.Agents[0].Password.Value(); got != tt.want {
			t.Errorf("%q expanded to %q, want %q", tt.password, got, tt.want)
		}
	}
}

// TestLoadUsesEnvironment exercises Load with the real environment.
func TestLoadUsesEnvironment(t *testing.T) {
	t.Setenv("HOTLINE_TEST_PW", "from-env")
	t.Setenv("DATABASE_URL", "postgres://real/env")
	path := t.TempDir() + "/h.yaml"
	if err := os.WriteFile(path, []byte(strings.Replace(base, "p1", `"${HOTLINE_TEST_PW}"`, 1)+"media: {prompts: {ru: [/]}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Agents[0].Password.Value() != "from-env" || c.Database.URL != "postgres://real/env" {
		t.Errorf("password %q, url %q", c.Agents[0].Password.Value(), c.Database.URL)
	}
	if _, err := Load(path + ".missing"); err == nil || !strings.Contains(err.Error(), "h.yaml.missing") {
		t.Errorf("missing file: %v", err)
	}
}

func TestAnchorsAndMerge(t *testing.T) {
	c := mustParse(t, base+`  - &q {name: q2, skill: general, priority: 3, sl_threshold: 30s}
  - <<: *q
    name: q3
    priority: 4
`)
	q2, q3 := c.Queues[1], c.Queues[2]
	if q2.Priority != 3 || q3.Name != "q3" || q3.Priority != 4 || q3.SLThreshold != 30*time.Second || q3.Skill != "general" {
		t.Errorf("q2 %+v\nq3 %+v", q2, q3)
	}
}

func TestRedacted(t *testing.T) {
	c := mustParse(t, strings.Replace(base, "allow:", "username: u\n      password: trunkpw\n      allow:", 1)+
		"database: {url: \"postgres://hl:dbpw@db:5432/hotline\"}\nhttp: {listen: \"10.0.0.5:8080\", token: apitoken, allow_plain: true}\n")
	r := c.Redacted()
	if r.Agents[0].Password != "***" || r.SIP.Trunks[0].Password != "***" || r.Database.URL != "postgres://hl:%2A%2A%2A@db:5432/hotline" ||
		r.HTTP.Token != "***" || c.HTTP.Token.Value() != "apitoken" {
		t.Errorf("redacted: %+v %+v %q %q", r.Agents[0], r.SIP.Trunks[0], r.Database.URL, r.HTTP.Token)
	}
	if c.Agents[0].Password.Value() != "p1" || c.SIP.Trunks[0].Password.Value() != "trunkpw" || !strings.Contains(c.Database.URL, "dbpw") {
		t.Error("Redacted modified the original")
	}
	r.Agents[0].Skills["general"] = 1
	if c.Agents[0].Skills["general"] != 3 {
		t.Error("Redacted shares the skills map")
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c := mustParse(t, strings.Replace(base, "allow:", "username: u\n      password: trunkpw\n      allow:", 1)+
		"database: {url: \"host=db password='dbpw' user=hl\"}\n")
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	log.Info("x", "agent", c.Agents[0], "trunk", c.SIP.Trunks[0], "db", c.Database, "pw", c.Agents[0].Password)
	outputs := []string{
		fmt.Sprint(c.Agents[0]), fmt.Sprintf("%+v", c.Agents[0]), fmt.Sprintf("%#v", c.Agents[0]),
		fmt.Sprint(c.SIP.Trunks[0]), fmt.Sprintf("%+v", c.SIP.Trunks), fmt.Sprintf("%#v", c.SIP.Trunks[0]),
		fmt.Sprintf("%v", c), fmt.Sprintf("%+v", *c), fmt.Sprintf("%#v", *c),
		fmt.Sprintf("%s %q %x %d", c.Agents[0].Password, c.Agents[0].Password, c.Agents[0].Password, c.Agents[0].Password),
		fmt.Sprint(c.Database), logs.String(),
	}
	for _, out := range outputs {
		for _, secret := range []string{"p1", "trunkpw", "dbpw"} {
			if strings.Contains(out, secret) {
				t.Errorf("%q leaks in %s", secret, out)
			}
		}
	}
	if !strings.Contains(logs.String(), "agent.id=a1") {
		t.Errorf("log output lacks the agent id: %s", logs.String())
	}
}

// TestRedactedRoundTrip checks that "check-config -print" output (the
// redacted config marshalled to YAML) is itself a valid file.
func TestRedactedRoundTrip(t *testing.T) {
	c := mustParse(t, base+"ivr:\n  flows: {main: {}}\n")
	out, err := yaml.Marshal(c.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "p1") {
		t.Errorf("password in output:\n%s", out)
	}
	c2, err := parse("printed.yaml", out, testEnv())
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if c2.Agents[0].Password.Value() != "***" || c2.Queues[0].SLThreshold != c.Queues[0].SLThreshold || c2.IVR == nil {
		t.Errorf("round trip: %+v", c2)
	}
}

// TestExpansionBudget: nested aliases and merge keys cannot make decoding
// take exponential time, while ordinary reuse of anchors is unaffected.
func TestExpansionBudget(t *testing.T) {
	bomb := []string{"queues:", "  - &m0 {name: q0, skill: general}"}
	for i := 1; i <= 11; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d, ", i-1), 8), ", ")
		bomb = append(bomb, fmt.Sprintf("  - &m%d {<<: [%s]}", i, refs))
	}
	var reuse strings.Builder
	reuse.WriteString(base + "  - &q {name: q2, skill: general, priority: 3, sl_threshold: 30s, announce: {every: 1m}}\n")
	for i := 3; i < 500; i++ {
		fmt.Fprintf(&reuse, "  - {<<: *q, name: q%d}\n", i)
	}
	var prompts strings.Builder
	prompts.WriteString(base + "media:\n  prompts:\n    ru: &l [" + strings.TrimSuffix(strings.Repeat("/d, ", 2000), ", ") + "]\n")
	for i := range 2000 {
		fmt.Fprintf(&prompts, "    x%d: *l\n", i)
	}
	for _, tc := range []struct {
		name, src, wantErr string
	}{
		{"merge bomb", strings.Join(bomb, "\n") + "\n", "expand the file beyond"},
		{"one list under 2000 keys", prompts.String(), "expand the file beyond"},
		{"500 queues merging one anchor", reuse.String(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := parse(file, []byte(tc.src), testEnv()); done <- err }()
			select {
			case err := <-done:
				switch {
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				case tc.wantErr == "" && err != nil && strings.Contains(err.Error(), "expand the file beyond"):
					t.Fatalf("budget hit: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("parse did not finish in 10s")
			}
		})
	}
}
