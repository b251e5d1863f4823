package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/internal/server"
	"github.com/hotline-cc/hotline/reporting"
)

// reportUsage is printed by `hotline report -h` and after a bad flag.
const reportUsage = `usage: hotline report [-from TIME] [-to TIME] [-by queue|agent|team|interval|fcr|csi|escalations|callbacks]
                     [-step 15m|30m|60m|day] [-queue Q1,Q2] [-csi-by line|queue|agent]
                     [-format table|csv|json] [-config FILE] [-db URL]

Prints a report from the reporting database as a table (the same figures as
/api/v1/reports/...). TIME is RFC 3339 (2024-03-10T09:00:00+03:00) or a date
(2024-03-10) in the service's zone; a date -to includes that day. Both default
to today. The database is -db, else the config's database.url, else
DATABASE_URL.

`

// reportFlags are the flags every reporting subcommand shares.
type reportFlags struct {
	from, to, db, configPath string
}

func (f *reportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.from, "from", "", "start: RFC 3339 or YYYY-MM-DD in the service's zone (default: today)")
	fs.StringVar(&f.to, "to", "", "end: RFC 3339 or YYYY-MM-DD, a date includes that day (default: today)")
	fs.StringVar(&f.db, "db", "", "PostgreSQL URL (default: the config's database.url, then DATABASE_URL)")
	fs.StringVar(&f.configPath, "config", "", "config file: thresholds, lines, teams, zone (default: built-in defaults)")
}

// reportEnv is what a reporting subcommand runs with.
type reportEnv struct {
	cfg      *reporting.Config
	file     *config.Config // nil without -config
	from, to time.Time
	dbURL    string
}

// setup loads the config and parses the range. required: from and to
// must be given. It returns an error meant for the user (exit 2).
func (f *reportFlags) setup(required bool, stderr io.Writer) (*reportEnv, error) {
	env := &reportEnv{cfg: &reporting.Config{}}
	if f.configPath != "" {
		c, err := config.Load(f.configPath)
		if err != nil {
			return nil, err
		}
		for _, w := range c.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
		env.file = c
		env.cfg = server.ReportingConfig(c)
	}
	if required && (f.from == "" || f.to == "") {
		return nil, errors.New("-from and -to are required")
	}
	loc := env.cfg.Zone()
	env.from, env.to = reporting.Today(time.Now(), loc)
	var err error
	if f.from != "" {
		if env.from, err = reporting.ParseReportTime(f.from, loc, false); err != nil {
			return nil, fmt.Errorf("-from: %v", err)
		}
	}
	if f.to != "" {
		if env.to, err = reporting.ParseReportTime(f.to, loc, true); err != nil {
			return nil, fmt.Errorf("-to: %v", err)
		}
	}
	if !env.from.Before(env.to) {
		return nil, errors.New("-from must be before -to")
	}
	env.dbURL = f.db
	if env.dbURL == "" && env.file != nil {
		env.dbURL = env.file.Database.URL
	}
	if env.dbURL == "" {
		env.dbURL = os.Getenv("DATABASE_URL")
	}
	if env.dbURL == "" {
		return nil, errors.New("no database: pass -db URL, set database.url in -config or set DATABASE_URL")
	}
	return env, nil
}

// openReportStore connects to the database (pings it).
func openReportStore(ctx context.Context, env *reportEnv) (*reporting.Store, func(), error) {
	pool, err := pgxpool.New(ctx, env.dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("database URL: %v", server.RedactDSNError(err, env.dbURL))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("database: %v", server.RedactDSNError(err, env.dbURL))
	}
	return reporting.NewStore(pool, env.cfg, nil), pool.Close, nil
}

func reportContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

// runReport implements `hotline report`. It returns 0 on success, 2 for
// bad arguments, 1 when the database or the report fails.
func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, reportUsage)
		fs.PrintDefaults()
	}
	var rf reportFlags
	rf.register(fs)
	by := fs.String("by", "queue", "report: queue, agent, team, interval, fcr, csi, escalations, callbacks or monitoring")
	stepStr := fs.String("step", "60m", "interval report step: 15m, 30m, 60m or day")
	queues := fs.String("queue", "", "interval report: comma-separated queues (default all)")
	csiBy := fs.String("csi-by", reporting.ByLine, "CSI grouping: line, queue or agent")
	format := fs.String("format", "table", "output: table, csv or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hotline report: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run 'hotline report -h' for usage")
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	switch *by {
	case "queue", "agent", "team", "interval", "fcr", "csi", "escalations", "callbacks", "monitoring":
	default:
		return bad("-by %q: want queue, agent, team, interval, fcr, csi, escalations, callbacks or monitoring", *by)
	}
	step, err := reporting.ParseStep(*stepStr)
	if err != nil {
		return bad("-step: %v", err)
	}
	if *csiBy != reporting.ByLine && *csiBy != reporting.ByQueue && *csiBy != reporting.ByAgent {
		return bad("-csi-by %q: want line, queue or agent", *csiBy)
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		return bad("-format %q: want table, csv or json", *format)
	}
	env, err := rf.setup(false, stderr)
	if err != nil {
		return bad("%v", err)
	}
	ctx, cancel := reportContext()
	defer cancel()
	store, closeDB, err := openReportStore(ctx, env)
	if err != nil {
		fmt.Fprintln(stderr, "hotline report:", err)
		return 1
	}
	defer closeDB()

	var data any
	var table reporting.Table
	switch *by {
	case "queue":
		qs, e := store.QueueReport(ctx, env.from, env.to)
		data, table, err = qs, reporting.QueueTable(qs), e
	case "agent", "team":
		as, ts, e := store.AgentReport(ctx, env.from, env.to, time.Now())
		if *by == "team" {
			as = ts
		}
		data, table, err = as, reporting.AgentTable(as, *by == "team"), e
	case "interval":
		var qs []string
		for _, q := range strings.Split(*queues, ",") {
			if q = strings.TrimSpace(q); q != "" {
				qs = append(qs, q)
			}
		}
		rows, e := store.IntervalReport(ctx, env.from, env.to, step, qs)
		data, table, err = rows, reporting.IntervalTable(rows, store.Location()), e
	case "fcr":
		f, e := store.FCRReport(ctx, env.from, env.to, time.Now())
		data, table, err = f, reporting.FCRTable(f), e
	case "csi":
		c, e := store.CSIReport(ctx, env.from, env.to, *csiBy)
		data, table, err = c, reporting.CSITable(c, *csiBy), e
	case "escalations":
		e2, e := store.EscalationReport(ctx, env.from, env.to)
		data, table, err = e2, reporting.EscalationTable(e2), e
	case "callbacks":
		cb, e := store.CallbackReport(ctx, env.from, env.to)
		data, table, err = cb, reporting.CallbacksTable(cb), e
	case "monitoring":
		m, e := store.MonitoringReport(ctx, env.from, env.to)
		data, table, err = m, reporting.MonitoringTable(m), e
	}
	if err != nil {
		fmt.Fprintln(stderr, "hotline report:", err)
		return 1
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(data)
	case "csv":
		err = reporting.WriteCSV(stdout, table)
	default:
		loc := store.Location()
		fmt.Fprintf(stdout, "%s report, %s – %s\n\n", *by, env.from.In(loc).Format("2006-01-02 15:04 MST"), env.to.In(loc).Format("2006-01-02 15:04 MST"))
		err = reporting.WriteTable(stdout, table)
	}
	if err != nil {
		fmt.Fprintln(stderr, "hotline report:", err)
		return 1
	}
	return 0
}

// exportUsage is printed by `hotline export -h`.
const exportUsage = `usage: hotline export queue-log -from TIME -to TIME [-o FILE] [-agent-prefix Agent/]
                     [-config FILE] [-db URL]

Writes the events in [from, to) in Asterisk's queue_log format
(epoch|callid|queue|agent|EVENT|data...) for QueueMetrics and other
queue_log tools. TIME as for 'hotline report'.

`

// runExport implements `hotline export queue-log`. It returns 0 on
// success, 2 for bad arguments, 1 on failure.
func runExport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, exportUsage)
		fs.PrintDefaults()
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hotline export: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run 'hotline export -h' for usage")
		return 2
	}
	if len(args) == 0 {
		return bad("missing format: queue-log")
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fs.Usage()
		return 0
	}
	if args[0] != "queue-log" {
		return bad("unknown format %q: want queue-log", args[0])
	}
	var rf reportFlags
	rf.register(fs)
	out := fs.String("o", "", "output file (default: standard output)")
	prefix := fs.String("agent-prefix", "Agent/", "put before agent IDs in the agent field")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	env, err := rf.setup(true, stderr)
	if err != nil {
		return bad("%v", err)
	}
	ctx, cancel := reportContext()
	defer cancel()
	store, closeDB, err := openReportStore(ctx, env)
	if err != nil {
		fmt.Fprintln(stderr, "hotline export:", err)
		return 1
	}
	defer closeDB()
	w := stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintln(stderr, "hotline export:", err)
			return 1
		}
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	opt := reporting.QueueLogOptions{AgentPrefix: *prefix}
	if env.file != nil {
		opt.QueuesOf = server.QueuesOf(env.file)
	}
	err = store.ExportQueueLog(ctx, bw, env.from, env.to, opt)
	if err == nil {
		err = bw.Flush()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "hotline export:", err)
		return 1
	}
	return 0
}

// rebuildUsage is printed by `hotline rebuild-rollups -h`.
const rebuildUsage = `usage: hotline rebuild-rollups -from TIME -to TIME [-config FILE] [-db URL]

Recomputes call records, agent states and the 15-minute and daily rollups
of [from, to) from the event log (after changing thresholds, lines or the
zone, or to check the projector). Applies pending migrations first. TIME as
for 'hotline report'.

`

// runRebuildRollups implements `hotline rebuild-rollups`. It returns 0 on
// success, 2 for bad arguments, 1 on failure.
func runRebuildRollups(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rebuild-rollups", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, rebuildUsage)
		fs.PrintDefaults()
	}
	var rf reportFlags
	rf.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hotline rebuild-rollups: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run 'hotline rebuild-rollups -h' for usage")
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	env, err := rf.setup(true, stderr)
	if err != nil {
		return bad("%v", err)
	}
	ctx, cancel := reportContext()
	defer cancel()
	store, closeDB, err := openReportStore(ctx, env)
	if err != nil {
		fmt.Fprintln(stderr, "hotline rebuild-rollups:", err)
		return 1
	}
	defer closeDB()
	fail := func(err error) int {
		fmt.Fprintln(stderr, "hotline rebuild-rollups:", err)
		return 1
	}
	conn, err := store.Pool().Acquire(ctx)
	if err != nil {
		return fail(err)
	}
	err = reporting.Migrate(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		return fail(err)
	}
	start := time.Now()
	if err := store.RebuildRollups(ctx, env.from, env.to); err != nil {
		return fail(err)
	}
	loc := store.Location()
	fmt.Fprintf(stdout, "rollups rebuilt for %s – %s in %v\n", env.from.In(loc).Format(time.RFC3339), env.to.In(loc).Format(time.RFC3339),
		time.Since(start).Round(time.Millisecond))
	return 0
}
