// Package survey is hotline's next-day CSI/FCR survey bot.
//
// It consumes the event stream (it is a eventlog.Publisher): call.arrived gives
// the caller's number, queue.answered/call.completed the agents and queues,
// call.escalated the second line, call.disposition the agent's "do not
// survey" flag. When an answered call ends (queue.call_finished answered, or
// call.ended) it decides eligibility — callable E.164 number, not opted out,
// not surveyed within the cooldown, not marked no_survey, sampled per queue
// deterministically from the call id — and either records the reason for
// skipping (survey.skipped) or stores a survey row and, in the same
// transaction, a River job scheduled for the next day inside the calling
// window in the caller's own time zone (survey.scheduled).
//
// The job dials the number stored in the survey row (written from the
// call.arrived event of the real inbound call, never from an API parameter)
// through the configured trunk, plays the script (greeting, rating 1–5,
// solved 1/2, 9 = never call again) and publishes survey.attempt,
// survey.completed, survey.failed and survey.optout events linked to the
// original call, its agent, queue and line. Reporting derives CSI, survey
// FCR and hotline_survey_calls_total{result} from those events; this package
// registers no metric of that name.
//
// Scheduling is pure (Planner) and takes the clock as an argument; the
// service takes a Clock in Deps. See docs/survey.md.
package survey
