package server_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestServeHistoryDatabaseDown: `serve` reaches PostgreSQL through a TCP
// proxy the test controls. When the database hangs (the proxy holds every
// byte and every new connection) and when it is dead (the proxy resets
// every connection), a SIPp caller still goes through the IVR lookup node
// to the queue: the lookup ends by the node's timeout (a deadline error)
// or at once (a connection error), its event carries the error and the
// caller takes the no-history way. That the outage is logged once, not per
// call, is TestLookupOutageLoggedOnce (ivr). Loopback 127.0.0.103 is this
// test's caller.
func TestServeHistoryDatabaseDown(t *testing.T) {
	sipptest.NeedTools(t, "sipp", "sox")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru", "hotline", "greeting.wav")); err != nil {
		t.Fatalf("generated prompts missing: run make prompts (%v)", err)
	}
	db := pgtest.New(t)
	proxy := startDBProxy(t, db.DSN)
	yml := fillConfig(t, root, historyConfig, "DBURL", proxy.dsn, "127.0.0.101", "127.0.0.103")
	srv := startTestServe(t, "history-down.yaml", yml)
	// Cleanups run last-in first-out: the database comes back before serve
	// shuts down.
	t.Cleanup(proxy.restore)
	sipAddr, api := srv.SIPAddr().String(), srv.api
	events := watchEvents(t, srv.ctx, api)
	voice := filepath.Join(t.TempDir(), "voice-alaw.wav")

	mediaPort := 6950
	for i, tc := range []struct {
		name   string
		mode   proxyMode
		caller string
		errHas string // in the lookup event's error
	}{
		{"hung database", proxyHung, "79163334455", "deadline"},
		{"dead database", proxyDead, "79164445566", ""},
	} {
		proxy.set(tc.mode)
		mediaPort += 10
		c := sippRun(t, root, "caller-load.xml", map[string]string{"AUDIO": voice},
			"-i", "127.0.0.103", "-p", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "-mp", strconv.Itoa(mediaPort), "-m", "1",
			"-d", "2000", "-s", "88001234567", "-key", "caller", tc.caller, "-timeout", "60s", sipAddr)
		var j eventlog.Event
		waitUntil(t, tc.name+": the caller joins a queue", func() bool {
			all := events.matching(func(e eventlog.Event) bool { return e.Type == eventlog.QueueJoined })
			if len(all) <= i {
				return false
			}
			j = all[i]
			return true
		})
		if j.Queue != "first-line" || j.Priority != 0 {
			t.Errorf("%s: joined %s with priority %d, want first-line (no history)", tc.name, j.Queue, j.Priority)
		}
		look := events.matching(func(e eventlog.Event) bool {
			return e.Type == eventlog.IVRNode && e.CallID == j.CallID && e.Data[string(eventlog.KeyNode)] == "who"
		})
		if len(look) != 1 {
			t.Fatalf("%s: lookup events %+v", tc.name, look)
		}
		msg := look[0].Data[string(eventlog.KeyError)]
		t.Logf("%s: the lookup's error: %s", tc.name, msg)
		if msg == "" || !strings.Contains(msg, tc.errHas) {
			t.Errorf("%s: the lookup's error is %q, want one mentioning %q", tc.name, msg, tc.errHas)
		}
		c.Wait(t, tc.name+": caller", 60*time.Second)
	}
}

type proxyMode int

const (
	proxyUp   proxyMode = iota // bytes flow both ways
	proxyHung                  // every byte and new connection is held
	proxyDead                  // every connection is reset
)

// dbProxy is a TCP proxy in front of a PostgreSQL server whose behaviour
// the test switches.
type dbProxy struct {
	dsn      string // the DSN of the database through the proxy
	upstream string
	mu       sync.Mutex
	mode     proxyMode
	changed  chan struct{} // closed and replaced on every switch
	conns    map[net.Conn]bool
}

func startDBProxy(t *testing.T, dsn string) *dbProxy {
	t.Helper()
	at := strings.LastIndex(dsn, "@")
	slash := strings.Index(dsn[at:], "/")
	if at < 0 || slash < 0 {
		t.Fatalf("DSN %q: want postgres://user@host:port/db", dsn)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{upstream: dsn[at+1 : at+slash], changed: make(chan struct{}), conns: map[net.Conn]bool{},
		dsn: dsn[:at+1] + ln.Addr().String() + dsn[at+slash:]}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for c := range p.conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *dbProxy) set(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	if m == proxyDead {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *dbProxy) restore() { p.set(proxyUp) }

// pass waits while the proxy hangs; false when it is dead.
func (p *dbProxy) pass() bool {
	for {
		p.mu.Lock()
		m, ch := p.mode, p.changed
		p.mu.Unlock()
		switch m {
		case proxyUp:
			return true
		case proxyDead:
			return false
		case proxyHung:
			<-ch
		}
	}
}

func (p *dbProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == proxyDead {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *dbProxy) serve(c net.Conn) {
	defer c.Close()
	if !p.track(c) || !p.pass() {
		return
	}
	up, err := net.Dial("tcp", p.upstream)
	if err != nil || !p.track(up) {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if !p.pass() {
					return
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return // EOF or a closed connection
			}
		}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
}
