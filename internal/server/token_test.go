package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRequireToken: with http.token set, /api/ answers only requests that
// carry it; without a token (loopback only) everything passes.
func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tc := range []struct {
		name, token, header string
		want                int
	}{
		{"no token configured", "", "", http.StatusNoContent},
		{"missing header", "s3cret", "", http.StatusUnauthorized},
		{"wrong token", "s3cret", "Bearer s3cre", http.StatusUnauthorized},
		{"basic instead of bearer", "s3cret", "Basic s3cret", http.StatusUnauthorized},
		{"right token", "s3cret", "Bearer s3cret", http.StatusNoContent},
		{"scheme in lower case", "s3cret", "bearer s3cret", http.StatusNoContent},
		{"scheme in upper case", "s3cret", "BEARER s3cret", http.StatusNoContent},
		{"scheme only", "s3cret", "Bearer", http.StatusUnauthorized},
		{"token without scheme", "s3cret", "s3cret", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/agents/a1/pause", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			requireToken(tc.token, ok).ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
			if tc.want == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}
