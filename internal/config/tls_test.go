package config

import (
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/internal/tlstest"
)

// TestHTTPTLSFiles loads real generated PEM files: a matching pair is
// taken on a network listen, another certificate's key is refused at the
// certificate's line.
func TestHTTPTLSFiles(t *testing.T) {
	a, b := tlstest.New(t, "127.0.0.1"), tlstest.New(t, "127.0.0.1")
	e := testEnv()
	e.loadKeyPair = loadKeyPair
	cfg := func(cert, key string) string {
		return base + "http:\n  listen: 0.0.0.0:8443\n  token: t\n  tls_cert: " + cert + "\n  tls_key: " + key + "\n"
	}
	c, err := parse(file, []byte(cfg(a.CertFile, a.KeyFile)), e)
	if err != nil {
		t.Fatalf("matching pair: %v", err)
	}
	if !c.HTTP.TLS() {
		t.Error("TLS() = false with a certificate")
	}
	_, err = parse(file, []byte(cfg(a.CertFile, b.KeyFile)), e)
	if err == nil || !strings.Contains(err.Error(), file+":13: http.tls_cert: ") || !strings.Contains(err.Error(), "private key does not match") {
		t.Errorf("mismatched pair: %v", err)
	}
}
