// Package asterisk implements the sip.Switch contract over the Asterisk
// REST Interface (ARI) with github.com/CyCoreSystems/ari/v6: Asterisk keeps
// SIP and media, hotline drives the calls in its Stasis application.
//
// Each StasisStart of a channel hotline did not originate becomes an inbound
// sip.Leg; Dial originates a channel into the same application and returns
// when it enters it (that is, when it is answered). Prompts are played as
// "sound:<lang>/<name>" media URIs, digits come from ChannelDtmfReceived,
// music on hold is the channel's MOH, Bridge puts two channels in a mixing
// bridge, and hang-up causes are mapped between Q.850 and sip.Cause. See
// docs/asterisk.md for the tables and for what survives a restart of hotline,
// of Asterisk, or an outage of the ARI websocket.
package asterisk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/hotline-cc/hotline/sip"
)

// Config configures a Switch.
type Config struct {
	// URL is ARI's root, e.g. "http://127.0.0.1:8088/ari".
	URL string
	// WebsocketURL is ARI's event socket; default derived from URL
	// ("ws://127.0.0.1:8088/ari/events").
	WebsocketURL string
	// Username and Password are an ari.conf user.
	Username, Password string
	// Application is the Stasis application name; default "hotline".
	Application string

	// AgentEndpoint is the dial string for an agent, with %s for the
	// user; default "PJSIP/%s".
	AgentEndpoint string
	// Trunks maps a trunk name to the dial string for a number through it,
	// with %s for the number, e.g. {"provider": "PJSIP/%s@provider"}.
	Trunks map[string]string
	// DefaultTrunk is used when a Target names no trunk.
	DefaultTrunk string
	// CallerID is the default caller number for outbound calls.
	CallerID string
	// RingTimeout is the default ring timeout of Dial; 30 s.
	RingTimeout time.Duration

	// DefaultLang is the language of prompts that name none; "ru".
	DefaultLang string
	// MOHClasses lists the music-on-hold classes of musiconhold.conf. When
	// set, StartMOH refuses other classes with sip.ErrUnknownMOH (Asterisk
	// itself would fall back to its default class silently).
	MOHClasses []string
	// AdoptMOHClass is played to answered callers found waiting in the
	// application when hotline (re)connects, until call logic takes them
	// over; "default".
	AdoptMOHClass string

	// IncomingQueue is how many unanswered inbound legs may wait for the
	// consumer; more are refused with congestion. Default 1024.
	IncomingQueue int
	// Heartbeat is how often the ARI connection is checked; 2 s.
	Heartbeat time.Duration
	// BackoffMin and BackoffMax bound the reconnect backoff; 500 ms, 30 s.
	BackoffMin, BackoffMax time.Duration
	// ConnectTimeout bounds one connection attempt; 10 s.
	ConnectTimeout time.Duration
	// TransferGrace is how long a channel that left the application alive
	// (a dialplan `continue`) may take to come back before its leg ends; 5 s.
	TransferGrace time.Duration

	Logger *slog.Logger
	// Now is the wall clock (tests); default time.Now.
	Now func() time.Time
	// Connect opens an ARI client; default: the library's native client
	// (tests pass fakes).
	Connect func(ctx context.Context, cfg Config) (ari.Client, error)
	// EndpointStates reads the states of a technology's endpoints ("PJSIP/a1"
	// → "online"), or of one when resource is set; default: GET
	// /endpoints/{tech}[/{resource}] at URL (tests pass fakes).
	EndpointStates func(ctx context.Context, cfg Config, tech, resource string) (map[string]string, error)
	// StoredRecording reads a stored recording's file; default: GET
	// /recordings/stored/{name}/file at URL (tests pass fakes).
	StoredRecording func(ctx context.Context, cfg Config, name string) ([]byte, error)
}

// defaultConnect opens the library's native client; nil in builds without
// it (see native.go).
var defaultConnect func(ctx context.Context, cfg Config) (ari.Client, error)

func (c *Config) defaults() error {
	if c.Application == "" {
		c.Application = "hotline"
	}
	if c.Connect == nil {
		if c.URL == "" || c.Username == "" || c.Password == "" {
			return errors.New("asterisk: URL, Username and Password are required")
		}
		if c.WebsocketURL == "" {
			u, err := url.Parse(c.URL)
			if err != nil {
				return fmt.Errorf("asterisk: URL %q: %w", c.URL, err)
			}
			switch u.Scheme {
			case "https":
				u.Scheme = "wss"
			default:
				u.Scheme = "ws"
			}
			u.Path = strings.TrimSuffix(u.Path, "/") + "/events"
			c.WebsocketURL = u.String()
		}
		if defaultConnect == nil {
			return errors.New("asterisk: no ARI connector: set Config.Connect")
		}
		c.Connect = defaultConnect
	}
	if c.AgentEndpoint == "" {
		c.AgentEndpoint = "PJSIP/%s"
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 30 * time.Second
	}
	if c.DefaultLang == "" {
		c.DefaultLang = "ru"
	}
	if c.AdoptMOHClass == "" {
		c.AdoptMOHClass = "default"
	}
	if c.IncomingQueue == 0 {
		c.IncomingQueue = 1024
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 2 * time.Second
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = 500 * time.Millisecond
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.EndpointStates == nil {
		c.EndpointStates = endpointStates
	}
	if c.StoredRecording == nil {
		c.StoredRecording = storedRecording
	}
	if c.TransferGrace == 0 {
		c.TransferGrace = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Switch is the sip.Switch over ARI.
type Switch struct {
	cfg Config
	// bridgeMu serialises claiming two legs for a bridge.
	bridgeMu sync.Mutex
	mons     sip.MonitorSet[*leg, *monitor] // monitor.go
	// recordings are the live recordings of recorded legs (record.go).
	recordings recordings
	log        *slog.Logger

	incoming  chan sip.Leg
	closed    chan struct{}
	closeOnce sync.Once
	seq       atomic.Uint64

	mu        sync.Mutex
	client    ari.Client
	legs      map[string]*leg         // by channel ID
	pending   map[string]*pendingDial // originated, not yet answered, by channel ID
	playbacks map[string]chan string  // playback ID → final state
	endpoints map[string]string       // "PJSIP/a1" → Asterisk's endpoint state
	orphans   map[string][]string     // adopted bridge ID → its channels
	orphanOf  map[string]string       // channel ID → adopted bridge ID
	// hangupLater holds channels hung up during an outage (ID → reason).
	hangupLater map[string]string
	startup     time.Time // Asterisk's startup time at the last connection
	wg          sync.WaitGroup
}

// pendingDial is an originated channel waiting for its answer.
type pendingDial struct {
	target     sip.Target
	dialStatus string
	result     chan dialResult
	resolved   bool
}

type dialResult struct {
	leg   *leg
	cause sip.Cause
}

// New validates cfg and creates a switch; Start connects it.
func New(cfg Config) (*Switch, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Switch{
		cfg:         cfg,
		log:         cfg.Logger.With("component", "asterisk"),
		incoming:    make(chan sip.Leg, cfg.IncomingQueue),
		closed:      make(chan struct{}),
		legs:        map[string]*leg{},
		pending:     map[string]*pendingDial{},
		playbacks:   map[string]chan string{},
		orphans:     map[string][]string{},
		endpoints:   map[string]string{},
		orphanOf:    map[string]string{},
		hangupLater: map[string]string{},
	}
	s.recordings.init()
	return s, nil
}

// Start connects to ARI and returns once the first connection is up (or
// failed); afterwards the switch reconnects by itself until ctx is
// cancelled or Close.
func (s *Switch) Start(ctx context.Context) error {
	first := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(ctx, first)
	}()
	select {
	case err := <-first:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Incoming implements sip.Switch.
func (s *Switch) Incoming() <-chan sip.Leg { return s.incoming }

// Close disconnects from ARI. Calls in Asterisk are left as they are (see
// docs/asterisk.md: a restarted hotline re-adopts them); legs end with
// CauseShutdown, Detached.
func (s *Switch) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.wg.Wait()
		s.mu.Lock()
		legs := make([]*leg, 0, len(s.legs))
		for _, l := range s.legs {
			legs = append(legs, l)
		}
		s.mu.Unlock()
		for _, l := range legs {
			l.finishEnd(sip.End{Cause: sip.CauseShutdown, Side: sip.SideLocal, Detached: true})
		}
		close(s.incoming)
	})
}

// agentTech is the channel technology of Config.AgentEndpoint when it is
// of the form "TECH/%s" (then an agent's endpoint state can be known), else
// "".
func (s *Switch) agentTech() string {
	tech, rest, ok := strings.Cut(s.cfg.AgentEndpoint, "/")
	if !ok || rest != "%s" || tech == "" {
		return ""
	}
	return tech
}

// pollEndpoints refreshes the agents' endpoint states for Registered, once
// at connection and then every Heartbeat, with one request for all of the
// technology's endpoints. (Subscribing the application to
// "endpoint:PJSIP" for EndpointStateChange instead makes Asterisk deliver
// every channel event of those endpoints twice, once per subscription:
// measured on Asterisk 22, digits came in pairs.)
func (s *Switch) pollEndpoints(stop <-chan struct{}) {
	tech := s.agentTech()
	if tech == "" {
		return
	}
	t := time.NewTicker(s.cfg.Heartbeat)
	defer t.Stop()
	warned := false
	for {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ConnectTimeout)
		states, err := s.cfg.EndpointStates(ctx, s.cfg, tech, "")
		cancel()
		switch {
		case err != nil && !warned:
			s.log.Warn("ari: cannot read the agents' endpoint states; agents are rung without checking", "error", err)
			warned = true
		case err == nil:
			s.mu.Lock()
			s.endpoints = states
			s.mu.Unlock()
			warned = false
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// ariGet reads one ARI resource the library has no call for (path below
// the ARI URL) with the switch's credentials; a status other than 200 is
// an error.
func ariGet(ctx context.Context, cfg Config, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(cfg.URL, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(cfg.Username, cfg.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// endpointStates reads GET /endpoints/{tech} ("PJSIP/a1" → state), or
// /endpoints/{tech}/{resource} for one. The library's ListByTech drops the
// state and would need a request per endpoint.
func endpointStates(ctx context.Context, cfg Config, tech, resource string) (map[string]string, error) {
	path := "/endpoints/" + url.PathEscape(tech)
	if resource != "" {
		path += "/" + url.PathEscape(resource)
	}
	body, err := ariGet(ctx, cfg, path)
	if err != nil {
		return nil, err
	}
	type endpoint struct {
		Technology, Resource, State string
	}
	var list []endpoint
	if resource != "" {
		var one endpoint
		err = json.Unmarshal(body, &one)
		list = append(list, one)
	} else {
		err = json.Unmarshal(body, &list)
	}
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	out := make(map[string]string, len(list))
	for _, e := range list {
		out[e.Technology+"/"+e.Resource] = e.State
	}
	return out, nil
}

// Registered reports whether an agent's phone can be rung: false only when
// Asterisk says its endpoint is offline (no registered contact). An offline
// state from the last poll is checked again with Asterisk first (the phone
// may have registered since: a refusal counts as the agent's miss), so
// this may take one request; an unknown state, or no answer, counts as
// registered (the dial then decides).
func (s *Switch) Registered(user string) bool {
	tech := s.agentTech()
	if tech == "" {
		return true
	}
	id := tech + "/" + user
	s.mu.Lock()
	st, ok := s.endpoints[id]
	s.mu.Unlock()
	if !ok || st != "offline" {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fresh, err := s.cfg.EndpointStates(ctx, s.cfg, tech, user)
	if err != nil {
		return true
	}
	s.mu.Lock()
	s.endpoints[id] = fresh[id]
	s.mu.Unlock()
	return fresh[id] != "offline"
}

// closing reports whether Close has begun.
func (s *Switch) closing() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Connected reports whether the switch has a working ARI connection.
func (s *Switch) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client != nil
}

var errNotConnected = errors.New("asterisk: ARI is not connected")

// current is the ARI client, or nil during an outage.
func (s *Switch) current() ari.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}

func (s *Switch) newID(prefix string) string {
	return fmt.Sprintf("%s%x-%d", prefix, s.cfg.Now().UnixMilli(), s.seq.Add(1))
}

// run keeps a connection up: connect with backoff, resynchronise, serve
// events until the connection is lost, repeat.
func (s *Switch) run(ctx context.Context, first chan<- error) {
	backoff := s.cfg.BackoffMin
	for {
		if ctx.Err() != nil || s.isClosed() {
			if first != nil {
				first <- errors.New("asterisk: closed before connecting")
			}
			return
		}
		cl, err := s.cfg.Connect(ctx, s.cfg)
		if err != nil {
			if first != nil {
				first <- err
				return
			}
			s.log.Warn("ari connect failed, retrying", "error", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			case <-s.closed:
			}
			backoff = min(2*backoff, s.cfg.BackoffMax)
			continue
		}
		backoff = s.cfg.BackoffMin
		sub := cl.Bus().Subscribe(nil, ari.Events.All)
		startup := time.Time{}
		if info, err := cl.Asterisk().Info(nil); err == nil && info != nil {
			startup = time.Time(info.StatusInfo.StartupTime)
		}
		s.mu.Lock()
		restarted := !s.startup.IsZero() && !startup.Equal(s.startup)
		s.startup = startup
		s.client = cl
		s.mu.Unlock()
		if restarted {
			s.log.Warn("asterisk restarted while hotline was disconnected: calls in progress are gone")
		}
		s.resync(cl)
		s.log.Info("ari connected", "application", s.cfg.Application)
		if first != nil {
			first <- nil
			first = nil
		}
		reason := s.serve(ctx, cl, sub, startup)
		sub.Cancel()
		s.mu.Lock()
		s.client = nil
		s.mu.Unlock()
		cl.Close()
		if ctx.Err() != nil || s.isClosed() {
			return
		}
		s.log.Warn("ari connection lost, reconnecting", "reason", reason)
	}
}

func (s *Switch) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// serve handles events until the connection is lost or the switch stops;
// it returns why.
func (s *Switch) serve(ctx context.Context, cl ari.Client, sub ari.Subscription, startup time.Time) string {
	lost := make(chan string, 1)
	stop := make(chan struct{})
	defer close(stop)
	go s.heartbeat(cl, startup, lost, stop)
	go s.pollEndpoints(stop)
	for {
		select {
		case <-ctx.Done():
			return "context done"
		case <-s.closed:
			return "closed"
		case why := <-lost:
			return why
		case e, ok := <-sub.Events():
			if !ok {
				return "event subscription closed"
			}
			s.handle(cl, e)
		}
	}
}

// heartbeat asks Asterisk for its info every Heartbeat: two failures in a
// row, or a changed startup time (Asterisk restarted and the websocket
// reconnected inside the library, with the events between lost), report
// the connection lost.
func (s *Switch) heartbeat(cl ari.Client, startup time.Time, lost chan<- string, stop <-chan struct{}) {
	t := time.NewTicker(s.cfg.Heartbeat)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		info, err := cl.Asterisk().Info(nil)
		switch {
		case err != nil:
			failures++
			if failures >= 2 {
				lost <- "heartbeat: " + err.Error()
				return
			}
		case info != nil && !startup.IsZero() && !time.Time(info.StatusInfo.StartupTime).Equal(startup):
			lost <- "asterisk restarted"
			return
		default:
			failures = 0
		}
	}
}

// handle applies one ARI event. It never blocks: the library's bus drops
// events for a subscriber that does not keep up.
func (s *Switch) handle(cl ari.Client, e ari.Event) {
	if app := e.GetApplication(); app != "" && app != s.cfg.Application {
		return
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("ari event", "type", e.GetType(), "keys", e.Keys())
	}
	switch ev := e.(type) {
	case *ari.StasisStart:
		s.onStasisStart(cl, ev)
	case *ari.StasisEnd:
		if l := s.legFor(ev.Channel.ID); l != nil {
			l.leftStasis()
		}
	case *ari.ChannelHangupRequest:
		if l := s.legFor(ev.Channel.ID); l != nil {
			l.setHangupCause(ev.Cause)
		}
	case *ari.ChannelDestroyed:
		s.onDestroyed(cl, ev.Channel.ID, ev.Cause)
	case *ari.ChannelDtmfReceived:
		if l := s.legFor(ev.Channel.ID); l != nil && ev.Digit != "" {
			l.digit(rune(ev.Digit[0]))
		}
	case *ari.PlaybackFinished:
		s.playbackDone(ev.Playback.ID, ev.Playback.State)
	case *ari.RecordingFinished:
		s.recordings.end(ev.Recording.Name, nil)
	case *ari.RecordingFailed:
		s.recordingFailed(ev.Recording.Name, ev.Recording.Cause)
	case *ari.Dial:
		s.mu.Lock()
		if p := s.pending[ev.Peer.ID]; p != nil && ev.Dialstatus != "" {
			p.dialStatus = ev.Dialstatus
		}
		s.mu.Unlock()
	case *ari.BridgeBlindTransfer:
		l := s.legFor(ev.Channel.ID)
		switch {
		case l == nil:
		case ev.Result != "Success":
			// Asterisk did not transfer (e.g. Invalid: the channel was in
			// no bridge, so nobody to transfer); the phone got a failing
			// NOTIFY and the call goes on as it was.
			s.log.Info("ari: Asterisk did not carry out a blind transfer", "leg", l.info.ID, "result", ev.Result)
		default:
			l.transfer(ev.Exten, ev.Result)
		}
	case *ari.ChannelHold:
		if l := s.legFor(ev.Channel.ID); l != nil {
			l.emit(sip.HoldEvent{Hold: true, At: s.cfg.Now()})
		}
	case *ari.ChannelUnhold:
		if l := s.legFor(ev.Channel.ID); l != nil {
			l.emit(sip.HoldEvent{Hold: false, At: s.cfg.Now()})
		}
	}
}

func (s *Switch) legFor(id string) *leg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.legs[id]
}

// stasisArgs reads "key=value" application arguments, as
// extensions.conf passes them: Stasis(hotline,trunk=provider).
func stasisArgs(args []string) map[string]string {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		} else {
			out[strings.TrimSpace(a)] = ""
		}
	}
	return out
}

const (
	outPrefix = "hl-out-" // channel IDs hotline originates
	argDial   = "dial"    // application argument of originated channels
	// argTransfer marks the dialplan half of a blind transfer
	// (extensions.conf [hotline-transfer]).
	argTransfer = "transfer"
)

func (s *Switch) onStasisStart(cl ari.Client, ev *ari.StasisStart) {
	id := ev.Channel.ID
	if isSnoop(id) {
		s.recordings.snoopStarted(id) // a recording's snoop (record.go)
		return                        // or a monitor's (monitor.go): not a call
	}
	s.mu.Lock()
	if p := s.pending[id]; p != nil {
		delete(s.pending, id)
		l := newLeg(s, sip.CallInfo{
			ID: id, Direction: sip.Outbound, From: p.target.CallerID, FromName: p.target.CallerName,
			To: targetTo(p.target), Agent: p.target.Agent, Trunk: p.target.Trunk, Created: s.cfg.Now(),
		}, true)
		s.legs[id] = l
		p.resolved = true
		s.mu.Unlock()
		p.result <- dialResult{leg: l}
		return
	}
	if l := s.legs[id]; l != nil {
		s.mu.Unlock()
		l.reentered() // back from the dialplan after a blind transfer
		return
	}
	s.mu.Unlock()

	args := stasisArgs(ev.Args)
	if _, ok := args[argTransfer]; ok || ev.ReplaceChannel.ID != "" {
		// A blind transfer out of a Stasis bridge: Asterisk swaps a Local
		// channel in for the transferer (StasisStart with replace_channel)
		// and runs the transfer target in the dialplan on its other half,
		// which [hotline-transfer] sends here with the "transfer" argument.
		// hotline routes the transfer itself (TransferEvent on the agent's
		// leg, from BridgeBlindTransfer), so both halves are hung up.
		s.log.Info("ari: ending Asterisk's transfer channel; hotline routes the transfer", "channel", id,
			"replaces", ev.ReplaceChannel.ID)
		_ = cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, id), "normal")
		return
	}
	if _, ok := args[argDial]; ok || strings.HasPrefix(id, outPrefix) {
		// Originated by an earlier hotline process that is gone.
		s.log.Info("ari: hanging up a channel originated before a restart", "channel", id)
		_ = cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, id), "normal")
		return
	}
	l := newLeg(s, inboundInfo(id, ev.Channel, args, s.cfg.Now()), ev.Channel.State == "Up")
	s.deliver(cl, l)
}

// inboundInfo describes an inbound channel.
func inboundInfo(id string, ch ari.ChannelData, args map[string]string, now time.Time) sip.CallInfo {
	info := sip.CallInfo{ID: id, Direction: sip.Inbound, Created: now, Trunk: args["trunk"], Agent: args["agent"]}
	if ch.Caller != nil {
		info.From, info.FromName = ch.Caller.Number, ch.Caller.Name
	}
	if ch.Dialplan != nil {
		info.To = ch.Dialplan.Exten
	}
	if to, ok := args["to"]; ok && to != "" {
		info.To = to
	}
	if info.Agent != "" && info.From == "" {
		info.From = info.Agent
	}
	if ts := ch.Creationtime; ts != nil && ts.Seconds > 0 {
		info.Created = time.Unix(ts.Seconds, int64(ts.Nanos))
	}
	return info
}

// deliver registers an inbound leg and hands it to the consumer.
func (s *Switch) deliver(cl ari.Client, l *leg) {
	s.mu.Lock()
	s.legs[l.info.ID] = l
	s.mu.Unlock()
	select {
	case s.incoming <- l:
		s.log.Info("ari call in", "leg", l.info.ID, "trunk", l.info.Trunk, "agent", l.info.Agent, "answered", l.isAnswered())
	default:
		s.log.Warn("ari call refused: consumer is not keeping up", "leg", l.info.ID)
		_ = cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, l.info.ID), "congestion")
		l.finish(sip.CauseFailure, sip.SideLocal)
	}
}

func targetTo(t sip.Target) string {
	if t.Agent != "" {
		return t.Agent
	}
	return t.Number
}

func (s *Switch) onDestroyed(cl ari.Client, id string, cause int) {
	s.mu.Lock()
	if p := s.pending[id]; p != nil {
		delete(s.pending, id)
		p.resolved = true
		c, ok := causeFromDialStatus(p.dialStatus)
		if !ok {
			c = causeFromQ850(cause)
			if c == sip.CauseNormal { // ended before answering, no better word
				c = sip.CauseNoAnswer
			}
		}
		s.mu.Unlock()
		p.result <- dialResult{cause: c}
		return
	}
	l := s.legs[id]
	bridge, orphan := s.orphanOf[id]
	var others []string
	if orphan {
		others = s.orphans[bridge]
		delete(s.orphans, bridge)
		for _, o := range others {
			delete(s.orphanOf, o)
		}
	}
	s.mu.Unlock()
	if l != nil {
		l.destroyed(cause)
	}
	if orphan {
		// One side of a call re-adopted after a restart hung up: end the
		// other side too, nobody else will.
		for _, o := range others {
			if o != id {
				_ = cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, o), "normal")
			}
		}
		_ = cl.Bridge().Delete(ari.NewKey(ari.BridgeKey, bridge))
	}
}

func (s *Switch) playbackDone(id, state string) {
	s.mu.Lock()
	ch := s.playbacks[id]
	delete(s.playbacks, id)
	s.mu.Unlock()
	if ch != nil {
		ch <- state
	}
}

// resync reconciles hotline's legs with the channels in the application
// after a (re)connection: events lost during an outage are not trusted.
func (s *Switch) resync(cl ari.Client) {
	app, err := cl.Application().Data(ari.NewKey(ari.ApplicationKey, s.cfg.Application))
	if err != nil {
		s.log.Error("ari resync: cannot list the application's channels", "error", err)
		return
	}
	if len(app.EndpointIDs) > 0 || len(app.DeviceNames) > 0 {
		// Subscriptions outlive connections in Asterisk, and a channel of a
		// subscribed endpoint has its events delivered once more per
		// subscription: every digit would count twice.
		s.log.Warn("ari: the application is subscribed to endpoints or devices (by an earlier client?); "+
			"Asterisk then sends their channels' events twice. Remove them with "+
			"DELETE /ari/applications/"+s.cfg.Application+"/subscription?eventSource=endpoint:<tech> (repeat per subscription)",
			"endpoints", app.EndpointIDs, "devices", app.DeviceNames)
	}
	live := map[string]bool{}
	for _, id := range app.ChannelIDs {
		live[id] = true
	}
	s.mu.Lock()
	var gone []*leg
	for id, l := range s.legs {
		if !live[id] {
			gone = append(gone, l)
		}
	}
	var failed []*pendingDial
	for id, p := range s.pending {
		if !live[id] {
			delete(s.pending, id)
			p.resolved = true
			failed = append(failed, p)
		}
	}
	known := map[string]bool{}
	for id := range s.legs {
		known[id] = true
	}
	later := s.hangupLater
	s.hangupLater = map[string]string{}
	s.mu.Unlock()
	for id, reason := range later {
		if live[id] {
			_ = cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, id), reason)
			known[id] = true // not to be re-adopted
		}
	}
	for _, l := range gone {
		s.log.Info("ari resync: channel is gone", "leg", l.info.ID)
		l.destroyed(0)
	}
	for _, p := range failed {
		p.result <- dialResult{cause: sip.CauseUnreachable}
	}

	// Channels in bridges: calls in progress. They keep talking; hotline
	// only makes sure the other side is hung up when one leaves.
	bridged := map[string]bool{}
	for _, bid := range app.BridgeIDs {
		bd, err := cl.Bridge().Data(ari.NewKey(ari.BridgeKey, bid))
		if err != nil || bd == nil {
			continue
		}
		var ours []string
		for _, id := range bd.ChannelIDs {
			bridged[id] = true
			if !known[id] {
				ours = append(ours, id)
			}
		}
		if len(ours) > 0 {
			s.mu.Lock()
			s.orphans[bid] = ours
			for _, id := range ours {
				s.orphanOf[id] = bid
			}
			s.mu.Unlock()
			s.log.Info("ari resync: call in progress kept", "bridge", bid, "channels", len(ours))
		}
	}
	for _, id := range app.ChannelIDs {
		if known[id] || bridged[id] {
			continue
		}
		s.adopt(cl, id)
	}
}

// adopt takes over a channel found in the application that no leg knows:
// channels hotline originated are hung up (their Dial is gone); callers
// become inbound legs again, with music until call logic takes them.
func (s *Switch) adopt(cl ari.Client, id string) {
	key := ari.NewKey(ari.ChannelKey, id)
	if isSnoop(id) {
		if !s.ownsSnoop(id) {
			s.log.Info("ari resync: hanging up an orphaned snoop channel", "channel", id)
			_ = cl.Channel().Hangup(key, "normal")
		}
		return
	}
	if strings.HasPrefix(id, outPrefix) {
		s.log.Info("ari resync: hanging up an orphaned outbound channel", "channel", id)
		_ = cl.Channel().Hangup(key, "normal")
		return
	}
	data, err := cl.Channel().Data(key)
	if err != nil || data == nil {
		return
	}
	info := inboundInfo(id, *data, nil, s.cfg.Now())
	info.Resumed = true
	l := newLeg(s, info, data.State == "Up")
	if l.isAnswered() {
		if err := cl.Channel().MOH(key, s.cfg.AdoptMOHClass); err == nil {
			l.mu.Lock()
			l.moh = true
			l.mu.Unlock()
		}
	}
	s.log.Info("ari resync: re-adopted a caller", "leg", id, "answered", l.isAnswered())
	s.deliver(cl, l)
}

// Dial implements sip.Switch: it originates a channel into the Stasis
// application and waits until it enters it (answered) or is destroyed.
func (s *Switch) Dial(ctx context.Context, t sip.Target) (sip.Leg, error) {
	cl := s.current()
	if cl == nil || t.Browser { // no desk softphone in Asterisk mode
		return nil, &sip.DialError{Target: t, Cause: sip.CauseUnreachable}
	}
	var endpoint string
	switch {
	case t.Agent != "":
		endpoint = fmt.Sprintf(s.cfg.AgentEndpoint, t.Agent)
	case t.Number != "":
		name := t.Trunk
		if name == "" {
			name = s.cfg.DefaultTrunk
		}
		f, ok := s.cfg.Trunks[name]
		if !ok {
			return nil, &sip.DialError{Target: t, Cause: sip.CauseUnreachable}
		}
		t.Trunk = name
		endpoint = fmt.Sprintf(f, t.Number)
	default:
		return nil, errors.New("asterisk: dial target has neither Agent nor Number")
	}
	if t.CallerID == "" {
		t.CallerID = s.cfg.CallerID
	}
	ring := t.RingTimeout
	if ring == 0 {
		ring = s.cfg.RingTimeout
	}
	id := s.newID(outPrefix)
	p := &pendingDial{target: t, result: make(chan dialResult, 1)}
	s.mu.Lock()
	s.pending[id] = p
	s.mu.Unlock()

	req := ari.OriginateRequest{
		Endpoint: endpoint, Timeout: int((ring + time.Second - 1) / time.Second),
		App: s.cfg.Application, AppArgs: argDial, ChannelID: id,
	}
	if t.CallerID != "" || t.CallerName != "" {
		req.CallerID = fmt.Sprintf("%q <%s>", t.CallerName, t.CallerID)
	}
	if len(t.Headers) > 0 {
		req.Variables = map[string]string{}
		for k, v := range t.Headers {
			req.Variables["PJSIP_HEADER(add,"+k+")"] = v
		}
	}
	if _, err := cl.Channel().Originate(nil, req); err != nil {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
		s.log.Warn("ari originate failed", "endpoint", endpoint, "error", err)
		return nil, &sip.DialError{Target: t, Cause: sip.CauseUnreachable}
	}
	// Asterisk enforces the ring timeout; this guard only covers a lost
	// ChannelDestroyed.
	guard := time.NewTimer(ring + 5*time.Second)
	defer guard.Stop()
	select {
	case r := <-p.result:
		if r.leg != nil {
			s.log.Info("ari call out answered", "leg", id, "target", t.String())
			return r.leg, nil
		}
		return nil, &sip.DialError{Target: t, Cause: r.cause}
	case <-ctx.Done():
		s.abandon(cl, id, p)
		return nil, &sip.DialError{Target: t, Cause: sip.CauseCancelled}
	case <-guard.C:
		s.abandon(cl, id, p)
		return nil, &sip.DialError{Target: t, Cause: sip.CauseNoAnswer}
	}
}

// abandon hangs up an originated channel nobody waits for any more, also
// if it was answered in the meantime.
func (s *Switch) abandon(cl ari.Client, id string, p *pendingDial) {
	s.mu.Lock()
	if !p.resolved {
		delete(s.pending, id)
		p.resolved = true
	}
	s.mu.Unlock()
	_ = cl.Channel().Hangup(ari.NewKey(ari.ChannelKey, id), "normal")
	select {
	case r := <-p.result:
		if r.leg != nil {
			r.leg.finish(sip.CauseCancelled, sip.SideLocal)
		}
	default:
	}
}
