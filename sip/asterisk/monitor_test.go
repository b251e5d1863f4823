package asterisk

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/hotline-cc/hotline/sip"
)

func (f *fakeChannel) Snoop(k *ari.Key, id string, o *ari.SnoopOptions) (*ari.ChannelHandle, error) {
	f.c.rec.add("snoop", k.ID, id, o.App, o.AppArgs, string(o.Spy), string(o.Whisper))
	f.c.send(stasisStart(id, "", "", "Up", "snoop")) // as Asterisk: the snoop enters the application
	return nil, nil
}

// lastCall is the last recorded call of op.
func (r *recorder) lastCall(op string) (call, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	var last call
	for _, c := range r.calls {
		if c.op == op {
			last, n = c, n+1
		}
	}
	return last, n
}

// TestMonitor drives monitoring over the fake ARI client: a snoop channel
// on the agent's channel (spy both; whisper none, out, both for listen,
// whisper, barge) in a bridge of its own with the supervisor; a mode switch
// replaces the snoop; leaving removes them and leaves the call's bridge; a
// hang-up in the call ends the monitor. Without a real Asterisk this checks
// the ARI requests, not the audio (real_test.go has no monitor test yet).
func TestMonitor(t *testing.T) {
	f := start(t, nil, nil)
	caller := f.inbound(t, "c1", "Up")
	agent := f.inbound(t, "c2", "Up")
	sup := f.inbound(t, "c3", "Up")
	ctx := context.Background()
	if _, err := f.sw.Monitor(ctx, agent, sup, sip.MonitorListen); !errors.Is(err, sip.ErrNotBridged) {
		t.Fatalf("monitoring an unbridged leg: %v", err)
	}
	res := make(chan error, 1)
	go func() { res <- caller.Bridge(ctx, agent) }()
	call := f.rec.waitCall(t, "bridge-create", "")
	f.rec.waitCall(t, "bridge-add", call.id)
	var m sip.Monitor
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		if m, err = f.sw.Monitor(ctx, agent, sup, sip.MonitorListen); err == nil {
			break
		} else if !errors.Is(err, sip.ErrNotBridged) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	snoop, _ := f.rec.lastCall("snoop")
	if snoop.id != "c2" || !strings.HasPrefix(snoop.args[0], snoopPrefix) || snoop.args[1] != "hotline" ||
		snoop.args[3] != "both" || snoop.args[4] != "none" {
		t.Fatalf("listen snoop: %+v", snoop)
	}
	monBridge, _ := f.rec.lastCall("bridge-create")
	if monBridge.id == call.id || !f.has("bridge-add", monBridge.id, "c3") || !f.has("bridge-add", monBridge.id, snoop.args[0]) {
		t.Fatalf("the supervisor and the snoop are not in a bridge of their own: %+v", f.rec.calls)
	}
	// The snoop's StasisStart is not a call.
	f.cl.send(stasisStart(snoop.args[0], "", "", "Up", "snoop"))
	if _, err := f.sw.Monitor(ctx, agent, sup, sip.MonitorListen); !errors.Is(err, sip.ErrAlreadyBridged) {
		t.Fatalf("a busy supervisor leg: %v", err)
	}
	for _, tc := range []struct {
		mode    sip.MonitorMode
		whisper string
	}{{sip.MonitorWhisper, "out"}, {sip.MonitorBarge, "both"}, {sip.MonitorListen, "none"}} {
		old, _ := f.rec.lastCall("snoop")
		if err := m.SetMode(tc.mode); err != nil {
			t.Fatal(err)
		}
		now, _ := f.rec.lastCall("snoop")
		if now.args[0] == old.args[0] || now.args[4] != tc.whisper || now.args[3] != "both" {
			t.Errorf("%s: snoop %+v", tc.mode, now)
		}
		if !f.has("bridge-add", monBridge.id, now.args[0]) || !f.has("hangup", old.args[0]) {
			t.Errorf("%s: the new snoop is not in the bridge or the old one is up: %+v", tc.mode, f.rec.calls)
		}
		if m.Mode() != tc.mode {
			t.Errorf("Mode() = %v", m.Mode())
		}
	}
	select {
	case l := <-f.sw.Incoming():
		t.Fatalf("a snoop channel became a leg: %s", l.Info().ID)
	default:
	}
	last, _ := f.rec.lastCall("snoop")
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	<-m.Done()
	if !f.has("hangup", last.args[0]) || !f.has("bridge-remove", monBridge.id, "c3") || !f.has("bridge-delete", monBridge.id) {
		t.Errorf("leaving did not clean up: %+v", f.rec.calls)
	}
	if f.has("bridge-delete", call.id) {
		t.Error("leaving removed the call's bridge")
	}
	if _, ended := sup.Ended(); ended {
		t.Error("the supervisor's leg ended with the monitor")
	}

	// The call ends: the monitor ends with it.
	m, err := f.sw.Monitor(ctx, agent, sup, sip.MonitorBarge)
	if err != nil {
		t.Fatal(err)
	}
	f.cl.send(destroyed("c1", 16))
	select {
	case <-m.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the monitor outlived the call's bridge")
	}
	<-res
}

// has reports whether op was called on id with args starting with want.
func (f *fixture) has(op, id string, want ...string) bool {
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	for _, c := range f.rec.calls {
		if c.op != op || c.id != id || len(c.args) < len(want) {
			continue
		}
		ok := true
		for i, w := range want {
			ok = ok && c.args[i] == w
		}
		if ok {
			return true
		}
	}
	return false
}
