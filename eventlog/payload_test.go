package eventlog

import (
	"maps"
	"testing"
	"time"
)

func TestPayloadRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 30, 0, 123456789, time.FixedZone("MSK", 3*3600))
	e := Event{Type: QueueJoined}.
		WithDuration(KeyWait, 12345678*time.Microsecond). // 12.345678 s: stored in whole ms
		WithDuration(KeyEWT, 95*time.Second+900*time.Millisecond).
		WithInt(KeyPosition, 3).
		WithFlag(KeyResumed, true).WithFlag(KeyShort, false).
		WithTime(KeyJoinedAt, at).
		WithString(KeyToQueue, "second-line").WithString(KeyNotes, "")
	// The stored encoding is what it was before the accessors existed:
	// the database, the spool and the live stream read the same.
	want := map[string]string{"wait_ms": "12345", "ewt_s": "95", "position": "3", "resumed": "1",
		"joined_at": "2026-12-02T06:30:00.123456789Z", "to_queue": "second-line", "notes": ""}
	if !maps.Equal(e.Data, want) {
		t.Fatalf("Data = %v, want %v", e.Data, want)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"wait", first(e.Duration(KeyWait)), 12345 * time.Millisecond},
		{"ewt", first(e.Duration(KeyEWT)), 95 * time.Second},
		{"talk absent", second(e.Duration(KeyTalk)), false},
		{"position", first(e.Int(KeyPosition)), 3},
		{"rating absent", second(e.Int(KeyRating)), false},
		{"resumed", e.Flag(KeyResumed), true},
		{"short unset", e.Flag(KeyShort), false},
		{"joined at", first(e.Time(KeyJoinedAt)).Equal(at), true},
		{"to queue", e.String(KeyToQueue), "second-line"},
		{"absent string", e.String(KeyCode), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// TestPayloadInvalid: stored values that do not parse read as absent.
func TestPayloadInvalid(t *testing.T) {
	e := Event{Data: map[string]string{"wait_ms": "-5", "talk_ms": "x", "position": "two", "joined_at": "yesterday", "short": "yes"}}
	if _, ok := e.Duration(KeyWait); ok {
		t.Error("negative duration accepted")
	}
	if _, ok := e.Duration(KeyTalk); ok {
		t.Error("non-numeric duration accepted")
	}
	if _, ok := e.Int(KeyPosition); ok {
		t.Error("non-numeric int accepted")
	}
	if _, ok := e.Time(KeyJoinedAt); ok {
		t.Error("bad time accepted")
	}
	if e.Flag(KeyShort) {
		t.Error(`flag "yes" read as set: only "1" is`)
	}
}

func TestLineKeys(t *testing.T) {
	if KeyLineAgent(2) != "agent2" || KeyLineQueue(1) != "queue1" {
		t.Fatal(KeyLineAgent(2), KeyLineQueue(1))
	}
}

func first[T any](v T, _ bool) T      { return v }
func second[T any](_ T, ok bool) bool { return ok }
