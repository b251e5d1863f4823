package ivr

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Anonymous is the caller identity of a call without a usable number.
const Anonymous = "anonymous"

// Caller is the calling party as the IVR sees it.
type Caller struct {
	// Raw is the From user as the switch delivered it.
	Raw string
	// E164 is the normalized number, e.g. +79123456789; empty when anonymous.
	E164 string
	// Anonymous is set for withheld, anonymous, unknown, empty and
	// unparseable numbers; such callers have no history and cannot be
	// called back.
	Anonymous bool
	// Why says why a caller is anonymous: "withheld", "empty" or "invalid".
	Why string
}

// ID returns the E.164 number or "anonymous", the form used in events.
func (c Caller) ID() string {
	if c.Anonymous {
		return Anonymous
	}
	return c.E164
}

var withheld = map[string]bool{
	"anonymous": true, "withheld": true, "unknown": true, "restricted": true, "private": true,
	"unavailable": true, "anonymous.invalid": true, "unknown.invalid": true, "none": true, "null": true,
	"blocked": true, "hidden": true,
}

// NormalizeCaller normalizes a calling number to E.164. region is the
// default region for national forms ("RU" when empty): 8XXXXXXXXXX,
// 7XXXXXXXXXX, +7XXXXXXXXXX and XXXXXXXXXX with spaces, dashes, dots and
// brackets all become +7XXXXXXXXXX. SIP and tel URIs are accepted
// ("sip:+79123456789@trunk;user=phone"). Withheld identities (anonymous,
// unknown, restricted, private, ...), empty and invalid numbers are
// returned as anonymous.
func NormalizeCaller(raw, region string) Caller {
	c := Caller{Raw: raw}
	if region == "" {
		region = "RU"
	}
	s := strings.TrimSpace(raw)
	s = strings.Trim(s, "<>\"")
	lower := strings.ToLower(s)
	for _, p := range []string{"sips:", "sip:", "tel:"} {
		if strings.HasPrefix(lower, p) {
			s, lower = s[len(p):], lower[len(p):]
			break
		}
	}
	if i := strings.IndexAny(s, "@;"); i >= 0 {
		s, lower = s[:i], lower[:i]
	}
	s = strings.TrimSpace(s)
	lower = strings.TrimSpace(lower)
	switch {
	case s == "":
		c.Anonymous, c.Why = true, "empty"
		return c
	case withheld[lower]:
		c.Anonymous, c.Why = true, "withheld"
		return c
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		c.Anonymous, c.Why = true, "invalid"
		return c
	}
	c.E164 = phonenumbers.Format(num, phonenumbers.E164)
	return c
}
