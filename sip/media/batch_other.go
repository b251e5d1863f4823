//go:build !linux

package media

import (
	"net"
	"net/netip"
	"syscall"
)

// batchSupported: off Linux there is no recvmmsg/sendmmsg; the multiplexed
// sockets read and write one datagram per call.
const batchSupported = false

type batchReader struct {
	conn *net.UDPConn
	buf  []byte
	n    int
	from netip.AddrPort
}

func newBatchReader(conn *net.UDPConn, _ int) (*batchReader, error) {
	return &batchReader{conn: conn, buf: make([]byte, maxPacket)}, nil
}

func (b *batchReader) read() (int, error) {
	n, from, err := b.conn.ReadFromUDPAddrPort(b.buf)
	if err != nil {
		return 0, err
	}
	b.n, b.from = n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	return 1, nil
}

func (b *batchReader) packet(int) ([]byte, netip.AddrPort) { return b.buf[:b.n], b.from }

type outPkt struct {
	b  []byte
	to netip.AddrPort
}

type batchWriter struct{ out []outPkt }

func newBatchWriter(size int) *batchWriter { return &batchWriter{out: make([]outPkt, size)} }

func (b *batchWriter) set(i int, pkt []byte, to netip.AddrPort) { b.out[i] = outPkt{pkt, to} }

func (b *batchWriter) write(sock *net.UDPConn, _ syscall.RawConn, count int) int {
	sent := 0
	for i := range count {
		if _, err := sock.WriteToUDPAddrPort(b.out[i].b, b.out[i].to); err == nil {
			sent++
		}
		b.out[i] = outPkt{}
	}
	return sent
}
