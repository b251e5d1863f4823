package reporting

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
)

// waitFor polls cond; the deadline only guards against a hang, it asserts
// nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func numbered(from, to int) []eventlog.Event {
	var evs []eventlog.Event
	base := time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)
	for i := from; i < to; i++ {
		evs = append(evs, eventlog.Event{ID: fmt.Sprintf("ev-%08d", i), At: base.Add(time.Duration(i) * time.Millisecond),
			Type: eventlog.QueueAnnounced, CallID: fmt.Sprintf("c%d", i/10), Queue: "q", Data: map[string]string{"position": "1"}})
	}
	return evs
}

// ownCluster starts a private PostgreSQL the test may stop and restart.
func ownCluster(t *testing.T) (*pgtest.Cluster, *pgxpool.Pool) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs its own PostgreSQL cluster")
	}
	if os.Getenv("DATABASE_URL") != "" {
		t.Skip("stops PostgreSQL: runs only with the throwaway cluster")
	}
	c, err := pgtest.StartCluster(pgtest.ClusterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	cfg, err := pgxpool.ParseConfig(c.DSN("postgres") + "&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	migrated(t, pool)
	return c, pool
}

func countEvents(t *testing.T, pool *pgxpool.Pool) (total, distinct int) {
	t.Helper()
	err := pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT id) FROM events`).Scan(&total, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	return total, distinct
}

// TestWriterSurvivesOutage stops PostgreSQL in the middle of a stream of
// events, keeps publishing (a small buffer forces the journal), restarts
// it, and expects every event stored exactly once, in publish order.
func TestWriterSurvivesOutage(t *testing.T) {
	cluster, pool := ownCluster(t)
	store := NewStore(pool, nil, nil)
	w, err := NewWriter(store, WriterOptions{
		JournalPath: filepath.Join(t.TempDir(), "journal"),
		Buffer:      2000, Batch: 500, FlushEvery: 10 * time.Millisecond,
		WriteTimeout: 3 * time.Second, RetryEvery: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	evs := numbered(0, 30000)
	publish := func(es []eventlog.Event) {
		for _, e := range es {
			w.Publish(e)
		}
	}
	publish(evs[:10000])
	waitFor(t, "first events stored", func() bool { return w.Stats().Written > 0 })
	if err := cluster.Halt(); err != nil {
		t.Fatal(err)
	}
	publish(evs[10000:20000]) // database down
	waitFor(t, "spooling", func() bool { return w.Stats().Spooling && w.Stats().Failures > 0 })
	if s := w.Stats(); s.SpoolEvents == 0 || s.SpoolBytes == 0 {
		t.Fatalf("journal empty while the database is down: %+v", s)
	}
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	publish(evs[20000:])
	publish(evs[5000:5100]) // duplicates (e.g. a producer retrying)
	waitFor(t, "journal replayed", func() bool {
		s := w.Stats()
		return !s.Spooling && s.Buffered == 0 && s.SpoolEvents == 0
	})
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	total, distinct := countEvents(t, pool)
	if total != len(evs) || distinct != len(evs) {
		t.Fatalf("stored %d events (%d distinct), want %d", total, distinct, len(evs))
	}
	// Publish order survives the journal: seq order equals id order.
	var inversions int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM (
		SELECT id < lag(id) OVER (ORDER BY seq) AS inv FROM events) x WHERE inv`).Scan(&inversions); err != nil {
		t.Fatal(err)
	}
	t.Logf("stats %+v, order inversions %d", w.Stats(), inversions)
	if inversions != 0 {
		t.Errorf("%d events stored out of publish order", inversions)
	}
}

// TestWriterJournalAcrossRestart: the database is down when the process
// stops; the next Writer replays the journal (with a torn last line).
func TestWriterJournalAcrossRestart(t *testing.T) {
	cluster, pool := ownCluster(t)
	store := NewStore(pool, nil, nil)
	path := filepath.Join(t.TempDir(), "journal")
	opts := WriterOptions{JournalPath: path, FlushEvery: 10 * time.Millisecond, WriteTimeout: 2 * time.Second, RetryEvery: 50 * time.Millisecond}
	if err := cluster.Halt(); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	evs := numbered(0, 3000)
	for _, e := range evs {
		w.Publish(e)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A crash cut the last write short.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"torn","at":"2024-`)
	f.Close()
	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	w2, err := NewWriter(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s := w2.Stats(); s.SpoolEvents != int64(len(evs)) {
		t.Fatalf("journal holds %d events, want %d", s.SpoolEvents, len(evs))
	}
	w2.Start()
	w2.Publish(numbered(3000, 3001)[0])
	waitFor(t, "replay", func() bool { s := w2.Stats(); return !s.Spooling && s.Buffered == 0 })
	if err := w2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if total, distinct := countEvents(t, pool); total != 3001 || distinct != 3001 {
		t.Fatalf("stored %d (%d distinct), want 3001", total, distinct)
	}
	if st, _ := os.Stat(path); st.Size() != 0 {
		t.Fatalf("journal not truncated: %d bytes", st.Size())
	}
}

// flakySink fails while down is set and records what it stored.
type flakySink struct {
	mu   sync.Mutex
	down bool
	seen map[string]int
	ids  []string
}

func (f *flakySink) InsertEvents(_ context.Context, evs []eventlog.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("down")
	}
	for _, e := range evs {
		if f.seen[e.ID] == 0 {
			f.ids = append(f.ids, e.ID)
		}
		f.seen[e.ID]++
	}
	return nil
}

// TestPublishNeverBlocks: with the sink down, Publish keeps returning
// (everything lands in the journal) and nothing is lost once it is back.
func TestPublishNeverBlocks(t *testing.T) {
	sink := &flakySink{down: true, seen: map[string]int{}}
	w, err := NewWriter(sink, WriterOptions{JournalPath: filepath.Join(t.TempDir(), "j"), Buffer: 100, Batch: 50,
		FlushEvery: 5 * time.Millisecond, RetryEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	evs := numbered(0, 5000)
	for _, e := range evs {
		w.Publish(e)
	}
	if s := w.Stats(); s.Buffered > 100 {
		t.Fatalf("buffer exceeded its bound: %+v", s)
	}
	sink.mu.Lock()
	sink.down = false
	sink.mu.Unlock()
	waitFor(t, "drain", func() bool { s := w.Stats(); return !s.Spooling && s.Buffered == 0 })
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.ids) != len(evs) {
		t.Fatalf("stored %d, want %d", len(sink.ids), len(evs))
	}
	for i, id := range sink.ids {
		if id != evs[i].ID {
			t.Fatalf("event %d is %s, want %s (order)", i, id, evs[i].ID)
		}
	}
}

var _ = pgx.Identifier{}
