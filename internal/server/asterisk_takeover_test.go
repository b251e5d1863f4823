package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/proctest"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// Nodes of the Asterisk-mode take-over test: their HTTP, and the agent's
// phone.
const (
	astNodeAIP = "127.0.25.21"
	astNodeBIP = "127.0.25.22"
	astAgentIP = "127.0.25.23"
)

// startAsteriskNode runs an Asterisk-mode node of line 8800 as a helper
// process (so that it can be killed with SIGKILL).
func startAsteriskNode(t *testing.T, env asteriskEnv, dsn, node, ip string) (*proctest.Helper, string) {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	dir := t.TempDir()
	yml := "node: {id: " + node + `, line: "8800", lease_timeout: 2s}` + "\n" +
		strings.NewReplacer("ROOT", root, "DBURL", dsn, "SPOOL", filepath.Join(dir, "spool"), "ARIURL", env.ariURL,
			"ARIUSER", env.ariUser, "ARIPASS", env.ariPassword, `"127.0.0.1:HTTPPORT"`, `"`+ip+`:8080"`).Replace(asteriskE2EConfig)
	path := filepath.Join(dir, node+".yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	h := proctest.StartHelper(t, "node "+node, nodeHelperEnv+"="+path)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(path + ".log")
			t.Logf("node %s log (tail):\n%s", node, tail(string(b), 8000))
		}
	})
	return h, "http://" + ip + ":8080"
}

// TestServeAsteriskTakeover: two Asterisk-mode nodes share line 8800 by
// the PostgreSQL lease; only the active one is connected to ARI. With a
// caller talking to agent a9 and another waiting in the queue, the active
// node is killed (SIGKILL). The standby takes the lease, connects and
// re-adopts both calls: the conversation goes on in Asterisk (audio both
// ways), the waiting caller is back in its queue at its place (resumed),
// and when the agent hangs up the first call the new node hangs up the
// caller and rings the agent for the waiting one, who is answered.
func TestServeAsteriskTakeover(t *testing.T) {
	env := needAsteriskEnv(t)
	db := pgtest.New(t)
	a, aAPI := startAsteriskNode(t, env, db.DSN, "a", astNodeAIP)
	waitUntil(t, "node a active", func() bool { return role(aAPI) == "active" })
	_, bAPI := startAsteriskNode(t, env, db.DSN, "b", astNodeBIP)
	if r := role(bAPI); r != "standby" {
		t.Fatalf("node b's role = %q, want standby", r)
	}
	aEvents := watchEvents(t, ctxTimeout(t, 3*time.Minute), aAPI)

	agent := testPhone(t, astAgentIP, 0, "a9", env.agentPrefix+"a9")
	if err := agent.Register(ctxTimeout(t, 10*time.Second), env.sip, 5*time.Minute); err != nil {
		t.Fatalf("register a9 with Asterisk: %v", err)
	}
	t.Cleanup(func() { _ = agent.Register(ctxTimeout(t, 5*time.Second), env.sip, 0) })
	trunk := testPhone(t, "127.0.0.31", 5390, "", "")

	call := func(from string) *siptest.Call {
		t.Helper()
		c, err := trunk.Call(ctxTimeout(t, 20*time.Second), siptest.CallOptions{Addr: env.sip, To: "88001234567", From: from})
		if err != nil {
			t.Fatalf("the 8-800 call from %s was not answered: %v", from, err)
		}
		t.Cleanup(func() { _ = c.Hangup(ctxTimeout(t, 5*time.Second)) })
		waitFor(t, "the menu prompt", func() bool { return c.Received() > 50 })
		if err := c.SendDTMF(ctxTimeout(t, 5*time.Second), "1"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	post(t, aAPI+"/api/v1/agents/a9/login", "")
	talking := call("79123450011")
	agentCall := nextIncoming(t, agent)
	answered := aEvents.wait(t, "queue.answered", func(e eventlog.Event) bool { return e.Type == eventlog.QueueAnswered })
	waiting := call("79123450012")
	joined := aEvents.wait(t, "the second caller in the queue", func(e eventlog.Event) bool {
		return e.Type == eventlog.QueueJoined && e.CallID != answered.CallID
	})
	time.Sleep(500 * time.Millisecond) // a's writer flushes every 200 ms: the join is stored

	a.Kill()
	killed := time.Now()
	waitUntil(t, "node b active", func() bool { return role(bAPI) == "active" })
	took := time.Since(killed)
	// b's events are read from the database (its stream would start after
	// the re-adoption: b resumes the caller within milliseconds of winning).
	count := func(q string, args ...any) int {
		var n int
		if err := db.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var resumedAt time.Time
	waitUntil(t, "the waiting caller back in its queue on b (queue.joined, resumed)", func() bool {
		err := db.Pool.QueryRow(context.Background(), `SELECT at FROM events WHERE type = 'queue.joined' AND call_id = $1
			AND data->>'resumed' = '1'`, joined.CallID).Scan(&resumedAt)
		return err == nil
	})
	t.Logf("take-over: node b active %v after the kill; the waiting caller resumed %v after it", took.Round(time.Millisecond),
		resumedAt.Sub(killed).Round(time.Millisecond))
	for _, c := range []struct {
		what string
		c    *siptest.Call
	}{{"the talking caller", talking}, {"the agent", agentCall}, {"the waiting caller (music)", waiting}} {
		mark := c.c.Received()
		waitFor(t, "audio to "+c.what+" after the take-over", func() bool { return c.c.Received() > mark+50 })
	}
	if err := agentCall.Hangup(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitChan(t, "the talking caller hung up after the agent", talking.Done())
	// b counts a9 free (the conversation carried across is not its own:
	// docs/scaling.md), so it may ring the phone before that call ends.
	second := nextIncoming(t, agent)
	waitUntil(t, "the waiting caller answered by a9 on node b", func() bool {
		return count(`SELECT count(*) FROM events WHERE type = 'queue.answered' AND call_id = $1 AND agent = 'a9'`, joined.CallID) == 1
	})
	mark := second.Received()
	waitFor(t, "the waiting caller's audio at the agent", func() bool { return second.Received() > mark+50 })
	_ = second.Hangup(ctxTimeout(t, 5*time.Second))
	waitChan(t, "the second caller hung up after the agent", waiting.Done())
}
