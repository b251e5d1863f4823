package media

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/srtp/v3"
)

// SRTP (RFC 3711) with keys exchanged in SDP (SDES, RFC 4568), suite
// AES_CM_128_HMAC_SHA1_80. A stream made with StreamConfig.SRTP sends and
// accepts nothing until SetSRTPKeys gives it both directions' master keys;
// from then on every packet it sends is protected and every packet it
// receives must authenticate, or it is dropped (not counted as media, not
// latched to). Keys never leave this package except in the SDP the caller
// writes, and are never logged.

// SRTPSuite is the one crypto suite hotline offers and accepts.
const SRTPSuite = "AES_CM_128_HMAC_SHA1_80"

// SRTPKeyLen is the length of a master key and salt together (16 + 14
// bytes), the inline key of an a=crypto line.
const SRTPKeyLen = 30

// ErrSRTPKey is returned for a key of the wrong length.
var ErrSRTPKey = errors.New("media: SRTP master key and salt must be 30 bytes")

// NewSRTPKey returns a fresh random master key and salt.
func NewSRTPKey() ([]byte, error) {
	k := make([]byte, SRTPKeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("media: SRTP key: %w", err)
	}
	return k, nil
}

// srtpState is a stream's SRTP contexts: in is used by the receive
// goroutine only; out by the senders under mu (its rollover state and
// buf are shared by the pacer, DTMF and the relay).
type srtpState struct {
	in     atomic.Pointer[srtp.Context]
	mu     sync.Mutex
	out    *srtp.Context
	outKey []byte // the key of out
	buf    []byte
}

func newSRTPContext(key []byte) (*srtp.Context, error) {
	if len(key) != SRTPKeyLen {
		return nil, ErrSRTPKey
	}
	return srtp.CreateContext(key[:16], key[16:], srtp.ProtectionProfileAes128CmHmacSha1_80, srtp.SRTPReplayProtection(64))
}

// SetSRTPKeys installs the master keys (key and salt, SRTPKeyLen bytes
// each): local protects what the stream sends, remote authenticates and
// decrypts what it receives. Called again (a re-INVITE), it takes the
// remote key anew; an unchanged local key keeps its context, so its
// rollover counter goes on and no keystream is ever used twice. It fails
// on a stream made without StreamConfig.SRTP.
func (s *Stream) SetSRTPKeys(local, remote []byte) error {
	if s.srtp == nil {
		return errors.New("media: stream was made without SRTP")
	}
	if len(local) != SRTPKeyLen {
		return ErrSRTPKey
	}
	in, err := newSRTPContext(remote)
	if err != nil {
		return err
	}
	st := s.srtp
	st.mu.Lock()
	if st.out == nil || !bytes.Equal(st.outKey, local) {
		out, err := newSRTPContext(local)
		if err != nil {
			st.mu.Unlock()
			return err
		}
		st.out, st.outKey = out, bytes.Clone(local)
	}
	st.mu.Unlock()
	st.in.Store(in)
	return nil
}

// SRTP reports whether the stream carries SRTP (StreamConfig.SRTP).
func (s *Stream) SRTP() bool { return s.srtp != nil }

// unprotect decrypts a received packet into dst; ok is false when the
// stream has no keys yet or the packet does not authenticate.
func (st *srtpState) unprotect(dst, pkt []byte) ([]byte, bool) {
	in := st.in.Load()
	if in == nil {
		return nil, false
	}
	out, err := in.DecryptRTP(dst, pkt, nil)
	return out, err == nil
}

// sendProtected encrypts a plain RTP packet and sends it with send;
// nothing is sent before the keys are set.
func (st *srtpState) sendProtected(pkt []byte, to netip.AddrPort, send func([]byte, netip.AddrPort) bool) (int, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.out == nil {
		return 0, false
	}
	enc, err := st.out.EncryptRTP(st.buf[:0], pkt, nil)
	if err != nil {
		return 0, false
	}
	st.buf = enc[:0]
	return len(enc), send(enc, to)
}
