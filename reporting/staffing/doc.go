// Package staffing answers "how many agents does this traffic need?" for a
// hotline queue: Erlang C (callers wait forever) and Erlang A (M/M/n+M,
// callers abandon after an exponential patience) predictions of the
// probability of waiting, service level under hotline's three SL formula
// families, ASA, occupancy and abandonment, the smallest number of agents
// that meets a service-level target, and a next-day forecast per interval
// from the same weekday's history.
//
// It lives under reporting because its two callers both sit on reporting's
// side of the event flow: reporting's live gauge hotline_agents_required
// (fed with the real arrival rate and AHT of the last intervals) and the
// `hotline staffing` CLI. It is pure math over plain values: it imports
// nothing from hotline, does no I/O, holds no state and reads no clock, so
// reporting, cmd and any future scheduler can share it without an import
// cycle.
//
// The computations are numerically stable for large centres: Erlang B by its
// recursion and Erlang C from B (no factorials, no powers), Erlang A through
// log-space regularised incomplete gamma functions and a rescaled series.
// The formulas and their sources are in docs/staffing.md.
package staffing
