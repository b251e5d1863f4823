package queue

import "time"

// Event is one entry of hotline's event log: every state change of a call or
// an agent, whoever produced it (switch wiring, ivr, queue, survey). Reporting
// derives call records, rollups and metrics from these and nothing else.
//
// Times are UTC. IDs are unique and sort by creation time within a process,
// so a replay is idempotent by ID.
type Event struct {
	ID       string            `json:"id"`
	At       time.Time         `json:"at"`
	Type     EventType         `json:"type"`
	CallID   string            `json:"call_id,omitempty"`
	Queue    string            `json:"queue,omitempty"`
	Agent    string            `json:"agent,omitempty"`
	Caller   string            `json:"caller,omitempty"` // E.164 or "anonymous"; masked in logs, never a metric label
	Priority int               `json:"priority,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Data     map[string]string `json:"data,omitempty"`
}

// Publisher receives events. Implementations must not block the caller for
// long (reporting buffers and spools); Publish is called from the call path.
type Publisher interface {
	Publish(Event)
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(Event)

// Publish calls f(e).
func (f PublisherFunc) Publish(e Event) { f(e) }

// EventType names an event. Values are stable: they are stored in the
// database and exported.
type EventType string

// Call lifecycle (produced by the wiring around the switch).
const (
	// CallArrived: an inbound call reached hotline. Caller, Data[to], Data[trunk].
	CallArrived EventType = "call.arrived"
	// CallEnded: the caller's leg ended. Reason = cause, Data[side] = local|remote.
	CallEnded EventType = "call.ended"
)

// IVR (produced by package ivr).
const (
	IVRNode     EventType = "ivr.node"     // Data[flow], Data[node]
	IVRDigits   EventType = "ivr.digits"   // Data[node], Data[digits]
	IVRTimeout  EventType = "ivr.timeout"  // Data[node], Data[try]
	IVRInvalid  EventType = "ivr.invalid"  // Data[node], Data[digits], Data[try]
	IVRLanguage EventType = "ivr.language" // Data[lang]
	IVRCollect  EventType = "ivr.collect"  // Data[node], Data[var], Data[value]
	IVRMessage  EventType = "ivr.message"  // played a closing message; Reason = after-hours|...
	IVRCallback EventType = "ivr.callback" // a callback request was recorded
)

// Queue (produced by package queue).
const (
	// QueueJoined: the call entered Queue; its wait starts here. Priority;
	// Data[position]; for an escalation Data[escalated_from], Data[original_at].
	QueueJoined EventType = "queue.joined"
	// QueueAnnounced: position/estimated wait announced. Data[position], Data[ewt_s].
	QueueAnnounced EventType = "queue.announced"
	// AgentOffered: Agent's phone is ringing for the call.
	AgentOffered EventType = "agent.offered"
	// AgentRingNoAnswer: Agent did not answer. Data[ring_ms], Reason = cause.
	AgentRingNoAnswer EventType = "agent.ring_noanswer"
	// QueueAnswered: Agent answered; the call is bridged. Data[wait_ms], Data[ewt_s] (the estimate given at join).
	QueueAnswered EventType = "queue.answered"
	// QueueAbandoned: the caller hung up while waiting. Data[wait_ms], Data[position].
	QueueAbandoned EventType = "queue.abandoned"
	// QueueOverflowed: the call left Queue for Data[to_queue] after max wait or max length. Data[wait_ms].
	QueueOverflowed EventType = "queue.overflowed"
	// QueueTimeout: max wait reached; message played and call ended. Data[wait_ms].
	QueueTimeout EventType = "queue.timeout"
	// CallbackRequested: the caller chose to be called back and keeps their place. Data[wait_ms].
	CallbackRequested EventType = "callback.requested"
	// CallbackResult: the callback attempt's outcome. Reason = connected|no-answer|busy|failed, Data[attempt].
	CallbackResult EventType = "callback.result"
	// CallCompleted: the bridged call ended. Agent, Data[talk_ms], Data[by] = caller|agent|transfer.
	CallCompleted EventType = "call.completed"
	// CallDisposition: the agent's disposition. Reason = resolved|not_resolved|escalated,
	// Data[code], Data[notes], Data[no_survey] = "1" when the agent asks not to survey.
	CallDisposition EventType = "call.disposition"
	// CallEscalated: first line handed the call to second line. Queue = from queue, Agent = from agent,
	// Data[to_queue], Data[mode] = blind|warm|api|code, Reason = reason code.
	CallEscalated EventType = "call.escalated"
	// AgentState: an agent changed state. Data[from], Data[to], Reason (pause reason).
	AgentState EventType = "agent.state"
	// WrapupEnded: the agent's wrap-up after a call ended; CallID and Queue name that call. Data[wrapup_ms].
	WrapupEnded EventType = "agent.wrapup_ended"
)

// Survey (produced by package survey).
const (
	SurveySkipped   EventType = "survey.skipped"   // Reason = why not selected
	SurveyScheduled EventType = "survey.scheduled" // Data[at]
	SurveyAttempt   EventType = "survey.attempt"   // Data[attempt], Reason = outcome
	SurveyCompleted EventType = "survey.completed" // Data[rating] 1-5, Data[solved] yes|no (each optional)
	SurveyFailed    EventType = "survey.failed"    // Reason
	SurveyOptOut    EventType = "survey.optout"    // the customer asked never to be called again
)
