package lease_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/lease"
	"github.com/hotline-cc/hotline/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newDB(t *testing.T) *pgtest.DB {
	t.Helper()
	db := pgtest.New(t)
	if err := lease.Migrate(context.Background(), db.Pool); err != nil {
		t.Fatal(err)
	}
	return db
}

func cfg(dsn, node string) lease.Config {
	return lease.Config{DSN: dsn, Line: "8800", Node: node, Timeout: time.Second, Retry: 20 * time.Millisecond}
}

// acquire runs Acquire in the background.
func acquire(ctx context.Context, c lease.Config) <-chan *lease.Lease {
	ch := make(chan *lease.Lease, 1)
	go func() {
		l, err := lease.Acquire(ctx, c)
		if err != nil {
			l = nil
		}
		ch <- l
	}()
	return ch
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestHandOver(t *testing.T) {
	db := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := lease.Acquire(ctx, cfg(db.DSN, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Token() != 1 || a.Previous().Node != "" {
		t.Fatalf("first holder: token %d previous %+v", a.Token(), a.Previous())
	}
	bch := acquire(ctx, cfg(db.DSN, "b"))
	// b keeps trying while a holds it: a is still the holder in the row.
	node, tok, held, err := lease.Holder(ctx, db.Pool, "8800")
	if err != nil || node != "a" || tok != 1 || !held {
		t.Fatalf("holder = %q %d %v %v, want a 1 held", node, tok, held, err)
	}
	select {
	case <-bch:
		t.Fatal("b got the lease while a held it")
	default:
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	b := <-bch
	if b == nil {
		t.Fatal("b did not get the lease after a released it")
	}
	if p := b.Previous(); p.Node != "a" || !p.Clean || b.Token() != 2 {
		t.Fatalf("b: token %d previous %+v, want 2 after a's clean release", b.Token(), p)
	}
	if closed(a.Lost()) {
		t.Fatal("a clean release is not a loss")
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A holder whose connection dies (its process was killed) loses the lease
// to the next node, which waits until the dead holder would have fenced.
func TestHolderDies(t *testing.T) {
	db := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := cfg(db.DSN, "a")
	a, err := lease.Acquire(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	// Another session ends a's connection, as the kernel does when a's
	// process dies.
	if _, err := db.Pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hotline lease a'`); err != nil {
		t.Fatal(err)
	}
	b := <-acquire(ctx, cfg(db.DSN, "b"))
	if b == nil {
		t.Fatal("b did not get the lease")
	}
	defer b.Release(ctx)
	if p := b.Previous(); p.Node != "a" || p.Clean {
		t.Fatalf("previous = %+v, want a, not clean", p)
	}
	// Rule 3: by the time b may act, a has fenced itself.
	if !closed(a.Lost()) {
		t.Fatal("b acts while a has not noticed its loss")
	}
}

// The holder is cut off from the database (a partition, not a reset): it
// fences itself before the database frees the lease, the other node takes
// over, and when the network returns the old holder does not get the
// lease back.
func TestPartition(t *testing.T) {
	db := newDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	u, err := url.Parse(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := pgtest.NewProxy(t, "127.0.5.10:0", u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.Addr()
	a, err := lease.Acquire(ctx, cfg(viaProxy.String(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	bch := acquire(ctx, cfg(db.DSN, "b"))
	proxy.Cut()
	var b *lease.Lease
	select {
	case <-a.Lost():
	case b = <-bch:
		t.Fatal("b got the lease before a fenced itself")
	}
	if b == nil {
		b = <-bch
	}
	if b == nil {
		t.Fatal("b did not get the lease")
	}
	defer b.Release(ctx)
	if p := b.Previous(); p.Node != "a" || p.Clean || b.Token() != 2 {
		t.Fatalf("b: token %d previous %+v", b.Token(), p)
	}
	proxy.Restore()
	// a tries again once the database is back: b holds the lease, so a
	// waits (a standby) until its context ends.
	actx, acancel := context.WithTimeout(ctx, 2*time.Second)
	defer acancel()
	if again, err := lease.Acquire(actx, cfg(viaProxy.String(), "a")); err == nil {
		again.Release(ctx)
		t.Fatal("the old holder got the lease back while b holds it")
	}
	if node, tok, held, err := lease.Holder(ctx, db.Pool, "8800"); err != nil || node != "b" || tok != 2 || !held {
		t.Fatalf("holder = %q %d %v %v, want b 2", node, tok, held, err)
	}
}
