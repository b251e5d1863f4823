// Package simulate generates traffic for a running hotline as a real SIP
// peer: callers that dial the line over the trunk, send RTP voice, press
// menu digits with RFC 4733 and hang up when their patience runs out;
// agents whose phones register with digest authentication, log in, answer
// after a ring delay, talk, escalate to second line by REFER or the API,
// set dispositions and take pauses; and customers' phones that answer the
// survey calls and press ratings.
//
// Everything it sends goes over the wire to hotline (SIP on sipgo, RTP on
// sip/media, the HTTP API); the only thing shared inside the simulator is
// the bookkeeping that tells a simulated caller that a simulated agent has
// picked up, as the caller would hear it. It counts what happened from its
// own side (Counts) so that the figures can be compared with hotline's
// reports.
package simulate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/sip/media"

	"github.com/hotline-cc/hotline/sip/siptest"
)

// Config is one simulation run.
type Config struct {
	// SIP is hotline's SIP address (host:port), API its HTTP base URL
	// ("http://127.0.0.1:8080").
	SIP, API string
	// APIToken is hotline's http.token, sent as a bearer token ("" = none).
	APIToken string
	// CallerIP is the trunk's address the callers send from; CustomerAddr
	// the trunk's outbound address where survey calls arrive (the
	// customers' phones listen there; callers send from it too).
	CallerIP     string
	CustomerAddr netip.AddrPort
	// AgentIP is the address the agents' phones bind to.
	AgentIP string
	// Number is the number the callers dial.
	Number string
	// EscalationNumber is what first-line agents REFER to ("" = API only).
	EscalationNumber string
	// EscalationReasons are the reason codes the API accepts ("" when empty).
	EscalationReasons []string
	// Features are the softphone feature codes (login, pause, ready).
	Features config.Features
	// Agents are the agents to play (ID, SIP user, password, line).
	Agents []config.Agent

	Duration       time.Duration // how long new calls are placed
	CallsPerMinute float64       // mean arrival rate, scaled by Profile
	Profile        Profile
	Patience       Dist // how long a caller waits for an agent
	Talk           Dist // talk time
	RingDelay      Dist // how long an agent's (or a customer's) phone rings before the answer
	AfterCall      Dist // the agent's after-call work before the next call
	PauseShare     float64
	PauseLength    Dist
	EscalateShare  float64 // share of first-line calls escalated
	EscalateVia    string  // refer, api or mix
	ResolvedShare  float64 // share of dispositions "resolved"
	RepeatShare    float64 // share of calls from a customer who called before
	MenuMix        Mix     // menu keys: "1", "2", "9" (English, then 1 or 2), "none"
	RatingMix      Mix     // survey ratings "1".."5"
	SurveyAnswer   float64 // share of survey calls the customer answers
	Control        string  // how agents log in and pause: api, code or mix
	SL             time.Duration
	// Grace is the time from the menu choice (or an escalation) to the
	// queue: the "connecting" message. The caller's wait and patience
	// count from its end, as hotline's wait counts from the queue entry.
	Grace time.Duration
	// Drain bounds how long calls still in progress after Duration may
	// go on before they are hung up.
	Drain time.Duration
	// SurveyWait is how long the customers' phones stay after the calls
	// for survey calls (ends early once every answered call's customer
	// was called).
	SurveyWait time.Duration
	// Voice is what the simulated people say (looped while a call is up).
	Voice *media.Sound
	// CallerRTP and AgentRTP are the simulator's RTP port ranges.
	CallerRTP, AgentRTP [2]int
	Seed                uint64
	Logger              *slog.Logger
	// Progress, if set, is called every ProgressEvery with the counts so far.
	Progress      func(Snapshot)
	ProgressEvery time.Duration
	// HTTP is the API client (default: 5 s timeout).
	HTTP *http.Client
}

// Defaults are the flag defaults of `hotline simulate`.
var Defaults = struct {
	Duration, SL, Drain, Grace                                          time.Duration
	CallsPerMinute                                                      float64
	Patience, Talk, RingDelay, AfterCall, PauseLength                   string
	PauseShare, EscalateShare, ResolvedShare, RepeatShare, SurveyAnswer float64
	MenuMix, RatingMix, Profile, EscalateVia, Control                   string
}{
	Duration: 3 * time.Minute, SL: 20 * time.Second, Drain: 2 * time.Minute, Grace: 4 * time.Second,
	CallsPerMinute: 6,
	Patience:       "exp:75s", Talk: "lognormal:50s:0.5", RingDelay: "uniform:1s-5s", AfterCall: "uniform:2s-8s",
	PauseLength: "uniform:15s-45s",
	PauseShare:  0.05, EscalateShare: 0.1, ResolvedShare: 0.8, RepeatShare: 0.1, SurveyAnswer: 0.9,
	MenuMix: "1:65,2:30,9:5", RatingMix: "5:45,4:25,3:12,2:6,1:12", Profile: "flat", EscalateVia: "mix", Control: "mix",
}

// rng is a mutex-guarded random source shared by the simulation's
// goroutines.
type rng struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (g *rng) draw(d Dist) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return d.Draw(g.r)
}

func (g *rng) pick(m Mix) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return m.Pick(g.r)
}

func (g *rng) chance(p float64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.r.Float64() < p
}

func (g *rng) intn(n int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.r.IntN(n)
}

func (g *rng) arrival(p Profile, perMinute float64, now time.Time) (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return p.NextArrival(g.r, perMinute, now)
}

// sim is a running simulation.
type sim struct {
	cfg    Config
	log    *slog.Logger
	rnd    *rng
	counts *Counts
	api    *apiClient
	people *people

	callerMedia, agentMedia *media.Engine
	trunk                   *siptest.Phone
	agents                  []*agent
	agentWG                 sync.WaitGroup
	surveyCtx               context.Context // the run's context, for survey calls
	stopAgentCtx            context.CancelFunc
}

// Validate checks a Config before a run.
func (c *Config) Validate() error {
	var errs []error
	if c.SIP == "" || c.API == "" {
		errs = append(errs, errors.New("hotline's SIP address and API URL are required"))
	}
	if c.CallerIP == "" || !c.CustomerAddr.IsValid() || c.AgentIP == "" {
		errs = append(errs, errors.New("caller, customer and agent addresses are required"))
	}
	for _, a := range []string{c.CallerIP, c.AgentIP, c.CustomerAddr.Addr().String(), hostOf(c.SIP), hostOf(strings.TrimPrefix(strings.TrimPrefix(c.API, "http://"), "https://"))} {
		ip, err := netip.ParseAddr(a)
		if a == "localhost" {
			continue
		}
		if err != nil || !ip.IsLoopback() {
			errs = append(errs, fmt.Errorf("%s: the simulator only talks to loopback addresses (127.0.0.0/8)", a))
		}
	}
	if c.CallsPerMinute < 0 || c.CallsPerMinute > 600 {
		errs = append(errs, fmt.Errorf("calls per minute %g: want 0..600", c.CallsPerMinute))
	}
	if c.Duration <= 0 || c.Duration > 24*time.Hour {
		errs = append(errs, fmt.Errorf("duration %s: want more than 0 and at most 24h", c.Duration))
	}
	for name, p := range map[string]float64{"escalate share": c.EscalateShare, "resolved share": c.ResolvedShare,
		"pause share": c.PauseShare, "repeat share": c.RepeatShare, "survey answer share": c.SurveyAnswer} {
		if p < 0 || p > 1 {
			errs = append(errs, fmt.Errorf("%s %g: want 0..1", name, p))
		}
	}
	switch c.EscalateVia {
	case "refer", "api", "mix":
	default:
		errs = append(errs, fmt.Errorf("escalate via %q: want refer, api or mix", c.EscalateVia))
	}
	switch c.Control {
	case "api", "code", "mix":
	default:
		errs = append(errs, fmt.Errorf("agent control %q: want api, code or mix", c.Control))
	}
	if c.EscalateVia == "refer" && c.EscalationNumber == "" && c.EscalateShare > 0 {
		errs = append(errs, errors.New("escalation by REFER needs the escalation number (escalation.number in the config)"))
	}
	for _, k := range c.MenuMix.Keys {
		switch k {
		case "1", "2", "9", "none":
		default:
			errs = append(errs, fmt.Errorf("menu mix key %q: want 1, 2, 9 or none", k))
		}
	}
	for _, k := range c.RatingMix.Keys {
		if len(k) != 1 || k[0] < '1' || k[0] > '5' {
			errs = append(errs, fmt.Errorf("rating mix key %q: want 1..5", k))
		}
	}
	if len(c.Agents) == 0 {
		errs = append(errs, errors.New("no agents to play"))
	}
	if c.Voice == nil || len(c.Voice.PCM) == 0 {
		errs = append(errs, errors.New("no voice"))
	}
	return errors.Join(errs...)
}

func hostOf(hostport string) string {
	if i := strings.IndexByte(hostport, '/'); i >= 0 {
		hostport = hostport[:i]
	}
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		return strings.Trim(hostport[:i], "[]")
	}
	return hostport
}

// Run runs a simulation: agents log in, callers arrive for cfg.Duration,
// calls in progress finish (at most cfg.Drain), the customers' phones wait
// for survey calls (at most cfg.SurveyWait), agents log out. Cancelling
// ctx ends everything at once (calls are hung up). It returns the counts.
func Run(ctx context.Context, cfg Config) (Snapshot, error) {
	if err := cfg.Validate(); err != nil {
		return Snapshot{}, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	s := &sim{
		cfg: cfg, log: cfg.Logger, counts: &Counts{},
		rnd:    &rng{r: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))},
		api:    &apiClient{base: strings.TrimRight(cfg.API, "/"), token: cfg.APIToken, http: cfg.HTTP},
		people: newPeople(),
	}
	s.surveyCtx = ctx
	s.counts.Add(func(*Snapshot) {})
	var err error
	if s.callerMedia, err = media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr(cfg.CallerIP),
		PortMin: cfg.CallerRTP[0], PortMax: cfg.CallerRTP[1], Logger: s.log}); err != nil {
		return Snapshot{}, fmt.Errorf("callers' RTP: %w", err)
	}
	defer s.callerMedia.Close()
	if s.agentMedia, err = media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr(cfg.AgentIP),
		PortMin: cfg.AgentRTP[0], PortMax: cfg.AgentRTP[1], Logger: s.log}); err != nil {
		return Snapshot{}, fmt.Errorf("agents' RTP: %w", err)
	}
	defer s.agentMedia.Close()
	// One SIP socket on the trunk's outbound address: callers dial from it
	// and the customers' phones receive the survey calls on it.
	s.trunk, err = siptest.NewPhone(siptest.PhoneConfig{UserAgent: "hotline-simulate", QuietSIP: true, IP: cfg.CustomerAddr.Addr().String(), Port: int(cfg.CustomerAddr.Port()),
		User: "trunk", Media: s.callerMedia, Voice: cfg.Voice, Logger: s.log, Handler: customers{s}})
	if err != nil {
		return Snapshot{}, fmt.Errorf("trunk side (is another simulator running?): %w", err)
	}
	defer s.trunk.Close()

	if cfg.Progress != nil && cfg.ProgressEvery > 0 {
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			t := time.NewTicker(cfg.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-pctx.Done():
					return
				case <-t.C:
					cfg.Progress(s.counts.Snapshot())
				}
			}
		}()
	}

	if err := s.startAgents(ctx); err != nil {
		s.stopAgents()
		return s.counts.Snapshot(), err
	}
	s.log.Info("simulate: agents logged in; calls start", "agents", len(s.agents), "duration", cfg.Duration.String(),
		"calls_per_minute", cfg.CallsPerMinute)
	s.placeCalls(ctx)
	s.waitSurveys(ctx)
	s.stopAgents()
	return s.counts.Snapshot(), ctx.Err()
}

// placeCalls starts callers by the arrival process for cfg.Duration, then
// waits for the calls in progress (at most cfg.Drain; then they hang up).
func (s *sim) placeCalls(ctx context.Context) {
	callCtx, hangupAll := context.WithCancel(ctx)
	defer hangupAll()
	var wg sync.WaitGroup
	end := time.Now().Add(s.cfg.Duration)
	for seq := 1; ; seq++ {
		now := time.Now()
		gap, ok := s.rnd.arrival(s.cfg.Profile, s.cfg.CallsPerMinute, now)
		if !ok {
			gap, seq = time.Minute, seq-1 // no calls this hour: look again later
		}
		if now.Add(gap).After(end) {
			if !sleep(ctx, time.Until(end)) {
				break
			}
			break
		}
		if !sleep(ctx, gap) {
			break
		}
		if !ok {
			continue
		}
		wg.Go(func() { s.runCaller(callCtx, seq) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	case <-time.After(s.cfg.Drain):
		s.log.Info("simulate: drain time is over: hanging up the calls still in progress")
	}
	hangupAll()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.log.Warn("simulate: some callers did not finish after hanging up")
	}
}

// waitSurveys keeps the customers' phones up for survey calls.
func (s *sim) waitSurveys(ctx context.Context) {
	if s.cfg.SurveyWait <= 0 || ctx.Err() != nil {
		return
	}
	s.log.Info("simulate: calls done; waiting for survey calls", "at_most", s.cfg.SurveyWait.String())
	deadline := time.Now().Add(s.cfg.SurveyWait)
	for time.Now().Before(deadline) {
		c := s.counts.Snapshot()
		if c.Answered > 0 && c.SurveyCalls >= c.Answered && s.people.surveysActive() == 0 {
			return
		}
		if !sleep(ctx, time.Second) {
			return
		}
	}
	for i := 0; i < 30 && s.people.surveysActive() > 0 && ctx.Err() == nil; i++ {
		sleep(ctx, time.Second) // let a survey in progress finish
	}
}

// sleep waits d or until ctx is done; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
