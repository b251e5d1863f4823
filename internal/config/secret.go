package config

import (
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"regexp"
	"slices"
)

// Redacted is what a Secret prints as.
const redacted = "***"

// Secret is a string that never prints itself: String, GoString, %v,
// slog, JSON, text and YAML marshalling all yield "***" (or "" when
// empty). Use Value to read it.
type Secret string

// Value returns the secret's plain text.
func (s Secret) Value() string { return string(s) }

func (s Secret) masked() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.masked() }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.masked()) }

// Format implements fmt.Formatter so that no verb (%s, %q, %x, %d...)
// reveals the secret.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.masked())
	default:
		fmt.Fprint(f, s.masked())
	}
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.masked()) }

// MarshalText implements encoding.TextMarshaler (JSON and YAML use it).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.masked()), nil }

// String implements fmt.Stringer without the password.
func (a Agent) String() string {
	return fmt.Sprintf("agent %s (sip_user %s, line %d, team %s)", a.ID, a.SIPUser, a.Line, a.Team)
}

// LogValue implements slog.LogValuer without the password.
func (a Agent) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", a.ID), slog.String("sip_user", a.SIPUser),
		slog.Int("line", a.Line), slog.String("team", a.Team))
}

// String implements fmt.Stringer without the password.
func (t Trunk) String() string {
	return fmt.Sprintf("trunk %s (address %s, transport %s, allow %v)", t.Name, t.Address, t.Transport, t.Allow)
}

// LogValue implements slog.LogValuer without the password.
func (t Trunk) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", t.Name), slog.String("address", t.Address),
		slog.String("transport", t.Transport), slog.Any("allow", t.Allow))
}

// String implements fmt.Stringer with the URL's password masked.
func (d Database) String() string {
	return fmt.Sprintf("database %s (spool %s)", redactURL(d.URL), d.SpoolDir)
}

// GoString implements fmt.GoStringer (%#v) with the URL's password masked.
func (d Database) GoString() string {
	return fmt.Sprintf("config.Database{URL:%q, SpoolDir:%q}", redactURL(d.URL), d.SpoolDir)
}

// LogValue implements slog.LogValuer with the URL's password masked.
func (d Database) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", redactURL(d.URL)), slog.String("spool_dir", d.SpoolDir))
}

var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redactURL masks the password of a PostgreSQL URL or key=value DSN.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
			return u.String()
		}
		return s
	}
	return dsnPassword.ReplaceAllString(s, "${1}"+redacted)
}

// Redacted returns a deep copy of c with every password (agents, trunks,
// the database URL's) replaced by "***", for printing. The IVR node is
// shared, not copied.
func (c *Config) Redacted() *Config {
	r := *c
	r.SIP.Trunks = slices.Clone(c.SIP.Trunks)
	for i := range r.SIP.Trunks {
		t := &r.SIP.Trunks[i]
		t.Allow = slices.Clone(t.Allow)
		t.AllowRules = slices.Clone(t.AllowRules)
		if t.Password != "" {
			t.Password = redacted
		}
	}
	r.SIP.Numbers = maps.Clone(c.SIP.Numbers)
	r.Media.Prompts = make(map[string][]string, len(c.Media.Prompts))
	for k, v := range c.Media.Prompts {
		r.Media.Prompts[k] = slices.Clone(v)
	}
	r.Media.MOH = maps.Clone(c.Media.MOH)
	r.Database.URL = redactURL(c.Database.URL)
	if r.HTTP.Token != "" {
		r.HTTP.Token = redacted
	}
	r.Asterisk.Trunks = maps.Clone(c.Asterisk.Trunks)
	if r.Asterisk.Password != "" {
		r.Asterisk.Password = redacted
	}
	r.Agents = slices.Clone(c.Agents)
	for i := range r.Agents {
		a := &r.Agents[i]
		a.Skills = maps.Clone(a.Skills)
		if a.Password != "" {
			a.Password = redacted
		}
	}
	r.Queues = slices.Clone(c.Queues)
	r.Escalation.Reasons = slices.Clone(c.Escalation.Reasons)
	r.Calendar.Holidays = slices.Clone(c.Calendar.Holidays)
	r.Calendar.Workdays = slices.Clone(c.Calendar.Workdays)
	r.Calendar.Years = slices.Clone(c.Calendar.Years)
	r.Calendar.Dates = maps.Clone(c.Calendar.Dates)
	r.Numbering.Files = slices.Clone(c.Numbering.Files)
	r.Dialling.Allow = slices.Clone(c.Dialling.Allow)
	r.Dialling.Deny = slices.Clone(c.Dialling.Deny)
	r.Dialling.Trunks = slices.Clone(c.Dialling.Trunks)
	r.Survey.Sampling = maps.Clone(c.Survey.Sampling)
	r.Warnings = slices.Clone(c.Warnings)
	return &r
}
