package reporting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// APIOptions configure NewAPI.
type APIOptions struct {
	// Now is the clock for default ranges and live figures (default time.Now).
	Now func() time.Time
	// Log receives server-side errors (default: discarded).
	Log *slog.Logger
	// MaxRange bounds to − from (default 400 days).
	MaxRange time.Duration
}

// API serves the reports over HTTP under /api/v1/reports/.
type API struct {
	store *Store
	now   func() time.Time
	log   *slog.Logger
	max   time.Duration
}

// NewAPI returns the report API over store.
func NewAPI(store *Store, opt APIOptions) *API {
	a := &API{store: store, now: opt.Now, log: opt.Log, max: opt.MaxRange}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.max <= 0 {
		a.max = 400 * Day
	}
	return a
}

// Handler returns the HTTP handler. Mount it at the server root (its
// patterns carry the /api/v1/reports/ prefix):
//
//	GET /api/v1/reports/intervals?from=&to=&step=15m|30m|60m|day&queue=
//	GET /api/v1/reports/queues?from=&to=
//	GET /api/v1/reports/agents?from=&to=
//	GET /api/v1/reports/teams?from=&to=
//	GET /api/v1/reports/fcr?from=&to=
//	GET /api/v1/reports/csi?from=&to=&by=line|queue|agent
//	GET /api/v1/reports/escalations?from=&to=
//	GET /api/v1/reports/callbacks?from=&to=   (docs/metrics.md, Callbacks)
//	GET /api/v1/reports/monitoring?from=&to=  (supervisors' listen/whisper/barge, docs/queue.md)
//
// from and to are RFC 3339 instants or YYYY-MM-DD dates in the service's
// zone (a date "to" is inclusive: it means the end of that day); both
// default to today. The answer is JSON, or CSV with ?format=csv or
// Accept: text/csv. Bad parameters give 400 with {"error": "..."}.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	p := "/api/v1/reports/"
	mux.HandleFunc("GET "+p+"intervals", a.intervals)
	mux.HandleFunc("GET "+p+"queues", a.queues)
	mux.HandleFunc("GET "+p+"agents", a.agents(false))
	mux.HandleFunc("GET "+p+"teams", a.agents(true))
	mux.HandleFunc("GET "+p+"fcr", a.fcr)
	mux.HandleFunc("GET "+p+"csi", a.csi)
	mux.HandleFunc("GET "+p+"escalations", a.escalations)
	mux.HandleFunc("GET "+p+"ewt", a.ewt)
	mux.HandleFunc("GET "+p+"callbacks", a.callbacks)
	mux.HandleFunc("GET "+p+"monitoring", a.monitoring)
	return mux
}

// badRequest is a parameter error (400).
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return badRequest{fmt.Sprintf(format, args...)} }

// ParseReportTime parses an RFC 3339 instant or a YYYY-MM-DD date in loc.
// A date means its local midnight; with end true, the next midnight (so a
// date "to" includes that day).
func ParseReportTime(s string, loc *time.Location, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2024-03-10T09:00:00+03:00) nor a date (2024-03-10)", s)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d.UTC(), nil
}

// ParseStep parses an interval step: 15m, 30m, 60m (or 1h) or day.
func ParseStep(s string) (time.Duration, error) {
	switch strings.ToLower(s) {
	case "", "15m", "15":
		return Interval, nil
	case "30m", "30":
		return 30 * time.Minute, nil
	case "60m", "60", "1h":
		return time.Hour, nil
	case "day", "1d", "24h":
		return Day, nil
	}
	return 0, fmt.Errorf("step %q: want 15m, 30m, 60m or day", s)
}

// rangeOf reads from/to (default: today in the service's zone).
func (a *API) rangeOf(r *http.Request) (time.Time, time.Time, error) {
	q := r.URL.Query()
	loc := a.store.Location()
	from, to := Today(a.now(), loc)
	var err error
	if s := q.Get("from"); s != "" {
		if from, err = ParseReportTime(s, loc, false); err != nil {
			return from, to, badf("from: %v", err)
		}
	}
	if s := q.Get("to"); s != "" {
		if to, err = ParseReportTime(s, loc, true); err != nil {
			return from, to, badf("to: %v", err)
		}
	}
	if !from.Before(to) {
		return from, to, badf("from (%s) must be before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if to.Sub(from) > a.max {
		return from, to, badf("range %v is longer than the maximum %v", to.Sub(from), a.max)
	}
	return from, to, nil
}

// wantCSV reports whether the client asked for CSV; an unknown format is a
// bad request.
func wantCSV(r *http.Request) (bool, error) {
	switch f := strings.ToLower(r.URL.Query().Get("format")); f {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
		return strings.Contains(r.Header.Get("Accept"), "text/csv"), nil
	default:
		return false, badf("format %q: want json or csv", f)
	}
}

// serve runs a report and writes it as JSON (v) or CSV (table).
func (a *API) serve(w http.ResponseWriter, r *http.Request, name string, run func(ctx context.Context, from, to time.Time) (any, Table, error)) {
	csv, err := wantCSV(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	from, to, err := a.rangeOf(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, t, err := run(r.Context(), from, to)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if csv {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s_%s_%s.csv"`,
			name, from.In(a.store.Location()).Format("20060102T1504"), to.In(a.store.Location()).Format("20060102T1504")))
		if err := WriteCSV(w, t); err != nil {
			a.log.Warn("reporting: write CSV", "report", name, "err", err)
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	body := struct {
		From time.Time `json:"from"`
		To   time.Time `json:"to"`
		Data any       `json:"data"`
	}{from, to, v}
	if err := json.NewEncoder(w).Encode(body); err != nil {
		a.log.Warn("reporting: write JSON", "report", name, "err", err)
	}
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := http.StatusInternalServerError, "internal error"
	var br badRequest
	switch {
	case errors.As(err, &br):
		code, msg = http.StatusBadRequest, br.msg
	case errors.Is(err, context.Canceled):
		return
	default:
		a.log.Error("reporting: report failed", "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (a *API) intervals(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "intervals", func(ctx context.Context, from, to time.Time) (any, Table, error) {
		step, err := ParseStep(r.URL.Query().Get("step"))
		if err != nil {
			return nil, Table{}, badRequest{err.Error()}
		}
		var queues []string
		for _, v := range r.URL.Query()["queue"] {
			for _, q := range strings.Split(v, ",") {
				if q = strings.TrimSpace(q); q != "" {
					queues = append(queues, q)
				}
			}
		}
		rows, err := a.store.IntervalReport(ctx, from, to, step, queues)
		if rows == nil {
			rows = []IntervalRow{}
		}
		return rows, IntervalTable(rows, a.store.Location()), err
	})
}

func (a *API) queues(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "queues", func(ctx context.Context, from, to time.Time) (any, Table, error) {
		qs, err := a.store.QueueReport(ctx, from, to)
		return qs, QueueTable(qs), err
	})
}

func (a *API) agents(teams bool) http.HandlerFunc {
	name := "agents"
	if teams {
		name = "teams"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, name, func(ctx context.Context, from, to time.Time) (any, Table, error) {
			as, ts, err := a.store.AgentReport(ctx, from, to, a.now())
			if teams {
				as = ts
			}
			return as, AgentTable(as, teams), err
		})
	}
}

func (a *API) fcr(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "fcr", func(ctx context.Context, from, to time.Time) (any, Table, error) {
		fs, err := a.store.FCRReport(ctx, from, to, a.now())
		return fs, FCRTable(fs), err
	})
}

func (a *API) csi(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "csi", func(ctx context.Context, from, to time.Time) (any, Table, error) {
		by := r.URL.Query().Get("by")
		if by == "" {
			by = ByLine
		}
		if by != ByLine && by != ByQueue && by != ByAgent {
			return nil, Table{}, badf("by %q: want line, queue or agent", by)
		}
		cs, err := a.store.CSIReport(ctx, from, to, by)
		return cs, CSITable(cs, by), err
	})
}

func (a *API) escalations(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "escalations", func(ctx context.Context, from, to time.Time) (any, Table, error) {
		e, err := a.store.EscalationReport(ctx, from, to)
		return e, EscalationTable(e), err
	})
}

func (a *API) ewt(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "ewt", func(ctx context.Context, from, to time.Time) (any, Table, error) {
		fs, err := a.store.EWTReport(ctx, from, to)
		return fs, EWTTable(fs), err
	})
}

func (a *API) callbacks(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "callbacks", func(ctx context.Context, from, to time.Time) (any, Table, error) {
		fs, err := a.store.CallbackReport(ctx, from, to)
		return fs, CallbacksTable(fs), err
	})
}

func (a *API) monitoring(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "monitoring", func(ctx context.Context, from, to time.Time) (any, Table, error) {
		fs, err := a.store.MonitoringReport(ctx, from, to)
		return fs, MonitoringTable(fs), err
	})
}
