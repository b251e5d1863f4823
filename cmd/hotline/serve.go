package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/queue"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/asterisk"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/native"
	"github.com/hotline-cc/hotline/survey"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "examples/hotline.yaml", "config file")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	drain := fs.Duration("drain", 30*time.Second, "on SIGTERM, how long active calls may finish before they are hung up")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "hotline serve: -log-level %q: want debug, info, warn or error\n", *level)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := startServer(ctx, cfg, log)
	if err != nil {
		log.Error("hotline did not start", "error", err)
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			srv.reload(*path)
			continue
		case <-ctx.Done():
		}
		break
	}
	log.Info("shutting down: draining calls", "drain", drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	srv.shutdown(dctx)
	return 0
}

// lineSwitch is what serve needs of a switch beyond the sip contract.
type lineSwitch interface {
	sip.Switch
	Start(ctx context.Context) error
	Close()
}

// asteriskConfig maps the config to the ARI switch's.
func asteriskConfig(cfg *config.Config, log *slog.Logger) asterisk.Config {
	a := cfg.Asterisk
	ac := asterisk.Config{
		URL: a.URL, Username: a.Username, Password: a.Password.Value(), Application: a.Application,
		AgentEndpoint: a.AgentEndpoint, Trunks: a.Trunks, RingTimeout: cfg.SIP.RingTimeout,
		DefaultLang: cfg.Service.Language, Logger: log,
	}
	if len(cfg.SIP.Trunks) > 0 {
		ac.DefaultTrunk, ac.CallerID = cfg.SIP.Trunks[0].Name, cfg.SIP.Trunks[0].CallerID
	}
	for class := range cfg.Media.MOH {
		ac.MOHClasses = append(ac.MOHClasses, class)
	}
	return ac
}

// mediaParts are the audio pieces built from the config.
type mediaParts struct {
	engine  *media.Engine
	catalog *media.Catalog
	flows   *ivr.Flows
}

// buildMedia loads the prompt catalog and the IVR flows (checking every
// prompt they name) and, with withEngine, starts the RTP engine.
func buildMedia(cfg *config.Config, log *slog.Logger, withEngine bool) (*mediaParts, error) {
	if len(cfg.Media.Missing) > 0 {
		return nil, cfg.Media.Missing
	}
	cat, err := media.NewCatalog(media.CatalogConfig{Langs: cfg.Media.Prompts, DefaultLang: cfg.Service.Language, MOH: cfg.Media.MOH})
	if err != nil {
		return nil, err
	}
	flows, err := ivr.ParseFlows(cfg.File, cfg.IVR, ivr.WithPromptChecker(cat))
	if err != nil {
		return nil, err
	}
	for _, w := range flows.Warnings(time.Now()) {
		log.Warn(w)
	}
	for num, flow := range cfg.SIP.Numbers {
		if _, ok := flows.Flow(flow); !ok {
			return nil, fmt.Errorf("%s: sip.numbers[%q]: unknown IVR flow %q", cfg.File, num, flow)
		}
	}
	mp := &mediaParts{catalog: cat, flows: flows}
	if withEngine {
		ip := cfg.Media.Addr
		if !ip.IsValid() {
			ip = cfg.SIP.ListenAddr.Addr()
		}
		mp.engine, err = media.NewEngine(media.EngineConfig{
			IP: ip, PortMin: cfg.Media.RTPPortMin, PortMax: cfg.Media.RTPPortMax,
			InactivityTimeout: cfg.Media.InactivityTimeout, Logger: log.With("component", "media"),
		})
		if err != nil {
			return nil, err
		}
	}
	return mp, nil
}

// server is a running hotline.
type server struct {
	cfg   *config.Config
	log   *slog.Logger
	media *mediaParts
	sw    lineSwitch
	// native is the native switch (nil in asterisk mode).
	native *native.Switch
	exec   atomic.Pointer[ivr.Executor]
	bus    *eventlog.Bus
	// live is the live event stream (/api/v1/events), a consumer of bus.
	live *eventlog.Broadcaster
	reg  *prometheus.Registry

	pool    *pgxpool.Pool
	store   *reporting.Store
	writer  *reporting.Writer
	metrics *reporting.Metrics
	survey  *survey.Service
	runner  *queue.Runner

	httpSrv *http.Server
	httpLn  net.Listener
	calls   sync.WaitGroup
	ready   atomic.Bool
	stopBg  context.CancelFunc
}

func startServer(ctx context.Context, cfg *config.Config, log *slog.Logger) (*server, error) {
	s := &server{cfg: cfg, log: log, bus: eventlog.NewBus(nil), live: eventlog.NewBroadcaster(0), reg: prometheus.NewRegistry()}
	s.bus.Subscribe(s.live)
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bg, stopBg := context.WithCancel(context.Background())
	s.stopBg = stopBg

	var err error
	if s.media, err = buildMedia(cfg, log, cfg.SIP.Mode != "asterisk"); err != nil {
		return nil, err
	}
	if err := s.startReporting(ctx, bg); err != nil {
		return nil, err
	}
	var presence interface{ Registered(string) bool }
	switch cfg.SIP.Mode {
	case "asterisk":
		asw, err := asterisk.New(asteriskConfig(cfg, log))
		if err != nil {
			return nil, err
		}
		s.sw, presence = asw, asw // presence: Asterisk's endpoint states
	default:
		if s.native, err = native.New(nativeConfig(cfg, s.media, log)); err != nil {
			return nil, err
		}
		s.sw, presence = s.native, s.native
	}
	rc := runnerConfigOf(cfg, s.sw, presence, s.bus)
	rc.IDs = s.bus.IDs()
	rc.Logger = log // the Runner adds component=queue
	rc.MaskNumber = native.MaskNumber
	if s.runner, err = queue.NewRunner(rc); err != nil {
		return nil, err
	}
	go func() {
		if err := s.runner.Run(bg); err != nil && bg.Err() == nil {
			log.Error("queue runner stopped", "error", err)
		}
	}()
	s.exec.Store(s.newExecutor(s.media.flows))
	if err := s.sw.Start(bg); err != nil {
		return nil, err
	}
	if err := s.startSurvey(bg); err != nil {
		return nil, err
	}
	if err := s.startHTTP(); err != nil {
		return nil, err
	}
	go s.acceptCalls(bg)
	s.ready.Store(true)
	where := "asterisk " + cfg.Asterisk.URL
	if s.native != nil {
		where = s.native.Addr().String()
	}
	log.Info("hotline ready", "sip", where, "http", s.httpLn.Addr().String(),
		"agents", len(cfg.Agents), "queues", len(cfg.Queues), "database", s.pool != nil)
	return s, nil
}

func nativeConfig(cfg *config.Config, mp *mediaParts, log *slog.Logger) native.Config {
	creds := native.StaticCredentials{}
	for _, a := range cfg.Agents {
		creds[a.SIPUser] = a.Password.Value()
	}
	nc := native.Config{
		Listen:            cfg.SIP.Listen,
		Realm:             cfg.SIP.Realm,
		DigestAlgorithms:  cfg.SIP.DigestAlgorithms,
		Credentials:       creds,
		Media:             mp.engine,
		Catalog:           mp.catalog,
		RingTimeout:       cfg.SIP.RingTimeout,
		RegisterMinExpiry: cfg.SIP.Register.MinExpiry,
		RegisterMaxExpiry: cfg.SIP.Register.MaxExpiry,
		AuthFailLimit:     cfg.SIP.AuthLockout.Failures,
		AuthFailWindow:    cfg.SIP.AuthLockout.Window,
		AuthBanTime:       cfg.SIP.AuthLockout.Ban,
		UserAgent:         cfg.Service.Name,
		Logger:            log,
	}
	if cfg.SIP.Advertise.IsValid() && cfg.SIP.Advertise != cfg.SIP.ListenAddr.Addr() {
		nc.AdvertiseIP = cfg.SIP.Advertise
	}
	for _, t := range cfg.SIP.Trunks {
		nc.Trunks = append(nc.Trunks, native.Trunk{
			Name: t.Name, Allow: t.Allow, Address: t.Address, Transport: t.Transport,
			CallerID: t.CallerID, Username: t.Username, Password: t.Password.Value(),
		})
	}
	return nc
}

// startReporting connects PostgreSQL (when configured), migrates, and
// starts the event writer (with its disk spool) and the projector. Without
// a database, events still feed the Prometheus metrics.
func (s *server) startReporting(ctx, bg context.Context) error {
	rc := reportingConfigOf(s.cfg)
	url := databaseURL("", s.cfg)
	if url != "" {
		if err := migrateAll(ctx, url); err != nil {
			return err
		}
		pool, err := pgxpool.New(bg, url)
		if err != nil {
			return fmt.Errorf("database: %w", redactDSNError(err, url))
		}
		s.pool = pool
		s.store = reporting.NewStore(pool, rc, s.log.With("component", "reporting"))
		if err := os.MkdirAll(s.cfg.Database.SpoolDir, 0o750); err != nil {
			return fmt.Errorf("spool dir: %w", err)
		}
		wake := make(chan struct{}, 1)
		s.writer, err = reporting.NewWriter(s.store, reporting.WriterOptions{
			JournalPath: filepath.Join(s.cfg.Database.SpoolDir, "events.journal"),
			Logger:      s.log.With("component", "writer"),
			OnWritten: func(int) {
				select {
				case wake <- struct{}{}:
				default:
				}
			},
		})
		if err != nil {
			return err
		}
		s.writer.Start()
		s.bus.Subscribe(s.writer)
		go s.project(bg, wake)
	} else {
		s.log.Warn("no database configured (database.url or DATABASE_URL): events feed metrics only, nothing is stored")
	}
	opts := reporting.MetricsOptions{Config: rc, QueuesOf: queuesOfConfig(s.cfg)}
	for _, q := range s.cfg.Queues {
		opts.Queues = append(opts.Queues, q.Name)
	}
	for _, a := range s.cfg.Agents {
		opts.Agents = append(opts.Agents, a.ID)
	}
	if s.writer != nil {
		opts.Writer = s.writer
	}
	m, err := reporting.NewMetrics(s.reg, opts)
	if err != nil {
		return err
	}
	s.metrics = m
	s.bus.Subscribe(m)
	if s.store != nil {
		go m.RunFCRRefresh(bg, s.store, 15*time.Minute, s.log.With("component", "fcr"))
		g, err := newStaffingGauge(s.reg, s.store, s.cfg.Queues, s.log.With("component", "staffing"))
		if err != nil {
			return err
		}
		go g.run(bg, time.Minute)
	}
	return nil
}

// project keeps call records and rollups up to date after writes.
func (s *server) project(ctx context.Context, wake <-chan struct{}) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
		if _, err := s.store.Project(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reporting projection failed (retrying)", "error", err)
		}
	}
}

// startSurvey starts the next-day survey bot when it is enabled and there
// is a database (its jobs are durable there).
func (s *server) startSurvey(bg context.Context) error {
	sc := s.cfg.Survey
	if !sc.Enabled {
		return nil
	}
	if s.pool == nil {
		s.log.Warn("survey enabled but no database: the survey bot is off")
		return nil
	}
	cal, err := ivr.LoadRussianCalendar()
	if err != nil {
		return err
	}
	cfg := survey.Config{
		Trunk: sc.Trunk, CallerID: sc.CallerID, Delay: sc.Delay,
		Window:       survey.Window{From: sc.Window.FromOffset, To: sc.Window.ToOffset},
		SkipWeekends: sc.SkipWeekends, SkipHolidays: sc.SkipHolidays, Sampling: sc.Sampling,
		MaxConcurrent: sc.MaxConcurrent, PerMinute: sc.PerMinute, DailyCap: sc.DailyCap,
		Attempts: sc.Attempts, RetryDelay: sc.RetryDelay, CooldownDays: sc.CooldownDays, LastDay: sc.LastDay,
		Language: sc.Language, ServiceZone: s.cfg.Service.Location,
		Teams: map[string]string{}, QueueLines: map[string]int{},
	}
	for _, a := range s.cfg.Agents {
		cfg.Teams[a.ID] = a.Team
	}
	for _, q := range s.cfg.Queues {
		cfg.QueueLines[q.Name] = q.Line
	}
	svc, err := survey.New(cfg, survey.Deps{
		Pool: s.pool, Switch: s.sw, Publisher: s.bus, Holidays: survey.CalendarHolidays(cal),
		Logger: s.log.With("component", "survey"),
	})
	if err != nil {
		return err
	}
	if err := svc.Start(bg); err != nil {
		return err
	}
	s.survey = svc
	s.bus.Subscribe(svc)
	return nil
}

func (s *server) newExecutor(flows *ivr.Flows) *ivr.Executor {
	return ivr.NewExecutor(ivr.ExecutorConfig{
		Flows:     flows,
		Publisher: s.bus,
		Enqueuer:  ivrToQueue{runner: s.runner, cfg: s.cfg},
		Logger:    s.log.With("component", "ivr"),
		NewID:     s.bus.IDs().Next,
	})
}

func (s *server) startHTTP() error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "starting or draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	api := http.NewServeMux()
	api.Handle("/api/v1/", s.runner.Handler())
	api.Handle("GET /api/v1/events", s.live)
	if s.store != nil {
		reports := reporting.NewAPI(s.store, reporting.APIOptions{Log: s.log.With("component", "reports")})
		api.Handle("/api/v1/reports/", reports.Handler())
	}
	if s.survey != nil {
		api.Handle("/api/v1/surveys", s.survey.Handler())
		api.Handle("/api/v1/surveys/", s.survey.Handler())
	}
	mux.Handle("/api/", requireToken(s.cfg.HTTP.Token.Value(), api))
	ln, err := net.Listen("tcp", s.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", s.cfg.HTTP.Listen, err)
	}
	s.httpLn = ln
	s.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "error", err)
		}
	}()
	return nil
}

// requireToken lets a request through to next only with the header
// "Authorization: Bearer <token>" (compared in constant time); an empty
// token lets everything through (the API then listens on loopback only,
// which the config enforces).
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
			http.Error(w, "a valid API token is required (Authorization: Bearer <http.token>)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// acceptCalls takes inbound legs: agents' phones go to the queue's feature
// codes, trunk calls to the IVR flow chosen by the called number.
func (s *server) acceptCalls(ctx context.Context) {
	for leg := range s.sw.Incoming() {
		s.calls.Add(1)
		go func(leg sip.Leg) {
			defer s.calls.Done()
			s.handleCall(ctx, leg)
		}(leg)
	}
}

func (s *server) flowFor(called string) string {
	if f, ok := s.cfg.SIP.Numbers[called]; ok {
		return f
	}
	return s.cfg.SIP.Numbers["*"]
}

func (s *server) handleCall(ctx context.Context, leg sip.Leg) {
	info := leg.Info()
	if info.Agent != "" {
		res := s.runner.HandleAgentCall(ctx, leg)
		if res.Err != nil {
			s.log.Info("agent call", "agent", res.Agent, "feature", res.Feature, "error", res.Err)
		}
		return
	}
	caller := ivr.NormalizeCaller(info.From, "RU")
	if !info.Resumed { // a resumed call's arrival was logged by the process before
		s.bus.Publish(eventlog.Event{Type: eventlog.CallArrived, CallID: info.ID, Caller: caller.ID(),
			Data: map[string]string{"to": info.To, "trunk": info.Trunk}})
	}
	defer func() {
		<-leg.Done()
		end, _ := leg.Ended()
		if end.Detached {
			return // the call goes on without this process; the next one ends it
		}
		s.bus.Publish(eventlog.Event{Type: eventlog.CallEnded, CallID: info.ID, Reason: end.Cause.String(),
			Data: map[string]string{"side": end.Side.String()}})
	}()
	if info.Resumed && s.resumeWait(ctx, leg, info, caller) {
		return
	}
	flow := s.flowFor(info.To)
	if flow == "" {
		s.log.Warn("no IVR flow for the called number", "called", native.MaskNumber(info.To))
		_ = leg.Hangup(sip.CauseUnreachable)
		return
	}
	res, err := s.exec.Load().Run(ctx, leg, &ivr.Call{ID: info.ID, Flow: flow, Caller: caller})
	if err != nil {
		s.log.Warn("ivr failed", "call", info.ID, "error", err)
		_ = leg.Hangup(sip.CauseFailure)
		return
	}
	if res.Outcome == ivr.OutcomeQueue && !res.Handed {
		s.log.Warn("the queue did not take the call: hanging up", "call", info.ID, "queue", res.Queue)
		_ = leg.Hangup(sip.CauseFailure)
	}
}

// resumeWait puts a call re-adopted after a restart (Asterisk mode) back
// into the queue it was waiting in, at its place: the event log says which
// queue and since when. It reports false when the call was not waiting in
// a queue (it was in the IVR, or there is no database): then the IVR runs
// for it again.
func (s *server) resumeWait(ctx context.Context, leg sip.Leg, info sip.CallInfo, caller ivr.Caller) bool {
	if s.store == nil {
		s.log.Info("resumed call goes through the IVR again: no event log to resume it from", "call", info.ID)
		return false
	}
	evs, err := s.store.CallEvents(ctx, info.ID)
	if err != nil {
		s.log.Warn("resumed call goes through the IVR again: event log unreadable", "call", info.ID, "error", err)
		return false
	}
	c, vs := reporting.BuildCall(evs, nil)
	if len(vs) == 0 || vs[len(vs)-1].Outcome != reporting.OutcomeWaiting {
		s.log.Info("resumed call goes through the IVR again: it was not waiting in a queue", "call", info.ID)
		return false
	}
	v := vs[len(vs)-1]
	prio := v.Priority
	for _, q := range s.cfg.Queues {
		if q.Name == v.Queue {
			prio -= q.Priority // queue.joined carries the queue's priority added
		}
	}
	nc := queue.NewCall{ID: info.ID, Caller: caller.ID(), Queue: v.Queue, Priority: prio, Lang: c.Language,
		IVRPath: c.IVRPath, Resumed: v.JoinedAt, Data: map[string]string{}}
	if err := s.runner.Enqueue(ctx, leg, nc); err != nil {
		s.log.Warn("resumed call goes through the IVR again: the queue did not take it back", "call", info.ID, "queue", v.Queue, "error", err)
		return false
	}
	s.log.Info("resumed call back in its queue", "call", info.ID, "queue", v.Queue, "waiting_since", v.JoinedAt)
	return true
}

// reload applies a changed config file on SIGHUP: IVR flows and agents'
// credentials change at once; calls in progress keep their old flow.
func (s *server) reload(path string) {
	cfg, err := config.Load(path)
	if err != nil {
		s.log.Error("reload refused: config invalid, keeping the running one", "error", err)
		return
	}
	mp, err := buildMedia(cfg, s.log, false)
	if err != nil {
		s.log.Error("reload refused: keeping the running config", "error", err)
		return
	}
	s.exec.Store(s.newExecutor(mp.flows))
	creds := native.StaticCredentials{}
	for _, a := range cfg.Agents {
		creds[a.SIPUser] = a.Password.Value()
	}
	if s.native != nil {
		s.native.SetCredentials(creds)
	}
	s.log.Info("config reloaded: IVR flows and agent credentials (queue and agent changes apply at the next restart)")
}

func (s *server) shutdown(ctx context.Context) {
	s.ready.Store(false)
	if s.native != nil {
		_ = s.native.Shutdown(ctx)
	} else {
		// Calls stay in Asterisk; the queue hangs up the legs it owns when
		// its context ends, and a restart re-adopts what is left.
		s.sw.Close()
	}
	s.calls.Wait()
	hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.httpSrv.Shutdown(hctx)
	if s.survey != nil {
		s.survey.Stop(hctx)
	}
	s.bus.Close() // delivers what is queued; later events are delivered at once
	s.live.Close()
	if s.writer != nil {
		if err := s.writer.Close(hctx); err != nil {
			s.log.Warn("event writer closed with events left in the spool (replayed at next start)", "error", err)
		}
	}
	s.stopBg()
	if s.pool != nil {
		s.pool.Close()
	}
	if s.media.engine != nil {
		_ = s.media.engine.Close()
	}
}
