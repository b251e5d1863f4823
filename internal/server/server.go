package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hotline-cc/hotline/desk"
	"github.com/hotline-cc/hotline/desk/deskpg"
	"github.com/hotline-cc/hotline/dialpolicy"
	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/internal/lease"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/queue"
	"github.com/hotline-cc/hotline/queue/callback"
	"github.com/hotline-cc/hotline/recording"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/asterisk"
	"github.com/hotline-cc/hotline/sip/native"
	"github.com/hotline-cc/hotline/survey"
)

// stopGrace is what each service still gets to stop once the shutdown's
// deadline has passed (and what a rollback after a failed start gets).
const stopGrace = 5 * time.Second

// lineSwitch is what the server needs of a switch beyond the sip contract.
type lineSwitch interface {
	sip.Switch
	Start(ctx context.Context) error
	Close()
}

// callFlows is what a new call runs with; a reload swaps it, calls in
// progress keep the one they started with.
type callFlows struct {
	exec      *ivr.Executor
	region    string                   // ivr.region: the default region of callers' national numbers
	schedules map[string]*ivr.Schedule // ivr.schedules, for hotline_line_open
	calendar  *ivr.Calendar            // the one calendar (calendar:), the survey's too
}

// Server is a hotline built from one config. New builds it, Start runs its
// services in dependency order, Shutdown stops them in reverse; it runs
// once.
type Server struct {
	cfg *config.Config
	log *slog.Logger
	rc  *reporting.Config

	media  *mediaParts
	sw     lineSwitch
	native *native.Switch // nil in asterisk mode
	bus    *eventlog.Bus
	live   *eventlog.Broadcaster // the live event stream (/api/v1/events), a consumer of bus
	desk   *desk.Desk            // the agents' desk (/desk/, the API's role check), a consumer of bus
	reg    *prometheus.Registry
	runner *queue.Runner
	mon    monitoring // supervisors monitoring calls (monitor.go)
	flows  atomic.Pointer[callFlows]
	wake   chan struct{} // the writer wrote: project

	// Set by the services as they start; the services after them use them.
	pool   *pgxpool.Pool
	store  *reporting.Store
	writer *reporting.Writer
	survey *survey.Service
	// dialPolicy is the dialling policy of the survey and the callbacks
	// (DialPolicy, dialling.go).
	dialPolicy *dialpolicy.Policy
	httpLn     net.Listener
	// httpCert is http.tls_cert/tls_key (nil: plain HTTP); Reload
	// re-reads it.
	httpCert *certHolder
	// sipCert is sip.tls_cert/tls_key (nil without sip.tls_listen).
	sipCert *certHolder
	// callbacks reaches the durable callback service (with a database).
	callbacks callbackStore
	// rec records calls (recording.go); set when its service starts.
	rec *recording.Service

	calls    sync.WaitGroup
	ready    atomic.Bool
	services lifecycle
	shutdown sync.Once

	// With node.line (line.go): the services only the lease's holder
	// runs, started when it wins the lease; the lease; whether this node
	// is the line's active one; closed when it lost the lease.
	activeSvcs lifecycle
	lease      atomic.Pointer[lease.Lease]
	active     atomic.Bool
	fenced     chan struct{}
	fenceOnce  sync.Once
	// surveyLive is the running survey (its API is served from it).
	surveyLive atomic.Pointer[survey.Service]
}

// New builds a server from a validated config: the prompt catalog and IVR
// flows (every prompt they name is checked), the RTP engine (native mode:
// its pacers run from here on, the switch is built on it), the switch and
// the queue Runner. It starts no service; call Shutdown even when Start is
// never called or fails, to release the RTP engine.
func New(cfg *config.Config, log *slog.Logger) (*Server, error) {
	s := &Server{
		cfg: cfg, log: log, rc: ReportingConfig(cfg),
		bus: eventlog.NewBus(nil), live: eventlog.NewBroadcaster(0), reg: prometheus.NewRegistry(),
		wake:     make(chan struct{}, 1),
		services: lifecycle{grace: stopGrace}, activeSvcs: lifecycle{grace: stopGrace},
		fenced: make(chan struct{}),
	}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var err error
	if s.media, err = buildMedia(cfg, log, cfg.SIP.Mode != "asterisk"); err != nil {
		return nil, err
	}
	if cfg.HTTP.TLS() {
		if s.httpCert, err = newCertHolder(cfg.HTTP.TLSCert, cfg.HTTP.TLSKey); err != nil {
			s.media.close()
			return nil, fmt.Errorf("http: %w", err)
		}
	}
	if err := s.build(); err != nil {
		s.media.close()
		return nil, err
	}
	return s, nil
}

// build makes the switch and the Runner and lists the services.
func (s *Server) build() error {
	cfg, log := s.cfg, s.log
	var presence interface{ Registered(string) bool }
	switch cfg.SIP.Mode {
	case "asterisk":
		asw, err := asterisk.New(asteriskConfig(cfg, log))
		if err != nil {
			return err
		}
		s.sw, presence = asw, asw // presence: Asterisk's endpoint states
	default:
		var err error
		nc := nativeConfig(cfg, s.media, log)
		nc.Standby = cfg.Node.Line != "" // a standby until it wins the lease (line.go)
		if cfg.Database.URL != "" {
			nc.Bindings = pgBindings{pool: func() *pgxpool.Pool { return s.pool }} // crash recovery
		}
		if cfg.SIP.TLSListen != "" {
			if s.sipCert, err = newCertHolder(cfg.SIP.TLSCert, cfg.SIP.TLSKey); err != nil {
				return fmt.Errorf("sip: %w", err)
			}
			nc.TLSListen, nc.TLS, nc.SRTPForTLS = cfg.SIP.TLSListen, s.sipCert.serverConfig(), cfg.SIP.TLSSRTP
		}
		if s.native, err = native.New(nc); err != nil {
			return err
		}
		s.sw, presence = s.native, s.native
	}
	rc := runnerConfigOf(cfg, s.sw, presence, s.bus)
	if cfg.Recording.Callbacks && cfg.Database.URL != "" {
		rc.Switch = recordingSwitch{Switch: rc.Switch, s: s} // callbacks recorded (recording.go)
	}
	rc.IDs = s.bus.IDs()
	if cfg.Database.URL != "" {
		rc.Callbacks = &s.callbacks
		// Callback dials are recorded in their row, so that a crash
		// during one is settled at the next start (queue/callback).
		rc.Switch = callback.TrackDials(rc.Switch, s.callbacks.svc.Load)
	}
	rc.Logger = log // the Runner adds component=queue
	rc.MaskNumber = native.MaskNumber
	rc.CallbackGate = callbackGate{s} // the dialling policy, built below
	var err error
	if s.runner, err = queue.NewRunner(rc); err != nil {
		return err
	}
	if s.dialPolicy, err = s.newDialPolicy(); err != nil {
		return err
	}
	refusals, err := newDialRefusals(s.reg)
	if err != nil {
		return err
	}
	s.bus.Subscribe(refusals)
	flows, err := s.newCallFlows(s.media.flows)
	if err != nil {
		return err
	}
	s.flows.Store(flows)
	if s.desk, err = s.newDesk(); err != nil {
		return err
	}
	s.mon.s, s.mon.quit = s, make(chan struct{})
	s.bus.Subscribe(&s.mon) // monitored calls' events: following an escalation (monitor.go)
	s.mon.setUsers(cfg)

	// The services in dependency order: each after what it needs. Stopped
	// in reverse, the calls stop coming and drain first, then HTTP, the
	// survey, the switch and the Runner (its last events still reach the
	// bus), then the bus delivers what is queued to the writer, the
	// metrics and the survey before the writer flushes and closes and the
	// database goes.
	db := cfg.Database.URL != ""
	// With node.line the node stands by hot (database, writer, bus, queue
	// runner, the switch answering 503, HTTP) and starts the rest (act)
	// when it wins the line's lease (line.go); without, act is the one
	// list.
	ha := cfg.Node.Line != ""
	act := &s.services
	if ha {
		act = &s.activeSvcs
	}
	if db {
		s.services.add("database", hooks{start: s.openDatabase, stop: s.closeDatabase})
		s.services.add("recording", s.recordingService()) // before privacy: its retention job deletes old files
		// Sessions and password resets live in the database from here on,
		// before HTTP takes requests (on a standby node too).
		s.services.add("desk sessions", hooks{start: func(ctx context.Context) error {
			return s.desk.Restore(ctx, deskpg.New(s.pool), deskUsers(s.cfg))
		}})
		act.add("projector", &loop{run: s.project}) // woken by the writer, stops after it closed
		s.services.add("event writer", hooks{start: s.startWriter, stop: s.stopWriter})
		act.add("privacy", s.privacyService()) // retention: the database, the writer's memory and spool
	} else {
		s.services.add("recording", s.recordingService()) // files only, no metadata
		log.Warn("no database configured (database.url or DATABASE_URL): events feed metrics only, nothing is stored")
	}
	act.add("metrics", s.metricsService())
	if db {
		act.add("staffing gauge", s.staffingService())
	}
	s.services.add("event bus", hooks{start: s.startBus, stop: s.stopBus})
	s.services.add("queue runner", &loop{run: s.runQueue})
	if db {
		act.add("crash recovery", s.recoveryService()) // before the switch takes calls
	}
	if ha && s.native == nil {
		// Asterisk mode: only the active node connects to ARI. Asterisk
		// hands an application's events to the last websocket that
		// registered it, so a standby connected too would take the calls
		// away from the active node; the winner of the lease connects and
		// re-adopts the calls its predecessor left in Asterisk (line.go).
		act.add("switch", s.switchService())
	} else {
		s.services.add("switch", s.switchService())
	}
	if db {
		act.add("callbacks", s.callbackService())
	}
	switch {
	case !cfg.Survey.Enabled:
	case !db:
		log.Warn("survey enabled but no database: the survey bot is off")
	default:
		act.add("survey", s.surveyService())
	}
	s.services.add("http", s.httpService())
	act.add("call intake", s.intakeService())
	if ha {
		s.services.add("line lease", s.lineService())
	}
	return nil
}

// Start runs the services in dependency order; ctx bounds the starting
// (migrations, connecting), not the services' lives. When one fails, those
// already started are stopped again and the error names the one that
// failed.
func (s *Server) Start(ctx context.Context) error {
	if err := s.services.start(ctx); err != nil {
		return err
	}
	where := "asterisk " + s.cfg.Asterisk.URL
	if s.native != nil {
		where = s.native.Addr().String()
	}
	s.log.Info("hotline ready", "sip", where, "http", s.HTTPAddr(),
		"agents", len(s.cfg.Agents), "queues", len(s.cfg.Queues), "database", s.pool != nil)
	return nil
}

// Shutdown stops the services in reverse order: /readyz turns 503, the
// switch stops taking calls and the active ones may finish until ctx is
// done (then they are hung up; in Asterisk mode they stay in Asterisk for
// the next start to re-adopt), then HTTP, the survey, the switch, the
// Runner, the event bus (what is queued is delivered), the writer (it
// flushes to the database, else to its spool) and the database. Services
// reached after ctx is done still get a few seconds each. Then the RTP
// engine closes. The error joins what failed to stop cleanly, by service.
// Shutdown is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutdown.Do(func() {
		err = s.services.stop(ctx)
		s.media.close()
	})
	return err
}

// Reload applies a changed config file (on SIGHUP): IVR flows (with
// ivr.region), agents' SIP credentials and the desk's users and
// passwords change at once; calls in
// progress keep their old flow. Queue and agent changes apply at the next
// restart. On error the running config stays.
func (s *Server) Reload(path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("config invalid: %w", err)
	}
	mp, err := buildMedia(cfg, s.log, false)
	if err != nil {
		return err
	}
	flows, err := s.newCallFlows(mp.flows)
	if err != nil {
		return err
	}
	s.flows.Store(flows)
	if s.native != nil {
		s.native.SetCredentials(credentialsOf(cfg))
	}
	if err := s.desk.SetUsers(deskUsers(cfg)); err != nil {
		return err
	}
	s.mon.setUsers(cfg) // supervisors' phones (monitor.go)
	// A renewed certificate at the same paths is taken for new
	// connections; moving HTTP between plain and TLS needs a restart.
	if s.httpCert != nil && cfg.HTTP.TLSCert == s.httpCert.cert && cfg.HTTP.TLSKey == s.httpCert.key {
		if err := s.httpCert.reload(); err != nil {
			return fmt.Errorf("http: %w", err)
		}
	}
	if s.sipCert != nil && cfg.SIP.TLSCert == s.sipCert.cert && cfg.SIP.TLSKey == s.sipCert.key {
		if err := s.sipCert.reload(); err != nil {
			return fmt.Errorf("sip: %w", err)
		}
	}
	return nil
}

// HTTPAddr is the address HTTP listens on ("" before Start).
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// SIPAddr is the address the native switch listens on, as advertised
// (invalid before Start and in Asterisk mode).
func (s *Server) SIPAddr() netip.AddrPort {
	if s.native == nil {
		return netip.AddrPort{}
	}
	return s.native.Addr()
}

func (s *Server) newCallFlows(flows *ivr.Flows) (*callFlows, error) {
	cfg := ivr.ExecutorConfig{
		Flows:     flows,
		Publisher: s.bus,
		Enqueuer:  ivrToQueue{runner: s.runner, cfg: s.cfg, srv: s},
		Logger:    s.log.With("component", "ivr"),
		NewID:     s.bus.IDs().Next,
		// Callbacks only with a database (durable jobs); without one a
		// flow with a callback node is refused (file:line) rather than
		// promising callers a call back that a restart would lose.
	}
	if s.cfg.Database.URL != "" {
		cfg.History = callerHistory{s}
		cfg.Callbacks = &s.callbacks
	}
	exec, err := ivr.NewExecutor(cfg)
	if err != nil {
		return nil, err
	}
	return &callFlows{region: flows.Region, exec: exec, schedules: flows.Schedules, calendar: flows.Calendar}, nil
}
