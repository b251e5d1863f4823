package server_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/pgtest"
)

// TestTwoNodesPartition: the active node loses PostgreSQL (its traffic
// black-holed by a proxy, not reset). Within the lease time it stops
// taking calls and exits (75, for systemd to restart it); the standby takes
// over and calls through Kamailio succeed again. When the database is back
// the old node, restarted, stays a standby.
func TestTwoNodesPartition(t *testing.T) {
	tn := newTwoNodes(t)
	u, err := url.Parse(tn.db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := pgtest.NewProxy(t, "127.0.5.40:0", u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.Addr()
	aDir := t.TempDir()
	a, aAPI := tn.startNodeAt(t, "a", nodeAIP, "43000-43199", viaProxy.String(), aDir)
	waitUntil(t, "node a active", func() bool { return role(aAPI) == "active" })
	_, bAPI := tn.startNode(t, "b", nodeBIP, "43200-43399")
	if r := role(bAPI); r != "standby" {
		t.Fatalf("node b's role = %q, want standby", r)
	}
	calls := func(n, port, mp string) {
		s := sippRun(t, tn.root, "caller-proxy.xml", map[string]string{"TALK": "15000"}, "-i", callerIP, "-p", port, "-mp", mp,
			"-s", "8800", "-key", "caller", "79991234567", "-r", "5", "-m", n, "-recv_timeout", "20000",
			"-timeout", "90s", "-timeout_error", frontIP+":5060")
		s.Wait(t, n+" calls", 90*time.Second)
	}
	calls("5", "5080", "43600")
	waitUntil(t, "a's calls stored", func() bool { return tn.arrivals(t)["a"] == 5 })

	proxy.Cut()
	select {
	case <-a.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("node a still runs after losing the database")
	}
	if code := a.ExitCode(); code != 75 {
		t.Fatalf("node a exited with %d, want 75 (fenced)", code)
	}
	waitUntil(t, "node b active", func() bool { return role(bAPI) == "active" })
	calls("10", "5082", "43700")
	if n := tn.arrivals(t); n["b"] != 10 {
		t.Fatalf("calls by node after the partition = %v, want b 10", n)
	}

	// The database returns; a restarts (systemd) and stands by.
	proxy.Restore()
	_, aAPI = tn.startNodeAt(t, "a", nodeAIP, "43000-43199", viaProxy.String(), aDir)
	waitUntil(t, "the restarted a tries for the lease", func() bool {
		return tn.count(t, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hotline lease a'`) == 1
	})
	if r := role(aAPI); r != "standby" {
		t.Fatalf("the restarted node a's role = %q, want standby", r)
	}
	if r := role(bAPI); r != "active" {
		t.Fatalf("node b's role = %q, want active", r)
	}
}
