package eventlog

import (
	"strconv"
	"strings"
	"time"
)

// An event's payload beyond its common fields is Event.Data, a string map:
// that is how it is stored (a JSON object in PostgreSQL, the spool journal
// and the live stream) and it stays readable by any tool. Code does not
// touch the map: every key is declared here once, with its type, and read
// and written through the typed accessors below (Duration, Int, Flag,
// Time, String and their With* setters), so a duration is a
// time.Duration, a count an int, and a key cannot be misspelt.

// DurationKey names a duration. Its stored unit is its suffix: "_ms"
// milliseconds (truncated), "_s" whole seconds.
type DurationKey string

// IntKey names an integer.
type IntKey string

// FlagKey names a flag, stored as "1" when set and absent otherwise.
type FlagKey string

// TimeKey names an instant, stored as RFC 3339 with nanoseconds, UTC.
type TimeKey string

// StringKey names a string.
type StringKey string

// Durations.
const (
	// KeyWait: the wait in the queue so far (queue.answered, .abandoned,
	// .overflowed, .timeout, callback.requested, queue.call_finished for
	// unanswered calls, call.consult_answered).
	KeyWait DurationKey = "wait_ms"
	// KeyTalk: the bridged time (call.completed).
	KeyTalk DurationKey = "talk_ms"
	// KeyRing: how long the agent's phone rang (agent.ring_noanswer).
	KeyRing DurationKey = "ring_ms"
	// KeyReach: from the escalation to second line's answer
	// (call.escalation_answered).
	KeyReach DurationKey = "reach_ms"
	// KeyWrapup: the agent's after-call work (agent.wrapup_ended); the
	// wrap-up's planned length (agent.state to wrap-up).
	KeyWrapup DurationKey = "wrapup_ms"
	// KeyEWT: the estimated wait given to the caller (queue.joined,
	// queue.announced, queue.answered).
	KeyEWT DurationKey = "ewt_s"
	// KeyMonitored: how long a supervisor monitored a call (monitor.ended).
	KeyMonitored DurationKey = "monitor_ms"
)

// Integers.
const (
	KeyPosition IntKey = "position"  // place in the queue, 1 first (queue.joined, .announced, .abandoned)
	KeyAttempt  IntKey = "attempt"   // callback or survey attempt, 1 first (callback.result, survey.attempt)
	KeyAttempts IntKey = "attempts"  // survey attempts made (survey.failed)
	KeyTry      IntKey = "try"       // the IVR node's try, 1 first (ivr.timeout, ivr.invalid)
	KeyRating   IntKey = "rating"    // the customer's rating 1-5 (survey.completed)
	KeyPriority IntKey = "priority"  // the queue priority an IVR queue node asks for (ivr.node)
	KeySurveyID IntKey = "survey_id" // the survey row (survey.* events)
	KeyLine     IntKey = "line"      // the line surveyed, 1 or 2 (survey.* events)
	KeyCalls    IntKey = "calls"     // earlier calls in the lookup window (ivr.node of a lookup node)
	KeyBranch   IntKey = "branch"    // the lookup branch taken, 1 first (ivr.node)
)

// Flags.
const (
	KeyShort    FlagKey = "short"     // abandoned within the queue's short-abandon threshold (queue.abandoned)
	KeyWithinSL FlagKey = "within_sl" // answered within the queue's SL threshold (queue.answered)
	KeyCallback FlagKey = "callback"  // a callback re-entering the queue (queue.joined)
	KeyResumed  FlagKey = "resumed"   // a wait resumed after a restart (queue.joined; see KeyJoinedAt)
	KeyFinal    FlagKey = "final"     // the last failed callback attempt (callback.result)
	KeyNoSurvey FlagKey = "no_survey" // the agent asks not to survey this call (call.disposition)
)

// Instants.
const (
	KeyJoinedAt   TimeKey = "joined_at"   // when a resumed wait began (queue.joined with KeyResumed)
	KeyOriginalAt TimeKey = "original_at" // when an escalated call first queued (queue.joined)
	KeyAt         TimeKey = "at"          // when the survey call is due (survey.scheduled)
	KeyDue        TimeKey = "due"         // when an agent's callback is due (callback.requested of source agent); the call the wrap-up follows (agent.state to wrap-up)
)

// Strings.
const (
	KeyFrom           StringKey = "from"            // the agent's previous state (agent.state); the previous monitor mode (monitor.mode)
	KeyTo             StringKey = "to"              // the agent's new state (agent.state); the called number (call.arrived)
	KeyTrunk          StringKey = "trunk"           // the trunk a call came in on (call.arrived)
	KeyNodeID         StringKey = "node_id"         // the hotline node that took the call (call.arrived; node.id)
	KeySide           StringKey = "side"            // who ended the caller's leg: local|remote (call.ended)
	KeyToQueue        StringKey = "to_queue"        // where the call goes (queue.overflowed, call.escalated, call.consult_started)
	KeyEscalatedFrom  StringKey = "escalated_from"  // the first-line queue of an escalated call (queue.joined)
	KeyFromQueue      StringKey = "from_queue"      // the escalating queue (call.escalation_answered); the previous queue (monitor.followed)
	KeyFromAgent      StringKey = "from_agent"      // the escalating agent (call.escalation_answered); the agent monitored before (monitor.followed)
	KeyMode           StringKey = "mode"            // escalation mode: blind|warm|api|code (call.escalated, .escalation_answered); monitor mode: listen|whisper|barge (monitor.*)
	KeyBy             StringKey = "by"              // who ended the talk: caller|agent|transfer (call.completed)
	KeyPurpose        StringKey = "purpose"         // why the agent is offered a call (agent.offered); what a refused dial was for (dial.refused)
	KeyRule           StringKey = "rule"            // the prefix or limit that refused a dial (dial.refused)
	KeyCode           StringKey = "code"            // the disposition code (call.disposition)
	KeyNotes          StringKey = "notes"           // the agent's notes (call.disposition, call.escalated, call.consult_started, callback.requested)
	KeyFlow           StringKey = "flow"            // the IVR flow (ivr.node)
	KeyNode           StringKey = "node"            // the IVR node (ivr.*)
	KeyNodeType       StringKey = "type"            // the IVR node's type (ivr.node)
	KeyDigits         StringKey = "digits"          // digits the caller pressed (ivr.digits, ivr.invalid)
	KeyLang           StringKey = "lang"            // the language chosen (ivr.language)
	KeyVar            StringKey = "var"             // the variable a collect node fills (ivr.collect)
	KeyValue          StringKey = "value"           // the value collected (ivr.collect)
	KeyQueue          StringKey = "queue"           // the queue an IVR node hands to (ivr.node, ivr.callback); the queue whose call the wrap-up follows (agent.state to wrap-up)
	KeySchedule       StringKey = "schedule"        // the schedule an hours node checked (ivr.node)
	KeyOpen           StringKey = "open"            // whether it was open: true|false (ivr.node)
	KeySolved         StringKey = "solved"          // the customer's answer: yes|no (survey.completed)
	KeyError          StringKey = "error"           // why a lookup found no history (ivr.node)
	KeyOpenEscalation StringKey = "open_escalation" // the queue of the caller's open escalation (ivr.node of a lookup)
	KeyPrompt         StringKey = "prompt"          // "none" when a message node played nothing (ivr.message)
	KeyActor          StringKey = "actor"           // who did it: a user id or "api-token" (desk.action)
	KeyRole           StringKey = "role"            // the actor's role: agent|supervisor|admin (desk.action)
	KeyVia            StringKey = "via"             // how: session|token (desk.action); session|token|phone (monitor.*)
	KeySupervisor     StringKey = "supervisor"      // the desk user who monitors (monitor.*)
	KeyAudio          StringKey = "audio"           // where the supervisor's audio is: phone (their SIP user's contacts) | browser (the desk's softphone only) (monitor.*)
	KeyOfCall         StringKey = "of_call"         // the call an agent scheduled a callback from (callback.requested of source agent)
)

// KeyLineAgent and KeyLineQueue name the last agent and queue of a line
// (survey.* events: agent1, queue1, agent2, queue2).
func KeyLineAgent(line int) StringKey { return StringKey("agent" + strconv.Itoa(line)) }

// KeyLineQueue: see KeyLineAgent.
func KeyLineQueue(line int) StringKey { return StringKey("queue" + strconv.Itoa(line)) }

// Duration returns a duration and whether it is present and valid
// (non-negative).
func (e Event) Duration(k DurationKey) (time.Duration, bool) {
	s, ok := e.Data[string(k)]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n) * k.unit(), true
}

func (k DurationKey) unit() time.Duration {
	if strings.HasSuffix(string(k), "_ms") {
		return time.Millisecond
	}
	return time.Second
}

// Int returns an integer and whether it is present and valid.
func (e Event) Int(k IntKey) (int, bool) {
	s, ok := e.Data[string(k)]
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// Flag reports whether a flag is set.
func (e Event) Flag(k FlagKey) bool { return e.Data[string(k)] == "1" }

// Time returns an instant and whether it is present and valid.
func (e Event) Time(k TimeKey) (time.Time, bool) {
	s, ok := e.Data[string(k)]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// String returns a string ("" when absent).
func (e Event) String(k StringKey) string { return e.Data[string(k)] }

// set stores v under k, allocating Data; the With* setters are meant for a
// new event (they write into the map e shares with its copies).
func (e Event) set(k, v string) Event {
	if e.Data == nil {
		e.Data = make(map[string]string)
	}
	e.Data[k] = v
	return e
}

// WithDuration sets a duration in the key's unit (truncated).
func (e Event) WithDuration(k DurationKey, d time.Duration) Event {
	return e.set(string(k), strconv.FormatInt(int64(d/k.unit()), 10))
}

// WithInt sets an integer.
func (e Event) WithInt(k IntKey, n int) Event { return e.set(string(k), strconv.Itoa(n)) }

// WithFlag sets a flag when on (an unset flag is absent).
func (e Event) WithFlag(k FlagKey, on bool) Event {
	if !on {
		return e
	}
	return e.set(string(k), "1")
}

// WithTime sets an instant (stored in UTC).
func (e Event) WithTime(k TimeKey, t time.Time) Event {
	return e.set(string(k), t.UTC().Format(time.RFC3339Nano))
}

// WithString sets a string, even an empty one.
func (e Event) WithString(k StringKey, s string) Event { return e.set(string(k), s) }
