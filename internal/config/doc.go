// Package config reads hotline's single YAML configuration file into plain,
// typed and validated Go structs.
//
// Parse and Load decode the file through a yaml.Node tree so that every
// problem can be reported as "FILE:LINE: path: message": unknown keys,
// malformed values, and cross-references (overflow queues, music-on-hold
// classes, the escalation queue, the survey trunk, ...). All problems are
// collected and returned together as an ErrorList. Non-fatal findings, such
// as a prompt directory that does not exist, are returned in
// Config.Warnings with the same prefix.
//
// Defaults are applied for every key that is absent (see
// docs/configuration.md). Passwords are held as Secret values, which never
// print their contents; Config.Redacted returns a copy that is safe to show.
//
// The package knows nothing about the packages it configures: cmd/hotline
// maps these structs onto the configuration types of sip, queue, ivr,
// survey and reporting. The ivr section is kept as a raw *yaml.Node for
// package ivr to parse, so its errors can name lines of the same file.
package config
