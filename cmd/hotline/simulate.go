package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/internal/server"
	"github.com/hotline-cc/hotline/internal/simulate"
	"github.com/hotline-cc/hotline/sip/media"
)

// defaultVoice is what simulated people say when -voice is not given (from
// Debian's asterisk-core-sounds-ru-wav, which the demo installs).
const defaultVoice = "/usr/share/asterisk/sounds/ru/hello-world.wav"

// runSimulate is `hotline simulate`: callers, agents and customers as real
// SIP peers of a running hotline (see internal/simulate).
func runSimulate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := simulate.Defaults
	path := fs.String("config", "examples/hotline.yaml", "hotline's config: agents and passwords, trunk, numbers, escalation, features")
	sipAddr := fs.String("sip", "", "hotline's SIP address (default: sip.listen of the config)")
	api := fs.String("api", "", "hotline's HTTP API base URL (default: http://<http.listen of the config>)")
	trunkName := fs.String("trunk", "", "the trunk the callers come from and survey calls go to (default: the survey's trunk, else the first)")
	number := fs.String("number", "", "the number callers dial (default: the first number of sip.numbers)")
	duration := fs.Duration("duration", d.Duration, "how long new calls arrive")
	cpm := fs.Float64("calls-per-minute", d.CallsPerMinute, "mean arrival rate (Poisson), scaled by -hourly")
	hourly := fs.String("hourly", d.Profile, "rate factor by hour of day: flat, office, or H[-H]:FACTOR,... (e.g. 0-8:0.2,9-18:1.5)")
	patience := fs.String("patience", d.Patience, "how long callers wait for an agent: exp:MEAN, lognormal:MEAN:SIGMA, normal:MEAN:SD, uniform:MIN-MAX or fixed:D")
	talk := fs.String("talk", d.Talk, "talk time distribution")
	ring := fs.String("ring", d.RingDelay, "how long phones ring before the agent (or customer) answers")
	afterCall := fs.String("after-call", d.AfterCall, "agents' after-call work before they are ready again")
	pauseShare := fs.Float64("pause-share", d.PauseShare, "share of calls after which the agent takes a pause")
	pauseLen := fs.String("pause-length", d.PauseLength, "pause length distribution")
	escalate := fs.Float64("escalate", d.EscalateShare, "share of first-line calls escalated to second line")
	escalateVia := fs.String("escalate-via", d.EscalateVia, "how agents escalate: refer (to the escalation number), api, or mix")
	resolved := fs.Float64("resolved", d.ResolvedShare, "share of dispositions \"resolved\" (the rest \"not_resolved\")")
	repeat := fs.Float64("repeat", d.RepeatShare, "share of calls from customers who called before")
	menuMix := fs.String("menu-mix", d.MenuMix, "menu keys pressed, KEY:WEIGHT (1 first line, 2 billing, 9 English then 1 or 2)")
	ratingMix := fs.String("rating-mix", d.RatingMix, "survey ratings pressed, RATING:WEIGHT")
	surveyAnswer := fs.Float64("survey-answer", d.SurveyAnswer, "share of survey calls the customers answer")
	agents := fs.String("agents", "", "agents to play: empty for all in the config, a number N for the first N, or ids (a1,a2,a9)")
	control := fs.String("control", d.Control, "how agents log in, pause and get ready: api, code (feature codes from the phone) or mix")
	sl := fs.Duration("sl", d.SL, "service-level threshold for the \"answered within\" count")
	grace := fs.Duration("grace", d.Grace, "time from the menu choice to the queue (hotline's \"connecting\" message): callers' wait and patience count from then")
	drain := fs.Duration("drain", d.Drain, "after -duration, how long calls in progress may go on")
	surveyWait := fs.Duration("survey-wait", -1, "after the calls, how long to wait for survey calls (default: survey.delay + 1m when the survey is on and its delay is at most 10m, else 0)")
	voice := fs.String("voice", "", "WAV (8 kHz 16-bit mono) the simulated people say (default: "+defaultVoice+", else a synthetic voice)")
	callerRTP := fs.String("caller-rtp", "30000-30999", "RTP ports for the callers and customers")
	agentRTP := fs.String("agent-rtp", "31000-31999", "RTP ports for the agents (must not overlap hotline's media.rtp_ports)")
	seed := fs.Uint64("seed", 0, "random seed (0: from the clock)")
	jsonOut := fs.String("json", "", "also write the counts as JSON to this file")
	progress := fs.Duration("progress", 0, "print the counts so far every interval (0: only at the end)")
	level := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hotline simulate: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "hotline simulate: -log-level %q: want debug, info, warn or error\n", *level)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	sc, err := simulateConfig(cfg, simFlags{
		sip: *sipAddr, api: *api, trunk: *trunkName, number: *number, agents: *agents,
		hourly: *hourly, patience: *patience, talk: *talk, ring: *ring, afterCall: *afterCall, pauseLen: *pauseLen,
		menuMix: *menuMix, ratingMix: *ratingMix, callerRTP: *callerRTP, agentRTP: *agentRTP, voice: *voice,
		surveyWait: *surveyWait,
	})
	if err != nil {
		fmt.Fprintln(stderr, "hotline simulate:", err)
		return 2
	}
	sc.Duration, sc.CallsPerMinute, sc.PauseShare, sc.EscalateShare = *duration, *cpm, *pauseShare, *escalate
	sc.EscalateVia, sc.ResolvedShare, sc.RepeatShare, sc.SurveyAnswer = *escalateVia, *resolved, *repeat, *surveyAnswer
	sc.Control, sc.SL, sc.Drain, sc.Seed, sc.Logger, sc.Grace = *control, *sl, *drain, *seed, log, *grace
	if sc.Seed == 0 {
		sc.Seed = uint64(time.Now().UnixNano())
	}
	if *progress > 0 {
		sc.ProgressEvery = *progress
		sc.Progress = func(s simulate.Snapshot) {
			fmt.Fprintf(stdout, "%s placed %d, answered %d (%d within %s), abandoned %d, escalated %d, ratings %d\n",
				time.Now().Format("15:04:05"), s.Placed, s.Answered, s.AnsweredInSL, sc.SL, s.Abandoned, s.Escalated, s.RatingsGiven())
		}
	}
	if err := sc.Validate(); err != nil {
		fmt.Fprintln(stderr, "hotline simulate:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stderr, "hotline simulate: %d agents, %.3g calls/min for %s against %s (seed %d)\n",
		len(sc.Agents), sc.CallsPerMinute, sc.Duration, sc.SIP, sc.Seed)
	counts, err := simulate.Run(ctx, sc)
	counts.WriteText(stdout, sc.SL)
	if *jsonOut != "" {
		if f, ferr := os.Create(*jsonOut); ferr != nil {
			fmt.Fprintln(stderr, "hotline simulate:", ferr)
		} else {
			_ = counts.WriteJSON(f)
			_ = f.Close()
		}
	}
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "hotline simulate: interrupted")
		return 130
	default:
		fmt.Fprintln(stderr, "hotline simulate:", err)
		return 1
	}
}

// simFlags are the flags simulateConfig interprets against the config.
type simFlags struct {
	sip, api, trunk, number, agents                   string
	hourly, patience, talk, ring, afterCall, pauseLen string
	menuMix, ratingMix, callerRTP, agentRTP, voice    string
	surveyWait                                        time.Duration
}

// simulateConfig builds the simulation's addresses, people and
// distributions from hotline's config and the flags.
func simulateConfig(cfg *config.Config, f simFlags) (simulate.Config, error) {
	sc := simulate.Config{SIP: f.sip, API: f.api, Features: cfg.Features, EscalationNumber: cfg.Escalation.Number,
		EscalationReasons: cfg.Escalation.Reasons}
	if sc.SIP == "" {
		sc.SIP = cfg.SIP.Listen
	}
	if sc.API == "" {
		base, client, err := server.SelfAPI(cfg)
		if err != nil {
			return sc, err
		}
		sc.API, sc.HTTP = base, client
	}
	sc.APIToken = cfg.HTTP.Token.Value()
	// The trunk: callers send from its address, customers answer at it.
	name := f.trunk
	if name == "" {
		name = cfg.Survey.Trunk
	}
	var trunk *config.Trunk
	for i := range cfg.SIP.Trunks {
		if t := &cfg.SIP.Trunks[i]; name == "" || t.Name == name {
			trunk = t
			break
		}
	}
	if trunk == nil {
		return sc, fmt.Errorf("no trunk %q in %s", name, cfg.File)
	}
	addr, err := netip.ParseAddrPort(trunk.Address)
	if err != nil {
		return sc, fmt.Errorf("trunk %q: address %q: want IP:port on loopback (the customers' phones listen there): %v", trunk.Name, trunk.Address, err)
	}
	sc.CustomerAddr, sc.CallerIP = addr, addr.Addr().String()
	allowed := false
	for _, r := range trunk.AllowRules {
		allowed = allowed || (r.Prefix.Contains(addr.Addr()) && (r.Port == 0))
	}
	if !allowed {
		return sc, fmt.Errorf("trunk %q: callers send from %s, which its allow list does not admit with any port", trunk.Name, addr.Addr())
	}
	sc.AgentIP = hostPart(sc.SIP)
	if ip, err := netip.ParseAddr(sc.AgentIP); err != nil || ip.IsUnspecified() {
		sc.AgentIP = "127.0.0.1"
	}
	sc.Number = f.number
	if sc.Number == "" {
		nums := make([]string, 0, len(cfg.SIP.Numbers))
		for n := range cfg.SIP.Numbers {
			if n != "*" {
				nums = append(nums, n)
			}
		}
		slices.Sort(nums)
		if len(nums) == 0 {
			nums = []string{"88001234567"}
		}
		sc.Number = nums[0]
	}
	if sc.Agents, err = pickAgents(cfg.Agents, f.agents); err != nil {
		return sc, err
	}
	if sc.Profile, err = simulate.ParseProfile(f.hourly); err != nil {
		return sc, err
	}
	for _, d := range []struct {
		dst  *simulate.Dist
		spec string
	}{{&sc.Patience, f.patience}, {&sc.Talk, f.talk}, {&sc.RingDelay, f.ring}, {&sc.AfterCall, f.afterCall}, {&sc.PauseLength, f.pauseLen}} {
		if *d.dst, err = simulate.ParseDist(d.spec); err != nil {
			return sc, err
		}
	}
	if sc.MenuMix, err = simulate.ParseMix(f.menuMix); err != nil {
		return sc, err
	}
	if sc.RatingMix, err = simulate.ParseMix(f.ratingMix); err != nil {
		return sc, err
	}
	if sc.CallerRTP, err = portRange(f.callerRTP); err != nil {
		return sc, fmt.Errorf("-caller-rtp: %v", err)
	}
	if sc.AgentRTP, err = portRange(f.agentRTP); err != nil {
		return sc, fmt.Errorf("-agent-rtp: %v", err)
	}
	if sc.AgentRTP[0] <= cfg.Media.RTPPortMax && cfg.Media.RTPPortMin <= sc.AgentRTP[1] {
		return sc, fmt.Errorf("-agent-rtp %s overlaps hotline's media.rtp_ports %s", f.agentRTP, cfg.Media.RTPPorts)
	}
	sc.SurveyWait = f.surveyWait
	if sc.SurveyWait < 0 {
		sc.SurveyWait = 0
		if cfg.Survey.Enabled && cfg.Survey.Delay <= 10*time.Minute {
			sc.SurveyWait = cfg.Survey.Delay + time.Minute
		}
	}
	if sc.Voice, err = loadVoice(f.voice); err != nil {
		return sc, err
	}
	return sc, nil
}

// pickAgents selects the agents to play: all, the first N, or by ids.
func pickAgents(all []config.Agent, spec string) ([]config.Agent, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return all, nil
	}
	if n, err := strconv.Atoi(spec); err == nil {
		if n < 1 || n > len(all) {
			return nil, fmt.Errorf("-agents %d: the config has %d agents", n, len(all))
		}
		return all[:n], nil
	}
	var out []config.Agent
	for _, id := range strings.Split(spec, ",") {
		id = strings.TrimSpace(id)
		i := slices.IndexFunc(all, func(a config.Agent) bool { return a.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("-agents: no agent %q in the config", id)
		}
		out = append(out, all[i])
	}
	return out, nil
}

func portRange(s string) ([2]int, error) {
	lo, hi, ok := strings.Cut(s, "-")
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || a < 1024 || b > 65535 || b-a < 10 {
		return [2]int{}, fmt.Errorf("%q: want LOW-HIGH within 1024-65535, at least 10 ports", s)
	}
	return [2]int{a, b}, nil
}

func hostPart(hostport string) string {
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		return strings.Trim(hostport[:i], "[]")
	}
	return hostport
}

// loadVoice loads the WAV the simulated people say: path, else the
// default file if installed, else a synthetic voice.
func loadVoice(path string) (*media.Sound, error) {
	if path != "" {
		return media.LoadWAV(path)
	}
	if s, err := media.LoadWAV(defaultVoice); err == nil {
		return s, nil
	}
	return syntheticVoice(3 * time.Second), nil
}

// syntheticVoice is a voice-like sound: a 140 Hz buzz with harmonics in
// syllables of about 200 ms, and pauses.
func syntheticVoice(d time.Duration) *media.Sound {
	n := int(d.Seconds() * 8000)
	pcm := make([]int16, n)
	for i := range pcm {
		t := float64(i) / 8000
		env := math.Max(0, math.Sin(2*math.Pi*2.5*t)) * math.Max(0, math.Sin(2*math.Pi*0.4*t+0.5))
		v := math.Sin(2*math.Pi*140*t) + 0.5*math.Sin(2*math.Pi*280*t) + 0.25*math.Sin(2*math.Pi*560*t)
		pcm[i] = int16(4000 * env * v)
	}
	return &media.Sound{Name: "synthetic-voice", PCM: pcm}
}
