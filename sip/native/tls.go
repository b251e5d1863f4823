package native

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/sip/media"
)

// SIP over TLS (RFC 3261 §26.2, transport=tls) for agents outside the
// office. A phone registers over a TLS connection; hotline reaches it
// over that same connection (the INVITE goes to the registration's
// source, in-dialog requests to the 200's source, as for a phone behind
// NAT), never by opening a connection to its Contact, which a phone
// outside the office cannot accept. Requests and responses of such legs
// carry a Contact with transport=tls and the TLS port, so the phone's
// in-dialog requests come back over TLS too. Trunks stay on UDP/TCP.

// isTLS reports whether a SIP transport name is TLS.
func isTLS(transport string) bool { return strings.EqualFold(transport, "tls") }

// startTLS binds Config.TLSListen behind the TCP guard (idle timeout,
// per-source limit) and returns the TLS listener to serve; adv is the
// advertised address. It sets the TLS client, dialog UA and Contact.
func (s *Switch) startTLS(adv netip.Addr, sipLog *slog.Logger) (net.Listener, error) {
	if s.cfg.TLSListen == "" {
		return nil, nil
	}
	if s.cfg.TLS == nil {
		return nil, fmt.Errorf("native: tls listen %q without a TLS configuration", s.cfg.TLSListen)
	}
	raw, err := net.Listen("tcp", s.cfg.TLSListen)
	if err != nil {
		return nil, fmt.Errorf("native: listen tls %s: %w", s.cfg.TLSListen, err)
	}
	port := raw.Addr().(*net.TCPAddr).Port
	s.tlsAddr = netip.AddrPortFrom(adv, uint16(port))
	// No fixed local address: a request finds the phone's connection by
	// its remote address (the registration's source).
	cli, err := sipgo.NewClient(s.ua,
		sipgo.WithClientLogger(sipLog),
		sipgo.WithClientHostname(adv.String()),
		sipgo.WithClientPort(port),
	)
	if err != nil {
		raw.Close()
		return nil, err
	}
	uri := gosip.Uri{Scheme: "sip", User: "hotline", Host: adv.String(), Port: port, UriParams: gosip.NewParams()}
	uri.UriParams.Add("transport", "tls")
	s.tlsContact = gosip.ContactHeader{Address: uri}
	s.duaTLS = &sipgo.DialogUA{Client: cli, ContactHDR: s.tlsContact, RewriteContact: true}
	s.tlsGuard = s.guardTCP(raw)
	return tls.NewListener(s.tlsGuard, s.cfg.TLS), nil
}

// dialogUA is the dialog UA for a leg over transport: TLS legs get the
// TLS one (their Contact, their connection).
func (s *Switch) dialogUA(transport string) *sipgo.DialogUA {
	if isTLS(transport) && s.duaTLS != nil {
		return s.duaTLS
	}
	if isWS(transport) && s.duaWS != nil {
		return s.duaWS
	}
	return s.dua
}

// contactFor is hotline's Contact for a request or response over transport.
func (s *Switch) contactFor(transport string) *gosip.ContactHeader {
	if isTLS(transport) && s.duaTLS != nil {
		return &s.tlsContact
	}
	if isWS(transport) && s.duaWS != nil {
		return &s.wsContact
	}
	return &s.contact
}

// TLSAddr is the advertised SIP over TLS address (invalid without
// Config.TLSListen or before Start).
func (s *Switch) TLSAddr() netip.AddrPort { return s.tlsAddr }

// SRTP with SDES keys (RFC 4568) on the legs of agents over TLS: the keys
// travel in the SDP, which only a TLS connection keeps secret, so hotline
// offers and accepts a=crypto only there (RFC 4568 §8.3). With
// Config.SRTPForTLS, every leg of a TLS agent is SRTP: dialled agents are
// offered RTP/SAVP with hotline's key (an answer without a usable key
// ends the call), an agent's INVITE without one gets 488. Without it, an
// agent's SRTP offer over TLS is still answered with SRTP.

// sdesCrypto is an a=crypto line of the suite hotline speaks.
type sdesCrypto struct {
	Tag int
	Key srtpKey // master key and salt, media.SRTPKeyLen bytes
}

// srtpKey is key material; it prints as [hidden] in every format and log.
type srtpKey []byte

func (srtpKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[hidden]")) }
func (srtpKey) LogValue() slog.Value       { return slog.StringValue("[hidden]") }

func (c *sdesCrypto) attribute() string {
	return fmt.Sprintf("a=crypto:%d %s inline:%s", c.Tag, media.SRTPSuite, base64.StdEncoding.EncodeToString(c.Key))
}

// parseCrypto reads an a=crypto value ("1 AES_CM_128_HMAC_SHA1_80
// inline:KEY[|lifetime]"); nil for another suite, several keys, an MKI
// or session parameters (hotline uses none of them).
func parseCrypto(v string) *sdesCrypto {
	f := strings.Fields(v)
	if len(f) != 3 || f[1] != media.SRTPSuite {
		return nil
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > 999999999 {
		return nil
	}
	inline, ok := strings.CutPrefix(f[2], "inline:")
	if !ok || strings.Contains(inline, ";") {
		return nil
	}
	keyB64, params, _ := strings.Cut(inline, "|")
	if strings.Contains(params, ":") { // an MKI
		return nil
	}
	key, err := base64.StdEncoding.DecodeString(keyB64)
	if err != nil || len(key) != media.SRTPKeyLen {
		return nil
	}
	return &sdesCrypto{Tag: tag, Key: key}
}

// newCrypto is hotline's side of an SRTP stream: a fresh key under tag.
func newCrypto(tag int) (*sdesCrypto, error) {
	k, err := media.NewSRTPKey()
	if err != nil {
		return nil, err
	}
	return &sdesCrypto{Tag: tag, Key: k}, nil
}

// srtpOfferable checks an INVITE's offer against the SRTP rules: an SRTP
// offer is answered only over TLS and with a key of hotline's suite
// (anything else would be a plain answer to an SRTP offer, which the
// peer cannot use), and with Config.SRTPForTLS an agent over TLS must
// offer SRTP.
func (s *Switch) srtpOfferable(offer remoteMedia, transport string, agent bool) error {
	switch {
	case offer.Secure && !isTLS(transport):
		return errors.New("SRTP is offered only over TLS (SDES keys would cross the network in clear)")
	case offer.Secure && offer.Crypto == nil:
		return errors.New("no usable SRTP key: hotline speaks a=crypto " + media.SRTPSuite + " without MKI")
	case !offer.Secure && agent && s.cfg.SRTPForTLS && isTLS(transport):
		return errors.New("SRTP is required: offer RTP/SAVP with a=crypto " + media.SRTPSuite)
	}
	return nil
}
