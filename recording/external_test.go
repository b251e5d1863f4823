package recording

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip/media"
)

// monoWAV is an 8 kHz 16-bit mono WAV of n samples of value v, as
// Asterisk's format_wav writes it.
func monoWAV(n int, v int16) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(2*n))
	for range n {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

// fakeSource is what a fake Asterisk recorded.
type fakeSource struct {
	parts   []ExternalPart
	err     error
	files   map[string][]byte
	mu      sync.Mutex
	deleted []string
}

func (f *fakeSource) Parts(context.Context) ([]ExternalPart, error) { return f.parts, f.err }
func (f *fakeSource) Fetch(_ context.Context, name string) ([]byte, error) {
	b, ok := f.files[name]
	if !ok {
		return nil, errors.New("404 Not Found")
	}
	return b, nil
}
func (f *fakeSource) Delete(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, name)
	return nil
}

// TestExternal: a call Asterisk records per party (StartExternal) becomes
// the same stereo file as in native mode: the caller's file on the left,
// the agent's on the right, each bridge at its time from the first with
// silence between, the path from the template, SHA-256 and size in
// recording.stopped, the segments' agents from the answers; Asterisk's
// copies are deleted. A call never bridged keeps nothing; a failure
// Asterisk reports or a file that cannot be fetched leaves no file and a
// recording.failed; one call cannot be recorded twice.
func TestExternal(t *testing.T) {
	at := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	t0 := time.Date(2026, 12, 2, 14, 0, 1, 0, time.UTC)
	two := []ExternalPart{
		{Start: t0, End: t0.Add(time.Second), Caller: "p1c", Agent: "p1a"},
		{Start: t0.Add(1500 * time.Millisecond), End: t0.Add(2 * time.Second), Caller: "p2c", Agent: "p2a"},
	}
	files := map[string][]byte{"p1c": monoWAV(8000, 100), "p1a": monoWAV(7990, 200), "p2c": monoWAV(4000, 300), "p2a": monoWAV(4000, 400)}
	for _, tc := range []struct {
		name    string
		src     *fakeSource
		fail    error // reported by Asterisk during the call
		want    string
		samples int
	}{
		{"two bridges", &fakeSource{parts: two, files: files}, nil, "", 16000},
		{"never bridged", &fakeSource{files: files}, nil, "not-bridged", 0},
		{"failed", &fakeSource{parts: two[:1], files: files}, errors.New("Asterisk could not record p1c: disk full"), "failed", 0},
		{"missing file", &fakeSource{parts: []ExternalPart{{Start: t0, End: t0, Caller: "p1c", Agent: "nope"}}, files: files}, nil, "failed", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var evs []eventlog.Event
			dir := t.TempDir()
			svc, err := New(Config{Dir: dir, Template: "{date}/{queue}-{call}.wav", Now: func() time.Time { return at },
				Publisher: eventlog.PublisherFunc(func(e eventlog.Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() })})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			name, fail, err := svc.StartExternal(ctx, "call/1", "sales", tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if name != "hotline-call_1" {
				t.Fatalf("name %q", name)
			}
			if _, _, err := svc.StartExternal(ctx, "call/1", "sales", tc.src); err == nil {
				t.Fatal("a call recorded twice")
			}
			svc.Publish(eventlog.Event{Type: eventlog.QueueAnswered, CallID: "call/1", Agent: "r1", At: t0.Add(-time.Second)})
			svc.Publish(eventlog.Event{Type: eventlog.EscalationAnswered, CallID: "call/1", Agent: "r3", At: t0.Add(1400 * time.Millisecond)})
			if tc.fail != nil {
				fail(tc.fail)
				fail(tc.fail) // once
			}
			svc.Stop(ctx, "call/1")
			mu.Lock()
			defer mu.Unlock()
			last := evs[len(evs)-1]
			rel := filepath.Join("2026-12-02", "sales-call_1.wav")
			if evs[0].Type != eventlog.RecordingStarted || evs[0].String(eventlog.KeyRecordingFile) != rel {
				t.Fatalf("events %+v", evs)
			}
			_, statErr := os.Stat(filepath.Join(dir, rel))
			switch tc.want {
			case "failed":
				if len(evs) != 2 || last.Type != eventlog.RecordingFailed || last.Reason != "write" {
					t.Fatalf("events %+v", evs)
				}
				if statErr == nil {
					t.Error("a file was left")
				}
			case "not-bridged":
				if last.Type != eventlog.RecordingStopped || last.Reason != "not-bridged" || statErr == nil {
					t.Fatalf("events %+v, file %v", evs, statErr)
				}
			default:
				b, err := os.ReadFile(filepath.Join(dir, rel))
				if err != nil {
					t.Fatal(err)
				}
				if last.Type != eventlog.RecordingStopped || func() int { n, _ := last.Int(eventlog.KeyRecordingSize); return n }() != len(b) {
					t.Fatalf("events %+v", evs)
				}
				sum := sha256.Sum256(b)
				if last.String(eventlog.KeyRecordingSHA256) != hex.EncodeToString(sum[:]) {
					t.Error("SHA-256 differs")
				}
				if d, _ := last.Duration(eventlog.KeyRecordingLength); d != 2*time.Second {
					t.Errorf("duration %v", d)
				}
				if h := wavHeader(uint32(tc.samples * 4)); !bytes.Equal(b[:44], h[:]) || len(b) != 44+tc.samples*4 {
					t.Fatalf("header/size: %d bytes", len(b))
				}
				frame := func(i int) (int16, int16) {
					return int16(binary.LittleEndian.Uint16(b[44+4*i:])), int16(binary.LittleEndian.Uint16(b[46+4*i:]))
				}
				for _, c := range []struct {
					i    int
					l, r int16
				}{{0, 100, 200}, {7989, 100, 200}, {7995, 100, 0}, {9000, 0, 0}, {12000, 300, 400}, {15999, 300, 400}} {
					if l, r := frame(c.i); l != c.l || r != c.r {
						t.Errorf("sample %d: %d/%d, want %d/%d", c.i, l, r, c.l, c.r)
					}
				}
			}
			if tc.want != "not-bridged" && len(tc.src.deleted) != 2*len(tc.src.parts) {
				t.Errorf("Asterisk's copies deleted: %v", tc.src.deleted)
			}
		})
	}
}

// TestAsteriskWAV: Asterisk's WAV is read by its chunks (media.ParseWAV,
// the prompts' parser), and a header whose size was never completed still
// gives the samples; other formats are refused.
func TestAsteriskWAV(t *testing.T) {
	w := monoWAV(10, 7)
	open := append([]byte(nil), w...)
	binary.LittleEndian.PutUint32(open[40:], 0)
	stereo := append([]byte(nil), w...)
	binary.LittleEndian.PutUint16(stereo[22:], 2)
	for _, tc := range []struct {
		name string
		b    []byte
		n    int
		ok   bool
	}{{"complete", w, 10, true}, {"size not written", open, 10, true}, {"stereo", stereo, 0, false}, {"garbage", []byte("RIFFxxxx"), 0, false}} {
		pcm, err := media.ParseWAV(tc.b)
		if (err == nil) != tc.ok || len(pcm) != tc.n {
			t.Errorf("%s: %d samples, %v", tc.name, len(pcm), err)
		}
	}
}
