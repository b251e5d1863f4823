package server

import (
	"context"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/queue"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/native"
)

// acceptCalls takes inbound legs: agents' phones go to the queue's feature
// codes, trunk calls to the IVR flow chosen by the called number.
func (s *Server) acceptCalls(ctx context.Context) {
	for leg := range s.sw.Incoming() {
		s.calls.Add(1)
		go func(leg sip.Leg) {
			defer s.calls.Done()
			s.handleCall(ctx, leg)
		}(leg)
	}
}

func (s *Server) flowFor(called string) string {
	if f, ok := s.cfg.SIP.Numbers[called]; ok {
		return f
	}
	return s.cfg.SIP.Numbers["*"]
}

func (s *Server) handleCall(ctx context.Context, leg sip.Leg) {
	info := leg.Info()
	if sup := s.supervisorOfPhone(info.Agent); info.Agent != "" && sup != "" {
		s.handleSupervisorCall(ctx, leg, sup) // monitor.go
		return
	}
	if info.Agent != "" {
		res := s.runner.HandleAgentCall(ctx, leg)
		if res.Err != nil {
			s.log.Info("agent call", "agent", res.Agent, "feature", res.Feature, "error", res.Err)
		}
		return
	}
	// The flows (and the region of national numbers, ivr.region) this
	// call runs with, even if a reload swaps them meanwhile.
	flows := s.flows.Load()
	caller := ivr.NormalizeCaller(info.From, flows.region)
	if !info.Resumed { // a resumed call's arrival was logged by the process before
		// Stored before the IVR answers: a crash then cannot lose a call
		// the caller saw answered.
		s.publishDurable(ctx, eventlog.Event{Type: eventlog.CallArrived, CallID: info.ID, Caller: caller.ID(),
			Data: map[string]string{"to": info.To, "trunk": info.Trunk, "node_id": s.cfg.Node.ID}})
	}
	defer func() {
		<-leg.Done()
		end, _ := leg.Ended()
		if end.Detached {
			return // the call goes on without this process; the next one ends it
		}
		s.bus.Publish(eventlog.Event{Type: eventlog.CallEnded, CallID: info.ID, Reason: end.Cause.String(),
			Data: map[string]string{"side": end.Side.String()}})
		s.stopRecording(info.ID)
	}()
	if info.Resumed && s.resumeWait(ctx, leg, info, caller) {
		return
	}
	flow := s.flowFor(info.To)
	if flow == "" {
		s.log.Warn("no IVR flow for the called number", "called", native.MaskNumber(info.To))
		_ = leg.Hangup(sip.CauseUnreachable)
		return
	}
	res, err := flows.exec.Run(ctx, leg, &ivr.Call{ID: info.ID, Flow: flow, Caller: caller})
	if err != nil {
		s.log.Warn("ivr failed", "call", info.ID, "error", err)
		_ = leg.Hangup(sip.CauseFailure)
		return
	}
	if res.Outcome == ivr.OutcomeQueue && !res.Handed {
		s.log.Warn("the queue did not take the call: hanging up", "call", info.ID, "queue", res.Queue)
		_ = leg.Hangup(sip.CauseFailure)
	}
}

// resumeWait puts a call re-adopted after a restart (Asterisk mode) back
// into the queue it was waiting in, at its place: the event log says which
// queue and since when. It reports false when the call was not waiting in
// a queue (it was in the IVR, or there is no database): then the IVR runs
// for it again.
func (s *Server) resumeWait(ctx context.Context, leg sip.Leg, info sip.CallInfo, caller ivr.Caller) bool {
	if s.store == nil {
		s.log.Info("resumed call goes through the IVR again: no event log to resume it from", "call", info.ID)
		return false
	}
	evs, err := s.store.CallEvents(ctx, info.ID)
	if err != nil {
		s.log.Warn("resumed call goes through the IVR again: event log unreadable", "call", info.ID, "error", err)
		return false
	}
	reporting.SortEvents(evs)
	c := eventlog.FoldCall(evs)
	v, waiting := c.Waiting()
	if !waiting {
		s.log.Info("resumed call goes through the IVR again: it was not waiting in a queue", "call", info.ID)
		return false
	}
	prio := v.Priority
	for _, q := range s.cfg.Queues {
		if q.Name == v.Queue {
			prio -= q.Priority // queue.joined carries the queue's priority added
		}
	}
	nc := queue.NewCall{ID: info.ID, Caller: caller.ID(), Queue: v.Queue, Priority: prio, Lang: c.Language,
		IVRPath: c.IVRPath, Resumed: v.JoinedAt, Data: map[string]string{}}
	if err := s.runner.Enqueue(ctx, leg, nc); err != nil {
		s.log.Warn("resumed call goes through the IVR again: the queue did not take it back", "call", info.ID, "queue", v.Queue, "error", err)
		return false
	}
	s.log.Info("resumed call back in its queue", "call", info.ID, "queue", v.Queue, "waiting_since", v.JoinedAt)
	return true
}
