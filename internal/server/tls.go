package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hotline-cc/hotline/internal/config"
)

// certHolder serves a certificate pair that a reload may replace: new
// handshakes get the new pair, open connections keep theirs.
type certHolder struct {
	cert, key string
	cur       atomic.Pointer[tls.Certificate]
}

// newCertHolder loads cert and key (PEM files).
func newCertHolder(cert, key string) (*certHolder, error) {
	h := &certHolder{cert: cert, key: key}
	return h, h.reload()
}

// reload reads the files again; on error the previous pair stays.
func (h *certHolder) reload() error {
	c, err := tls.LoadX509KeyPair(h.cert, h.key)
	if err != nil {
		return fmt.Errorf("certificate %s with key %s: %w", h.cert, h.key, err)
	}
	h.cur.Store(&c)
	return nil
}

// serverConfig is a TLS 1.2+ server configuration on the held pair.
func (h *certHolder) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return h.cur.Load(), nil
		},
	}
}

// SelfAPI is the base URL and client with which a hotline command reaches
// the running hotline of cfg over its API: loopback, https when
// http.tls_cert is set. The server's certificate is pinned to the
// configured one (it need not name 127.0.0.1).
func SelfAPI(cfg *config.Config) (string, *http.Client, error) {
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		return "", nil, err
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	if !cfg.HTTP.TLS() {
		return "http://" + net.JoinHostPort(host, port), &http.Client{Timeout: time.Minute}, nil
	}
	pair, err := tls.LoadX509KeyPair(cfg.HTTP.TLSCert, cfg.HTTP.TLSKey)
	if err != nil {
		return "", nil, err
	}
	want := pair.Certificate[0]
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is the pin below: the leaf must be the configured
		// certificate, byte for byte.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], want) {
				return errors.New("the API's certificate is not http.tls_cert")
			}
			return nil
		},
	}
	return "https://" + net.JoinHostPort(host, port), &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{TLSClientConfig: tc},
	}, nil
}
