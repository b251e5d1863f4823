package queue

import (
	"fmt"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// CallbackCall is a queued callback as a durable store keeps it: enough
// to hand it back to an Engine (after a restart, or for its next attempt)
// at the caller's original place in line.
type CallbackCall struct {
	ID     string // the call id of the request (the caller's call)
	Number string // E.164 to dial
	// Trunk is the trunk the caller's call came in on (the dialling
	// policy's inbound check); callbacks are dialled out on the Runner's
	// CallbackTrunk.
	Trunk    string
	Queue    string
	Priority int // the caller's own priority (the queue's is added)
	Lang     string
	// Joined is when the caller first joined the queue (their place in
	// line); for a callback asked for in the IVR, the request.
	Joined time.Time
	// Requested is when the caller asked for the callback: the callback's
	// own wait (docs/metrics.md) counts from then.
	Requested time.Time
	// Attempts already made (the next dial is Attempts+1).
	Attempts int
	// Source: key | max-wait | full | no-agents | ivr.
	Source string
}

// callbackOf describes c, a queued callback, for a durable store.
func (e *Engine) callbackOf(c *call) *CallbackCall {
	return &CallbackCall{
		ID: c.id, Number: c.cbNumber, Trunk: c.trunk, Queue: c.q.cfg.Name, Priority: c.basePrio, Lang: c.lang,
		Joined: time.Unix(0, c.orderAt).UTC(), Requested: time.Unix(0, c.cbReqNs).UTC(), Attempts: c.cbAttempt, Source: c.cbSource,
	}
}

// offerCallback tells waiting caller c that they can ask for a callback.
func (e *Engine) offerCallback(c *call) {
	if c.callback || c.kind != kCall || c.caller == "" || c.caller == "anonymous" {
		return
	}
	e.act(OfferCallback{CallID: c.id, Queue: c.q.cfg.Name, Lang: c.lang})
	e.emit(eventlog.Event{Type: eventlog.CallbackOffered, CallID: c.id, Queue: c.q.cfg.Name})
}

// EnqueueCallback puts a queued callback kept outside the Engine (a
// durable job, after a restart or for its next attempt) back into its
// queue at the caller's original place (cb.Joined), without a leg. When
// its turn comes an agent is reserved (RingAgent with ForCallback) and the
// caller dialled (DialCallback), as for a callback asked for in this
// process. It emits no queue.joined: the wait it continues was counted
// when the caller first joined. ErrDuplicate: the Engine has it already.
func (e *Engine) EnqueueCallback(cb CallbackCall) ([]Action, error) {
	if cb.ID == "" {
		return nil, fmt.Errorf("%w: empty call id", ErrUnknownCall)
	}
	if e.calls[cb.ID] != nil {
		return nil, fmt.Errorf("%w: %q", ErrDuplicate, cb.ID)
	}
	q := e.queues[cb.Queue]
	if q == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownQueue, cb.Queue)
	}
	if cb.Number == "" || cb.Number == "anonymous" {
		return nil, fmt.Errorf("%w: callback %q has no number", ErrState, cb.ID)
	}
	e.begin()
	lang := cb.Lang
	if lang == "" {
		lang = q.cfg.Lang
	}
	joined := cb.Joined.UnixNano()
	if cb.Joined.IsZero() || joined > e.nowNs {
		joined = e.nowNs
	}
	req := cb.Requested.UnixNano()
	if cb.Requested.IsZero() || req > e.nowNs {
		req = joined
	}
	c := &call{id: cb.ID, caller: cb.Number, trunk: cb.Trunk, lang: lang, basePrio: cb.Priority, tprio: e.rand32(), orderAt: joined,
		callback: true, cbNumber: cb.Number, cbAttempt: cb.Attempts, cbReqNs: req, cbSource: cb.Source}
	c.ctx = CallContext{Lang: lang, Arrived: time.Unix(0, joined)}
	e.calls[c.id] = c
	c.q = q
	c.prio = c.basePrio + q.cfg.Priority
	c.joinedNs = joined
	c.counted = true
	q.size++
	e.seq++
	c.seq = e.seq
	e.placeCall(c)
	return e.end(), nil
}

// WithdrawCallback takes a callback that waits in line or between attempts
// out of the Engine without ending it for its store (call.finished
// callback-withdrawn): the durable job hands it back later at its place
// (calling hours closed). A callback being offered to an agent or dialled
// stays (ErrState).
func (e *Engine) WithdrawCallback(callID string) ([]Action, error) {
	c, err := e.lookupCall(callID)
	if err != nil {
		return nil, err
	}
	if !c.callback || c.cbAnswered || (c.state != stWaiting && c.state != stParked) {
		return nil, fmt.Errorf("%w: call %q is not a callback waiting in line", ErrState, callID)
	}
	e.begin()
	e.removeFromTree(c)
	e.finish(c, "callback-withdrawn", time.Duration(e.nowNs-c.joinedNs))
	return e.end(), nil
}
