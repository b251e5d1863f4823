package server

import (
	"context"
	"errors"

	"github.com/hotline-cc/hotline/desk"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/recording"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/asterisk"
	"github.com/hotline-cc/hotline/sip/media"
)

// Call recording (docs/recording.md): the policy of the queue a call
// enters decides; the caller hears the notice, then the caller's stream is
// tapped (sip/media) and the recording service writes the file. The call
// intake stops the recording when the caller's leg ends.

// tapper is a leg whose bridged audio can be tapped (sip/native's).
type tapper interface {
	SetTap(*media.Tap) error
}

// bridgeRecorder is a leg whose bridges Asterisk records, each party
// apart (sip/asterisk's: a snoop per party, recorded over ARI).
type bridgeRecorder interface {
	RecordBridges(name string, onFail func(error)) error
	RecordedParts(ctx context.Context) ([]asterisk.RecordPart, error)
	FetchRecording(ctx context.Context, name string) ([]byte, error)
	DeleteRecording(ctx context.Context, name string) error
}

// asteriskSource is what Asterisk recorded of a call, for the recording
// service (recording.ExternalSource): near is the caller's party.
type asteriskSource struct{ br bridgeRecorder }

func (a asteriskSource) Parts(ctx context.Context) ([]recording.ExternalPart, error) {
	ps, err := a.br.RecordedParts(ctx)
	out := make([]recording.ExternalPart, len(ps))
	for i, p := range ps {
		out[i] = recording.ExternalPart{Start: p.Start, End: p.End, Caller: p.Near, Agent: p.Other}
	}
	return out, err
}

func (a asteriskSource) Fetch(ctx context.Context, name string) ([]byte, error) {
	return a.br.FetchRecording(ctx, name)
}

func (a asteriskSource) Delete(ctx context.Context, name string) error {
	return a.br.DeleteRecording(ctx, name)
}

// recordingConfigOf maps the recording section (Store and Registry are
// the caller's).
func recordingConfigOf(cfg *config.Config) recording.Config {
	return recording.Config{Dir: cfg.Recording.Dir, Template: cfg.Recording.Path, Buffer: cfg.Recording.Buffer,
		Retention: cfg.Recording.Retention, Location: cfg.Service.Location}
}

// checkNoticePrompt: the notice must exist in every prompt language when
// some queue records calls.
func checkNoticePrompt(cfg *config.Config, cat *media.Catalog) error {
	if !cfg.AnyRecording() || !cfg.Recording.Notice {
		return nil
	}
	var ps []sip.Prompt
	for lang := range cfg.Media.Prompts {
		ps = append(ps, sip.Prompt{Name: cfg.Recording.NoticePrompt, Lang: lang})
	}
	return cat.Check(ps)
}

// recordingService makes the recording service once the database (if
// any) is open, and finishes what is being recorded at shutdown.
func (s *Server) recordingService() service {
	return hooks{
		start: func(context.Context) error {
			rc := recordingConfigOf(s.cfg)
			rc.Publisher, rc.Registry, rc.Log = s.bus, s.reg, s.log
			rc.LineOf = func(queue string) int {
				for _, q := range s.cfg.Queues {
					if q.Name == queue {
						return q.Line
					}
				}
				return 1
			}
			if s.pool != nil {
				rc.Store = recording.NewStore(s.pool)
			}
			svc, err := recording.New(rc)
			if err != nil {
				return err
			}
			s.bus.Subscribe(svc) // the agents of each recorded call
			s.rec = svc
			if s.native == nil && s.cfg.AnyRecording() {
				s.log.Info("recording in asterisk mode: Asterisk records each party of each bridge; hotline fetches the files over ARI into its stereo recording and deletes Asterisk's copies (docs/recording.md)")
			}
			return nil
		},
		stop: func(ctx context.Context) error {
			s.rec.StopAll(ctx)
			return nil
		},
	}
}

// startRecording records the call if its queue's policy says so: the
// notice first, then the tap on the caller's leg. A failure leaves the
// call unrecorded, never stops it; only the caller hanging up during the
// notice is returned (sip.ErrHangup).
func (s *Server) startRecording(ctx context.Context, leg sip.Leg, callID, queue, lang string) error {
	if s.rec == nil {
		return nil
	}
	var policy config.RecordingPolicy
	for i := range s.cfg.Queues {
		if s.cfg.Queues[i].Name == queue {
			policy = s.cfg.RecordingFor(&s.cfg.Queues[i])
		}
	}
	if !(recording.Policy{Mode: policy.Mode, Share: policy.Share}).Records(callID) {
		return nil
	}
	t, native := leg.(tapper)
	br, ari := leg.(bridgeRecorder)
	if !native && !ari {
		s.log.Warn("the call is not recorded: its leg cannot be", "call", callID)
		return nil
	}
	if s.cfg.Recording.Notice {
		if _, err := leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: s.cfg.Recording.NoticePrompt, Lang: lang}}}); err != nil {
			if errors.Is(err, sip.ErrHangup) {
				return err
			}
			s.log.Warn("recording notice not played: the call is not recorded", "call", callID, "error", err)
			return nil
		}
	}
	if !native {
		name, onFail, err := s.rec.StartExternal(ctx, callID, queue, asteriskSource{br})
		if err != nil {
			return nil // an event and a metric already
		}
		if err := br.RecordBridges(name, onFail); err != nil {
			s.log.Warn("the call is not recorded", "call", callID, "error", err)
			s.rec.Stop(ctx, callID)
		}
		return nil
	}
	tap, err := s.rec.Start(ctx, callID, queue)
	if err != nil {
		return nil // an event and a metric already
	}
	if err := t.SetTap(tap); err != nil {
		s.rec.Stop(ctx, callID)
	}
	return nil
}

// recordingSwitch records callbacks (recording.callbacks): a dial the
// queue makes for a callback gets the notice and the tap once answered,
// under the policy of the queue the callback was requested in, and its
// recording stops when the dialled leg ends. Other dials pass through.
type recordingSwitch struct {
	sip.Switch
	s *Server
}

func (w recordingSwitch) Dial(ctx context.Context, tg sip.Target) (sip.Leg, error) {
	leg, err := w.Switch.Dial(ctx, tg)
	callID := tg.Headers["X-Hotline-Call"]
	svc := w.s.callbacks.svc.Load()
	if err != nil || tg.Headers["X-Hotline-Purpose"] != "callback" || callID == "" || svc == nil || w.s.rec == nil {
		return leg, err
	}
	queue, lang, ok, qerr := svc.QueueOf(ctx, callID)
	if qerr != nil || !ok {
		w.s.log.Warn("callback not recorded: its queue is unknown", "call", callID, "error", qerr)
		return leg, nil
	}
	if lang == "" {
		lang = w.s.cfg.Service.Language
	}
	if err := w.s.startRecording(ctx, leg, callID, queue, lang); err != nil {
		return leg, nil // hung up during the notice: the queue sees the leg end
	}
	go func() {
		<-leg.Done()
		w.s.stopRecording(callID)
	}()
	return leg, nil
}

// stopRecording finishes the recording of an ended call (if any).
func (s *Server) stopRecording(callID string) {
	if s.rec != nil {
		s.rec.Stop(context.Background(), callID)
	}
}

// deskRecordings plays recordings in the desk once the service runs.
type deskRecordings struct{ s *Server }

func (d deskRecordings) RecordingOf(ctx context.Context, callID string) (desk.RecordingFile, bool, error) {
	if d.s.rec == nil {
		return desk.RecordingFile{}, false, nil
	}
	f, ok, err := d.s.rec.File(ctx, callID)
	if !ok || err != nil {
		return desk.RecordingFile{}, false, err
	}
	return desk.RecordingFile{Path: f.Abs, Queue: f.Queue, Agents: f.Agents, Started: f.StartedAt}, true, nil
}

// deskReview is the survey's review list for the desk (empty without the
// survey).
type deskReview struct{ s *Server }

func (d deskReview) ReviewList(ctx context.Context) ([]desk.ReviewRow, error) {
	if d.s.survey == nil {
		return nil, nil
	}
	list, err := d.s.survey.Review(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make([]desk.ReviewRow, len(list))
	for i, x := range list {
		out[i] = desk.ReviewRow{CallID: x.CallID, At: x.CallAt, Queue: x.Queue, Agent: x.Agent, Team: x.Team,
			Rating: x.Rating, Solved: x.Solved, Notes: x.Notes, Recording: x.Recording}
	}
	return out, nil
}
