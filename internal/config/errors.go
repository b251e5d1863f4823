package config

import (
	"fmt"
	"strings"
)

// Error is one problem in the configuration file.
type Error struct {
	File string
	Line int    // 1-based; 0 when unknown
	Path string // key path such as "queues[1].on_max_wait.queue"; may be empty
	Msg  string
}

// Error formats the problem as "FILE:LINE: path: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a file, in line order. It is the
// error type returned by Parse and Load for an invalid configuration.
type ErrorList []*Error

// Error returns one problem per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As find each *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}
