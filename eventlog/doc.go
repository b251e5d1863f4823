// Package eventlog is the vocabulary of hotline's event log and the bus that
// carries it: every state change of a call or an agent is an Event, with an
// ID from one generator (IDs), published on a Bus that delivers it, in
// order and off the caller's path, to every consumer — the reporting
// writer and metrics, the survey, the live stream (Broadcaster).
//
// It is a leaf: standard library only. Producers (the switch wiring, ivr,
// queue, survey) and consumers (reporting, survey, the desks) import it; it
// imports none of them.
package eventlog
