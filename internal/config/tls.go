package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
)

// loadKeyPair is env.loadKeyPair on the real file system: the pair must
// load and the first certificate must parse.
func loadKeyPair(certFile, keyFile string) error {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	if _, err := x509.ParseCertificate(c.Certificate[0]); err != nil {
		return fmt.Errorf("certificate %s: %w", certFile, err)
	}
	return nil
}

// keyPair checks the <section>.tls_cert and <section>.tls_key pair: both
// or neither, and, when set, files that load as a matching pair. The
// error names the certificate's line (the key is checked with it).
func (v *validator) keyPair(section, cert, key string) {
	cp, kp := section+".tls_cert", section+".tls_key"
	switch {
	case cert == "" && key == "":
		return
	case cert == "":
		v.errorf(kp, "set together with %s", cp)
		return
	case key == "":
		v.errorf(cp, "set together with %s", kp)
		return
	}
	if v.e.loadKeyPair == nil {
		v.errorf(cp, "%v", errors.New("no file access to check the pair"))
		return
	}
	if err := v.e.loadKeyPair(cert, key); err != nil {
		v.errorf(cp, "certificate %q with key %q: %v", cert, key, err)
	}
}

// sipWebRTC checks sip.webrtc (the desk softphone's media).
func (v *validator) sipWebRTC() {
	w := &v.c.SIP.WebRTC
	if w.Port < 0 || w.Port > 65535 {
		v.errorf("sip.webrtc.port", "want 0 (any) or a UDP port up to 65535, not %d", w.Port)
	}
	for i, ip := range w.PublicIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			v.errorf("sip.webrtc.public_ips", "[%d]: want an IP address, not %q", i, ip)
		}
	}
}

// sipTLS checks sip.tls_listen and its certificate pair (native mode).
func (v *validator) sipTLS() {
	s := &v.c.SIP
	if s.TLSListen == "" {
		if s.TLSCert != "" || s.TLSKey != "" {
			v.errorf("sip.tls_cert", "set sip.tls_listen too (the certificate is for SIP over TLS)")
		}
		if s.TLSSRTP {
			v.errorf("sip.tls_srtp", "needs sip.tls_listen: SDES keys travel in the SDP, which only TLS keeps secret")
		}
		return
	}
	if s.Mode == "asterisk" {
		v.errorf("sip.tls_listen", "native mode only (in asterisk mode, configure TLS in Asterisk's pjsip.conf)")
		return
	}
	ap, err := parseHostPort(s.TLSListen)
	if err != nil {
		v.errorf("sip.tls_listen", "%v", err)
		return
	}
	if ap.Port() == 0 {
		v.errorf("sip.tls_listen", "needs a port (5061 is SIP over TLS's)")
		return
	}
	if s.ListenAddr.IsValid() && ap.Port() == s.ListenAddr.Port() && overlaps(ap.Addr(), s.ListenAddr.Addr()) {
		v.errorf("sip.tls_listen", "port %d is sip.listen's TCP port; use another (5061)", ap.Port())
		return
	}
	if s.TLSCert == "" || s.TLSKey == "" {
		v.r.errorAt(v.r.lineOf("sip.tls_listen"), "sip.tls_cert", "sip.tls_cert and sip.tls_key are required with sip.tls_listen")
		return
	}
	v.keyPair("sip", s.TLSCert, s.TLSKey)
	s.TLSListenAddr = ap
}

// overlaps reports whether listening on a and on b would share a socket
// address (equal, or either unspecified).
func overlaps(a, b netip.Addr) bool {
	return a == b || a.IsUnspecified() || b.IsUnspecified()
}
