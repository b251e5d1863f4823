package native

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/hotline-cc/hotline/sip"
)

// MaskNumber is sip.MaskNumber, kept here for callers of this package.
func MaskNumber(s string) string { return sip.MaskNumber(s) }

// redactHandler wraps the slog handler given to sipgo, which logs whole SIP
// messages on parse errors and at debug level: message bodies carry caller
// numbers and Authorization headers, so they are replaced by a masked form.
type redactHandler struct{ h slog.Handler }

var sensitive = regexp.MustCompile(`(?i)(authorization|proxy-authorization|www-authenticate)\s*:[^\r\n]*|sips?:[^@\s;>]+@|\+?\d{6,}`)

func redact(s string) string {
	return sensitive.ReplaceAllStringFunc(s, func(m string) string {
		l := strings.ToLower(m)
		switch {
		case strings.Contains(l, "auth"):
			i := strings.IndexByte(m, ':')
			return m[:i] + ": [redacted]"
		case strings.HasPrefix(l, "sip"):
			i := strings.IndexByte(m, ':')
			return m[:i+1] + MaskNumber(m[i+1:len(m)-1]) + "@"
		default:
			return MaskNumber(m)
		}
	})
}

func (r redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func redactAttr(a slog.Attr) slog.Attr {
	if a.Key == "data" {
		// A whole SIP message (sipgo logs unparsable ones): its headers may
		// carry credentials in any shape, so keep only the first line.
		raw := a.Value.String()
		first, _, _ := strings.Cut(raw, "\n")
		return slog.String(a.Key, fmt.Sprintf("%s … (%d bytes)", redact(strings.TrimSpace(first)), len(raw)))
	}
	switch a.Value.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redact(a.Value.String()))
	case slog.KindAny:
		return slog.String(a.Key, redact(a.Value.String()))
	case slog.KindGroup:
		g := a.Value.Group()
		out := make([]any, 0, len(g))
		for _, x := range g {
			out = append(out, redactAttr(x))
		}
		return slog.Group(a.Key, out...)
	}
	return a
}

func (r redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return redactHandler{r.h.WithAttrs(red)}
}

func (r redactHandler) WithGroup(name string) slog.Handler { return redactHandler{r.h.WithGroup(name)} }
