package reporting

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// Sink stores events idempotently by ID (Store implements it).
type Sink interface {
	InsertEvents(ctx context.Context, evs []eventlog.Event) error
}

// WriterOptions configure a Writer. Zero values take the defaults.
type WriterOptions struct {
	// JournalPath is the local append-only spool file (required).
	JournalPath string
	// Buffer is the in-memory bound in events (default 100000). When it is
	// full, Publish appends to the journal instead.
	Buffer int
	// Batch is the most events per database write (default 5000).
	Batch int
	// FlushEvery bounds how long an event waits in memory (default 200 ms);
	// it is also the journal's fsync period.
	FlushEvery time.Duration
	// WriteTimeout: a write slower than this counts as failed and its
	// events go to the journal (default 5 s).
	WriteTimeout time.Duration
	// RetryEvery is how often the database is retried while spooling
	// (default 1 s).
	RetryEvery time.Duration
	// OnWritten is called (from the writer goroutine) after events reached
	// the database, e.g. to wake the projector.
	OnWritten func(n int)
	// Urgent, when set, says which events are written within UrgentEvery
	// instead of FlushEvery (a call's answer and end: what a crash must
	// not take from the report). Awaited events (Await) are written at
	// once. The writer still batches: what arrives meanwhile goes along.
	Urgent func(e eventlog.Event) bool
	// UrgentEvery bounds how long an urgent event waits (default 20 ms).
	UrgentEvery time.Duration
	// Now, when set, says which events are written at once, like an
	// awaited one (a call's end: a caller's phone sees the call end before
	// hotline logs it, so the window a kill can take it from is kept to one
	// database write).
	Now    func(e eventlog.Event) bool
	Logger *slog.Logger
}

// WriterStats are the writer's gauges (exported as metrics).
type WriterStats struct {
	Buffered    int    // events in memory
	SpoolEvents int64  // events in the journal not yet replayed
	SpoolBytes  int64  // bytes of the journal not yet replayed
	Written     uint64 // events written to the database (from memory or journal)
	Spooled     uint64 // events ever appended to the journal
	Failures    uint64 // failed database writes
	Spooling    bool   // the journal holds the newest events
}

// Writer stores events off the call path: Publish appends to a bounded
// in-memory buffer; one goroutine writes batches to the Sink. When the
// database fails or is slower than WriteTimeout, the events in memory go to
// the journal's head file (JournalPath + ".head", fsync'd at once) and every
// new event is appended by Publish to the journal itself (JSON lines,
// fsync'd every FlushEvery) until the journal is empty again. When the
// database answers, memory, then the head, then the journal are written, so
// events reach the database in publish order; the journal is then
// truncated. If memory fills while the database is merely slow, Publish
// starts spooling the same way. The Sink is idempotent by event ID, so
// a replay that is interrupted (crash, new outage) and repeated duplicates
// nothing. Events still only in memory are lost if the process dies; the
// journal survives restarts and is replayed by the next Writer.
type Writer struct {
	sink Sink
	opt  WriterOptions
	log  *slog.Logger

	// step is held for one step of the writer goroutine (a batch from
	// memory, the head's replay, a chunk of the journal), so that Scrub
	// never rewrites the spool under a replay or misses a batch in
	// flight. Taken before mu.
	step      sync.Mutex
	lock      *os.File // the spool's lock file, held shared (see ScrubSpool)
	mu        sync.Mutex
	mem       []eventlog.Event
	spooling  bool
	jf        *os.File // append handle
	jw        *bufio.Writer
	jsize     int64 // bytes appended (incl. buffered)
	replayOff int64 // bytes already replayed to the database
	spoolN    int64 // events in journal after replayOff
	headN     int64 // events in the head file (replayed before the journal)
	dirty     bool
	closed    bool
	stats     WriterStats
	encBuf    bytes.Buffer
	// waiters are Await's: closed once their event is durable (in the
	// database, or fsync'd to the spool); spoolWait those appended to the
	// journal, closed at its next fsync.
	waiters   map[string]chan struct{}
	spoolWait []chan struct{}

	wake chan struct{}
	soon chan struct{} // an urgent event: write within UrgentEvery
	stop chan struct{}
	done chan struct{}
}

// NewWriter opens (or creates) the journal. If it holds events from an
// earlier run, they are replayed before anything newer. Call Start.
func NewWriter(sink Sink, opt WriterOptions) (*Writer, error) {
	if opt.JournalPath == "" {
		return nil, errors.New("reporting: WriterOptions.JournalPath is required")
	}
	if opt.Buffer <= 0 {
		opt.Buffer = 100000
	}
	if opt.Batch <= 0 {
		opt.Batch = 5000
	}
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = 200 * time.Millisecond
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 5 * time.Second
	}
	if opt.UrgentEvery <= 0 {
		opt.UrgentEvery = 20 * time.Millisecond
	}
	if opt.RetryEvery <= 0 {
		opt.RetryEvery = time.Second
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lock, err := lockSpool(opt.JournalPath, false)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(opt.JournalPath, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("reporting: open journal: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		lock.Close()
		f.Close()
		return nil, err
	}
	w := &Writer{
		sink: sink, opt: opt, log: log, lock: lock,
		mem: make([]eventlog.Event, 0, min(opt.Buffer, 65536)),
		jf:  f, jw: bufio.NewWriterSize(f, 256<<10), jsize: st.Size(),
		wake: make(chan struct{}, 1), soon: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if err := w.openSpool(f, st.Size()); err != nil {
		lock.Close()
		return nil, err
	}
	return w, nil
}

// openSpool reads the state of an existing head and journal.
func (w *Writer) openSpool(f *os.File, size int64) error {
	log, opt := w.log, w.opt
	if hf, err := os.OpenFile(w.headPath(), os.O_RDWR, 0); err == nil {
		hst, err := hf.Stat()
		if err == nil && hst.Size() > 0 {
			_, err = dropTornTail(hf, hst.Size(), log)
		}
		hf.Close()
		if err != nil {
			f.Close()
			return err
		}
		if w.headN, err = countLines(w.headPath()); err != nil {
			f.Close()
			return err
		}
		w.spooling = w.headN > 0
	}
	if size > 0 {
		size, err := dropTornTail(f, size, log)
		if err != nil {
			f.Close()
			return err
		}
		w.jsize = size
		n, err := countLines(opt.JournalPath)
		if err != nil {
			f.Close()
			return err
		}
		w.spooling, w.spoolN = true, n
		log.Info("reporting: journal from an earlier run will be replayed", "path", opt.JournalPath, "events", n)
	}
	return nil
}

// dropTornTail truncates an unterminated last line (a write cut by a crash)
// so that later appends start on a line of their own.
func dropTornTail(f *os.File, size int64, log *slog.Logger) (int64, error) {
	const chunk = 64 << 10
	end := size
	for end > 0 {
		start := max(end-chunk, 0)
		buf := make([]byte, end-start)
		if _, err := f.ReadAt(buf, start); err != nil {
			return size, err
		}
		if end == size && buf[len(buf)-1] == '\n' {
			return size, nil
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	log.Error("reporting: dropping torn journal tail", "bytes", size-end)
	if err := f.Truncate(end); err != nil {
		return size, err
	}
	return end, nil
}

func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 256<<10)
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Start runs the writer goroutine until Close.
func (w *Writer) Start() { go w.run() }

// Publish queues an event. It never waits for the database or the disk's
// fsync: at worst it encodes the event into the journal's buffer.
func (w *Writer) Publish(e eventlog.Event) {
	w.mu.Lock()
	_, awaited := w.waiters[e.ID]
	now := awaited || (w.opt.Now != nil && w.opt.Now(e))
	urgent := !now && w.opt.Urgent != nil && w.opt.Urgent(e)
	if !w.spooling && !w.closed && len(w.mem) < w.opt.Buffer {
		w.mem = append(w.mem, e)
		full := len(w.mem) >= w.opt.Batch
		w.mu.Unlock()
		if full || now {
			w.signal()
		} else if urgent {
			select {
			case w.soon <- struct{}{}:
			default:
			}
		}
		return
	}
	if !w.spooling {
		w.log.Warn("reporting: event buffer full, spooling to journal", "buffer", w.opt.Buffer)
		w.spooling = true
	}
	if err := w.appendLocked(e); err != nil {
		w.log.Error("reporting: journal append failed, event lost", "id", e.ID, "err", err)
	}
	if awaited {
		w.spoolWait = append(w.spoolWait, w.waiters[e.ID])
		delete(w.waiters, e.ID)
	}
	w.mu.Unlock()
	if now {
		w.signal()
	}
}

// Await returns a channel closed once the event with this ID, published
// after the call, is durable: written to the database, or (while the
// database is unavailable) fsync'd to the spool; or when the writer
// closes. Publishing an awaited event makes the writer write at once.
// Call forget when no longer waiting (e.g. on a timeout).
func (w *Writer) Await(id string) (durable <-chan struct{}, forget func()) {
	ch := make(chan struct{})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		close(ch)
		return ch, func() {}
	}
	if w.waiters == nil {
		w.waiters = map[string]chan struct{}{}
	}
	w.waiters[id] = ch
	return ch, func() {
		w.mu.Lock()
		if w.waiters[id] == ch {
			delete(w.waiters, id)
		}
		w.mu.Unlock()
	}
}

// releaseLocked closes the waiters of evs (now durable).
func (w *Writer) releaseLocked(evs []eventlog.Event) {
	if len(w.waiters) == 0 {
		return
	}
	for _, e := range evs {
		if ch, ok := w.waiters[e.ID]; ok {
			close(ch)
			delete(w.waiters, e.ID)
		}
	}
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Writer) appendLocked(e eventlog.Event) error {
	w.encBuf.Reset()
	if err := json.NewEncoder(&w.encBuf).Encode(e); err != nil { // Encode adds '\n'
		return err
	}
	n, err := w.jw.Write(w.encBuf.Bytes())
	w.jsize += int64(n)
	if err != nil {
		return err
	}
	w.spoolN++
	w.stats.Spooled++
	w.dirty = true
	return nil
}

// Stats returns the current gauges.
func (w *Writer) Stats() WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Buffered = len(w.mem)
	s.SpoolEvents = w.spoolN + w.headN
	s.SpoolBytes = w.jsize - w.replayOff
	s.Spooling = w.spooling
	return s
}

// Close flushes what it can (to the database, else to the journal), syncs
// and closes the journal. Events published after Close go to the journal
// buffer and are lost; stop producers first.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	select {
	case <-w.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, ch := range w.waiters { // what is left is lost or spooled: stop waiting
		close(ch)
		delete(w.waiters, id)
	}
	err := w.jw.Flush()
	if e := w.jf.Sync(); err == nil {
		err = e
	}
	if e := w.jf.Close(); err == nil {
		err = e
	}
	w.lock.Close()
	return err
}

func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.opt.FlushEvery)
	defer tick.Stop()
	urgent := time.NewTimer(time.Hour)
	urgent.Stop()
	armed := false
	var retryAt time.Time
	for {
		stopping := false
		select {
		case <-w.wake:
		case <-tick.C:
		case <-w.soon:
			if !armed {
				armed = true
				urgent.Reset(w.opt.UrgentEvery)
			}
			continue
		case <-urgent.C:
		case <-w.stop:
			stopping = true
		}
		if armed {
			urgent.Stop() // written now
			armed = false
		}
		if time.Now().After(retryAt) || stopping {
			if !w.drain(stopping) {
				retryAt = time.Now().Add(w.opt.RetryEvery)
			}
		}
		w.sync()
		if stopping {
			w.mu.Lock()
			if len(w.mem) > 0 { // database down at shutdown: keep them
				w.spoolMemLocked()
			}
			w.mu.Unlock()
			w.sync()
			return
		}
	}
}

// drain writes memory and replays the journal; false after a failure.
func (w *Writer) drain(stopping bool) bool {
	for {
		w.step.Lock()
		ok, more := w.drainStep(stopping)
		w.step.Unlock()
		if !more {
			return ok
		}
	}
}

// drainStep writes one batch from memory or replays one step of the
// spool; more reports whether to go on, ok whether all went well.
func (w *Writer) drainStep(stopping bool) (ok, more bool) {
	w.mu.Lock()
	n := min(len(w.mem), w.opt.Batch)
	batch := append([]eventlog.Event(nil), w.mem[:n]...)
	w.mem = append(w.mem[:0], w.mem[n:]...)
	spooling := w.spooling
	w.mu.Unlock()
	if n > 0 {
		if err := w.write(batch); err != nil {
			w.mu.Lock()
			w.mem = append(batch, w.mem...) // oldest first
			w.spoolMemLocked()
			w.mu.Unlock()
			return false, false
		}
		return true, true
	}
	if !spooling {
		return true, false
	}
	if stopping {
		return true, false // replay on the next start
	}
	if err := w.replayHead(); err != nil {
		return false, false
	}
	done, err := w.replayChunk()
	if err != nil {
		return false, false
	}
	return true, !done
}

// spoolMemLocked moves the in-memory events to the head file. They are
// older than anything in the journal (which may already hold events that
// Publish spooled while they were being written), so they go to a file
// that is replayed first: the head, written only when memory is handed
// over, so at most Buffer + Batch events, and fsync'd at once.
func (w *Writer) spoolMemLocked() {
	if !w.spooling {
		w.log.Warn("reporting: database unavailable, spooling to journal", "path", w.opt.JournalPath)
	}
	w.spooling = true
	if len(w.mem) == 0 {
		return
	}
	f, err := os.OpenFile(w.headPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err == nil {
		bw := bufio.NewWriterSize(f, 256<<10)
		enc := json.NewEncoder(bw)
		for _, e := range w.mem {
			if err = enc.Encode(e); err != nil {
				break
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		if err == nil {
			err = f.Sync()
		}
		if e := f.Close(); err == nil {
			err = e
		}
	}
	if err != nil {
		w.log.Error("reporting: journal head write failed, events lost", "events", len(w.mem), "err", err)
	} else {
		w.headN += int64(len(w.mem))
		w.stats.Spooled += uint64(len(w.mem))
		w.releaseLocked(w.mem)
	}
	w.mem = w.mem[:0]
}

func (w *Writer) headPath() string { return w.opt.JournalPath + ".head" }

// replayHead writes the head file's events (all older than the journal's)
// and removes it.
func (w *Writer) replayHead() error {
	w.mu.Lock()
	n := w.headN
	w.mu.Unlock()
	if n == 0 {
		return nil
	}
	st, err := os.Stat(w.headPath())
	if errors.Is(err, os.ErrNotExist) {
		w.mu.Lock()
		w.headN = 0
		w.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	for off := int64(0); off < st.Size(); {
		evs, next, err := readJournal(w.headPath(), off, st.Size(), w.opt.Batch, w.log)
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			if err := w.write(evs); err != nil {
				return err
			}
		}
		if next == off {
			break
		}
		off = next
	}
	if err := os.Remove(w.headPath()); err != nil {
		return err
	}
	w.mu.Lock()
	w.headN = 0
	w.mu.Unlock()
	return nil
}

func (w *Writer) write(batch []eventlog.Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.opt.WriteTimeout)
	defer cancel()
	if err := w.sink.InsertEvents(ctx, batch); err != nil {
		w.mu.Lock()
		w.stats.Failures++
		w.mu.Unlock()
		w.log.Warn("reporting: event write failed", "events", len(batch), "err", err)
		return err
	}
	w.mu.Lock()
	w.stats.Written += uint64(len(batch))
	w.releaseLocked(batch)
	w.mu.Unlock()
	if w.opt.OnWritten != nil {
		w.opt.OnWritten(len(batch))
	}
	return nil
}

// replayChunk writes up to Batch journaled events; done when the journal
// was fully replayed and truncated.
func (w *Writer) replayChunk() (done bool, err error) {
	w.mu.Lock()
	if err := w.jw.Flush(); err != nil {
		w.mu.Unlock()
		return false, err
	}
	off, end := w.replayOff, w.jsize
	w.mu.Unlock()
	if off < end {
		evs, next, err := readJournal(w.opt.JournalPath, off, end, w.opt.Batch, w.log)
		if err != nil {
			w.log.Error("reporting: journal read failed", "err", err)
			return false, err
		}
		if len(evs) > 0 {
			if err := w.write(evs); err != nil {
				return false, err
			}
		}
		w.mu.Lock()
		w.replayOff = next
		w.spoolN -= int64(len(evs))
		w.mu.Unlock()
		if next < end {
			return false, nil
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.jw.Flush(); err != nil {
		return false, err
	}
	if w.jsize != w.replayOff {
		return false, nil // more arrived meanwhile
	}
	if err := w.jf.Truncate(0); err != nil {
		return false, err
	}
	if err := w.jf.Sync(); err != nil {
		return false, err
	}
	w.jsize, w.replayOff, w.spoolN, w.spooling, w.dirty = 0, 0, 0, false, false
	w.log.Info("reporting: journal replayed, back to direct writes")
	return true, nil
}

// readJournal decodes up to max events from [off, end) and returns the
// offset after the last complete line read. A corrupt line (a torn write
// from a crash) is logged and skipped.
func readJournal(path string, off, end int64, max int, log *slog.Logger) ([]eventlog.Event, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, off, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.NewSectionReader(f, off, end-off), 1<<20)
	var evs []eventlog.Event
	pos := off
	for len(evs) < max {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			if len(line) > 0 && pos+int64(len(line)) >= end {
				// An unterminated tail: a torn write, skip it.
				log.Error("reporting: skipping torn journal line", "offset", pos, "bytes", len(line))
				pos += int64(len(line))
			}
			break
		}
		if err != nil {
			return evs, pos, err
		}
		pos += int64(len(line))
		var e eventlog.Event
		if err := json.Unmarshal(line, &e); err != nil {
			log.Error("reporting: skipping corrupt journal line", "offset", pos-int64(len(line)), "err", err)
			continue
		}
		evs = append(evs, e)
	}
	return evs, pos, nil
}

func (w *Writer) sync() {
	w.mu.Lock()
	if !w.dirty {
		w.mu.Unlock()
		return
	}
	err := w.jw.Flush()
	w.dirty = false
	synced := w.spoolWait
	w.spoolWait = nil
	w.mu.Unlock()
	if err == nil {
		err = w.jf.Sync()
	}
	if err != nil {
		w.log.Error("reporting: journal sync failed", "err", err)
	}
	for _, ch := range synced { // durable, or as durable as the disk lets them be
		close(ch)
	}
}
