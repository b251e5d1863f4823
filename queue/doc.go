// Package queue is hotline's automatic call distribution (ACD): it decides
// which agent gets which caller, fairly across queues, and escalates calls
// from the first line to the second.
//
// The heart of the package is the Engine, a deterministic state machine. It
// owns no goroutines, does no I/O and never sleeps: every input is a method
// call (a call joined a queue, an agent logged in, a ring was answered, a
// timer is due, ...) that returns the Actions the caller must carry out on
// the switch (ring an agent, bridge, start music on hold, announce, dial the
// caller back, ...). Time comes from an injected Clock, and the Engine asks
// to be woken with a SetTimer action; the Runner then calls Tick. Every state
// change is published as an Event (see event.go) through a Publisher.
//
// The Engine deals in ids only; it does not import package sip. A Runner
// maps ids to sip.Legs and feeds outcomes back. docs/queue.md describes the
// states, the ordering rules, the estimated-wait method and the escalation
// model.
package queue
