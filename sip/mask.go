package sip

import "strings"

// MaskNumber hides all but the last four digits of a phone number or SIP
// user for logs: "+79123456789" → "+7******6789". Short values are masked
// whole.
func MaskNumber(s string) string {
	if s == "" {
		return ""
	}
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits < 6 {
		if strings.IndexFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }) >= 0 {
			return s // a name such as "anonymous" or an agent user "a1"
		}
		return strings.Repeat("*", len(s)) // a short number
	}
	keepHead := 0
	if s[0] == '+' {
		keepHead = 1 // the first digit after '+' is the country code's first
	}
	var b strings.Builder
	seen := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			b.WriteRune(r)
			continue
		}
		seen++
		if seen <= keepHead || seen > digits-4 {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
	}
	return b.String()
}
