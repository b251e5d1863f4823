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

func (c *fakeClient) LiveRecording() ari.LiveRecording     { return &fakeLiveRecording{c: c} }
func (c *fakeClient) StoredRecording() ari.StoredRecording { return &fakeStored{c: c} }

func (f *fakeChannel) Record(k *ari.Key, name string, o *ari.RecordingOptions) (*ari.LiveRecordingHandle, error) {
	f.c.rec.add("channel-record", k.ID, name, o.Format, o.Exists)
	return nil, nil
}

type fakeLiveRecording struct {
	ari.LiveRecording
	c *fakeClient
}

func (f *fakeLiveRecording) Stop(k *ari.Key) error { f.c.rec.add("record-stop", k.ID); return nil }

type fakeStored struct {
	ari.StoredRecording
	c *fakeClient
}

func (f *fakeStored) Delete(k *ari.Key) error { f.c.rec.add("stored-delete", k.ID); return nil }

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

func recordingEvent(typ, name, cause string) ari.Event {
	d := ari.LiveRecordingData{Name: name, Cause: cause, State: "done"}
	if typ == "RecordingFailed" {
		return &ari.RecordingFailed{EventData: evData(typ), Recording: d}
	}
	return &ari.RecordingFinished{EventData: evData(typ), Recording: d}
}

type recordedLeg interface {
	RecordBridges(string, func(error)) error
	Recorded() time.Duration
	RecordedParts(context.Context) ([]RecordPart, error)
	DeleteRecording(context.Context, string) error
}

// TestRecordBridges drives call recording over the fake ARI client: a
// bridge between two unrecorded legs records nothing; each bridge of a
// recorded caller gets two snoops (spy in: the caller's channel and the
// agent's), each recorded under name-<n>-near / name-<n>-other once it is in
// the application, stopped and hung up before the bridge is removed;
// RecordedParts waits for Asterisk's RecordingFinished; a RecordingFailed
// reports the loss once. It checks the ARI requests, not a file
// (real_test.go TestRealRecording has the file).
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
	if f.rec.has("snoop", "") || f.rec.has("channel-record", "") {
		t.Fatalf("an unrecorded bridge was recorded: %+v", f.rec.calls)
	}

	const name = "hotline-call-1"
	r := caller.(recordedLeg)
	failed := make(chan error, 2)
	if err := r.RecordBridges("a/b", nil); err == nil {
		t.Fatal("a name with a directory accepted")
	}
	if err := r.RecordBridges(name, func(err error) { failed <- err }); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordBridges(name, nil); err == nil {
		t.Fatal("a leg recorded twice")
	}
	for i, agent := range []sip.Leg{a1, a2} {
		f.rec.reset()
		go func() { res <- caller.Bridge(ctx, agent) }()
		br := f.rec.waitCall(t, "bridge-create", "")
		f.rec.waitCall(t, "channel-record", "")
		n := string(rune('1' + i))
		want := map[string]string{"c1": name + "-" + n + "-near", agent.Info().ID: name + "-" + n + "-other"}
		for ch, rec := range want {
			sn := f.rec.waitCall(t, "snoop", ch)
			if !strings.HasPrefix(sn.args[0], snoopPrefix) || sn.args[3] != "in" || sn.args[4] != "none" {
				t.Fatalf("bridge %d: snoop %+v", i+1, sn)
			}
			rc := f.rec.waitCall(t, "channel-record", sn.args[0])
			if rc.args[0] != rec || rc.args[1] != "wav" {
				t.Fatalf("bridge %d: record %+v, want %s", i+1, rc, rec)
			}
			if !f.sw.ownsSnoop(sn.args[0]) {
				t.Fatalf("bridge %d: a recording's snoop is not owned (resync would hang it up)", i+1)
			}
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
		for _, rec := range want {
			stop, del := f.rec.index("record-stop", rec), f.rec.index("bridge-delete", br.id)
			if stop < 0 || del < 0 || stop > del {
				t.Fatalf("bridge %d: recording not stopped before the bridge went: %+v", i+1, f.rec.calls)
			}
			if i == 1 && strings.HasSuffix(rec, "-near") {
				// Asterisk reports a failure (e.g. disk full).
				f.cl.send(recordingEvent("RecordingFailed", rec, "disk full"))
				f.cl.send(recordingEvent("RecordingFailed", rec, "disk full"))
				continue
			}
			f.cl.send(recordingEvent("RecordingFinished", rec, ""))
		}
	}
	if d := r.Recorded(); d <= 0 {
		t.Errorf("Recorded() = %v", d)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	parts, err := r.RecordedParts(wctx)
	if err == nil || len(parts) != 2 || parts[1].Near != name+"-2-near" || parts[1].Other != name+"-2-other" ||
		!parts[0].End.After(parts[0].Start) || parts[1].Start.Before(parts[0].End) {
		t.Fatalf("parts %+v, %v", parts, err)
	}
	if err := r.DeleteRecording(ctx, parts[0].Near); err != nil || !f.rec.has("stored-delete", parts[0].Near) {
		t.Fatalf("delete: %v", err)
	}
	// The failure is reported once.
	select {
	case err := <-failed:
		if !strings.Contains(err.Error(), "disk full") {
			t.Errorf("failure %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RecordingFailed not reported")
	}
	select {
	case err := <-failed:
		t.Fatalf("reported twice: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}
