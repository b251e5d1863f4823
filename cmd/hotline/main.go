// Command hotline is the call-centre engine's binary: it serves the support
// line (SIP, IVR, queues, reporting, survey), and has subcommands to check a
// configuration, run migrations, print reports and compute staffing.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/internal/server"
)

type command struct {
	run   func(args []string, stdout, stderr io.Writer) int
	usage string
}

func commands() map[string]command {
	return map[string]command{
		"serve":           {runServe, "run the support line: hotline serve -config FILE"},
		"check-config":    {runCheckConfig, "validate a config file: hotline check-config -config FILE [-print]"},
		"migrate":         {runMigrate, "apply database migrations: hotline migrate [-db URL]"},
		"simulate":        {runSimulate, "simulated callers, agents and customers against a running hotline: hotline simulate -config FILE [-duration 3m]"},
		"board":           {runBoard, "live board of a running hotline in the terminal: hotline board [-api URL] [-duration 5m]"},
		"staffing":        {runStaffing, "agents needed (Erlang C/A): hotline staffing -calls N -interval 30m -aht 180s -target 80/20"},
		"report":          {runReport, "print reports: hotline report -by queue|agent|team|interval|fcr|csi|escalations -from -to"},
		"export":          {runExport, "export history: hotline export queue-log -from -to"},
		"privacy":         {runPrivacy, "personal data: hotline privacy erase -config FILE NUMBER | purge -config FILE"},
		"rebuild-rollups": {runRebuildRollups, "recompute interval rollups from the event log: hotline rebuild-rollups -from -to"},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hotline: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: hotline COMMAND [flags]")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, cmds[n].usage)
	}
}

// loadConfig loads and validates a config file and prints its warnings.
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	return cfg, nil
}

func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "examples/hotline.yaml", "config file")
	print := fs.Bool("print", false, "print the effective config with secrets masked")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// The IVR section and the prompts it names are checked like at start.
	if err := server.CheckMedia(cfg); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *print {
		out, err := yaml.Marshal(cfg.Redacted())
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		_, _ = stdout.Write(out)
	}
	fmt.Fprintf(stderr, "%s: ok (%d agents, %d queues, %d trunks)\n", *path, len(cfg.Agents), len(cfg.Queues), len(cfg.SIP.Trunks))
	return 0
}

// databaseURL picks the -db flag, then the config, then DATABASE_URL.
func databaseURL(flagURL string, cfg *config.Config) string {
	if flagURL != "" {
		return flagURL
	}
	if cfg != nil && cfg.Database.URL != "" {
		return cfg.Database.URL
	}
	return os.Getenv("DATABASE_URL")
}

func runMigrate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "PostgreSQL URL (default: DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	url := databaseURL(*db, nil)
	if url == "" {
		fmt.Fprintln(stderr, "hotline migrate: no database: pass -db URL or set DATABASE_URL")
		return 2
	}
	if err := server.Migrate(context.Background(), url); err != nil {
		fmt.Fprintln(stderr, "hotline migrate:", err)
		return 1
	}
	fmt.Fprintln(stdout, "migrations applied")
	return 0
}
