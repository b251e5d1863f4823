//go:build linux

package media

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"
)

// rawSender sends from the pacer with a raw sendto(2) that does not enter
// the scheduler's syscall state: a non-blocking UDP send never blocks, and
// keeping the P means the pacer is not queued behind hundreds of receive
// goroutines after each send (which otherwise costs milliseconds of jitter
// under load). The fd stays valid through syscall.RawConn's reference.
type rawSender struct {
	raw    syscall.RawConn
	saFor  netip.AddrPort
	sa4    syscall.RawSockaddrInet4
	sa6    syscall.RawSockaddrInet6
	saLen  uintptr
	saPtr  unsafe.Pointer
	errno  syscall.Errno
	buf    []byte
	sendFn func(fd uintptr) bool
}

func (r *rawSender) init(_ *net.UDPConn, rc syscall.RawConn) {
	r.raw = rc
	r.sendFn = func(fd uintptr) bool {
		_, _, r.errno = syscall.RawSyscall6(syscall.SYS_SENDTO, fd,
			uintptr(unsafe.Pointer(&r.buf[0])), uintptr(len(r.buf)), 0, uintptr(r.saPtr), r.saLen)
		return true // never wait for writability: drop like a full NIC queue would
	}
}

// send writes b to to; it returns false when the packet was not sent.
func (r *rawSender) send(b []byte, to netip.AddrPort) bool {
	if r.raw == nil || len(b) == 0 {
		return false
	}
	if to != r.saFor {
		a := to.Addr()
		if a.Is4() || a.Is4In6() {
			r.sa4 = syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: a.Unmap().As4()}
			putPort(&r.sa4.Port, to.Port())
			r.saPtr, r.saLen = unsafe.Pointer(&r.sa4), unsafe.Sizeof(r.sa4)
		} else {
			r.sa6 = syscall.RawSockaddrInet6{Family: syscall.AF_INET6, Addr: a.As16()}
			putPort(&r.sa6.Port, to.Port())
			r.saPtr, r.saLen = unsafe.Pointer(&r.sa6), unsafe.Sizeof(r.sa6)
		}
		r.saFor = to
	}
	r.buf = b
	err := r.raw.Write(r.sendFn)
	r.buf = nil
	return err == nil && r.errno == 0
}

// putPort stores a port in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}
