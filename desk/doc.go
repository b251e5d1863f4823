// Package desk is the agents' web desk: the page agents work in (served
// from the binary), who may use it and what each may do.
//
//   - People and access: per-user passwords (bcrypt hashes), roles agent,
//     supervisor (their teams and queues) and admin, cookie sessions
//     (HttpOnly, SameSite=Strict, Secure over TLS or when configured) with
//     a CSRF token checked on every state-changing request, login lockout
//     per user and per source address. API wraps the /api/v1 handler with
//     the role check (the machine bearer token is the admin scope) and
//     records every successful action as a desk.action event naming who
//     did it.
//   - The caller's card, built from the event log: the live call's events
//     (this package is a consumer of the bus and keeps recent calls) and the
//     caller's earlier calls in the FCR window from the stored events.
//   - A per-user live stream (SSE) with Last-Event-ID catch-up.
//   - The page: plain ES modules embedded from web/ (no build step).
//
// It may import eventlog and reporting (reads only). It reaches the queue
// only through the HTTP API handler it is given, never the Engine.
package desk
