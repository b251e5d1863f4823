package server

import (
	"crypto/subtle"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hotline-cc/hotline/reporting"
)

// routes is the HTTP surface: /metrics, /healthz, /readyz, the desk
// (/desk/) and /api/v1 behind the desk's role check or the bearer token.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "starting or draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	api := http.NewServeMux()
	api.Handle("/api/v1/", s.runner.Handler())
	api.Handle("/api/v1/calls/{id}/monitor", s.mon.handler()) // monitor.go
	api.Handle("GET /api/v1/events", s.live)
	if s.store != nil {
		reports := reporting.NewAPI(s.store, reporting.APIOptions{Log: s.log.With("component", "reports")})
		api.Handle("/api/v1/reports/", reports.Handler())
		api.Handle("POST /api/v1/privacy/erase", s.eraseHandler()) // docs/privacy.md
	}
	if s.cfg.Survey.Enabled && s.cfg.Database.URL != "" {
		// The survey runs on the line's active node only (line.go).
		surveys := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			svc := s.surveyLive.Load()
			if svc == nil {
				http.Error(w, "the survey is not running on this node", http.StatusServiceUnavailable)
				return
			}
			svc.Handler().ServeHTTP(w, r)
		})
		api.Handle("/api/v1/surveys", surveys)
		api.Handle("/api/v1/surveys/", surveys)
	}
	var apiH http.Handler = api
	if s.cfg.Node.Line != "" {
		apiH = s.activeOnly(api)
	}
	mux.HandleFunc("GET /role", s.serveRole)
	// With desk users the desk authorises the API by role (the token is
	// the admin scope); without, the token alone guards it, as before.
	if s.desk.HasUsers() {
		mux.Handle("/api/", s.desk.API(apiH))
	} else {
		mux.Handle("/api/", requireToken(s.cfg.HTTP.Token.Value(), apiH))
	}
	mux.Handle("/desk/", s.desk.Handler()) // the agents' desk (docs/desk.md)
	mux.Handle("GET /{$}", http.RedirectHandler("/desk/", http.StatusFound))
	return mux
}

// requireToken lets a request through to next only with the header
// "Authorization: Bearer <token>" (the scheme in any case, RFC 9110
// §11.1; the token compared in constant time); an empty
// token lets everything through (the API then listens on loopback only,
// which the config enforces).
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
			http.Error(w, "a valid API token is required (Authorization: Bearer <http.token>)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
