package recording

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/sip/media"
)

// record makes a finished recording of callID started at at: a real file
// written by the recorder from a tap with one bridge, and its row.
func record(t *testing.T, s *Service, eng *media.Engine, callID string, at time.Time) string {
	t.Helper()
	s.now = func() time.Time { return at }
	tap, err := s.Start(context.Background(), callID, "support")
	if err != nil {
		t.Fatal(err)
	}
	a, err := eng.NewStream(media.StreamConfig{Codec: media.PCMA})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := eng.NewStream(media.StreamConfig{Codec: media.PCMA})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.SetTap(tap)
	unbridge := a.Bridge(b)
	unbridge()
	s.Stop(context.Background(), callID)
	f, ok, err := s.File(context.Background(), callID)
	if err != nil || !ok {
		t.Fatalf("%s: no playable recording (%v)", callID, err)
	}
	return f.Abs
}

// TestRetention: the retention job deletes an expired file and marks its
// row, keeps a fresh one; erasure deletes the recordings of given calls.
func TestRetention(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	if err := Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, db.Pool); err != nil { // idempotent
		t.Fatal(err)
	}
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr("127.0.3.13"), PortMin: 45000, PortMax: 45099})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var events []eventlog.Event
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	s, err := New(Config{Dir: t.TempDir(), Retention: 90 * 24 * time.Hour, Store: NewStore(db.Pool),
		Registry: prometheus.NewRegistry(), Publisher: eventlog.PublisherFunc(func(e eventlog.Event) { events = append(events, e) })})
	if err != nil {
		t.Fatal(err)
	}
	// A recording a dead process left two days ago: an empty-header file
	// and its row still "recording".
	s.now = func() time.Time { return now.Add(-48 * time.Hour) }
	if _, err := s.Start(ctx, "c-crashed", "support"); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	crashed := filepath.Join(s.Dir(), s.active["c-crashed"].rel)
	defer s.active["c-crashed"].rec.Stop() // the test's own goroutine, at its end
	delete(s.active, "c-crashed")          // the process is gone: nobody stops it
	s.mu.Unlock()
	old := record(t, s, eng, "c-old", now.Add(-91*24*time.Hour))
	fresh := record(t, s, eng, "c-fresh", now.Add(-89*24*time.Hour))
	other := record(t, s, eng, "c-other", now.Add(-time.Hour))
	n, err := s.Purge(ctx, now)
	if err != nil || n != 1 {
		t.Fatalf("purge: %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("expired file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh file gone: %v", err)
	}
	if _, err := os.Stat(crashed); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the crashed recording's file is still there: %v", err)
	}
	if row, _, _ := s.cfg.Store.ByCall(ctx, "c-crashed"); row.State != StateFailed || !strings.Contains(row.Error, "interrupted") {
		t.Errorf("the crashed recording's row: %s %q", row.State, row.Error)
	}
	row, ok, err := s.cfg.Store.ByCall(ctx, "c-old")
	if err != nil || !ok || row.State != StateDeleted || row.DeletedWhy != "retention" || row.DeletedAt == nil {
		t.Errorf("expired row: %+v %v %v", row, ok, err)
	}
	if _, ok, _ := s.File(ctx, "c-old"); ok {
		t.Error("a deleted recording is still playable")
	}
	if n, err := s.Purge(ctx, now); err != nil || n != 0 {
		t.Errorf("second purge: %d, %v; want 0", n, err)
	}
	// Erasure of one caller's calls.
	if n, err := s.EraseCalls(ctx, []string{"c-other", "c-unknown"}); err != nil || n != 1 {
		t.Fatalf("erase: %d, %v", n, err)
	}
	if _, err := os.Stat(other); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("erased file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("another call's file gone: %v", err)
	}
	var deleted []string
	for _, e := range events {
		if e.Type == eventlog.RecordingDeleted {
			deleted = append(deleted, e.CallID+":"+e.Reason)
		}
	}
	if len(deleted) != 2 || deleted[0] != "c-old:retention" || deleted[1] != "c-other:erased" {
		t.Errorf("deleted events %v", deleted)
	}
	if got := filepath.Dir(filepath.Dir(fresh)); got != s.Dir() {
		t.Errorf("file %s not under {date}/ of %s", fresh, s.Dir())
	}
}

// TestNeverBridged: a recorded call that never reached an agent (the
// caller gave up waiting) leaves no file and no row.
func TestNeverBridged(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	if err := Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	var events []eventlog.Event
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, Store: NewStore(db.Pool), Publisher: eventlog.PublisherFunc(func(e eventlog.Event) { events = append(events, e) })})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, "c-abandoned", "support"); err != nil {
		t.Fatal(err)
	}
	s.Stop(ctx, "c-abandoned")
	var files []string
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
	if _, ok, err := s.cfg.Store.ByCall(ctx, "c-abandoned"); ok || err != nil {
		t.Errorf("row left (%v)", err)
	}
	if len(events) != 2 || events[1].Type != eventlog.RecordingStopped || events[1].Reason != "not-bridged" {
		t.Errorf("events %+v", events)
	}
}
