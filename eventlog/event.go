package eventlog

import "time"

// Event is one entry of hotline's event log: every state change of a call or
// an agent, whoever produced it (switch wiring, ivr, queue, survey). Reporting
// derives call records, rollups and metrics from these and nothing else.
//
// Times are UTC. IDs come from one generator per process (IDs) and sort by
// creation, so a replay is idempotent by ID.
type Event struct {
	ID       string            `json:"id"`
	At       time.Time         `json:"at"`
	Type     Type              `json:"type"`
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

// Type names an event. Values are stable: they are stored in the
// database and exported.
type Type string

// Call lifecycle (produced by the wiring around the switch).
const (
	// CallArrived: an inbound call reached hotline. Caller, Data[to], Data[trunk].
	CallArrived Type = "call.arrived"
	// CallEnded: the caller's leg ended. Reason = cause, Data[side] = local|remote.
	CallEnded Type = "call.ended"
)

// IVR (produced by package ivr).
const (
	IVRNode     Type = "ivr.node"     // Data[flow], Data[node]
	IVRDigits   Type = "ivr.digits"   // Data[node], Data[digits]
	IVRTimeout  Type = "ivr.timeout"  // Data[node], Data[try]
	IVRInvalid  Type = "ivr.invalid"  // Data[node], Data[digits], Data[try]
	IVRLanguage Type = "ivr.language" // Data[lang]
	IVRCollect  Type = "ivr.collect"  // Data[node], Data[var], Data[value]
	IVRMessage  Type = "ivr.message"  // played a closing message; Reason = after-hours|...
	IVRCallback Type = "ivr.callback" // a callback request was recorded
)

// Queue (produced by package queue).
const (
	// QueueJoined: the call entered Queue; its wait starts here. Priority;
	// Data[position]; for an escalation Data[escalated_from], Data[original_at].
	QueueJoined Type = "queue.joined"
	// QueueAnnounced: position/estimated wait announced. Data[position], Data[ewt_s].
	QueueAnnounced Type = "queue.announced"
	// AgentOffered: Agent's phone is ringing for the call.
	AgentOffered Type = "agent.offered"
	// AgentRingNoAnswer: Agent did not answer. Data[ring_ms], Reason = cause.
	AgentRingNoAnswer Type = "agent.ring_noanswer"
	// QueueAnswered: Agent answered; the call is bridged. Data[wait_ms], Data[ewt_s] (the estimate given at join).
	QueueAnswered Type = "queue.answered"
	// QueueAbandoned: the caller hung up while waiting. Data[wait_ms], Data[position].
	QueueAbandoned Type = "queue.abandoned"
	// QueueOverflowed: the call left Queue for Data[to_queue] after max wait or max length. Data[wait_ms].
	QueueOverflowed Type = "queue.overflowed"
	// QueueTimeout: max wait reached; message played and call ended. Data[wait_ms].
	QueueTimeout Type = "queue.timeout"
	// CallbackOffered: a waiting caller was told they can ask for a callback (the callback-offer prompt).
	CallbackOffered Type = "callback.offered"
	// CallbackRequested: the caller chose to be called back and keeps their place. Data[wait_ms] (the
	// wait in the queue so far), Reason = key|max-wait|full|no-agents|ivr (where the request came from).
	CallbackRequested Type = "callback.requested"
	// CallbackResult: a callback attempt's outcome, or the callback's end without an attempt.
	// Reason = connected|no-answer|busy|failed (an attempt: Data[attempt]) or expired|refused (no dial;
	// Data[attempt] = attempts made); Data[final] = "1" when the callback ends with it (always for
	// connected); on connected Data[wait_ms] = from the request to the caller joining the agent.
	CallbackResult Type = "callback.result"
	// CallCompleted: the bridged call ended. Agent, Data[talk_ms], Data[by] = caller|agent|transfer.
	CallCompleted Type = "call.completed"
	// CallDisposition: the agent's disposition. Reason = resolved|not_resolved|escalated,
	// Data[code], Data[notes], Data[no_survey] = "1" when the agent asks not to survey.
	CallDisposition Type = "call.disposition"
	// CallEscalated: first line handed the call to second line. Queue = from queue, Agent = from agent,
	// Data[to_queue], Data[mode] = blind|warm|api|code, Reason = reason code.
	CallEscalated Type = "call.escalated"
	// AgentState: an agent changed state. Data[from], Data[to], Reason (pause reason).
	AgentState Type = "agent.state"
	// WrapupEnded: the agent's wrap-up after a call ended; CallID and Queue name that call. Data[wrapup_ms].
	WrapupEnded Type = "agent.wrapup_ended"
)

// Survey (produced by package survey).
const (
	SurveySkipped   Type = "survey.skipped"   // Reason = why not selected
	SurveyScheduled Type = "survey.scheduled" // Data[at]
	SurveyAttempt   Type = "survey.attempt"   // Data[attempt], Reason = outcome
	SurveyCompleted Type = "survey.completed" // Data[rating] 1-5, Data[solved] yes|no (each optional)
	SurveyFailed    Type = "survey.failed"    // Reason
	SurveyOptOut    Type = "survey.optout"    // the customer asked never to be called again
)

// Dialling policy (produced by package dialpolicy for the survey and
// callbacks).
const (
	// DialRefused: hotline refused to dial a customer's number. CallID = the
	// inbound call the number came from, Caller = the number, Reason =
	// not-e164|not-inbound|denied|not-allowed|daily-cap|per-number,
	// Data[purpose] = survey|callback, Data[rule] = the prefix that decided
	// (denied, not-allowed) or the limit reached.
	DialRefused Type = "dial.refused"
)

// The desk (produced by package desk).
const (
	// DeskAction: someone did something through the desk or the API: an
	// agent state change, a disposition, an escalation, a password reset,
	// a login or logout. Reason = the action (agent.ready, agent.pause,
	// call.disposition, call.escalate, password.reset, login, logout...),
	// Agent = the agent acted on, CallID = the call acted on,
	// Data[actor] = who did it, Data[role] = agent|supervisor|admin,
	// Data[via] = session|token. The action's own events (agent.state,
	// call.disposition...) follow from the queue as before.
	DeskAction Type = "desk.action"
)

// Monitoring (produced by the serve wiring, internal/server/monitor.go):
// a supervisor listening to, whispering to or barging into a call. CallID,
// Agent (the agent monitored) and Queue are the call's; Data[supervisor]
// is the desk user, Data[mode] = listen|whisper|barge, Data[via] =
// session|token|phone (the desk, an API client or a feature code),
// Data[audio] = phone|browser (the supervisor's SIP user's contacts, or
// only the desk page's browser softphone).
const (
	// MonitorStarted: the supervisor's phone joined the call.
	MonitorStarted Type = "monitor.started"
	// MonitorMode: the supervisor switched mode; Data[mode] is the new
	// one, Data[from] the previous.
	MonitorMode Type = "monitor.mode"
	// MonitorFollowed: the call the supervisor monitors went on to another
	// agent (an escalation, blind or warm; a consultation cancelled back
	// to the first agent) and the supervisor's leg joined that bridge in
	// the same mode. Agent/Queue = the new ones, Data[from_agent],
	// Data[from_queue] = the previous.
	MonitorFollowed Type = "monitor.followed"
	// MonitorEnded: the supervisor left. Data[mode] = the last mode,
	// Data[monitor_ms] = how long, Reason = left|call-ended|
	// supervisor-hangup|shutdown.
	MonitorEnded Type = "monitor.ended"
)

// Queue (produced by package queue's Engine), continued.
const (
	// CallFinished: the Engine is done with the call; exactly one per call
	// that entered the Engine. Reason = answered|abandoned|timeout|rejected|
	// callback-failed|callback-cancelled. Data[wait_ms] for unanswered calls.
	CallFinished Type = "queue.call_finished"
	// EscalationAnswered: an escalated call reached a second-line agent.
	// Queue/Agent = second line; Data[from_queue], Data[from_agent],
	// Data[reach_ms] (from the escalation to the answer), Data[mode].
	EscalationAnswered Type = "call.escalation_answered"
	// ConsultStarted: a first-line Agent put the caller on hold to consult
	// second line. Queue = from queue, Data[to_queue], Reason = reason code,
	// Data[notes] = first line's note (what the consultant's card shows).
	ConsultStarted Type = "call.consult_started"
	// ConsultAnswered: second-line Agent answered the consultation.
	// Data[wait_ms].
	ConsultAnswered Type = "call.consult_answered"
	// ConsultEnded: the consultation ended. Reason = completed|returned|
	// caller-hangup|agent-left (the first agent hung up before the consultant
	// answered: the call then escalates blind).
	ConsultEnded Type = "call.consult_ended"
)

// Further data keys of the Engine's events:
// queue.abandoned Data[short] = "1" when the wait was under the queue's
// short-abandon threshold; queue.answered Data[within_sl] = "1" when within
// the SL threshold; queue.joined Data[callback] = "1" for callbacks
// re-entering; call.escalated Data[notes]; agent.offered Data[purpose];
// callback.result Data[final] = "1" on the last failed attempt;
// queue.timeout and queue.overflowed Reason = max-wait|full|no-agents.
