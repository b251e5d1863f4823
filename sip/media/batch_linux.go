//go:build linux

package media

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSupported: recvmmsg(2)/sendmmsg(2) move a batch of datagrams per
// system call.
const batchSupported = true

// mmsghdr is struct mmsghdr (Go pads it like C on every Linux ABI).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// batchReader reads batches of datagrams from one UDP socket with
// recvmmsg(2), and batchWriter sends batches with sendmmsg(2), both through
// syscall.RawConn (the fd stays in Go's netpoller: a read with nothing
// queued parks the goroutine, not a thread). Everything is allocated once:
// the per-packet path does not allocate. golang.org/x/net's ipv4.PacketConn
// ReadBatch/WriteBatch make the same system calls but allocate a net.UDPAddr
// per received datagram, hence this small layer.
//
// A reader belongs to one goroutine; a writer too (it may write to any
// socket).
type batchReader struct {
	raw    syscall.RawConn
	msgs   []mmsghdr
	iov    []unix.Iovec
	names  []unix.RawSockaddrInet6
	bufs   [][]byte
	n      int
	errno  syscall.Errno
	readFn func(fd uintptr) bool
}

func newBatchReader(conn *net.UDPConn, size int) (*batchReader, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &batchReader{
		raw:   raw,
		msgs:  make([]mmsghdr, size),
		iov:   make([]unix.Iovec, size),
		names: make([]unix.RawSockaddrInet6, size),
		bufs:  make([][]byte, size),
	}
	for i := range size {
		b.bufs[i] = make([]byte, maxPacket)
		b.iov[i].Base = &b.bufs[i][0]
		b.iov[i].SetLen(maxPacket)
		b.msgs[i].hdr.Iov = &b.iov[i]
		b.msgs[i].hdr.SetIovlen(1)
		b.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	b.readFn = func(fd uintptr) bool {
		for i := range b.msgs {
			b.msgs[i].hdr.Namelen = uint32(unsafe.Sizeof(b.names[i]))
		}
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(len(b.msgs)),
			unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EAGAIN || errno == unix.EINTR {
			return false // wait in the netpoller
		}
		b.n, b.errno = int(n), errno
		return true
	}
	return b, nil
}

// read waits for datagrams and returns how many arrived (an error when the
// socket was closed).
func (b *batchReader) read() (int, error) {
	b.n, b.errno = 0, 0
	if err := b.raw.Read(b.readFn); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, b.errno
	}
	return b.n, nil
}

// packet returns datagram i of the last read and its source.
func (b *batchReader) packet(i int) ([]byte, netip.AddrPort) {
	return b.bufs[i][:b.msgs[i].n], sockaddrAddrPort(&b.names[i])
}

type batchWriter struct {
	msgs   []mmsghdr
	iov    []unix.Iovec
	names  []unix.RawSockaddrInet6
	count  int
	sent   int
	errno  syscall.Errno
	sendFn func(fd uintptr) bool
}

func newBatchWriter(size int) *batchWriter {
	b := &batchWriter{
		msgs:  make([]mmsghdr, size),
		iov:   make([]unix.Iovec, size),
		names: make([]unix.RawSockaddrInet6, size),
	}
	for i := range size {
		b.msgs[i].hdr.Iov = &b.iov[i]
		b.msgs[i].hdr.SetIovlen(1)
		b.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	b.sendFn = func(fd uintptr) bool {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[b.sent])), uintptr(b.count-b.sent),
			unix.MSG_DONTWAIT, 0, 0)
		b.errno = errno
		if errno == 0 {
			b.sent += int(n)
		}
		return true // never wait for writability: drop like a full NIC queue would
	}
	return b
}

// set puts pkt for to at position i of the next write.
func (b *batchWriter) set(i int, pkt []byte, to netip.AddrPort) {
	b.iov[i].Base = &pkt[0]
	b.iov[i].SetLen(len(pkt))
	b.msgs[i].hdr.Namelen = putSockaddr(&b.names[i], to)
}

// write sends positions 0..count-1 from sock in as few calls as the kernel
// allows and returns how many were sent. A datagram the kernel refuses is
// skipped; a full socket queue drops the rest.
func (b *batchWriter) write(sock *net.UDPConn, raw syscall.RawConn, count int) int {
	b.count, b.sent = count, 0
	sent := 0
	for b.sent < b.count {
		before := b.sent
		b.errno = 0
		if err := raw.Write(b.sendFn); err != nil {
			break
		}
		sent += b.sent - before
		switch {
		case b.errno == unix.EAGAIN || b.errno == unix.ENOBUFS:
			b.sent = b.count
		case b.errno != 0:
			b.sent++
		}
	}
	for i := range count {
		b.iov[i].Base = nil // do not keep the caller's buffers reachable
	}
	return sent
}

// putSockaddr writes to as a sockaddr_in (IPv4, also fine on a dual-stack
// socket) or sockaddr_in6 and returns its length.
func putSockaddr(sa *unix.RawSockaddrInet6, to netip.AddrPort) uint32 {
	a := to.Addr()
	if a.Is4() || a.Is4In6() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Unmap().As4()}
		putPort(&sa4.Port, to.Port())
		return uint32(unsafe.Sizeof(*sa4))
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
	putPort(&sa.Port, to.Port())
	return uint32(unsafe.Sizeof(*sa))
}

func sockaddrAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port := uint16(p[0])<<8 | uint16(p[1])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}
