package pgtest

import (
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy a test puts between a process and the database to
// cut it off: Cut black-holes every connection (nothing passes either way,
// nothing is closed: a network partition, not a reset), Restore lets
// traffic pass again and accepts new connections.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	wake  *sync.Cond
	conns []net.Conn
}

// NewProxy listens on listen (e.g. "127.0.5.20:0") and forwards to target
// until the test ends.
func NewProxy(tb testing.TB, listen, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		tb.Fatalf("pgtest: proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target}
	p.wake = sync.NewCond(&p.mu)
	go p.accept()
	tb.Cleanup(func() {
		ln.Close()
		p.Restore()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

// Addr is the proxy's address (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut stops all traffic through the proxy.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
}

// Restore lets traffic through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.wake.Broadcast()
	p.mu.Unlock()
}

// pass waits while the proxy is cut.
func (p *Proxy) pass() {
	p.mu.Lock()
	for p.cut {
		p.wake.Wait()
	}
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.pass()
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go p.copy(u, c)
		go p.copy(c, u)
	}
}

func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.pass() // held while cut: lost to the partition's end
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}
