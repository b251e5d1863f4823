//go:build !linux

package media

import (
	"net"
	"net/netip"
	"syscall"
)

// rawSender falls back to the ordinary socket write off Linux.
type rawSender struct{ conn *net.UDPConn }

func (r *rawSender) init(conn *net.UDPConn, _ syscall.RawConn) { r.conn = conn }

func (r *rawSender) send(b []byte, to netip.AddrPort) bool {
	_, err := r.conn.WriteToUDPAddrPort(b, to)
	return err == nil
}
