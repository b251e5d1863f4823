// Package reporting turns hotline's event stream into the numbers supervisors
// live by: an append-only event log in PostgreSQL, call records and queue
// visits derived from it, 15-minute rollups per queue and agent, the service
// level, ASA, AHT, abandonment, occupancy, escalation, FCR and CSI formulas,
// Prometheus collectors and report queries.
//
// The flow:
//
//	producers ──eventlog.Event──► Writer.Publish ──batched COPY──► events
//	                              │ (DB down: journal file, replayed in order)
//	                              ▼
//	                         Projector ──► calls, queue_visits, agent_states, rollup_*
//
//	producers ──eventlog.Event──► Metrics.Publish ──► Prometheus collectors
//
// Every formula is documented in docs/metrics.md. Pure functions (BuildCall,
// QueueFigures, AgentFigures, FCR, CSI, Escalations) do the arithmetic; the
// Store reads rows and calls them, so tests can check numbers by hand.
package reporting
