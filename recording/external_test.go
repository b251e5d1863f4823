package recording

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// TestExternal: a call Asterisk records (StartExternal) gets the name from
// the path template without ".wav", its file marked as Asterisk's; Stop
// reports the bridged time and the agents who answered; a call never
// bridged keeps nothing; one call cannot be recorded twice. (The row is the
// same code as native mode's: store.begin and store.finish.)
func TestExternal(t *testing.T) {
	var mu sync.Mutex
	var evs []eventlog.Event
	at := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	svc, err := New(Config{Dir: t.TempDir(), Template: "{date}/{queue}-{call}.wav", Now: func() time.Time { return at },
		Publisher: eventlog.PublisherFunc(func(e eventlog.Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() })})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		call    string
		bridged time.Duration
		want    string // reason of recording.stopped
	}{{"call-1", 3035 * time.Millisecond, ""}, {"call-2", 0, "not-bridged"}} {
		mu.Lock()
		evs = nil
		mu.Unlock()
		name, err := svc.StartExternal(ctx, tc.call, "sales", func() time.Duration { return tc.bridged })
		if err != nil {
			t.Fatal(err)
		}
		if want := "2026-12-02/sales-" + tc.call; name != want {
			t.Fatalf("name %q, want %q", name, want)
		}
		if _, err := svc.StartExternal(ctx, tc.call, "sales", nil); err == nil {
			t.Fatal("a call recorded twice")
		}
		svc.Publish(eventlog.Event{Type: eventlog.QueueAnswered, CallID: tc.call, Agent: "r1", At: at})
		svc.Stop(ctx, tc.call)
		mu.Lock()
		if len(evs) != 2 || evs[0].Type != eventlog.RecordingStarted || evs[1].Type != eventlog.RecordingStopped {
			t.Fatalf("%s: events %+v", tc.call, evs)
		}
		file := evs[0].String(eventlog.KeyRecordingFile)
		if file != ExternalPrefix+name+".wav" || !External(file) {
			t.Errorf("%s: file %q", tc.call, file)
		}
		stop := evs[1]
		mu.Unlock()
		if stop.Reason != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.call, stop.Reason, tc.want)
		}
		if d, _ := stop.Duration(eventlog.KeyRecordingLength); tc.want == "" && (d != tc.bridged || stop.String(eventlog.KeyRecordingFile) != file) {
			t.Errorf("%s: stopped %v %q", tc.call, d, stop.String(eventlog.KeyRecordingFile))
		}
	}
	if _, ok, _ := svc.File(ctx, "call-1"); ok {
		t.Error("an Asterisk recording is playable without a store")
	}
}
