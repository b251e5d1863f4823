// Package server is the serve composition of hotline: it builds the
// switch, IVR, queue, reporting, survey and HTTP pieces from one
// *config.Config, runs them as services with one lifecycle (started in
// dependency order, stopped in reverse), reloads flows and credentials, and
// carries the policy that joins them (the IVR→queue hand-over, the
// call-intake rules, the staffing gauge, config→package mappings).
// cmd/hotline only parses flags, loads the config, handles signals and
// calls New, Start, Reload and Shutdown; end-to-end tests drive it the
// same way.
//
// It may import every hotline package except cmd; only cmd/hotline (and
// tests) import it. It keeps no global state: everything lives in a Server.
package server
