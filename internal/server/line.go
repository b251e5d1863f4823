package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hotline-cc/hotline/internal/lease"
)

// Two nodes, one line (node.line; docs/scaling.md): the node that holds
// the line's lease in PostgreSQL (internal/lease) takes its calls; the
// others stand by hot — config loaded, database, writer, bus, queue
// runner and HTTP up, the switch listening but answering 503 (Asterisk
// mode: not connected to ARI at all) — and the one that wins the lease
// runs the active services (s.activeSvcs: crash recovery of the previous
// holder's calls, agents, callbacks, survey, metrics, in Asterisk mode the
// ARI connection, which re-adopts the calls left in Asterisk, the call
// intake) and takes calls.

// lineService waits for the line's lease in the background, runs the
// active services while it holds it, and fences the node when it loses
// it. Stop is the hand-over: no new call here from that instant, the
// lease released at once (the next node takes over without waiting),
// then this node's calls drain.
func (s *Server) lineService() service {
	var (
		cancel context.CancelFunc
		done   chan struct{}
	)
	return hooks{
		start: func(ctx context.Context) error {
			var rctx context.Context
			rctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
			done = make(chan struct{})
			go func() {
				defer close(done)
				s.standBy(rctx)
			}()
			return nil
		},
		stop: func(ctx context.Context) error {
			s.standbyNow()
			cancel()
			<-done // the lease is released
			return s.activeSvcs.stop(ctx)
		},
	}
}

// standbyNow makes the node answer as a standby at once.
func (s *Server) standbyNow() {
	s.active.Store(false)
	s.ready.Store(false)
	if s.native != nil {
		s.native.SetStandby(true)
	} else if s.cfg.Node.Line != "" {
		// Asterisk mode: disconnect from ARI at once (the calls stay in
		// Asterisk, detached) so that the next active node has them.
		s.sw.Close()
	}
}

// standBy waits for the lease, then makes this node the line's active one
// until ctx ends (a hand-over: the lease is released) or the lease is lost
// (fenced).
func (s *Server) standBy(ctx context.Context) {
	log := s.log.With("component", "line", "line", s.cfg.Node.Line, "node", s.cfg.Node.ID)
	log.Info("standing by for the line's lease")
	l, err := lease.Acquire(ctx, lease.Config{
		DSN: s.cfg.Database.URL, Line: s.cfg.Node.Line, Node: s.cfg.Node.ID,
		Timeout: s.cfg.Node.LeaseTimeout, Logger: s.log,
	})
	if err != nil {
		return // shutting down before winning it
	}
	s.lease.Store(l)
	took := time.Now()
	if err := s.activeSvcs.start(ctx); err != nil {
		log.Error("taking over the line failed: giving the lease up", "error", err)
		s.standbyNow()
		_ = l.Release(context.WithoutCancel(ctx))
		s.fence()
		return
	}
	if s.native != nil {
		s.native.Activate(ctx) // the previous holder's registrations, then calls
	}
	s.active.Store(true)
	log.Info("this node is the line's active node", "token", l.Token(), "previous", l.Previous().Node,
		"takeover", time.Since(took).Round(time.Millisecond).String())
	select {
	case <-l.Lost():
		s.standbyNow()
		log.Error("lease lost (the database is out of reach): this node takes no more calls")
		s.fence()
	case <-ctx.Done():
		rctx, c := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if err := l.Release(rctx); err != nil {
			log.Warn("releasing the lease failed: the next node takes over once the database frees it", "error", err)
		}
		c()
	}
}

// fence marks the node fenced: it lost the lease and must not act on the
// line again in this process (serve exits; systemd starts it again as a
// standby).
func (s *Server) fence() { s.fenceOnce.Do(func() { close(s.fenced) }) }

// Fenced is closed when this node lost the line's lease (or failed to take
// the line over): it answers as a standby and the process should end
// without draining — its calls are closed by the next holder, as after a
// crash (docs/metrics.md).
func (s *Server) Fenced() <-chan struct{} { return s.fenced }

// Role is this node's role on its line: "single" (no node.line), "active",
// "standby" or "fenced".
func (s *Server) Role() string {
	switch {
	case s.cfg.Node.Line == "":
		return "single"
	case s.active.Load():
		return "active"
	}
	select {
	case <-s.fenced:
		return "fenced"
	default:
		return "standby"
	}
}

// serveRole answers GET /role: {"node", "line", "role", "token"}; 503
// unless the node takes calls (a proxy's HTTP probe may use it).
func (s *Server) serveRole(w http.ResponseWriter, r *http.Request) {
	role := s.Role()
	out := map[string]any{"node": s.cfg.Node.ID, "line": s.cfg.Node.Line, "role": role}
	if l := s.lease.Load(); l != nil && role == "active" {
		out["token"] = l.Token()
	}
	w.Header().Set("Content-Type", "application/json")
	if role != "active" && role != "single" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(out)
}

// activeOnly answers 503 on a node that is not the line's active one: the
// queue's state lives there.
func (s *Server) activeOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.active.Load() {
			http.Error(w, "this node is the line's "+s.Role()+" node: use the active one (GET /role)", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}
