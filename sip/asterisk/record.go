package asterisk

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v6"
)

// Call recording over ARI (docs/recording.md, Asterisk mode). ARI's bridge
// recording mixes both parties into one channel, so hotline records each
// party apart: for every bridge a recorded leg is in, one snoop channel on
// the recorded leg's channel and one on the other leg's, both spy=in
// (what that party says, before any whisper or barge is mixed in), each
// recorded by Asterisk (POST /channels/{snoop}/record) as an 8 kHz mono
// WAV. When the bridge ends both recordings are stopped and the snoops hung
// up. hotline fetches the stored files (GET /recordings/stored/{name}/file),
// lays them out as the two channels of its own stereo file and deletes
// Asterisk's copies (recording.Service, through internal/server).

// RecordFormat is the format Asterisk records each party in.
const RecordFormat = "wav"

// RecordPart is one recorded bridge: when it was recorded (hotline's
// clock) and the stored recordings (names without extension) of the
// recorded leg's party and of the other party.
type RecordPart struct {
	Start, End  time.Time
	Near, Other string
}

// bridgeRec is a leg's recording: its name, parts and the bridged time.
type bridgeRec struct {
	name   string
	onFail func(error)
	parts  []*RecordPart
	total  time.Duration
	since  time.Time // the current recorded bridge's start, zero when none
	failed error
}

// RecordBridges has every bridge this leg is in from now on recorded by
// Asterisk, each party apart, as name-<n>-near and name-<n>-other (n from
// 1). onFail, if set, is called once when Asterisk reports a recording
// failed (RecordingFailed) or a recording cannot be started.
func (l *leg) RecordBridges(name string, onFail func(error)) error {
	if name == "" || strings.ContainsAny(name, "/\\") || strings.Contains(name, "..") {
		return fmt.Errorf("asterisk: record: bad name %q", name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rec != nil {
		return fmt.Errorf("asterisk: leg %s is already recorded", l.info.ID)
	}
	l.rec = &bridgeRec{name: name, onFail: onFail}
	return nil
}

// Recorded is how long this leg's recorded bridges have lasted so far.
func (l *leg) Recorded() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rec == nil {
		return 0
	}
	d := l.rec.total
	if !l.rec.since.IsZero() {
		d += time.Since(l.rec.since)
	}
	return d
}

// RecordedParts waits until Asterisk has finished writing the files of
// this leg's recorded bridges (or ctx ends) and returns them in order,
// with the failure Asterisk reported, if any. Call it once the leg has
// ended (a bridge still going is left out).
func (l *leg) RecordedParts(ctx context.Context) ([]RecordPart, error) {
	l.mu.Lock()
	r := l.rec
	var out []RecordPart
	var err error
	if r != nil {
		for _, p := range r.parts {
			if !p.End.IsZero() {
				out = append(out, *p)
			}
		}
		err = r.failed
	}
	l.mu.Unlock()
	for _, p := range out {
		for _, n := range []string{p.Near, p.Other} {
			if werr := l.sw.recordings.wait(ctx, n); werr != nil && err == nil {
				err = werr
			}
		}
	}
	return out, err
}

// FetchRecording reads a stored recording's file from Asterisk.
func (l *leg) FetchRecording(ctx context.Context, name string) ([]byte, error) {
	return l.sw.cfg.StoredRecording(ctx, l.sw.cfg, name)
}

// DeleteRecording removes a stored recording from Asterisk.
func (l *leg) DeleteRecording(_ context.Context, name string) error {
	cl := l.sw.current()
	if cl == nil {
		return errors.New("asterisk: not connected")
	}
	l.sw.recordings.forget(name)
	return cl.StoredRecording().Delete(ari.NewKey(ari.StoredRecordingKey, name))
}

// storedRecording reads GET /recordings/stored/{name}/file (the library
// has no call for it).
func storedRecording(ctx context.Context, cfg Config, name string) ([]byte, error) {
	return ariGet(ctx, cfg, "/recordings/stored/"+url.PathEscape(name)+"/file")
}

// recordings follows the live recordings hotline started, by name: when
// each is finished (RecordingFinished) or failed (RecordingFailed), and
// which leg's recording it belongs to. It also tells the snoops made for
// recordings (so resync keeps them) and when each entered the
// application (a channel can be recorded only once in Stasis).
type recordings struct {
	mu     sync.Mutex
	byName map[string]*liveRec
	snoops map[string]chan struct{} // snoop channel → closed at its StasisStart
}

type liveRec struct {
	leg  *leg
	done chan struct{}
	err  error
}

func (r *recordings) init() {
	r.byName = map[string]*liveRec{}
	r.snoops = map[string]chan struct{}{}
}

func (r *recordings) add(name string, l *leg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byName[name] = &liveRec{leg: l, done: make(chan struct{})}
}

// end marks a recording finished (err nil) or failed, once; it returns
// the leg whose recording failed.
func (r *recordings) end(name string, err error) *leg {
	r.mu.Lock()
	defer r.mu.Unlock()
	lr := r.byName[name]
	if lr == nil {
		return nil
	}
	select {
	case <-lr.done:
		return nil
	default:
	}
	lr.err = err
	close(lr.done)
	if err != nil {
		return lr.leg
	}
	return nil
}

// wait waits until a recording is finished (nil when unknown).
func (r *recordings) wait(ctx context.Context, name string) error {
	r.mu.Lock()
	lr := r.byName[name]
	r.mu.Unlock()
	if lr == nil {
		return nil
	}
	select {
	case <-lr.done:
		return lr.err
	case <-ctx.Done():
		return fmt.Errorf("asterisk: recording %s not finished: %w", name, ctx.Err())
	}
}

func (r *recordings) forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byName, name)
}

func (r *recordings) addSnoop(id string) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := make(chan struct{})
	r.snoops[id] = c
	return c
}

// snoopStarted closes the snoop's wait; false when it is not a recording's.
func (r *recordings) snoopStarted(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.snoops[id]
	if ok {
		select {
		case <-c:
		default:
			close(c)
		}
	}
	return ok
}

func (r *recordings) ownsSnoop(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.snoops[id]
	return ok
}

func (r *recordings) dropSnoop(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.snoops, id)
}

// recordingFailed handles Asterisk's RecordingFailed for a recording of ours.
func (s *Switch) recordingFailed(name, cause string) {
	l := s.recordings.end(name, fmt.Errorf("asterisk: recording %s failed: %s", name, cause))
	if l == nil {
		return
	}
	l.recFailed(fmt.Errorf("Asterisk could not record %s: %s", name, cause))
}

// recFailed marks the leg's recording lost and reports it once.
func (l *leg) recFailed(err error) {
	l.mu.Lock()
	r := l.rec
	first := r != nil && r.failed == nil
	if first {
		r.failed = err
	}
	l.mu.Unlock()
	if !first {
		return
	}
	l.sw.log.Warn("ari recording failed: the call goes on unrecorded", "leg", l.info.ID, "error", err)
	if r.onFail != nil {
		r.onFail(err)
	}
}

// snoopWait is how long a recording's snoop channel may take to enter the
// application.
const snoopWait = 5 * time.Second

// recordParty makes a spy=in snoop on channel ch and records it as name.
func (s *Switch) recordParty(cl ari.Client, ch, name string, owner *leg) (string, error) {
	id := s.newID(snoopPrefix + "rec-")
	up := s.recordings.addSnoop(id)
	if _, err := cl.Channel().Snoop(ari.NewKey(ari.ChannelKey, ch), id, &ari.SnoopOptions{
		App: s.cfg.Application, AppArgs: "snoop", Spy: ari.DirectionIn, Whisper: ari.DirectionNone,
	}); err != nil {
		s.recordings.dropSnoop(id)
		return "", fmt.Errorf("snoop on %s: %w", ch, err)
	}
	select {
	case <-up:
	case <-time.After(snoopWait):
		return id, fmt.Errorf("snoop %s did not enter the application", id)
	}
	s.recordings.add(name, owner)
	if _, err := cl.Channel().Record(ari.NewKey(ari.ChannelKey, id), name, &ari.RecordingOptions{
		Format: RecordFormat, Exists: "overwrite", Terminate: "none",
	}); err != nil {
		s.recordings.forget(name)
		return id, fmt.Errorf("record %s: %w", id, err)
	}
	return id, nil
}

// startBridgeRecording records bridge bkey if l or o is recorded, and
// returns what stops it (nil when nothing is recorded). A failure leaves
// the call unrecorded, never stops it.
func startBridgeRecording(cl ari.Client, bkey *ari.Key, l, o *leg) func() {
	for _, pair := range [][2]*leg{{l, o}, {o, l}} {
		x, y := pair[0], pair[1]
		x.mu.Lock()
		r := x.rec
		var n int
		if r != nil && r.failed == nil {
			n = len(r.parts) + 1
		}
		x.mu.Unlock()
		if n == 0 {
			continue
		}
		s := x.sw
		part := &RecordPart{Near: fmt.Sprintf("%s-%d-near", r.name, n), Other: fmt.Sprintf("%s-%d-other", r.name, n)}
		var snoops []string
		stopAll := func() {
			for _, name := range []string{part.Near, part.Other} {
				if err := cl.LiveRecording().Stop(ari.NewKey(ari.LiveRecordingKey, name)); err != nil {
					s.log.Debug("ari stop recording", "name", name, "error", err)
				}
			}
			for _, id := range snoops {
				_ = cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, id), "normal")
				s.recordings.dropSnoop(id)
			}
		}
		var err error
		for _, c := range []struct{ ch, name string }{{x.info.ID, part.Near}, {y.info.ID, part.Other}} {
			var id string
			id, err = s.recordParty(cl, c.ch, c.name, x)
			if id != "" {
				snoops = append(snoops, id)
			}
			if err != nil {
				break
			}
		}
		if err != nil {
			stopAll()
			for _, name := range []string{part.Near, part.Other} {
				s.recordings.forget(name)
				_ = cl.StoredRecording().Delete(ari.NewKey(ari.StoredRecordingKey, name))
			}
			s.log.Warn("ari recording not started", "leg", x.info.ID, "bridge", bkey.ID, "error", err)
			x.recFailed(fmt.Errorf("asterisk: recording not started: %w", err))
			return nil
		}
		now := time.Now()
		x.mu.Lock()
		part.Start = now
		r.parts = append(r.parts, part)
		r.since = now
		x.mu.Unlock()
		s.log.Info("ari recording", "leg", x.info.ID, "bridge", bkey.ID, "near", part.Near, "other", part.Other)
		return func() {
			now := time.Now()
			x.mu.Lock()
			r.total += now.Sub(r.since)
			r.since = time.Time{}
			part.End = now
			x.mu.Unlock()
			stopAll() // also when hotline stops: a restarted one cannot go on with it

		}
	}
	return nil
}
