package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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
