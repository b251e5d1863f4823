package reporting

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/prometheus/client_golang/prometheus"
)

// FormulaRealTime is the "formula" label of the real-time service level
// (RealTimeSL): callers waiting past T count as misses at once.
const FormulaRealTime = "realtime"

// Rolling windows of hotline_service_level_ratio.
const (
	Window15m   = "15m"
	Window1h    = "1h"
	WindowToday = "today"
)

// MetricsOptions configure NewMetrics.
type MetricsOptions struct {
	// Config gives T, S and lines per queue (nil: defaults).
	Config *Config
	// Now is the clock for rolling windows (default time.Now).
	Now func() time.Time
	// Writer, if set, is exported as backlog/spool gauges.
	Writer interface{ Stats() WriterStats }
	// Queues are the configured queue names: hotline_calls_waiting,
	// hotline_queue_longest_wait_seconds and hotline_agents are exported as
	// 0 for them before any event. Queues named in Config.Queues, returned
	// by QueuesOf or seen in events are added to this set.
	Queues []string
	// QueuesOf returns the queues an agent serves (from the config: skills
	// and lines). It is called once per agent, at the agent's first
	// agent.state event, and must not block. Nil: agents are counted under
	// no queue (hotline_agents then only has queue="").
	QueuesOf func(agentID string) []string
	// Agents are the configured agent IDs; they count as logged_out until
	// their first agent.state event.
	Agents []string
	// StaleWait drops a waiting visit that has had no outcome for this long
	// (a lost call.ended), so hotline_calls_waiting cannot grow forever.
	// Default 12 h.
	StaleWait time.Duration
}

// Agent states, the "state" label of hotline_agents. The queue Engine's
// names ("logged-out", "on-call", "wrap-up") are mapped to these.
const (
	AgentLoggedOut = "logged_out"
	AgentAvailable = "available"
	AgentRinging   = "ringing"
	AgentOnCall    = "on_call"
	AgentWrapup    = "wrapup"
	AgentPaused    = "paused"
	// AgentOther is any state name this package does not know.
	AgentOther = "other"
)

// AgentStates lists the states hotline_agents is always exported for.
var AgentStates = [...]string{AgentLoggedOut, AgentAvailable, AgentRinging, AgentOnCall, AgentWrapup, AgentPaused}

// CanonicalState maps an agent.state Data[to] value to one of AgentStates
// (or AgentOther), accepting the Engine's hyphenated names and common
// synonyms.
func CanonicalState(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "logged-out", "logged_out", "loggedout", "offline":
		return AgentLoggedOut
	case "available", "ready", "idle":
		return AgentAvailable
	case "ringing", "reserved":
		return AgentRinging
	case "on-call", "on_call", "oncall", "busy", "talking":
		return AgentOnCall
	case "wrap-up", "wrapup", "wrap_up", "acw":
		return AgentWrapup
	case "paused", "pause":
		return AgentPaused
	}
	return AgentOther
}

// Metrics is an in-process consumer of the event stream that maintains
// hotline's Prometheus metrics. Publish it alongside the Writer (it
// implements eventlog.Publisher); it never touches the database. No phone
// number or call ID is ever a label.
type Metrics struct {
	cfg       *Config
	now       func() time.Time
	queuesOf  func(string) []string
	staleWait time.Duration

	// The counters; Restore swaps in an unregistered set while it replays
	// stored events, so a restart never counts an event twice.
	*counterSet

	mu    sync.Mutex
	calls map[string]*liveCall // call → its fold, while it lives
	// nEvents counts events, to sweep calls now and then.
	nEvents uint64
	lines   map[string]lineMark   // call → lines of its first and last answered visits (for survey and disposition events)
	recent  map[string][]slSample // queue → visits finished in the last hour
	today   map[string]*Counts    // queue → visits finished today
	// ewtToday: queue → announced-wait errors (actual − EWT, s) of the
	// visits answered today.
	ewtToday map[string][]float64
	day      time.Time // start of "today"
	csi      map[string]*[2]float64
	fcr      map[[2]string]*[2]float64 // (line, source) → resolved, covered
	// lineAge lists line marks in the order they were set, for the sweep
	// (a mark set again later leaves a stale entry that the sweep skips).
	lineAge []callMark
	queues  map[string]bool         // known queues (exported as 0 when idle)
	agents  map[string]*agentStatus // agent → current state and queues
	// satisfactionFrom: survey answers and dispositions before it are not
	// counted in CSI and FCR (set while Restore replays, else zero).
	satisfactionFrom time.Time
	// fcrReport holds the database FCR figures set by SetReportFCR.
	fcrReport []FCRFigures
}

// counterSet holds the Prometheus counters and histogram of Metrics.
type counterSet struct {
	offered, answered, withinT, abandoned, shortAb *prometheus.CounterVec
	wait                                           *prometheus.HistogramVec
	escalations, surveys                           *prometheus.CounterVec
	talk, wrapup                                   *prometheus.CounterVec
	agentAnswered, agentMissed, agentEscalations   *prometheus.CounterVec
	agentTalk, agentWrapup, agentRing              *prometheus.CounterVec
	ewtError                                       *prometheus.HistogramVec
	cb                                             callbackCounters
}

func newCounterSet(cfg *Config) *counterSet {
	m := &counterSet{}
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m.offered = cv("hotline_calls_offered_total", "Calls that entered the queue.", "queue")
	m.answered = cv("hotline_calls_answered_total", "Calls answered from the queue.", "queue")
	m.withinT = cv("hotline_calls_answered_within_threshold_total", "Calls answered with wait <= the queue's service-level threshold T.", "queue")
	m.abandoned = cv("hotline_calls_abandoned_total", "Calls whose caller hung up while waiting in the queue.", "queue")
	m.shortAb = cv("hotline_calls_short_abandoned_total", "Abandoned calls with wait <= the queue's short-abandon threshold S.", "queue")
	m.escalations = cv("hotline_escalations_total", "Calls escalated from first to second line.", "from_queue", "to_queue")
	m.surveys = cv("hotline_survey_calls_total", "Survey events by result (scheduled, attempted, completed, failed, skipped, optout).", "result")
	m.talk = cv("hotline_talk_seconds_total", "Talk time of answered calls (call.completed), by the queue that answered.", "queue")
	m.wrapup = cv("hotline_wrapup_seconds_total", "Wrap-up time after answered calls (agent.wrapup_ended), by queue.", "queue")
	m.agentAnswered = cv("hotline_agent_answered_total", "Calls the agent answered.", "agent")
	m.agentMissed = cv("hotline_agent_missed_total", "Offers the agent did not answer (agent.ring_noanswer).", "agent")
	m.agentEscalations = cv("hotline_agent_escalations_total", "Calls the agent escalated to second line.", "agent")
	m.agentTalk = cv("hotline_agent_talk_seconds_total", "The agent's talk time.", "agent")
	m.agentWrapup = cv("hotline_agent_wrapup_seconds_total", "The agent's wrap-up time.", "agent")
	m.agentRing = cv("hotline_agent_ring_seconds_total", "Offer-to-answer time of the agent's answered calls (\"who answers faster\").", "agent")
	m.wait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hotline_queue_wait_seconds",
		Help:    "Wait from queue entry to answer, abandon, overflow, timeout or callback.",
		Buckets: waitBuckets(cfg),
	}, []string{"queue", "outcome"})
	m.ewtError = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hotline_ewt_abs_error_seconds",
		Help:    "Absolute error |actual wait - announced estimated wait| of answered calls that were given an estimate, by queue (_sum/_count = mean absolute error).",
		Buckets: []float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600},
	}, []string{"queue"})
	for _, r := range SurveyResults {
		m.surveys.WithLabelValues(r)
	}
	m.cb = newCallbackCounters()
	return m
}

// zeroQueue creates a queue's counter and histogram series at zero.
func (c *counterSet) zeroQueue(q string) {
	c.cb.zero(q)
	for _, v := range []*prometheus.CounterVec{c.offered, c.answered, c.withinT, c.abandoned, c.shortAb, c.talk, c.wrapup} {
		v.WithLabelValues(q)
	}
	for _, o := range WaitOutcomes {
		c.wait.WithLabelValues(q, string(o))
	}
	c.ewtError.WithLabelValues(q)
}

// zeroAgent creates an agent's counter series at zero.
func (c *counterSet) zeroAgent(id string) {
	for _, v := range []*prometheus.CounterVec{c.agentAnswered, c.agentMissed, c.agentEscalations, c.agentTalk, c.agentWrapup, c.agentRing} {
		v.WithLabelValues(id)
	}
}

type callMark struct {
	call string
	at   time.Time
}

type agentStatus struct {
	state  string
	queues []string
}

// lineTTL is how long a call's line is remembered for survey events.
const lineTTL = 72 * time.Hour

// liveCall is a call's fold (eventlog's, as BuildCall uses) and when its
// last event came.
type liveCall struct {
	f    eventlog.Call
	seen time.Time
}

// callTTL is how long a call's fold is kept after its last event (talk and
// wrap-up times arrive after the answer: a wrap-up ends minutes later).
const callTTL = 2 * time.Hour

// lineMark holds the lines of a call's answered visits that survey and
// disposition events are grouped by: CSI by the last answered visit's
// line, FCR by the first's (docs/metrics.md, as the reports do).
type lineMark struct {
	line  string // line of the last answered visit
	first string // line of the first answered visit
	at    time.Time
}

type slSample struct {
	at time.Time
	c  Counts
}

// NewMetrics registers the collectors on reg.
func NewMetrics(reg prometheus.Registerer, opt MetricsOptions) (*Metrics, error) {
	cfg := opt.Config
	if cfg == nil {
		cfg = &Config{}
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	m := &Metrics{
		cfg: cfg, now: now, queuesOf: opt.QueuesOf, staleWait: opt.StaleWait,
		calls: map[string]*liveCall{}, lines: map[string]lineMark{}, recent: map[string][]slSample{},
		today: map[string]*Counts{}, csi: map[string]*[2]float64{}, fcr: map[[2]string]*[2]float64{}, ewtToday: map[string][]float64{},
		queues: map[string]bool{}, agents: map[string]*agentStatus{},
		counterSet: newCounterSet(cfg),
	}
	if m.staleWait <= 0 {
		m.staleWait = 12 * time.Hour
	}
	// Every counter and histogram series a rule, alert or panel reads
	// exists from the start (zero) for every known queue, agent and
	// survey result: increase() then sees the first increment, and sums
	// over several series (answered + lost) are never empty.
	for q := range cfg.Queues {
		m.addQueue(q)
	}
	for _, q := range opt.Queues {
		m.addQueue(q)
	}
	for _, a := range opt.Agents {
		m.agentLocked(a).state = AgentLoggedOut
	}
	cs := []prometheus.Collector{m.offered, m.answered, m.withinT, m.abandoned, m.shortAb, m.escalations, m.surveys, m.wait, m.ewtError,
		m.talk, m.wrapup, m.agentAnswered, m.agentMissed, m.agentEscalations, m.agentTalk, m.agentWrapup, m.agentRing, (*derived)(m)}
	cs = append(cs, m.cb.collectors()...)
	if opt.Writer != nil {
		w := opt.Writer
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_reporting_buffered_events", Help: "Events in the writer's memory buffer."},
				func() float64 { return float64(w.Stats().Buffered) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_reporting_spool_events", Help: "Events in the local journal waiting for the database."},
				func() float64 { return float64(w.Stats().SpoolEvents) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_reporting_spool_bytes", Help: "Bytes of the local journal waiting for the database."},
				func() float64 { return float64(w.Stats().SpoolBytes) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_reporting_events_written_total", Help: "Events written to the database."},
				func() float64 { return float64(w.Stats().Written) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_reporting_write_failures_total", Help: "Failed database writes (events spooled)."},
				func() float64 { return float64(w.Stats().Failures) }),
		)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// SurveyResults are the values of the "result" label of
// hotline_survey_calls_total.
var SurveyResults = [...]string{"scheduled", "attempted", "completed", "failed", "skipped", "optout"}

// WaitOutcomes are the values of the "outcome" label of
// hotline_queue_wait_seconds.
var WaitOutcomes = [...]Outcome{OutcomeAnswered, OutcomeAbandoned, OutcomeOverflowed, OutcomeTimeout, OutcomeCallback}

// addQueue makes q a known queue and creates its counter and histogram
// series at zero.
func (m *Metrics) addQueue(q string) {
	if m.queues[q] {
		return
	}
	m.queues[q] = true
	m.zeroQueue(q)
}

// waitBuckets are general buckets plus every configured T and S.
func waitBuckets(cfg *Config) []float64 {
	set := map[float64]bool{}
	for _, b := range []float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200} {
		set[b] = true
	}
	set[cfg.ThresholdFor("").Seconds()] = true
	set[cfg.ShortAbandonFor("").Seconds()] = true
	for q := range cfg.Queues {
		set[cfg.ThresholdFor(q).Seconds()] = true
		set[cfg.ShortAbandonFor(q).Seconds()] = true
	}
	out := make([]float64, 0, len(set))
	for b := range set {
		out = append(out, b)
	}
	sort.Float64s(out)
	return out
}

// Publish consumes one event.
func (m *Metrics) Publish(e eventlog.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.publishLocked(e)
}

// RestoreLookback is how far back Restore reads the event log: as long as
// a call's lines are remembered for its survey answers.
const RestoreLookback = lineTTL

// Restore replays the stored events of the last RestoreLookback into the
// in-process figures — the rolling and today's SL windows (every formula),
// CSI and FCR (survey answers and dispositions logged since the start of
// today in the service's zone), the lines of recent calls and the agents'
// states — so that after a restart the board shows what the report shows.
// The counters are not touched: the process that is gone exported those,
// and Prometheus sums counters across the reset. Calls the log shows still
// waiting are not restored as waiting (a native-SIP call did not survive
// the restart; an Asterisk wait that did is resumed with its own
// queue.joined). Call it before subscribing to the bus.
func (m *Metrics) Restore(ctx context.Context, s *Store) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	live := m.counterSet
	m.counterSet = newCounterSet(m.cfg) // unregistered: the replay counts nothing
	dayStart, _ := Today(now, m.cfg.location())
	m.satisfactionFrom = dayStart
	defer func() {
		m.counterSet = live
		m.satisfactionFrom = time.Time{}
		for q := range m.queues {
			m.zeroQueue(q)
		}
		for a := range m.agents {
			m.zeroAgent(a)
		}
		for id, c := range m.calls {
			if _, ok := c.f.Waiting(); ok {
				delete(m.calls, id)
			}
		}
	}()
	return s.shownEvents(ctx, now.Add(-RestoreLookback), now.Add(time.Millisecond), func(e eventlog.Event) error {
		m.publishLocked(e)
		return nil
	})
}

func (m *Metrics) publishLocked(e eventlog.Event) {
	m.rollDay(e.At)
	if e.Queue != "" && !m.queues[e.Queue] && e.Type == eventlog.QueueJoined {
		m.addQueue(e.Queue)
	}
	if e.CallID != "" {
		m.fold(e)
	}
	m.cb.observe(e, m.cfg)
	switch e.Type {
	case eventlog.AgentState:
		if e.Agent != "" {
			m.agentLocked(e.Agent).state = CanonicalState(e.String(eventlog.KeyTo))
		}
	case eventlog.AgentRingNoAnswer:
		if e.Agent != "" {
			m.agentMissed.WithLabelValues(e.Agent).Inc()
		}
	case eventlog.CallDisposition:
		line := m.lines[e.CallID].first
		if e.At.Before(m.satisfactionFrom) {
			break
		}
		if e.Reason == "resolved" || e.Reason == "not_resolved" || e.Reason == "escalated" {
			m.addFCR(line, FCRDisposition, e.Reason == "resolved")
		}
	case eventlog.SurveyScheduled:
		m.surveys.WithLabelValues("scheduled").Inc()
	case eventlog.SurveyAttempt:
		m.surveys.WithLabelValues("attempted").Inc()
	case eventlog.SurveyFailed:
		m.surveys.WithLabelValues("failed").Inc()
	case eventlog.SurveySkipped:
		m.surveys.WithLabelValues("skipped").Inc()
	case eventlog.SurveyOptOut:
		m.surveys.WithLabelValues("optout").Inc()
	case eventlog.SurveyCompleted:
		m.surveys.WithLabelValues("completed").Inc()
		if e.At.Before(m.satisfactionFrom) {
			break
		}
		line := m.lines[e.CallID].line
		if r, ok := e.Int(eventlog.KeyRating); ok && r >= 1 && r <= 5 && line != "" {
			s := m.csi[line]
			if s == nil {
				s = &[2]float64{}
				m.csi[line] = s
			}
			s[0] += CSIScore(r)
			s[1]++
		}
		if v := e.String(eventlog.KeySolved); v == "yes" || v == "no" {
			m.addFCR(m.lines[e.CallID].first, FCRSurvey, v == "yes")
		}
	}
	m.prune(e.At)
	if m.nEvents++; m.nEvents%1024 == 0 {
		m.sweepStale(e.At)
	}
}

func (m *Metrics) addFCR(line, source string, resolved bool) {
	if line == "" {
		return
	}
	k := [2]string{line, source}
	s := m.fcr[k]
	if s == nil {
		s = &[2]float64{}
		m.fcr[k] = s
	}
	if resolved {
		s[0]++
	}
	s[1]++
}

// fold applies an event to its call's fold (eventlog's one fold, as
// BuildCall uses) and counts what it changed: offers, waits that ended,
// answers, talk and wrap-up times. A call's fold begins with its first
// queue.joined.
func (m *Metrics) fold(e eventlog.Event) {
	c := m.calls[e.CallID]
	if c == nil {
		if e.Type != eventlog.QueueJoined {
			return
		}
		c = &liveCall{}
		m.calls[e.CallID] = c
	}
	c.seen = e.At
	st := c.f.Apply(e)
	if v := st.Opened; v != nil && !v.Resumed {
		// A resumed wait was offered by the process that is gone
		// (Prometheus sums counters across the reset).
		m.offered.WithLabelValues(v.Queue).Inc()
	}
	if v := st.Closed; v != nil {
		if v.Outcome == eventlog.OutcomeAnswered && v.Agent != "" {
			m.agentAnswered.WithLabelValues(v.Agent).Inc()
			m.agentRing.WithLabelValues(v.Agent).Add(v.Ring.Seconds())
		}
		m.finish(v.Queue, v.Outcome, v.Wait, e.At)
		if ev, ok := EWTError(Visit{Outcome: v.Outcome, Wait: v.Wait, EWT: v.EWT, HasEWT: v.HasEWT}); ok {
			m.ewtError.WithLabelValues(v.Queue).Observe(math.Abs(ev))
			m.ewtToday[v.Queue] = append(m.ewtToday[v.Queue], ev)
		}
		if v.Outcome == eventlog.OutcomeAnswered {
			mk := lineMark{line: m.cfg.lineFor(v.Queue, v.EscalatedFrom != ""), at: e.At}
			mk.first = mk.line
			for _, fv := range c.f.Visits {
				if fv.Outcome == eventlog.OutcomeAnswered {
					mk.first = m.cfg.lineFor(fv.Queue, fv.EscalatedFrom != "")
					break
				}
			}
			if old, ok := m.lines[e.CallID]; ok && old.first != "" {
				mk.first = old.first // the fold was dropped and begun again
			}
			m.lines[e.CallID] = mk
			m.lineAge = append(m.lineAge, callMark{e.CallID, e.At})
		}
	}
	if v := st.Escalated; v != nil {
		m.escalations.WithLabelValues(v.Queue, v.EscalatedTo).Inc()
		if v.Agent != "" {
			m.agentEscalations.WithLabelValues(v.Agent).Inc()
		}
	}
	if v := st.Updated; v != nil {
		// Counters only grow: a talk or wrap-up time replaced by a
		// shorter one (a second call.completed for one answer) keeps the
		// first.
		if d := st.TalkDelta; d > 0 {
			m.talk.WithLabelValues(v.Queue).Add(d.Seconds())
			if v.Agent != "" {
				m.agentTalk.WithLabelValues(v.Agent).Add(d.Seconds())
			}
		}
		if d := st.WrapupDelta; d > 0 {
			m.wrapup.WithLabelValues(v.Queue).Add(d.Seconds())
			if v.Agent != "" {
				m.agentWrapup.WithLabelValues(v.Agent).Add(d.Seconds())
			}
		}
	}
}

// finish records a visit's outcome (same flags as BuildCall).
func (m *Metrics) finish(q string, o Outcome, wait time.Duration, at time.Time) {
	vis := Visit{Queue: q, Outcome: o, Wait: wait}
	T, S := m.cfg.ThresholdFor(q), m.cfg.ShortAbandonFor(q)
	vis.WithinT = o == OutcomeAnswered && wait <= T
	vis.ShortAbandon = o == OutcomeAbandoned && wait <= S
	vis.AbandonWithinT = o == OutcomeAbandoned && wait <= T
	m.wait.WithLabelValues(q, string(o)).Observe(wait.Seconds())
	switch o {
	case OutcomeAnswered:
		m.answered.WithLabelValues(q).Inc()
		if vis.WithinT {
			m.withinT.WithLabelValues(q).Inc()
		}
	case OutcomeAbandoned:
		m.abandoned.WithLabelValues(q).Inc()
		if vis.ShortAbandon {
			m.shortAb.WithLabelValues(q).Inc()
		}
	}
	var c Counts
	c.CountVisit(vis)
	c.Offered = 0 // SL windows count finished visits only
	m.recent[q] = append(m.recent[q], slSample{at, c})
	t := m.today[q]
	if t == nil {
		t = &Counts{}
		m.today[q] = t
	}
	t.Add(c)
}

// rollDay resets "today" at midnight in the service's zone.
func (m *Metrics) rollDay(at time.Time) {
	start, _ := Today(at, m.cfg.location())
	if start.After(m.day) {
		m.day = start
		m.today = map[string]*Counts{}
		m.ewtToday = map[string][]float64{}
	}
}

// agentLocked returns the agent's record, creating it (logged out, with
// its queues from QueuesOf) on first sight.
func (m *Metrics) agentLocked(id string) *agentStatus {
	a := m.agents[id]
	if a == nil {
		a = &agentStatus{state: AgentLoggedOut}
		if m.queuesOf != nil {
			a.queues = append([]string(nil), m.queuesOf(id)...)
			for _, q := range a.queues {
				m.addQueue(q)
			}
		}
		m.agents[id] = a
		m.zeroAgent(id)
	}
	return a
}

// prune drops SL samples older than an hour and, as a sweep in the order
// they were set, line marks older than lineTTL. Both lists are ordered by
// event time, so each call costs O(expired entries); events published out
// of order only delay a removal.
func (m *Metrics) prune(now time.Time) {
	cut := now.Add(-time.Hour)
	for q, ss := range m.recent {
		i := 0
		for i < len(ss) && ss[i].at.Before(cut) {
			i++
		}
		if i > 0 {
			m.recent[q] = append(ss[:0], ss[i:]...)
		}
	}
	lineCut := now.Add(-lineTTL)
	i := 0
	for i < len(m.lineAge) && m.lineAge[i].at.Before(lineCut) {
		k := m.lineAge[i]
		if v, ok := m.lines[k.call]; ok && !v.at.After(k.at) {
			delete(m.lines, k.call)
		}
		i++
	}
	if i > 0 {
		m.lineAge = append(m.lineAge[:0], m.lineAge[i:]...)
	}
}

// sweepStale drops calls waiting longer than StaleWait (their call.ended
// was lost) and the folds of calls silent for callTTL; it runs at scrape
// time and every 1024 events.
func (m *Metrics) sweepStale(now time.Time) {
	for call, c := range m.calls {
		if v, ok := c.f.Waiting(); ok && now.Sub(v.JoinedAt) > m.staleWait || !ok && now.Sub(c.seen) > callTTL {
			delete(m.calls, call)
		}
	}
}

// derived is the collector for gauges computed at scrape time.
type derived Metrics

var (
	slDesc = prometheus.NewDesc("hotline_service_level_ratio",
		"Service level over a rolling window by formula (answered, offered, removed, realtime); see docs/metrics.md. Absent when the denominator is 0.",
		[]string{"queue", "formula", "window"}, nil)
	csiDesc = prometheus.NewDesc("hotline_csi_score",
		"Customer satisfaction 0-100, mean of (rating-1)/4*100 over survey answers since process start, by line of the answering agent.",
		[]string{"line"}, nil)
	fcrDesc = prometheus.NewDesc("hotline_fcr_ratio",
		"First-contact resolution since process start by line of the call's first answered visit and signal (disposition, survey); repeat-call and combined FCR come from the reports.",
		[]string{"line", "source"}, nil)
	fcrReportDesc = prometheus.NewDesc("hotline_fcr_report_ratio",
		"First-contact resolution from the database over answered calls whose repeat window has closed (see docs/metrics.md), by line (all, first, second) and signal (disposition, repeat, survey, combined).",
		[]string{"line", "source"}, nil)
	fcrCoverageDesc = prometheus.NewDesc("hotline_fcr_report_coverage_ratio",
		"Share of the answered calls of hotline_fcr_report_ratio that each signal covers.",
		[]string{"line", "source"}, nil)
	waitingDesc  = prometheus.NewDesc("hotline_calls_waiting", "Calls waiting in the queue now (0 for an idle known queue).", []string{"queue"}, nil)
	ewtTodayDesc = prometheus.NewDesc("hotline_ewt_error_today_seconds",
		"Accuracy of the announced estimated wait over the calls answered today (service zone) that were given one: stat=mae (mean |actual - announced|), p90 (90th percentile of |actual - announced|), bias (mean actual - announced). Absent when none.",
		[]string{"queue", "stat"}, nil)
	overTDesc = prometheus.NewDesc("hotline_calls_waiting_over_threshold",
		"Calls waiting in the queue now for longer than its service-level threshold T (misses of the realtime SL; 0 for an idle known queue).", []string{"queue"}, nil)
	longestDesc = prometheus.NewDesc("hotline_queue_longest_wait_seconds", "Longest current wait in the queue (0 when nobody waits).", []string{"queue"}, nil)
	targetDesc  = prometheus.NewDesc("hotline_service_level_target_ratio",
		"The queue's service-level target (config queues[].sl_target, default 0.8), for dashboards and alerts.",
		[]string{"queue"}, nil)
	agentStatusDesc = prometheus.NewDesc("hotline_agent_status",
		"1 for the agent's current state (logged_out, available, ringing, on_call, wrapup, paused, other); one series per agent.",
		[]string{"agent", "state"}, nil)
	agentsDesc = prometheus.NewDesc("hotline_agents",
		"Agents serving the queue by state (logged_out, available, ringing, on_call, wrapup, paused; other for unknown names). An agent in several queues counts in each.",
		[]string{"queue", "state"}, nil)
)

func (d *derived) Describe(ch chan<- *prometheus.Desc) {
	ch <- slDesc
	ch <- csiDesc
	ch <- fcrDesc
	ch <- waitingDesc
	ch <- longestDesc
	ch <- overTDesc
	ch <- ewtTodayDesc
	ch <- agentsDesc
	ch <- agentStatusDesc
	ch <- targetDesc
	ch <- fcrReportDesc
	ch <- fcrCoverageDesc
}

func (d *derived) Collect(ch chan<- prometheus.Metric) {
	m := (*Metrics)(d)
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rollDay(now)
	m.prune(now)
	m.sweepStale(now)
	windows := map[string]map[string]Counts{Window15m: {}, Window1h: {}, WindowToday: {}}
	for q, ss := range m.recent {
		var c15, c1h Counts
		for _, s := range ss {
			if s.at.After(now) {
				continue
			}
			if !s.at.Before(now.Add(-15 * time.Minute)) {
				c15.Add(s.c)
			}
			c1h.Add(s.c)
		}
		windows[Window15m][q], windows[Window1h][q] = c15, c1h
	}
	for q, c := range m.today {
		windows[WindowToday][q] = *c
	}
	// Callers now waiting longer than their queue's T: misses of the
	// real-time SL from that moment, in every window.
	overT := map[string]int{}
	for _, c := range m.calls {
		if v, ok := c.f.Waiting(); ok && now.Sub(v.JoinedAt) > m.cfg.ThresholdFor(v.Queue) {
			overT[v.Queue]++
		}
	}
	for w, byQ := range windows {
		for q := range overT {
			if _, ok := byQ[q]; !ok {
				byQ[q] = Counts{}
			}
		}
		for q, c := range byQ {
			sl := c.SL()
			for f, r := range map[string]Ratio{"answered": sl.Answered, "offered": sl.Offered, "removed": sl.Removed, FormulaRealTime: RealTimeSL(c, overT[q])} {
				if v, ok := r.Value(); ok {
					ch <- prometheus.MustNewConstMetric(slDesc, prometheus.GaugeValue, v, q, f, w)
				}
			}
		}
	}
	for line, s := range m.csi {
		ch <- prometheus.MustNewConstMetric(csiDesc, prometheus.GaugeValue, s[0]/s[1], line)
	}
	for k, s := range m.fcr {
		ch <- prometheus.MustNewConstMetric(fcrDesc, prometheus.GaugeValue, s[0]/s[1], k[0], k[1])
	}
	waiting := map[string]int{}
	longest := map[string]time.Duration{}
	for _, c := range m.calls {
		v, ok := c.f.Waiting()
		if !ok {
			continue
		}
		waiting[v.Queue]++
		if d := now.Sub(v.JoinedAt); d > longest[v.Queue] {
			longest[v.Queue] = d
		}
	}
	for q := range m.queues {
		if _, ok := waiting[q]; !ok {
			waiting[q] = 0
		}
	}
	for q := range m.queues {
		ch <- prometheus.MustNewConstMetric(targetDesc, prometheus.GaugeValue, m.cfg.TargetFor(q), q)
	}
	for q, n := range waiting {
		ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(n), q)
		ch <- prometheus.MustNewConstMetric(overTDesc, prometheus.GaugeValue, float64(overT[q]), q)
		ch <- prometheus.MustNewConstMetric(longestDesc, prometheus.GaugeValue, longest[q].Seconds(), q)
	}
	for q, errs := range m.ewtToday {
		f := ewtFigures(q, append([]float64(nil), errs...))
		mae, _ := f.MAE.Value()
		bias, _ := f.Bias.Value()
		ch <- prometheus.MustNewConstMetric(ewtTodayDesc, prometheus.GaugeValue, mae, q, "mae")
		ch <- prometheus.MustNewConstMetric(ewtTodayDesc, prometheus.GaugeValue, *f.P90, q, "p90")
		ch <- prometheus.MustNewConstMetric(ewtTodayDesc, prometheus.GaugeValue, bias, q, "bias")
	}
	m.collectAgents(ch)
	for _, f := range m.fcrReport {
		line := f.Line
		if line == "" {
			line = "all"
		}
		for src, sig := range map[string]FCRSignal{FCRDisposition: f.Disposition, FCRRepeat: f.Repeat, FCRSurvey: f.Survey, FCRCombined: f.Combined} {
			if v, ok := sig.Ratio.Value(); ok {
				ch <- prometheus.MustNewConstMetric(fcrReportDesc, prometheus.GaugeValue, v, line, src)
			}
			if v, ok := sig.Coverage.Value(); ok {
				ch <- prometheus.MustNewConstMetric(fcrCoverageDesc, prometheus.GaugeValue, v, line, src)
			}
		}
	}
}

// collectAgents exports hotline_agents: every known queue × every state
// (zeros included), plus "other" where non-zero. Agents without queues
// (no QueuesOf) count under queue="".
func (m *Metrics) collectAgents(ch chan<- prometheus.Metric) {
	type key struct{ q, state string }
	n := make(map[key]int, len(m.queues)*len(AgentStates))
	noQueue := false
	for id, a := range m.agents {
		ch <- prometheus.MustNewConstMetric(agentStatusDesc, prometheus.GaugeValue, 1, id, a.state)
		if len(a.queues) == 0 {
			n[key{"", a.state}]++
			noQueue = true
			continue
		}
		for _, q := range a.queues {
			n[key{q, a.state}]++
		}
	}
	emit := func(q string) {
		for _, st := range AgentStates {
			ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(n[key{q, st}]), q, st)
		}
		if c := n[key{q, AgentOther}]; c > 0 {
			ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(c), q, AgentOther)
		}
	}
	for q := range m.queues {
		emit(q)
	}
	if noQueue {
		emit("")
	}
}

// SetReportFCR replaces the database FCR figures exported as
// hotline_fcr_report_ratio and hotline_fcr_report_coverage_ratio.
func (m *Metrics) SetReportFCR(figs []FCRFigures) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fcrReport = append([]FCRFigures(nil), figs...)
}

// FCRPeriod is the population period of RefreshFCR: answered calls that
// arrived in the 7 days before the repeat window's start.
const FCRPeriod = 7 * 24 * time.Hour

// RefreshFCR computes FCR (all four signals) from the database for the
// answered calls that arrived in [now − window − FCRPeriod, now − window),
// whose repeat window has closed, and exports it (SetReportFCR).
func (m *Metrics) RefreshFCR(ctx context.Context, s *Store) error {
	to := m.now().Add(-s.cfg.repeatWindow())
	figs, err := s.FCRReport(ctx, to.Add(-FCRPeriod), to, m.now())
	if err != nil {
		return err
	}
	m.SetReportFCR(figs)
	return nil
}

// RunFCRRefresh calls RefreshFCR now and every interval until ctx ends,
// logging failures (the previous figures stay exported).
func (m *Metrics) RunFCRRefresh(ctx context.Context, s *Store, every time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if every <= 0 {
		every = 15 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := m.RefreshFCR(ctx, s); err != nil && ctx.Err() == nil {
			log.Warn("reporting: FCR refresh failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
