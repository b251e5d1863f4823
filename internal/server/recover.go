package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/queue"
)

// Crash recovery (docs/metrics.md, "Calls cut by a crash"; issue: a crash
// must not lose who can take calls nor leave calls open for ever).
const (
	// heartbeatEvery is how often a running node records that it is
	// alive: a crash's time is known to within it.
	heartbeatEvery = 5 * time.Second
	// recoverWindow bounds how far back the start looks for open calls
	// and agents' last states.
	recoverWindow = 7 * 24 * time.Hour
	// CrashReason is call.ended's reason for a call the previous process
	// had up when it died.
	CrashReason = "crash"
	// DownReason is the reason of the agent.state (to logged-out) that
	// closes an agent's state period at the previous process's end.
	DownReason = "restart"
)

// recoveryService runs once at start, before the switch takes calls:
// it closes in the event log the calls a crashed predecessor left open
// (native mode: they died with it; in Asterisk mode they live on in
// Asterisk and are re-adopted) and logs agents back in as they were; then
// it records a heartbeat every heartbeatEvery until stopped.
func (s *Server) recoveryService() service {
	beat := &loop{}
	return hooks{
		start: func(ctx context.Context) error {
			node := s.cfg.Node.ID
			started := time.Now().UTC()
			log := s.log.With("component", "recovery")
			if err := s.waitWriterDrained(ctx); err != nil {
				log.Warn("the event log is behind (spool not replayed yet): calls left open by a crash are closed at a later start; agents log in again", "error", err)
			} else {
				s.recover(ctx, s.previousNode(node), log)
			}
			beat.run = func(ctx context.Context) {
				t := time.NewTicker(heartbeatEvery)
				defer t.Stop()
				failing := false
				for {
					err := s.store.Beat(ctx, node, started, time.Now().UTC())
					switch {
					case err != nil && !failing && ctx.Err() == nil:
						log.Warn("heartbeat failed (retrying)", "error", err)
						failing = true
					case err == nil:
						failing = false
					}
					select {
					case <-ctx.Done():
						// A clean stop: the last beat says when.
						bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
						_ = s.store.Beat(bctx, node, started, time.Now().UTC())
						cancel()
						return
					case <-t.C:
					}
				}
			}
			return beat.Start(ctx)
		},
		stop: func(ctx context.Context) error {
			if beat.run == nil {
				return nil
			}
			return beat.Stop(ctx)
		},
	}
}

// waitWriterDrained waits until the writer has stored what it buffered
// and replayed its spool, so that the database holds every event the
// previous process logged.
func (s *Server) waitWriterDrained(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		st := s.writer.Stats()
		if st.Buffered == 0 && st.SpoolEvents == 0 && !st.Spooling {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("the writer did not drain")
		case <-t.C:
		}
	}
}

// previousNode is the node whose calls recovery closes: this node's own
// (a restart), or with node.line the lease's previous holder — none when
// it handed the line over cleanly (it drains its calls and ends them
// itself, beating meanwhile).
func (s *Server) previousNode(self string) previous {
	l := s.lease.Load()
	if l == nil {
		return previous{node: self, crashed: true}
	}
	p := l.Previous()
	return previous{node: p.Node, crashed: !p.Clean}
}

// previous is the process before this one on the line.
type previous struct {
	node    string // "" when the line was never held
	crashed bool   // it did not end cleanly: its open calls died with it
}

// recover closes open calls (native mode) and resumes agents. The
// previous process stopped at its last heartbeat (to within
// heartbeatEvery; it beats once more on a clean stop): the calls it left
// open end there, and its agents' state periods close there (logged out,
// reason crash) before they are logged back in, so that the time the
// line was down is in no agent's figures.
func (s *Server) recover(ctx context.Context, prev previous, log *slog.Logger) {
	since := time.Now().Add(-recoverWindow)
	lastBeat, beat, err := s.store.LastBeat(ctx, prev.node)
	if err != nil {
		log.Warn("reading the last heartbeat failed: open calls end at their last event", "error", err)
	}
	downAt := func(last time.Time) time.Time {
		if beat && lastBeat.After(last) {
			return lastBeat
		}
		return last
	}
	if s.native != nil && prev.crashed {
		open, err := s.store.OpenCalls(ctx, since, prev.node)
		if err != nil {
			log.Warn("listing calls left open by a crash failed", "error", err)
		}
		for _, c := range open {
			s.bus.Publish(eventlog.Event{Type: eventlog.CallEnded, CallID: c.CallID, At: downAt(c.Last), Reason: CrashReason,
				Data: map[string]string{"side": "local"}})
		}
		if len(open) > 0 {
			log.Warn("closed calls the previous process left open (it crashed)", "calls", len(open), "node", prev.node, "last_heartbeat", lastBeat)
		}
	}
	states, err := s.store.LastAgentStates(ctx, since)
	if err != nil {
		log.Warn("reading agents' last states failed: agents log in again", "error", err)
		return
	}
	rs := make([]queue.AgentResume, 0, len(states))
	for _, st := range states {
		if st.To == "" || st.To == queue.LoggedOut.String() {
			continue
		}
		s.bus.Publish(eventlog.Event{Type: eventlog.AgentState, Agent: st.Agent, At: downAt(st.At), Reason: DownReason}.
			WithString(eventlog.KeyFrom, st.To).WithString(eventlog.KeyTo, queue.LoggedOut.String()))
		r := queue.AgentResume{Agent: st.Agent, Status: st.To, Reason: st.Reason}
		if st.To == queue.WrapUp.String() {
			// The wrap-up ends when it would have without the crash.
			r.WrapUpLeft, r.WrapCall, r.WrapQueue = st.At.Add(st.WrapUp).Sub(time.Now()), st.WrapCall, st.WrapQueue
		}
		rs = append(rs, r)
	}
	n, err := s.runner.ResumeAgents(rs)
	if err != nil {
		log.Warn("some agents' last states could not be resumed", "error", err)
	}
	if n > 0 {
		log.Info("agents logged back in as they were before the restart", "agents", n)
	}
}
