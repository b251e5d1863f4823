package config

import (
	"strings"
	"time"
)

// Recording configures call recording (docs/recording.md): which calls
// (per queue, per line, or everywhere), where the files go, the notice
// the caller hears and how long files are kept.
type Recording struct {
	// Dir is where recordings are written (created if missing).
	Dir string `yaml:"dir"` // default var/recordings
	// Path is the file's path under Dir: {date} (service zone, 2006-01-02),
	// {time} (150405), {call}, {queue}; must contain {call} and end in .wav.
	Path string `yaml:"path"` // default {date}/{call}.wav
	// The policy of every queue unless its line or the queue says
	// otherwise: off (default), all or share (with Share, 0 < share <= 1).
	Mode  string  `yaml:"mode"`
	Share float64 `yaml:"share"`
	// Lines: a policy per line ("1", "2") for the queues of that line.
	Lines map[string]RecordingPolicy `yaml:"lines"`
	// Notice plays NoticePrompt to a recorded caller before the queue.
	Notice       bool   `yaml:"notice"`        // default true
	NoticePrompt string `yaml:"notice_prompt"` // default hotline/recording-notice
	// Retention: files older than this are deleted by the retention job
	// (and their rows marked); 152-FZ: no longer than needed.
	Retention time.Duration `yaml:"retention"` // default 2160h (90 days)
	// Callbacks records callbacks (the customer dialled back and bridged
	// to an agent) under the policy of the queue they were requested in.
	Callbacks bool `yaml:"callbacks"` // default false
	// Buffer is each recording's buffer in RTP packets, both directions
	// (100 a second); when the disk cannot keep up, what does not fit is
	// not recorded and the call goes on.
	Buffer int `yaml:"buffer"` // default 500
}

// RecordingPolicy says which calls of a queue are recorded.
type RecordingPolicy struct {
	Mode  string  `yaml:"mode"`  // off, all or share; empty: inherit
	Share float64 `yaml:"share"` // share: 0 < share <= 1
}

// Recording modes.
const (
	RecordingOff   = "off"
	RecordingAll   = "all"
	RecordingShare = "share"
)

// RecordingFor is the policy of queue q: its own, else its line's, else
// recording's.
func (c *Config) RecordingFor(q *Queue) RecordingPolicy {
	if q.Recording.Mode != "" {
		return q.Recording
	}
	if p, ok := c.Recording.Lines[itoa(q.Line)]; ok && p.Mode != "" {
		return p
	}
	if c.Recording.Mode == "" {
		return RecordingPolicy{Mode: RecordingOff}
	}
	return RecordingPolicy{Mode: c.Recording.Mode, Share: c.Recording.Share}
}

func itoa(n int) string {
	if n == 2 {
		return "2"
	}
	return "1"
}

// AnyRecording reports whether some queue records calls.
func (c *Config) AnyRecording() bool {
	for i := range c.Queues {
		if c.RecordingFor(&c.Queues[i]).Mode != RecordingOff {
			return true
		}
	}
	return false
}

func (v *validator) recordingPolicy(p string, r RecordingPolicy, inherit bool) {
	allowed := []string{RecordingOff, RecordingAll, RecordingShare}
	if r.Mode == "" && inherit {
		return
	}
	if !v.oneOf(p+".mode", r.Mode, allowed) {
		return
	}
	if r.Mode == RecordingShare && (r.Share <= 0 || r.Share > 1) {
		v.errorf(p+".share", "%g out of range (0, 1]", r.Share)
	}
}

func (v *validator) recording() {
	r := &v.c.Recording
	v.recordingPolicy("recording", RecordingPolicy{Mode: r.Mode, Share: r.Share}, true)
	for k, p := range r.Lines {
		if k != "1" && k != "2" {
			v.errorf("recording.lines."+k, "line must be 1 or 2")
		}
		v.recordingPolicy("recording.lines."+k, p, true)
	}
	for i := range v.c.Queues {
		v.recordingPolicy(joinIndex("queues", i)+".recording", v.c.Queues[i].Recording, true)
	}
	if r.Retention < 0 {
		v.errorf("recording.retention", "must not be negative")
	}
	if r.Buffer < 1 {
		v.errorf("recording.buffer", "must be at least 1")
	}
	switch p := r.Path; {
	case !strings.Contains(p, "{call}"):
		v.errorf("recording.path", "%q must contain {call} (one file per call)", p)
	case !strings.HasSuffix(p, ".wav"):
		v.errorf("recording.path", "%q must end in .wav", p)
	case strings.HasPrefix(p, "/") || strings.Contains("/"+p+"/", "/../"):
		v.errorf("recording.path", "%q must be relative to recording.dir, without ..", p)
	}
	if v.c.AnyRecording() && r.Dir == "" {
		v.errorf("recording.dir", "required when calls are recorded")
	}
}
