package queue

// Events added by the Engine on top of the agreed vocabulary in event.go.
const (
	// CallFinished: the Engine is done with the call; exactly one per call
	// that entered the Engine. Reason = answered|abandoned|timeout|rejected|
	// callback-failed|callback-cancelled. Data[wait_ms] for unanswered calls.
	CallFinished EventType = "queue.call_finished"
	// EscalationAnswered: an escalated call reached a second-line agent.
	// Queue/Agent = second line; Data[from_queue], Data[from_agent],
	// Data[reach_ms] (from the escalation to the answer), Data[mode].
	EscalationAnswered EventType = "call.escalation_answered"
	// ConsultStarted: a first-line Agent put the caller on hold to consult
	// second line. Queue = from queue, Data[to_queue], Reason = reason code.
	ConsultStarted EventType = "call.consult_started"
	// ConsultAnswered: second-line Agent answered the consultation.
	// Data[wait_ms].
	ConsultAnswered EventType = "call.consult_answered"
	// ConsultEnded: the consultation ended. Reason = completed|returned|
	// caller-hangup|agent-left (the first agent hung up before the consultant
	// answered: the call then escalates blind).
	ConsultEnded EventType = "call.consult_ended"
)

// Data keys the Engine uses beyond those documented in event.go:
// queue.abandoned Data[short] = "1" when the wait was under the queue's
// short-abandon threshold; queue.answered Data[within_sl] = "1" when within
// the SL threshold; queue.joined Data[callback] = "1" for callbacks
// re-entering; call.escalated Data[notes]; agent.offered Data[purpose];
// callback.result Data[final] = "1" on the last failed attempt;
// queue.timeout and queue.overflowed Reason = max-wait|full|no-agents.
