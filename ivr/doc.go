// Package ivr runs hotline's call flows: the voice menus a caller hears
// before a queue takes over.
//
// Flows are described in the `ivr:` section of the configuration file and
// loaded with [ParseFlows], which refuses a flow set with unknown nodes or
// targets, digits mapped twice, unreachable nodes, loops with no way out,
// missing prompts, bad patterns or menus that could drop a caller, each
// error naming the file and line. docs/ivr.md describes the YAML shape.
//
// An [Executor] runs a flow on a [sip.Leg]: it plays prompts (with barge-in),
// reads menu choices and collected digits, switches the prompt language,
// branches on working hours (weekly schedule, date exceptions and the Russian
// production calendar shipped in calendar/) and on the caller's history, and
// ends with a [Result]: hand the call to a queue, play a closing message and
// hang up, record a callback request, or the caller hung up. Every step is
// published as a eventlog.Event (ivr.node, ivr.digits, ivr.timeout, ...).
//
// The package owns no goroutines and no global state; time comes from a
// [Clock], caller history from a [History], prompt existence from a
// [PromptChecker], all supplied by the caller.
package ivr
