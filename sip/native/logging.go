package native

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

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
		// A whole SIP message or TCP read (sipgo logs unparsable ones):
		// it may carry credentials, numbers or an attacker's bytes in any
		// shape, so only its size is kept.
		return slog.String(a.Key, fmt.Sprintf("(%d bytes, not logged)", len(a.Value.String())))
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

// floodLog turns repeated log lines about one source into rate-limited
// summaries: the first line of a quiet source is logged at once; more of
// the same message from that source within the interval are only counted,
// and flush logs one line per source and message with the count. A
// source that stays quiet for a whole interval starts over. So a flood of
// 30,000 refused INVITEs in 30 s writes a handful of lines, not 30,000.
type floodLog struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	open map[floodKey]*floodCount
}

type floodKey struct {
	msg string
	src netip.Addr // the zero Addr collects sources past maxFloodSources
}

type floodCount struct {
	level slog.Level
	port  uint16 // the last source port
	n     int    // lines not logged since the last flush
	attrs []any  // of the last of them
}

// maxFloodSources bounds the table under a spray of (spoofed) sources;
// past it, new sources are counted together under source "many".
const maxFloodSources = 10000

func newFloodLog(log *slog.Logger, every time.Duration, now func() time.Time) *floodLog {
	return &floodLog{log: log, every: every, now: now, open: map[floodKey]*floodCount{}}
}

// note logs msg about src, or counts it when src already had msg logged
// in this interval. attrs must not repeat "source" or "count".
func (f *floodLog) note(level slog.Level, msg string, src netip.AddrPort, attrs ...any) {
	k := floodKey{msg: msg, src: src.Addr()}
	f.mu.Lock()
	c, seen := f.open[k]
	if !seen && len(f.open) >= maxFloodSources {
		k.src = netip.Addr{}
		c, seen = f.open[k]
	}
	if seen {
		c.n++
		c.level, c.port, c.attrs = level, src.Port(), attrs
		f.mu.Unlock()
		return
	}
	f.open[k] = &floodCount{level: level}
	f.mu.Unlock()
	f.log.Log(context.Background(), level, msg, append([]any{"source", src.String()}, attrs...)...)
}

// flush logs the counts of the interval that ended and forgets sources
// that were quiet in it. The switch calls it every interval.
func (f *floodLog) flush() {
	type line struct {
		k floodKey
		c floodCount
	}
	var out []line
	f.mu.Lock()
	for k, c := range f.open {
		if c.n == 0 {
			delete(f.open, k)
			continue
		}
		out = append(out, line{k, *c})
		c.n = 0
	}
	f.mu.Unlock()
	for _, l := range out {
		src := "many"
		if l.k.src.IsValid() {
			src = netip.AddrPortFrom(l.k.src, l.c.port).String()
		}
		args := append([]any{"source", src, "count", l.c.n, "interval", f.every.String()}, l.c.attrs...)
		f.log.Log(context.Background(), l.c.level, l.k.msg+" (repeated)", args...)
	}
}

// run flushes every interval until ctx is done or closed is closed.
func (f *floodLog) run(ctx context.Context, closed <-chan struct{}) {
	t := time.NewTicker(f.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			f.flush()
			return
		case <-closed:
			f.flush()
			return
		case <-t.C:
			f.flush()
		}
	}
}
