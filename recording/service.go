package recording

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip/media"
)

// Modes of a recording policy.
const (
	ModeOff   = "off"
	ModeAll   = "all"
	ModeShare = "share"
)

// Policy says which calls are recorded.
type Policy struct {
	Mode  string  // off, all or share
	Share float64 // share mode: the part of calls recorded, 0–1
}

// Records reports whether the call is recorded. A share is decided by a
// hash of the call id: the same call always gets the same answer.
func (p Policy) Records(callID string) bool {
	switch p.Mode {
	case ModeAll:
		return true
	case ModeShare:
		h := fnv.New32a()
		h.Write([]byte(callID))
		return float64(h.Sum32()%10000) < p.Share*10000
	}
	return false
}

// Config configures the Service.
type Config struct {
	Dir      string // where files go
	Template string // path under Dir: {date} {time} {call} {queue}; default {date}/{call}.wav
	Buffer   int    // tap buffer in packets (both directions); default 500 (5 s)
	// Retention: files older than this are deleted by Purge; 0 keeps them.
	Retention time.Duration
	Location  *time.Location // for {date} and {time}; UTC when nil
	Store     *Store         // nil: no metadata (files only)
	Publisher eventlog.Publisher
	Registry  prometheus.Registerer
	Log       *slog.Logger
	Now       func() time.Time
	// LineOf says which line (1, 2) a queue is; nil: every queue is line 1.
	LineOf func(queue string) int
}

// storeTimeout bounds each metadata write: a recording does not wait on
// the database longer than this.
const storeTimeout = 2 * time.Second

// DefaultTemplate is the path template when none is configured.
const DefaultTemplate = "{date}/{call}.wav"

// CheckTemplate says what is wrong with a path template, or nil.
func CheckTemplate(t string) error {
	switch {
	case !strings.Contains(t, "{call}"):
		return errors.New("must contain {call} (one file per call)")
	case !strings.HasSuffix(t, ".wav"):
		return errors.New("must end in .wav")
	case filepath.IsAbs(t) || slicesContains(strings.Split(filepath.ToSlash(t), "/"), ".."):
		return errors.New("must be relative to the directory, without ..")
	}
	return nil
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Service records calls: Start when a call will be bridged, Stop when it
// has ended. It is a consumer of the event bus (Publish) to learn the
// agents of each recorded call.
type Service struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
	m   metrics

	mu     sync.Mutex
	active map[string]*active
}

type active struct {
	callID, queue, rel string
	rowID              int64
	rec                *Recorder      // nil: recorded elsewhere (StartExternal)
	ext                ExternalSource // StartExternal: what recorded it
	extErr             error          // StartExternal: the failure the other process reported
	answers            []answer
	started            time.Time // when the tap was made (its clock's zero, within a few µs)
}

// answer is an agent taking the call: each segment is the agent whose
// answer came last before it.
type answer struct {
	at    time.Time
	agent string
	line  int
}

type metrics struct {
	started, deleted *prometheus.CounterVec
	failed           *prometheus.CounterVec
	dropped, bytes   prometheus.Counter
	active           prometheus.Gauge
}

// New makes the service and registers its metrics.
func New(cfg Config) (*Service, error) {
	if cfg.Template == "" {
		cfg.Template = DefaultTemplate
	}
	if err := CheckTemplate(cfg.Template); err != nil {
		return nil, fmt.Errorf("recording: path template %q %w", cfg.Template, err)
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 500
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Publisher == nil {
		cfg.Publisher = eventlog.PublisherFunc(func(eventlog.Event) {})
	}
	s := &Service{cfg: cfg, log: cfg.Log.With("component", "recording"), now: cfg.Now, active: map[string]*active{}}
	s.m = metrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_recordings_started_total",
			Help: "Call recordings started, by queue."}, []string{"queue"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_recordings_failed_total",
			Help: "Call recordings lost (the call went on), by stage: create, write, store."}, []string{"stage"}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_recordings_deleted_total",
			Help: "Recording files deleted, by reason: retention, erased."}, []string{"reason"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_recording_dropped_packets_total",
			Help: "RTP packets not recorded because a recording's buffer was full (the call was not affected)."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_recording_bytes_total",
			Help: "Bytes of finished recording files."}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hotline_recordings_active",
			Help: "Calls being recorded now."}),
	}
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{s.m.started, s.m.failed, s.m.deleted, s.m.dropped, s.m.bytes, s.m.active} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, err
			}
		}
	}
	for _, st := range []string{"create", "write", "store"} {
		s.m.failed.WithLabelValues(st)
	}
	for _, r := range []string{"retention", "erased"} {
		s.m.deleted.WithLabelValues(r)
	}
	return s, nil
}

// Dir is the directory recordings are written under.
func (s *Service) Dir() string { return s.cfg.Dir }

func (s *Service) relPath(callID, queue string, at time.Time) string {
	at = at.In(s.cfg.Location)
	r := strings.NewReplacer("{date}", at.Format("2006-01-02"), "{time}", at.Format("150405"),
		"{call}", safe(callID), "{queue}", safe(queue))
	return filepath.Clean(r.Replace(s.cfg.Template))
}

// safe keeps a name usable as one path element.
func safe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, strings.Trim(s, "."))
}

// Start begins recording a call and returns the tap to attach to the
// caller's stream (media.Stream.SetTap through the leg). An error means
// the call goes unrecorded (it is an event and a metric too).
func (s *Service) Start(ctx context.Context, callID, queue string) (*media.Tap, error) {
	now := s.now()
	rel := s.relPath(callID, queue, now)
	tap := media.NewTap(s.cfg.Buffer)
	a := &active{callID: callID, queue: queue, rel: rel, started: time.Now()}
	var err error
	if s.cfg.Store != nil {
		// The caller waits for this row before the queue: a database that
		// does not answer costs the recording, not the caller's time.
		bctx, cancel := context.WithTimeout(ctx, storeTimeout)
		a.rowID, err = s.cfg.Store.begin(bctx, callID, queue, rel, now)
		cancel()
		if err != nil {
			s.failed(callID, queue, "store", err)
			return nil, err
		}
	}
	a.rec, err = Record(filepath.Join(s.cfg.Dir, rel), tap, func(err error) { s.failed(callID, queue, "write", err) })
	if err != nil {
		s.failed(callID, queue, "create", err)
		if s.cfg.Store != nil {
			_ = s.cfg.Store.finish(ctx, a.rowID, nil, Result{Err: err})
		}
		return nil, err
	}
	s.mu.Lock()
	if old := s.active[callID]; old != nil {
		s.mu.Unlock()
		a.rec.Stop()
		return nil, fmt.Errorf("recording: call %s is already recorded", callID)
	}
	s.active[callID] = a
	s.mu.Unlock()
	s.m.started.WithLabelValues(queue).Inc()
	s.m.active.Inc()
	s.cfg.Publisher.Publish(eventlog.Event{Type: eventlog.RecordingStarted, CallID: callID, Queue: queue}.
		WithString(eventlog.KeyRecordingFile, rel))
	return tap, nil
}

func (s *Service) failed(callID, queue, stage string, err error) {
	s.m.failed.WithLabelValues(stage).Inc()
	s.log.Warn("recording lost (the call goes on)", "call", callID, "stage", stage, "error", err)
	s.cfg.Publisher.Publish(eventlog.Event{Type: eventlog.RecordingFailed, CallID: callID, Queue: queue, Reason: stage}.
		WithString(eventlog.KeyError, err.Error()))
}

// Stop finishes the recording of a call that ended (a no-op for a call
// not recorded). It waits for the file to be complete.
func (s *Service) Stop(ctx context.Context, callID string) {
	s.mu.Lock()
	a := s.active[callID]
	delete(s.active, callID)
	s.mu.Unlock()
	if a == nil {
		return
	}
	s.m.active.Dec()
	if a.rec == nil {
		s.stopExternal(ctx, a)
		return
	}
	res := a.rec.Stop()
	s.mu.Lock()
	answers := a.answers
	s.mu.Unlock()
	var agents []string
	for i := range res.Segments {
		seg := &res.Segments[i]
		at := a.started.Add(res.Origin + seg.Start + 500*time.Millisecond) // the answer precedes its bridge
		for _, an := range answers {
			if !an.at.After(at) {
				seg.Agent, seg.Line = an.agent, an.line
			}
		}
		if seg.Agent != "" && !slicesContains(agents, seg.Agent) {
			agents = append(agents, seg.Agent)
		}
	}
	s.m.dropped.Add(float64(res.Dropped))
	if res.Empty {
		// Never bridged: no file, no row; the event closes recording.started.
		if s.cfg.Store != nil {
			if err := s.cfg.Store.drop(ctx, a.rowID); err != nil {
				s.log.Warn("recording: the row of a call never bridged is left", "call", callID, "error", err)
			}
		}
		s.cfg.Publisher.Publish(eventlog.Event{Type: eventlog.RecordingStopped, CallID: callID, Queue: a.queue, Reason: "not-bridged"})
		return
	}
	if s.cfg.Store != nil {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
		if err := s.cfg.Store.finish(fctx, a.rowID, agents, res); err != nil && res.Err == nil {
			s.failed(callID, a.queue, "store", err)
		}
	}
	if res.Err != nil {
		return // the failure was published when it happened
	}
	s.m.bytes.Add(float64(res.Size))
	s.cfg.Publisher.Publish(eventlog.Event{Type: eventlog.RecordingStopped, CallID: callID, Queue: a.queue}.
		WithString(eventlog.KeyRecordingFile, a.rel).WithDuration(eventlog.KeyRecordingLength, res.Duration).
		WithInt(eventlog.KeyRecordingSize, int(res.Size)).WithInt(eventlog.KeyRecordingDropped, int(res.Dropped)).
		WithString(eventlog.KeyRecordingSHA256, res.SHA256))
}

// StopAll finishes every recording (at shutdown).
func (s *Service) StopAll(ctx context.Context) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.active))
	for id := range s.active {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.Stop(ctx, id)
	}
}

// Publish implements eventlog.Publisher: the agents who answer a recorded
// call (first line, then second line) name its segments.
func (s *Service) Publish(e eventlog.Event) {
	switch e.Type {
	case eventlog.QueueAnswered, eventlog.EscalationAnswered:
	default:
		return
	}
	line := 1
	if e.Type == eventlog.EscalationAnswered {
		line = 2
	} else if s.cfg.LineOf != nil {
		line = s.cfg.LineOf(e.Queue)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.active[e.CallID]; a != nil && e.Agent != "" {
		a.answers = append(a.answers, answer{at: e.At, agent: e.Agent, line: line})
	}
}

// File is a recording that can be played: its row and its file.
type File struct {
	Row
	Abs string // the file's path
}

// File returns the recording of a call; ok is false when there is none to
// play (not recorded, failed, deleted).
func (s *Service) File(ctx context.Context, callID string) (File, bool, error) {
	if s.cfg.Store == nil {
		return File{}, false, nil
	}
	r, ok, err := s.cfg.Store.ByCall(ctx, callID)
	if !ok || err != nil || r.State != StateDone || External(r.Path) {
		return File{}, false, err
	}
	return File{Row: r, Abs: filepath.Join(s.cfg.Dir, r.Path)}, true, nil
}

// Playable reports which calls have a recording to play.
func (s *Service) Playable(ctx context.Context, callIDs []string) (map[string]bool, error) {
	if s.cfg.Store == nil || len(callIDs) == 0 {
		return map[string]bool{}, nil
	}
	return s.cfg.Store.Playable(ctx, callIDs)
}

// delete removes a recording's file and marks its row.
func (s *Service) delete(ctx context.Context, r Row, why string) error {
	if External(r.Path) {
		// Asterisk's file: hotline cannot remove it (docs/recording.md).
		s.log.Warn("recording: an Asterisk recording's row is marked deleted, its file is Asterisk's to remove", "call", r.CallID, "path", r.Path)
	} else if err := os.Remove(filepath.Join(s.cfg.Dir, r.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := s.cfg.Store.markDeleted(ctx, r.ID, why, s.now()); err != nil {
		return err
	}
	s.m.deleted.WithLabelValues(why).Inc()
	s.cfg.Publisher.Publish(eventlog.Event{Type: eventlog.RecordingDeleted, CallID: r.CallID, Queue: r.Queue, Reason: why}.
		WithString(eventlog.KeyRecordingFile, r.Path))
	return nil
}

// Interrupted is how long a row may say "recording" before the retention
// job takes it for a recording a dead process left (no call lasts a day):
// its file, with an empty header, is removed and the row marked failed.
const Interrupted = 24 * time.Hour

// Purge deletes the files of recordings started before now minus the
// retention period and marks their rows (the retention job). It returns
// how many it deleted. It also settles recordings a dead process left
// (Interrupted).
func (s *Service) Purge(ctx context.Context, now time.Time) (int, error) {
	if s == nil || s.cfg.Store == nil {
		return 0, nil
	}
	stale, err := s.cfg.Store.rows(ctx, `state = 'recording' AND started_at < $1`, now.Add(-Interrupted))
	if err != nil {
		return 0, err
	}
	for _, r := range stale {
		if !External(r.Path) { // an Asterisk recording's file is not hotline's
			if err := os.Remove(filepath.Join(s.cfg.Dir, r.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return 0, err
			}
		}
		if err := s.cfg.Store.finish(ctx, r.ID, r.Agents, Result{Err: errors.New("interrupted: the process recording it ended")}); err != nil {
			return 0, err
		}
		s.log.Warn("recording left by a process that ended: removed", "call", r.CallID, "started", r.StartedAt)
	}
	if s.cfg.Retention <= 0 {
		return 0, nil
	}
	rows, err := s.cfg.Store.rows(ctx, `deleted_at IS NULL AND state <> 'recording' AND started_at < $1`, now.Add(-s.cfg.Retention))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		if err := s.delete(ctx, r, "retention"); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// EraseCalls deletes the recordings of these calls (the erasure of one
// caller's number) and returns how many it deleted. A nil Service (no
// recording) deletes nothing, as does Purge.
func (s *Service) EraseCalls(ctx context.Context, callIDs []string) (int, error) {
	if s == nil || s.cfg.Store == nil || len(callIDs) == 0 {
		return 0, nil
	}
	rows, err := s.cfg.Store.rows(ctx, `deleted_at IS NULL AND call_id = ANY($1)`, callIDs)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		if err := s.delete(ctx, r, "erased"); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
