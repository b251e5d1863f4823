package reporting

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// The spool rule (152-FZ). The writer's journal holds events as they
// came, numbers included, while the database is down. It never holds a
// number longer than the rule that applies to the database: an erasure
// rewrites the journal (and the events still in memory) with the number,
// and the collected digits and notes of its calls, replaced by "erased";
// the retention job replaces values past their period by "expired". Lines
// already replayed are dropped by the rewrite. A running writer is
// scrubbed through its methods; a spool no writer holds, with ScrubSpool's
// functions (EraseFromSpool, PurgeSpool).

// ErrSpoolInUse: a running writer holds the spool; scrub it through that
// writer (serve's API and retention job do).
var ErrSpoolInUse = errors.New("reporting: the spool is in use by a running hotline")

// lockSpool takes the spool's lock file: shared for a writer (several
// may open it in tests), exclusive and non-blocking for an offline scrub.
func lockSpool(journal string, exclusive bool) (*os.File, error) {
	f, err := os.OpenFile(journal+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("reporting: spool lock: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX | syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrSpoolInUse
		}
		return nil, fmt.Errorf("reporting: spool lock: %w", err)
	}
	return f, nil
}

// spoolRule scrubs spooled events: see is shown every event first (to
// learn the calls of a number), then apply changes one in place and
// reports whether it did.
type spoolRule struct {
	see   func(e eventlog.Event)
	apply func(e *eventlog.Event) bool
}

// eraseRule replaces number's caller, and the collected digits and notes
// of its calls (those seen with it and calls given), by Erased.
func eraseRule(number string, calls []string) (spoolRule, error) {
	norm := NormalizeNumber(number)
	if norm == "" {
		return spoolRule{}, fmt.Errorf("reporting: %q is not a phone number", number)
	}
	mine := map[string]bool{}
	for _, c := range calls {
		mine[c] = true
	}
	return spoolRule{
		see: func(e eventlog.Event) {
			if e.CallID != "" && callerNumber(e) == norm {
				mine[e.CallID] = true
			}
		},
		apply: func(e *eventlog.Event) bool {
			changed := false
			if callerNumber(*e) == norm {
				e.Caller, changed = Erased, true
			}
			if e.CallID != "" && mine[e.CallID] {
				for _, f := range personalFields(*e) {
					*e, changed = e.WithString(f.key, Erased), true
				}
			}
			return changed
		},
	}, nil
}

// expireRule replaces the values past their retention at now by Expired
// (the caller's number by the event's own time: the spool does not know
// whether the number called since).
func expireRule(now time.Time, r Retention) spoolRule {
	past := func(t time.Time, keep time.Duration) bool { return keep > 0 && t.Before(now.Add(-keep)) }
	return spoolRule{
		see: func(eventlog.Event) {},
		apply: func(e *eventlog.Event) bool {
			changed := false
			if callerNumber(*e) != "" && past(e.At, r.CallerNumbers) {
				e.Caller, changed = Expired, true
			}
			for _, f := range personalFields(*e) {
				keep := r.Notes
				if f.kind == KindCollected {
					keep = r.Collected
				}
				if past(e.At, keep) {
					*e, changed = e.WithString(f.key, Expired), true
				}
			}
			return changed
		},
	}
}

// EraseNumber scrubs the events of number (see eraseRule) from the
// writer's memory and spool; calls are calls of the number known from
// the database (their later events may be spooled). A batch being
// written is waited for: erase the database after this. It returns the
// events changed.
func (w *Writer) EraseNumber(number string, calls []string) (int, error) {
	r, err := eraseRule(number, calls)
	if err != nil {
		return 0, err
	}
	return w.scrub(r)
}

// PurgeExpired scrubs the values past their retention at now from the
// writer's memory and spool.
func (w *Writer) PurgeExpired(now time.Time, r Retention) (int, error) {
	return w.scrub(expireRule(now, r))
}

func (w *Writer) scrub(r spoolRule) (int, error) {
	w.step.Lock()
	defer w.step.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, errors.New("reporting: writer closed")
	}
	if err := w.jw.Flush(); err != nil {
		return 0, err
	}
	for _, e := range w.mem {
		r.see(e)
	}
	if err := seeFile(w.headPath(), r); err != nil {
		return 0, err
	}
	if err := seeFile(w.opt.JournalPath, r); err != nil {
		return 0, err
	}
	changed := 0
	for i, e := range w.mem {
		e.Data = maps.Clone(e.Data) // shared with the bus's other consumers
		if r.apply(&e) {
			w.mem[i] = e
			changed++
		}
	}
	n, _, c, err := rewriteSpoolFile(w.headPath(), 0, r)
	if err != nil {
		return changed, err
	}
	changed += c
	w.headN = n
	// The journal: lines already replayed are dropped; the rest rewritten.
	n, size, c, err := rewriteSpoolFile(w.opt.JournalPath, w.replayOff, r)
	if err != nil {
		return changed, err
	}
	changed += c
	f, err := os.OpenFile(w.opt.JournalPath, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return changed, fmt.Errorf("reporting: reopen journal: %w", err)
	}
	w.jf.Close()
	w.jf, w.jw = f, bufio.NewWriterSize(f, 256<<10)
	w.jsize, w.replayOff, w.spoolN, w.dirty = size, 0, n, false
	if changed > 0 {
		w.log.Info("reporting: personal data scrubbed from the spool", "events", changed)
	}
	return changed, nil
}

// seeFile shows r every event of a spool file (missing: none).
func seeFile(path string, r spoolRule) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var e eventlog.Event
			if json.Unmarshal(line, &e) == nil {
				r.see(e)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// rewriteSpoolFile rewrites a spool file from offset from with r applied
// (a new file, synced, renamed over the old one); the lines before from
// and lines that do not decode (torn writes) are dropped. A missing file
// stays missing. It returns the lines and bytes kept and the events
// changed.
func rewriteSpoolFile(path string, from int64, r spoolRule) (lines, size int64, changed int, err error) {
	src, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, 0, nil
	}
	if err != nil {
		return 0, 0, 0, err
	}
	defer src.Close()
	if _, err := src.Seek(from, io.SeekStart); err != nil {
		return 0, 0, 0, err
	}
	tmp := path + ".tmp"
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.Remove(tmp) // after the rename: nothing
	bw := bufio.NewWriterSize(dst, 256<<10)
	br := bufio.NewReaderSize(src, 1<<20)
	var buf bytes.Buffer
	for {
		line, rerr := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var e eventlog.Event
			if json.Unmarshal(line, &e) == nil {
				if r.apply(&e) {
					changed++
					buf.Reset()
					if err := json.NewEncoder(&buf).Encode(e); err != nil {
						dst.Close()
						return 0, 0, 0, err
					}
					line = buf.Bytes()
				}
				n, _ := bw.Write(line)
				size += int64(n)
				lines++
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			dst.Close()
			return 0, 0, 0, rerr
		}
	}
	if err := bw.Flush(); err != nil {
		dst.Close()
		return 0, 0, 0, err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return 0, 0, 0, err
	}
	if err := dst.Close(); err != nil {
		return 0, 0, 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, 0, 0, err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return lines, size, changed, nil
}

// scrubSpool applies r to a spool no writer holds (ErrSpoolInUse when one
// does). journal is the writer's JournalPath.
func scrubSpool(journal string, r spoolRule) (int, error) {
	if _, err := os.Stat(journal); errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat(journal + ".head"); errors.Is(err, os.ErrNotExist) {
			return 0, nil // no spool here
		}
	}
	lock, err := lockSpool(journal, true)
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	for _, p := range []string{journal + ".head", journal} {
		if err := seeFile(p, r); err != nil {
			return 0, err
		}
	}
	changed := 0
	for _, p := range []string{journal + ".head", journal} {
		_, _, c, err := rewriteSpoolFile(p, 0, r)
		if err != nil {
			return changed, err
		}
		changed += c
	}
	return changed, nil
}

// EraseFromSpool scrubs number's events from a spool no running writer
// holds (see Writer.EraseNumber); ErrSpoolInUse when one does.
func EraseFromSpool(journal, number string, calls []string) (int, error) {
	r, err := eraseRule(number, calls)
	if err != nil {
		return 0, err
	}
	return scrubSpool(journal, r)
}

// PurgeSpool scrubs the values past their retention at now from a spool
// no running writer holds; ErrSpoolInUse when one does.
func PurgeSpool(journal string, now time.Time, r Retention) (int, error) {
	return scrubSpool(journal, expireRule(now, r))
}
