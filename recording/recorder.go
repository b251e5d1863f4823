package recording

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/sip/media"
)

// Result is what a finished recording is.
type Result struct {
	Path     string        // the file (absolute); removed when Err is set
	Origin   time.Duration // when the first bridge began, since the tap was made
	Duration time.Duration
	Size     int64
	SHA256   string
	Segments []Segment
	Dropped  uint64 // packets lost to a full tap buffer
	Late     uint64 // samples that came after their place was written
	Err      error  // the file could not be written: it is gone
	// Empty: the call was never bridged (the caller left while waiting,
	// or took a callback); there was nothing to record and the file is gone.
	Empty bool
}

// drainEvery is how often a recorder empties its tap: 10 batches a
// second, well inside the tap's buffer (recording.buffer, 5 s by default).
const drainEvery = 100 * time.Millisecond

// Recorder writes one call's tap into one WAV file on its own goroutine.
type Recorder struct {
	tap    *media.Tap
	f      *os.File
	path   string
	tl     *timeline
	onFail func(error)

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	res      Result
}

// Record creates path (and its directories) and starts writing tap into
// it. onFail, if set, is called once from the recorder's goroutine when a
// write fails (the recording is then lost; the tap keeps being drained).
func Record(path string, tap *media.Tap, onFail func(error)) (*Recorder, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, err
	}
	h := wavHeader(0)
	if _, err := f.Write(h[:]); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	r := &Recorder{tap: tap, f: f, path: path, tl: newTimeline(f), onFail: onFail,
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r, nil
}

func (r *Recorder) marks() {
	for _, m := range r.tap.TakeMarks() {
		r.tl.mark(m)
	}
}

func (r *Recorder) run() {
	defer close(r.done)
	failed := false
	check := func() {
		if r.tl.err != nil && !failed {
			failed = true
			if r.onFail != nil {
				r.onFail(r.tl.err)
			}
		}
	}
	// The tap's buffer is drained in batches (drainEvery), not per packet:
	// one wake-up per batch instead of one per packet. Marks are taken
	// first; packets already queued are older than any mark taken later.
	pk := r.tap.Packets()
	tick := time.NewTicker(drainEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			r.marks()
			for n := len(pk); n > 0; n-- {
				p := <-pk
				r.tl.packet(&p)
			}
			check()
		case <-r.stop:
			at := r.tap.Now()
			r.marks()
		drain:
			for {
				select {
				case p := <-pk:
					r.tl.packet(&p)
				default:
					break drain
				}
			}
			r.tl.finish(at)
			check()
			r.res = r.close()
			return
		}
	}
}

// close completes the header and hashes the file, or removes it.
func (r *Recorder) close() Result {
	res := Result{Path: r.path, Origin: r.tl.origin, Duration: r.tl.duration(), Segments: r.tl.segs, Dropped: r.tap.Dropped(), Late: r.tl.late}
	fail := func(err error) Result {
		r.f.Close()
		os.Remove(r.path)
		res.Err = err
		return res
	}
	if r.tl.err != nil {
		return fail(r.tl.err)
	}
	if !r.tl.started {
		r.f.Close()
		os.Remove(r.path)
		res.Empty = true
		return res
	}
	data := uint64(r.tl.committed) * frameBytes
	if data > 1<<32-1-36 {
		return fail(errors.New("recording longer than a WAV file holds"))
	}
	h := wavHeader(uint32(data))
	if _, err := r.f.WriteAt(h[:], 0); err != nil {
		return fail(err)
	}
	if err := r.f.Sync(); err != nil {
		return fail(err)
	}
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	sum := sha256.New()
	n, err := io.Copy(sum, r.f)
	if err != nil {
		return fail(err)
	}
	if n != headerSize+int64(data) {
		return fail(fmt.Errorf("recording: file is %d bytes, want %d", n, headerSize+int64(data)))
	}
	if err := r.f.Close(); err != nil {
		os.Remove(r.path)
		res.Err = err
		return res
	}
	res.Size, res.SHA256 = n, hex.EncodeToString(sum.Sum(nil))
	return res
}

// Stop ends the recording (at the last unbridge, or now if the call is
// still bridged), finishes the file and returns what was recorded.
func (r *Recorder) Stop() Result {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
	return r.res
}
