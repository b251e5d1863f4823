package recording

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip/media"
)

// Recording in Asterisk mode (docs/recording.md): Asterisk records each
// party of each bridge as a mono WAV (sip/asterisk, a snoop per party);
// at the end of the call the service fetches those files, writes the same
// stereo file native mode writes (caller left, agent right, each bridge at
// its time from the first, silence between), with the same path template,
// row, SHA-256 and events, and deletes the other process's copies. So
// playback, retention and erasure are the same in both modes.

// ExternalPrefix marks the path of a recording written before hotline
// fetched Asterisk's files (rows from earlier versions): the name in
// Asterisk's recordings directory; hotline does not read that file.
const ExternalPrefix = "asterisk:"

// External reports whether a row's file is in Asterisk's directory (an
// earlier version's Asterisk-mode row).
func External(path string) bool { return strings.HasPrefix(path, ExternalPrefix) }

// ExternalPart is one bridge another process recorded: when (its clock
// and hotline's are the same host's or close) and the names of the mono
// recordings of the caller and of the agent.
type ExternalPart struct {
	Start, End    time.Time
	Caller, Agent string
}

// ExternalSource is a call another process (Asterisk) records, as mono
// files per party and bridge.
type ExternalSource interface {
	// Parts waits until the finished bridges' files are complete and lists
	// them in order; err is a failure the other process reported.
	Parts(ctx context.Context) ([]ExternalPart, error)
	// Fetch reads a recording: a WAV of 8 kHz 16-bit mono PCM.
	Fetch(ctx context.Context, name string) ([]byte, error)
	// Delete removes a recording from the other process.
	Delete(ctx context.Context, name string) error
}

// ExternalName is the name under which the other process records a call's
// parts (one path element; the parts add a suffix).
func ExternalName(callID string) string { return "hotline-" + safe(callID) }

// fetchTimeout bounds getting a call's files from the other process.
const fetchTimeout = 30 * time.Second

// StartExternal begins the recording of a call another process records
// (src) and returns the name to record it under and what to call when
// that process reports the recording lost (a recording.failed event and
// metric at once, stage write; the row ends failed).
func (s *Service) StartExternal(ctx context.Context, callID, queue string, src ExternalSource) (string, func(error), error) {
	now := s.now()
	rel := s.relPath(callID, queue, now)
	a := &active{callID: callID, queue: queue, rel: rel, started: time.Now(), ext: src}
	if s.cfg.Store != nil {
		bctx, cancel := context.WithTimeout(ctx, storeTimeout)
		id, err := s.cfg.Store.begin(bctx, callID, queue, rel, now)
		cancel()
		if err != nil {
			s.failed(callID, queue, "store", err)
			return "", nil, err
		}
		a.rowID = id
	}
	s.mu.Lock()
	if old := s.active[callID]; old != nil {
		s.mu.Unlock()
		return "", nil, fmt.Errorf("recording: call %s is already recorded", callID)
	}
	s.active[callID] = a
	s.mu.Unlock()
	s.m.started.WithLabelValues(queue).Inc()
	s.m.active.Inc()
	s.cfg.Publisher.Publish(eventlog.Event{Type: eventlog.RecordingStarted, CallID: callID, Queue: queue}.
		WithString(eventlog.KeyRecordingFile, rel))
	fail := func(err error) {
		s.mu.Lock()
		first := a.extErr == nil
		if first {
			a.extErr = err
		}
		s.mu.Unlock()
		if first {
			s.failed(callID, queue, "write", err)
		}
	}
	return ExternalName(callID), fail, nil
}

// stopExternal fetches what the other process recorded, writes the stereo
// file and finishes the row, then deletes the other process's files.
func (s *Service) stopExternal(ctx context.Context, a *active) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	parts, err := a.ext.Parts(ctx)
	defer func() {
		for _, p := range parts {
			for _, n := range []string{p.Caller, p.Agent} {
				if derr := a.ext.Delete(ctx, n); derr != nil {
					s.log.Warn("recording: Asterisk's copy not deleted", "call", a.callID, "name", n, "error", derr)
				}
			}
		}
	}()
	s.mu.Lock()
	if a.extErr != nil {
		err = a.extErr // published already
	} else if err != nil {
		a.extErr = err
		s.mu.Unlock()
		s.failed(a.callID, a.queue, "write", err)
		s.mu.Lock()
	}
	answers := a.answers
	s.mu.Unlock()
	if len(parts) == 0 && err == nil {
		// Never bridged: no file, no row.
		if s.cfg.Store != nil {
			if derr := s.cfg.Store.drop(ctx, a.rowID); derr != nil {
				s.log.Warn("recording: the row of a call never bridged is left", "call", a.callID, "error", derr)
			}
		}
		s.cfg.Publisher.Publish(eventlog.Event{Type: eventlog.RecordingStopped, CallID: a.callID, Queue: a.queue, Reason: "not-bridged"})
		return
	}
	var res Result
	if err == nil {
		res, err = s.writeExternal(ctx, a, parts)
		if err != nil {
			s.failed(a.callID, a.queue, "write", err)
		}
	}
	if err != nil {
		res = Result{Err: err}
	}
	var agents []string
	for i := range res.Segments {
		seg := &res.Segments[i]
		at := parts[0].Start.Add(seg.Start + 500*time.Millisecond) // the answer precedes its bridge
		for _, an := range answers {
			if !an.at.After(at) {
				seg.Agent, seg.Line = an.agent, an.line
			}
		}
		if seg.Agent != "" && !slicesContains(agents, seg.Agent) {
			agents = append(agents, seg.Agent)
		}
	}
	if s.cfg.Store != nil {
		if ferr := s.cfg.Store.finish(ctx, a.rowID, agents, res); ferr != nil && res.Err == nil {
			s.failed(a.callID, a.queue, "store", ferr)
		}
	}
	if res.Err != nil {
		return
	}
	s.m.bytes.Add(float64(res.Size))
	s.cfg.Publisher.Publish(eventlog.Event{Type: eventlog.RecordingStopped, CallID: a.callID, Queue: a.queue}.
		WithString(eventlog.KeyRecordingFile, a.rel).WithDuration(eventlog.KeyRecordingLength, res.Duration).
		WithInt(eventlog.KeyRecordingSize, int(res.Size)).WithInt(eventlog.KeyRecordingDropped, 0).
		WithString(eventlog.KeyRecordingSHA256, res.SHA256))
}

// writeExternal fetches the parts and writes the stereo file.
func (s *Service) writeExternal(ctx context.Context, a *active, parts []ExternalPart) (Result, error) {
	type track struct {
		at    int // first sample
		left  []int16
		right []int16
	}
	var tracks []track
	total := 0
	res := Result{Path: filepath.Join(s.cfg.Dir, a.rel)}
	for _, p := range parts {
		at := int(p.Start.Sub(parts[0].Start) * sampleRate / time.Second)
		tr := track{at: at}
		for _, c := range []struct {
			name string
			dst  *[]int16
		}{{p.Caller, &tr.left}, {p.Agent, &tr.right}} {
			b, err := a.ext.Fetch(ctx, c.name)
			if err != nil {
				return res, fmt.Errorf("fetching %s: %w", c.name, err)
			}
			if *c.dst, err = media.ParseWAV(b); err != nil {
				return res, fmt.Errorf("%s: %w", c.name, err)
			}
		}
		n := max(len(tr.left), len(tr.right))
		total = max(total, at+n)
		tracks = append(tracks, tr)
		res.Segments = append(res.Segments, Segment{Start: time.Duration(at) * time.Second / sampleRate,
			End: time.Duration(at+n) * time.Second / sampleRate, Line: 1})
	}
	data := make([]byte, total*frameBytes)
	for _, tr := range tracks {
		for i, v := range tr.left {
			binary.LittleEndian.PutUint16(data[(tr.at+i)*frameBytes:], uint16(v))
		}
		for i, v := range tr.right {
			binary.LittleEndian.PutUint16(data[(tr.at+i)*frameBytes+2:], uint16(v))
		}
	}
	h := wavHeader(uint32(len(data)))
	if err := os.MkdirAll(filepath.Dir(res.Path), 0o750); err != nil {
		return res, err
	}
	f, err := os.OpenFile(res.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return res, err
	}
	sum := sha256.New()
	sum.Write(h[:])
	sum.Write(data)
	_, err = f.Write(h[:])
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(res.Path)
		return res, err
	}
	res.Size = int64(len(h) + len(data))
	res.SHA256 = hex.EncodeToString(sum.Sum(nil))
	res.Duration = time.Duration(total) * time.Second / sampleRate
	return res, nil
}
