// Package callback keeps queued callbacks as durable River jobs in
// PostgreSQL, so that a callback promised to a caller survives a restart
// and a crash (kill -9).
//
// A callback is a row of the callback table and River jobs of kind
// "hotline.callback". It comes from the queue's callback key, from
// on_max_wait (on_full, no agents) = callback — the queue Runner stores it
// (queue.CallbackStore) before the caller hears the confirmation — or from
// the IVR's callback node (RequestCallback). A job hands the callback to the
// queue (queue.Runner.EnqueueCallback) at the caller's original place in
// line, inside the queue's calling hours and before its deadline; the queue
// reserves an agent when the callback's turn comes and dials the caller
// through the trunk (the agent-first flow of the Engine). Each attempt's
// outcome reaches the service as a callback.result event on the bus
// (Publish): connected ends it, a failure schedules the next attempt (a
// new job after the spacing, in calling hours) until the attempts run out
// (no_answer or failed); past the deadline it is expired, a dialling
// policy refusal ends it as refused. At Start, callbacks that were in the
// line of a previous process get a job at once: they return to their
// place. Every callback dial is written to its row (TrackDials wraps the
// Runner's switch); a dial a crash cut is counted and settled at Start
// before the line is restored (crash.go).
//
// It may import queue, eventlog, sip (number masking, the Switch it wraps),
// River and pgx; it is imported by internal/server only.
package callback
