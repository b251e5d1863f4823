package native

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hotline-cc/hotline/sip/media"
	"github.com/pion/sdp/v3"
)

// remoteMedia is what we learn from a peer's SDP.
type remoteMedia struct {
	Addr   netip.AddrPort
	Codecs []media.Codec // the peer's audio codecs we support, in its order of preference
	DTMFPT uint8         // 0 when the peer offered no telephone-event
	Hold   bool          // sendonly, inactive or c=0.0.0.0
	Dir    string        // sendrecv, sendonly, recvonly, inactive
	// Secure: the audio stream's profile is RTP/SAVP (SRTP); Crypto is
	// its first a=crypto line hotline can use (srtp.go), nil when none.
	Secure bool
	Crypto *sdesCrypto
}

var errNoCommonCodec = errors.New("no common audio codec (hotline speaks PCMU and PCMA)")

// parseSDP reads an offer or answer.
func parseSDP(body []byte) (remoteMedia, error) {
	var rm remoteMedia
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return rm, fmt.Errorf("bad SDP: %w", err)
	}
	var audio *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			audio = m
			break
		}
	}
	if audio == nil {
		return rm, errors.New("bad SDP: no audio stream")
	}
	conn := sd.ConnectionInformation
	if audio.ConnectionInformation != nil {
		conn = audio.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return rm, errors.New("bad SDP: no connection address")
	}
	ip, err := netip.ParseAddr(conn.Address.Address)
	if err != nil {
		return rm, fmt.Errorf("bad SDP: connection address %q: %w", conn.Address.Address, err)
	}
	rm.Addr = netip.AddrPortFrom(ip, uint16(audio.MediaName.Port.Value))
	rm.Dir = "sendrecv"
	for _, a := range append(append([]sdp.Attribute{}, sd.Attributes...), audio.Attributes...) {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			rm.Dir = a.Key
		}
	}
	rm.Hold = rm.Dir == "sendonly" || rm.Dir == "inactive" || ip.IsUnspecified()
	rm.Secure = strings.EqualFold(strings.Join(audio.MediaName.Protos, "/"), "RTP/SAVP")
	for _, a := range audio.Attributes {
		if a.Key == "crypto" && rm.Crypto == nil {
			rm.Crypto = parseCrypto(a.Value)
		}
	}

	rtpmap := map[int]string{}
	for _, a := range audio.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		f := strings.Fields(a.Value)
		if len(f) != 2 {
			continue
		}
		pt, err := strconv.Atoi(f[0])
		if err == nil {
			rtpmap[pt] = strings.ToLower(f[1])
		}
	}
	for _, fs := range audio.MediaName.Formats {
		pt, err := strconv.Atoi(fs)
		if err != nil || pt < 0 || pt > 127 {
			continue
		}
		name, mapped := rtpmap[pt]
		switch {
		case (pt == 0 && !mapped) || name == "pcmu/8000":
			rm.Codecs = append(rm.Codecs, media.Codec{Name: "PCMU", PT: uint8(pt)})
		case (pt == 8 && !mapped) || name == "pcma/8000":
			rm.Codecs = append(rm.Codecs, media.Codec{Name: "PCMA", PT: uint8(pt)})
		case name == "telephone-event/8000":
			rm.DTMFPT = uint8(pt)
		}
	}
	if len(rm.Codecs) == 0 {
		return rm, errNoCommonCodec
	}
	return rm, nil
}

var sdpVersion atomic.Uint64

// buildSDP writes our SDP: one audio stream at local with the given codecs
// (the first is preferred) and telephone-event when dtmfPT is not 0.
// With sec, the stream is RTP/SAVP with sec's a=crypto line (SDES).
func buildSDP(local netip.AddrPort, codecs []media.Codec, dtmfPT uint8, dir string, sec *sdesCrypto) []byte {
	// The session id must fit a signed 64-bit integer (RFC 4566 asks for an
	// NTP timestamp; strict peers reject larger numbers with 488).
	id := uint64(time.Now().Unix())
	ver := sdpVersion.Add(1)
	ipv := "IP4"
	if local.Addr().Is6() {
		ipv = "IP6"
	}
	var fmts []string
	var attrs []string
	for _, c := range codecs {
		fmts = append(fmts, strconv.Itoa(int(c.PT)))
		attrs = append(attrs, fmt.Sprintf("a=rtpmap:%d %s/8000", c.PT, c.Name))
	}
	if dtmfPT != 0 {
		fmts = append(fmts, strconv.Itoa(int(dtmfPT)))
		attrs = append(attrs, fmt.Sprintf("a=rtpmap:%d telephone-event/8000", dtmfPT), fmt.Sprintf("a=fmtp:%d 0-16", dtmfPT))
	}
	if dir == "" {
		dir = "sendrecv"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=hotline %d %d IN %s %s\r\ns=hotline\r\nc=IN %s %s\r\nt=0 0\r\n", id, ver, ipv, local.Addr(), ipv, local.Addr())
	proto := "RTP/AVP"
	if sec != nil {
		proto = "RTP/SAVP"
		attrs = append(attrs, sec.attribute())
	}
	fmt.Fprintf(&b, "m=audio %d %s %s\r\n", local.Port(), proto, strings.Join(fmts, " "))
	for _, a := range attrs {
		b.WriteString(a)
		b.WriteString("\r\n")
	}
	b.WriteString("a=ptime:20\r\na=" + dir + "\r\n")
	return []byte(b.String())
}

// answerDir is the direction we answer with for a peer's direction.
func answerDir(peer string) string {
	switch peer {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}
