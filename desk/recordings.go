package desk

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// RecordingFile is a call's recording as the desk needs it to decide who
// may hear it and to serve it.
type RecordingFile struct {
	Path    string   // the file to serve
	Queue   string   // the queue the call entered
	Agents  []string // every agent who talked on it (first, then second line)
	Started time.Time
}

// Recordings finds a call's playable recording (the recording service in
// serve); ok is false when the call has none.
type Recordings interface {
	RecordingOf(ctx context.Context, callID string) (f RecordingFile, ok bool, err error)
}

// mayHearRecording: never agents; supervisors the recordings of their
// teams' agents and of their queues; admins (and the token) all.
func (d *Desk) mayHearRecording(p principal, f RecordingFile) bool {
	switch p.role() {
	case RoleAdmin:
		return true
	case RoleSupervisor:
		for _, a := range f.Agents {
			if d.mayActOnAgent(p, a) {
				return true
			}
		}
		return slices.Contains(p.user.Queues, f.Queue)
	}
	return false
}

// recording is GET /desk/api/calls/{id}/recording: the WAV file (range
// requests for seeking), ?download=1 as an attachment. Every play and
// download is a desk.action event (recording.play, recording.download).
func (d *Desk) recording(w http.ResponseWriter, r *http.Request, p principal) {
	callID := r.PathValue("id")
	if p.role() == RoleAgent {
		writeError(w, http.StatusForbidden, "agents may not hear recordings")
		return
	}
	if d.cfg.Recordings == nil {
		writeError(w, http.StatusNotFound, "no recordings")
		return
	}
	f, ok, err := d.cfg.Recordings.RecordingOf(r.Context(), callID)
	switch {
	case err != nil:
		d.log.Warn("recording lookup failed", "call", callID, "error", err)
		writeError(w, http.StatusServiceUnavailable, "recordings are not available now")
		return
	case !ok:
		writeError(w, http.StatusNotFound, "this call has no recording")
		return
	case !d.mayHearRecording(p, f):
		writeError(w, http.StatusForbidden, "not a call of your teams or queues")
		return
	}
	file, err := os.Open(f.Path)
	if err != nil {
		d.log.Warn("recording file unreadable", "call", callID, "error", err)
		writeError(w, http.StatusNotFound, "the recording file is gone")
		return
	}
	defer file.Close()
	action := "recording.play"
	if r.URL.Query().Get("download") == "1" {
		action = "recording.download"
		w.Header().Set("Content-Disposition", `attachment; filename="`+filepath.Base(f.Path)+`"`)
	}
	if r.Header.Get("Range") == "" || action == "recording.download" {
		agent := ""
		if len(f.Agents) > 0 {
			agent = f.Agents[0]
		}
		d.record(p, action, agent, callID, nil) // not once per seek
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", f.Started, file)
}
