package asterisk

import (
	"context"
	"log/slog"

	xslog "golang.org/x/exp/slog"
)

// expHandler adapts a log/slog handler to golang.org/x/exp/slog, the
// logging package the ari library was written against, so that its log
// lines reach hotline's logger with their levels and attributes.
type expHandler struct{ h slog.Handler }

// newExpLogger wraps l for the ari library.
func newExpLogger(l *slog.Logger) *xslog.Logger { return xslog.New(expHandler{l.Handler()}) }

func (a expHandler) Enabled(ctx context.Context, l xslog.Level) bool {
	return a.h.Enabled(ctx, slog.Level(l))
}

func (a expHandler) Handle(ctx context.Context, r xslog.Record) error {
	out := slog.NewRecord(r.Time, slog.Level(r.Level), r.Message, r.PC)
	r.Attrs(func(x xslog.Attr) bool {
		out.AddAttrs(convertAttr(x))
		return true
	})
	return a.h.Handle(ctx, out)
}

func (a expHandler) WithAttrs(as []xslog.Attr) xslog.Handler {
	out := make([]slog.Attr, len(as))
	for i, x := range as {
		out[i] = convertAttr(x)
	}
	return expHandler{a.h.WithAttrs(out)}
}

func (a expHandler) WithGroup(name string) xslog.Handler { return expHandler{a.h.WithGroup(name)} }

func convertAttr(x xslog.Attr) slog.Attr {
	v := x.Value.Resolve()
	if v.Kind() == xslog.KindGroup {
		g := v.Group()
		out := make([]any, len(g))
		for i, y := range g {
			out[i] = convertAttr(y)
		}
		return slog.Group(x.Key, out...)
	}
	return slog.Any(x.Key, v.Any())
}
