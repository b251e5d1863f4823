package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hotline-cc/hotline/internal/server"
)

const privacyUsage = `usage: hotline privacy erase -config FILE NUMBER
       hotline privacy purge -config FILE

erase removes one caller's personal data (docs/privacy.md): the number, the
digits collected and the notes on its calls, the number in the survey tables,
and its events in the writer's spool (through the running hotline's API when
one holds the spool). Figures stay: the event log keeps anonymous refs.
purge runs the retention job once (privacy: in the config).
`

// runPrivacy implements `hotline privacy`: flags only, the work is in
// internal/server (EraseNumber, PurgeExpired).
func runPrivacy(args []string, stdout, stderr io.Writer) int {
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hotline privacy: "+format+"\n\n", a...)
		fmt.Fprint(stderr, privacyUsage)
		return 2
	}
	if len(args) == 0 {
		return bad("missing command: erase or purge")
	}
	cmd := args[0]
	if cmd != "erase" && cmd != "purge" {
		return bad("unknown command %q: want erase or purge", cmd)
	}
	fs := flag.NewFlagSet("privacy "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, privacyUsage) }
	path := fs.String("config", "", "config file (database, spool, retention periods)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *path == "" {
		return bad("-config is required")
	}
	if cmd == "erase" && fs.NArg() != 1 || cmd == "purge" && fs.NArg() != 0 {
		return bad("%s takes %s", cmd, map[string]string{"erase": "one NUMBER", "purge": "no arguments"}[cmd])
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, cancel := reportContext()
	defer cancel()
	var out any
	if cmd == "erase" {
		out, err = server.EraseNumber(ctx, cfg, fs.Arg(0))
	} else {
		out, err = server.PurgeExpired(ctx, cfg, time.Now())
	}
	if err != nil {
		fmt.Fprintf(stderr, "hotline privacy %s: %v\n", cmd, err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
	return 0
}
