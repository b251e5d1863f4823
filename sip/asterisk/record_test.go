package asterisk

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/hotline-cc/hotline/sip"
)

func (c *fakeClient) LiveRecording() ari.LiveRecording { return &fakeLiveRecording{c: c} }

func (f *fakeBridge) Record(k *ari.Key, name string, o *ari.RecordingOptions) (*ari.LiveRecordingHandle, error) {
	f.c.rec.add("bridge-record", k.ID, name, o.Format, o.Exists)
	return nil, nil
}

type fakeLiveRecording struct {
	ari.LiveRecording
	c *fakeClient
}

func (f *fakeLiveRecording) Stop(k *ari.Key) error { f.c.rec.add("record-stop", k.ID); return nil }

// index is the position of the first call of op on id, -1 when none.
func (r *recorder) index(op, id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range r.calls {
		if c.op == op && c.id == id {
			return i
		}
	}
	return -1
}

// TestRecordBridges drives call recording over the fake ARI client: a
// bridge between two unrecorded legs records nothing; a recorded caller's
// bridge is recorded under its name (wav, appending), the recording stopped
// before the bridge is removed; the second agent's bridge (escalation)
// appends to the same name. It checks the ARI requests, not a file
// (no real Asterisk here).
func TestRecordBridges(t *testing.T) {
	f := start(t, nil, nil)
	ctx := context.Background()
	caller := f.inbound(t, "c1", "Up")
	a1 := f.inbound(t, "c2", "Up")
	a2 := f.inbound(t, "c3", "Up")
	x := f.inbound(t, "c4", "Up")

	// Unrecorded legs: no recording.
	res := make(chan error, 1)
	go func() { res <- a2.Bridge(ctx, x) }()
	plain := f.rec.waitCall(t, "bridge-create", "")
	f.rec.waitCall(t, "bridge-add", plain.id)
	f.cl.send(destroyed("c4", 16))
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	f.rec.waitCall(t, "bridge-delete", plain.id)
	if _, n := f.rec.lastCall("bridge-record"); n != 0 {
		t.Fatalf("an unrecorded bridge was recorded: %+v", f.rec.calls)
	}

	const name = "2026-12-02/call-1"
	r := caller.(interface {
		RecordBridges(string) error
	})
	if err := r.RecordBridges(name); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordBridges(name); err == nil {
		t.Fatal("a leg recorded twice")
	}
	for i, agent := range []sip.Leg{a1, a2} {
		f.rec.reset()
		go func() { res <- caller.Bridge(ctx, agent) }()
		rc := f.rec.waitCall(t, "bridge-record", "")
		if rc.args[0] != name || rc.args[1] != "wav" || rc.args[2] != "append" {
			t.Fatalf("bridge %d: record %+v", i+1, rc)
		}
		if cr, _ := f.rec.lastCall("bridge-create"); cr.id != rc.id {
			t.Fatalf("bridge %d: recorded %s, created %s", i+1, rc.id, cr.id)
		}
		if f.rec.has("record-stop", name) {
			t.Fatalf("bridge %d: stopped while bridged", i+1)
		}
		end := agent.Info().ID // the first agent hangs up, then the caller
		if i == 1 {
			end = "c1"
		}
		f.cl.send(destroyed(end, 16))
		err := <-res
		if i == 1 && !errors.Is(err, sip.ErrHangup) || i == 0 && err != nil {
			t.Fatalf("bridge %d: %v", i+1, err)
		}
		stop, del := f.rec.index("record-stop", name), f.rec.index("bridge-delete", rc.id)
		if stop < 0 || del < 0 || stop > del {
			t.Fatalf("bridge %d: recording not stopped before the bridge went: %+v", i+1, f.rec.calls)
		}
	}
	if d := caller.(interface{ Recorded() time.Duration }).Recorded(); d <= 0 {
		t.Errorf("Recorded() = %v", d)
	}
}
