package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/internal/tlstest"
)

// TestHTTPS: with http.tls_cert and http.tls_key, serve's HTTP (health,
// metrics, API, desk) answers a real TLS client that trusts the
// generated certificate, on a non-loopback listen; plain HTTP gets no
// answer, a client that does not trust the certificate fails its
// handshake, the desk's session cookie is Secure, and a reload with a
// renewed certificate at the same paths serves it to new connections.
func TestHTTPS(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru")); err != nil {
		t.Fatalf("generated prompts missing: run make prompts (%v)", err)
	}
	cert := tlstest.New(t, "127.0.0.1")
	httpPort := strconv.Itoa(sipptest.FreeUDPAndTCPPort(t))
	yml := strings.NewReplacer("ROOT", root, "SPOOL", t.TempDir(), "CERT", cert.CertFile, "KEY", cert.KeyFile,
		"SIPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "HTTPPORT", httpPort).Replace(httpsConfig)
	cfgPath := filepath.Join(t.TempDir(), "https.yaml")
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startTestServe(t, cfgPath, yml)
	base := "https://127.0.0.1:" + httpPort
	client := func(pool *x509.CertPool) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	trusting := client(cert.Pool)
	get := func(hc *http.Client, path string) *http.Response {
		t.Helper()
		resp, err := hc.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/readyz", "/metrics", "/desk/"} {
		resp := get(trusting, path)
		if resp.StatusCode != http.StatusOK || resp.TLS == nil || !resp.TLS.PeerCertificates[0].Equal(cert.Leaf) {
			t.Errorf("GET %s over TLS: %s (tls %v)", path, resp.Status, resp.TLS != nil)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/agents", nil)
	req.Header.Set("Authorization", "Bearer admin-token")
	if resp, err := trusting.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("API over TLS: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Plain HTTP on the same port never reaches a handler.
	if resp, err := http.Get("http://127.0.0.1:" + httpPort + "/readyz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}
	// A client that does not trust the certificate stops at the handshake.
	if _, err := client(x509.NewCertPool()).Get(base + "/readyz"); err == nil {
		t.Error("a client without the certificate in its pool connected")
	} else if !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Errorf("untrusted: %v, want a certificate verification error", err)
	}

	// The desk's session cookie is Secure over TLS.
	resp, err := trusting.Post(base+"/desk/login", "application/json", strings.NewReader(`{"user":"d1","password":"web-d1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) == 0 {
		t.Fatalf("desk login over TLS: %s, cookies %v", resp.Status, resp.Cookies())
	}
	for _, c := range resp.Cookies() {
		if !c.Secure || !c.HttpOnly {
			t.Errorf("cookie %s: Secure %v HttpOnly %v", c.Name, c.Secure, c.HttpOnly)
		}
	}

	// Renewal: new files at the same paths, SIGHUP (Reload), new
	// connections get the new certificate.
	renewed := tlstest.New(t, "127.0.0.1")
	for src, dst := range map[string]string{renewed.CertFile: cert.CertFile, renewed.KeyFile: cert.KeyFile} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Reload(cfgPath); err != nil {
		t.Fatalf("reload: %v", err)
	}
	resp = get(client(renewed.Pool), "/readyz")
	if resp.StatusCode != http.StatusOK || !resp.TLS.PeerCertificates[0].Equal(renewed.Leaf) {
		t.Errorf("after reload: %s, renewed certificate served: %v", resp.Status, resp.TLS.PeerCertificates[0].Equal(renewed.Leaf))
	}
}

const httpsConfig = `
service: {name: hotline-https}
sip:
  listen: "127.0.0.1:SIPPORT"
  trunks:
    - {name: provider, allow: ["127.0.0.2"], address: "127.0.0.2:5060", caller_id: "88001234567"}
  numbers: {"*": support}
media:
  rtp_ports: "37650-37669"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http:
  listen: "0.0.0.0:HTTPPORT"
  token: admin-token
  tls_cert: CERT
  tls_key: KEY
database: {spool_dir: SPOOL}
agents:
  - {id: d1, password: pw-d1, skills: {general: 1}, web_password: web-d1}
queues:
  - {name: support, skill: general}
web:
  bcrypt_cost: 4
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        queue: {type: queue, queue: support}
`
