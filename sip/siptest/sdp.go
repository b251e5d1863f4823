package siptest

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hotline-cc/hotline/sip/media"
)

// RemoteSDP is what a test or simulated phone needs from the other side's
// SDP.
type RemoteSDP struct {
	Addr   netip.AddrPort
	Codec  media.Codec
	DTMFPT uint8
}

var sdpVersion atomic.Uint64

// OfferSDP is a test or simulated phone's offer or answer: PCMU, PCMA (or
// just codec when it is set) and telephone-event/8000 on payload type 101.
func OfferSDP(local netip.AddrPort, codec *media.Codec) []byte {
	codecs := []media.Codec{media.PCMU, media.PCMA}
	if codec != nil {
		codecs = []media.Codec{*codec}
	}
	var fmts, attrs []string
	for _, c := range codecs {
		fmts = append(fmts, strconv.Itoa(int(c.PT)))
		attrs = append(attrs, fmt.Sprintf("a=rtpmap:%d %s/8000", c.PT, c.Name))
	}
	fmts = append(fmts, strconv.Itoa(media.DefaultDTMFPT))
	attrs = append(attrs, fmt.Sprintf("a=rtpmap:%d telephone-event/8000", media.DefaultDTMFPT),
		fmt.Sprintf("a=fmtp:%d 0-16", media.DefaultDTMFPT))
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=siptest 1 %d IN IP4 %s\r\ns=siptest\r\nc=IN IP4 %s\r\nt=0 0\r\n",
		sdpVersion.Add(1), local.Addr(), local.Addr())
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %s\r\n", local.Port(), strings.Join(fmts, " "))
	for _, a := range attrs {
		b.WriteString(a + "\r\n")
	}
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return []byte(b.String())
}

// ParseSDP reads the audio address, the first G.711 codec and the
// telephone-event payload type of an SDP body. It is deliberately small: the
// switches under test write plain SDP.
func ParseSDP(body []byte) (RemoteSDP, error) {
	var r RemoteSDP
	var ip netip.Addr
	var port int
	var fmts []string
	rtpmap := map[string]string{}
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "c="):
			f := strings.Fields(line[2:])
			if len(f) == 3 {
				if a, err := netip.ParseAddr(f[2]); err == nil && (!ip.IsValid() || port == 0) {
					ip = a
				}
			}
		case strings.HasPrefix(line, "m=audio "):
			f := strings.Fields(line[2:])
			if len(f) >= 4 {
				port, _ = strconv.Atoi(f[1])
				fmts = f[3:]
			}
		case strings.HasPrefix(line, "a=rtpmap:"):
			pt, name, ok := strings.Cut(line[len("a=rtpmap:"):], " ")
			if ok {
				rtpmap[pt] = strings.ToLower(name)
			}
		}
	}
	if !ip.IsValid() || port == 0 {
		return r, errors.New("siptest: SDP without an audio address")
	}
	r.Addr = netip.AddrPortFrom(ip, uint16(port))
	found := false
	for _, f := range fmts {
		name, mapped := rtpmap[f]
		switch {
		case !found && ((f == "0" && !mapped) || name == "pcmu/8000"):
			r.Codec, found = media.PCMU, true
		case !found && ((f == "8" && !mapped) || name == "pcma/8000"):
			r.Codec, found = media.PCMA, true
		case name == "telephone-event/8000":
			if pt, err := strconv.Atoi(f); err == nil {
				r.DTMFPT = uint8(pt)
			}
		}
	}
	if !found {
		return r, errors.New("siptest: SDP without PCMU or PCMA")
	}
	return r, nil
}
