// Package dialpolicy decides whether hotline may dial a customer's number:
// the survey bot's calls and queue callbacks, the two ways hotline calls
// out to a number it did not choose itself. It is the defence against toll
// fraud through caller ID (a spoofed From or P-Asserted-Identity of a
// premium-rate number reaches hotline as the caller's number).
//
// A Policy refuses, in this order:
//
//   - not-e164: the number is not "+" and 7 to 15 digits;
//   - not-inbound: the number did not arrive on an inbound call through a
//     trunk (Request.Trunk empty, or not one of Config.Trunks);
//   - denied: the longest matching prefix of Config.Deny (DefaultDeny is
//     always part of it: premium-rate and international premium ranges)
//     is at least as long as the longest matching prefix of Config.Allow;
//   - not-allowed: no prefix of Config.Allow matches (DefaultAllow: Russian
//     geographic and mobile numbers);
//   - per-number: the number was dialled Config.PerNumber times within
//     Config.PerNumberWindow (survey and callbacks together);
//   - daily-cap: Config.DailyCap dials were made today in Config.Zone
//     (survey and callbacks together).
//
// The counts live in a Ledger (MemoryLedger here; a PostgreSQL one in
// dialpolicy/pgledger, shared by every node). Every refusal is published
// as a dial.refused event (eventlog.DialRefused), from which /metrics
// counts hotline_dial_refused_total{purpose,reason}, and logged with the
// number masked.
//
// Consumers (package survey, the queue callbacks' wiring) define the
// interface they need where they use it, e.g.
//
//	type DialGate interface {
//		Permit(ctx context.Context, r dialpolicy.Request) error
//	}
//
// It may import the standard library and eventlog only.
package dialpolicy
