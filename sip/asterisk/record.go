package asterisk

import (
	"errors"
	"fmt"
	"time"

	"github.com/CyCoreSystems/ari/v6"
)

// Call recording over ARI (docs/recording.md, Asterisk mode): a leg marked
// with RecordBridges has every bridge it is in recorded by Asterisk
// (POST /bridges/{id}/record) under one name, appending, so an escalated
// call keeps one file. The recording is stopped when the bridge ends.
// Asterisk mixes the bridge into one channel (ARI has no stereo bridge
// recording) and writes the file in its own recordings directory; hotline
// never reads it.

// RecordFormat is the format Asterisk records in (the file is name + ".wav").
const RecordFormat = "wav"

// bridgeRec is a leg's recording: its name and the bridged time so far.
type bridgeRec struct {
	name  string
	total time.Duration
	since time.Time // the current recorded bridge's start, zero when none
}

// RecordBridges has every bridge this leg is in from now on recorded by
// Asterisk as name (relative to its recordings directory, without the
// format's extension).
func (l *leg) RecordBridges(name string) error {
	if name == "" {
		return errors.New("asterisk: record: empty name")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rec != nil {
		return fmt.Errorf("asterisk: leg %s is already recorded", l.info.ID)
	}
	l.rec = &bridgeRec{name: name}
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

// startBridgeRecording records bridge bkey if l or o is recorded, and
// returns what stops it (nil when nothing is recorded). A failure leaves
// the call unrecorded, never stops it.
func startBridgeRecording(cl ari.Client, bkey *ari.Key, l, o *leg) func() {
	for _, x := range []*leg{l, o} {
		x.mu.Lock()
		r := x.rec
		x.mu.Unlock()
		if r == nil {
			continue
		}
		if _, err := cl.Bridge().Record(bkey, r.name, &ari.RecordingOptions{Format: RecordFormat, Exists: "append", Terminate: "none"}); err != nil {
			x.sw.log.Warn("ari bridge recording not started: the call goes on unrecorded", "leg", x.info.ID, "bridge", bkey.ID, "error", err)
			return nil
		}
		x.mu.Lock()
		r.since = time.Now()
		x.mu.Unlock()
		x.sw.log.Info("ari bridge recording", "leg", x.info.ID, "bridge", bkey.ID, "name", r.name)
		return func() {
			x.mu.Lock()
			r.total += time.Since(r.since)
			r.since = time.Time{}
			x.mu.Unlock()
			if x.sw.closing() {
				return // the bridge, and its recording, go on in Asterisk
			}
			if err := cl.LiveRecording().Stop(ari.NewKey(ari.LiveRecordingKey, r.name)); err != nil {
				x.sw.log.Debug("ari stop recording", "name", r.name, "error", err)
			}
		}
	}
	return nil
}
