package reporting

import (
	"sort"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// Defaults for Config.
const (
	DefaultThreshold    = 20 * time.Second
	DefaultShortAbandon = 5 * time.Second
	DefaultRepeatWindow = 7 * 24 * time.Hour
	// DefaultTarget is the service-level target (80 %) exported as
	// hotline_service_level_target_ratio when a queue sets none.
	DefaultTarget = 0.8
	// LineFirst and LineSecond name the support lines.
	LineFirst  = "first"
	LineSecond = "second"
)

// Config holds what the formulas need to know about queues and agents.
// The zero value is usable: every queue gets the defaults.
type Config struct {
	// Threshold is the default service-level threshold T (default 20 s).
	Threshold time.Duration
	// ShortAbandon is the default short-abandon threshold S (default 5 s).
	ShortAbandon time.Duration
	// Queues overrides T, S and the line per queue.
	Queues map[string]QueueConfig
	// Teams maps an agent to its team or site (for per-team figures).
	Teams map[string]string
	// RepeatWindow is the FCR repeat-call window (default 7 days).
	RepeatWindow time.Duration
	// Location is the service's zone for "today" and day intervals
	// (default Europe/Moscow).
	Location *time.Location
}

// QueueConfig is the per-queue part of Config.
type QueueConfig struct {
	Threshold    time.Duration // T; 0 = Config.Threshold
	ShortAbandon time.Duration // S; 0 = Config.ShortAbandon
	// Line is "first" or "second". Empty: a visit that joined through an
	// escalation is second line, any other visit first line.
	Line string
	// Target is the service-level target, 0..1 (0 = DefaultTarget); it
	// is exported for dashboards and alerts, formulas do not use it.
	Target float64
	// CallbackThreshold is the callback SL threshold (request to
	// connection); 0 = DefaultCallbackThreshold.
	CallbackThreshold time.Duration
}

// TargetFor returns the service-level target of a queue.
func (c *Config) TargetFor(q string) float64 {
	if c != nil {
		if qc, ok := c.Queues[q]; ok && qc.Target > 0 {
			return qc.Target
		}
	}
	return DefaultTarget
}

// ThresholdFor returns T for a queue.
func (c *Config) ThresholdFor(q string) time.Duration {
	if c != nil {
		if qc, ok := c.Queues[q]; ok && qc.Threshold > 0 {
			return qc.Threshold
		}
		if c.Threshold > 0 {
			return c.Threshold
		}
	}
	return DefaultThreshold
}

// ShortAbandonFor returns S for a queue.
func (c *Config) ShortAbandonFor(q string) time.Duration {
	if c != nil {
		if qc, ok := c.Queues[q]; ok && qc.ShortAbandon > 0 {
			return qc.ShortAbandon
		}
		if c.ShortAbandon > 0 {
			return c.ShortAbandon
		}
	}
	return DefaultShortAbandon
}

func (c *Config) lineFor(q string, escalated bool) string {
	if c != nil {
		if qc, ok := c.Queues[q]; ok && qc.Line != "" {
			return qc.Line
		}
	}
	if escalated {
		return LineSecond
	}
	return LineFirst
}

func (c *Config) repeatWindow() time.Duration {
	if c != nil && c.RepeatWindow > 0 {
		return c.RepeatWindow
	}
	return DefaultRepeatWindow
}

// Zone returns the service's zone: Location, or Europe/Moscow.
func (c *Config) Zone() *time.Location { return c.location() }

func (c *Config) location() *time.Location {
	if c != nil && c.Location != nil {
		return c.Location
	}
	return moscow()
}

func (c *Config) team(agent string) string {
	if c != nil {
		if t, ok := c.Teams[agent]; ok {
			return t
		}
	}
	return ""
}

// moscow returns Europe/Moscow, or a fixed UTC+3 zone if tzdata is missing
// (Moscow has had no DST since 2014).
func moscow() *time.Location {
	if l, err := time.LoadLocation("Europe/Moscow"); err == nil {
		return l
	}
	return time.FixedZone("MSK", 3*3600)
}

// Outcome is how a queue visit ended (eventlog's, named here for the
// report API).
type Outcome = eventlog.Outcome

// Visit outcomes.
const (
	OutcomeWaiting    = eventlog.OutcomeWaiting
	OutcomeAnswered   = eventlog.OutcomeAnswered
	OutcomeAbandoned  = eventlog.OutcomeAbandoned
	OutcomeOverflowed = eventlog.OutcomeOverflowed
	OutcomeTimeout    = eventlog.OutcomeTimeout
	OutcomeCallback   = eventlog.OutcomeCallback
	OutcomeIVR        = eventlog.OutcomeIVR
)

// Visit is one stay of a call in one queue.
type Visit struct {
	CallID        string
	N             int // 0-based order within the call
	Queue         string
	Line          string
	JoinedAt      time.Time
	Priority      int
	Outcome       Outcome
	LeftAt        time.Time     // when the wait ended (answer, abandon, overflow...)
	Wait          time.Duration // queue entry to answer / hang-up / overflow
	Agent         string        // who answered
	AnsweredAt    time.Time
	Ring          time.Duration // last offer to the answering agent → answer; 0 if unknown
	Talk          time.Duration
	Wrapup        time.Duration
	RingNoAnswer  int
	EscalatedFrom string
	EscalatedTo   string
	EscalatedAt   time.Time
	OverflowTo    string
	// EWT is the wait announced when the visit began (HasEWT: any was);
	// not stored in the database (EWTReport folds the events).
	EWT    time.Duration
	HasEWT bool
	// Flags computed with the queue's T and S at projection time.
	WithinT        bool // answered and Wait <= T
	ShortAbandon   bool // abandoned and Wait <= S
	AbandonWithinT bool // abandoned and Wait <= T
}

// Call is one call's record.
type Call struct {
	CallID               string
	ArrivedAt            time.Time
	Caller               string
	CallerNorm           string // "" when anonymous or unknown
	Dialed, Trunk        string
	IVRPath              []string
	Language             string
	FirstQueue, Queue    string // first and last queue
	JoinedAt             time.Time
	Wait                 time.Duration // first queue entry → first answer (or end of the last wait)
	Outcome              Outcome
	AnsweredAt           time.Time
	Agent                string // last agent who answered
	Talk, Wrapup         time.Duration
	EndedAt              time.Time
	EndReason            string
	Disposition          string // resolved | not_resolved | escalated
	DispositionCode      string
	NoSurvey             bool
	Line                 string // line of the last answered visit (else of the last visit)
	FirstLine            string // line of the first answered visit
	EscalatedTo          string
	EscalatedAt          time.Time
	SecondLineAnsweredAt time.Time
	SurveyStatus         string
	SurveyRating         int    // 1–5, 0 = none
	SurveySolved         string // yes | no | ""
}

// SortEvents orders events by time, then by ID (IDs sort by creation).
func SortEvents(evs []eventlog.Event) {
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].At.Equal(evs[j].At) {
			return evs[i].At.Before(evs[j].At)
		}
		return evs[i].ID < evs[j].ID
	})
}

// BuildCall turns the events of one call into its record and queue visits:
// it folds them with eventlog's one call fold (FoldCall), then adds what
// the config decides (lines, the T and S flags) and the call-level
// summary. The events need not be sorted.
func BuildCall(evs []eventlog.Event, cfg *Config) (Call, []Visit) {
	evs = append([]eventlog.Event(nil), evs...)
	SortEvents(evs)
	f := eventlog.FoldCall(evs)
	c := Call{
		CallID: f.CallID, ArrivedAt: f.ArrivedAt, Caller: f.Caller, Dialed: f.Dialed, Trunk: f.Trunk,
		IVRPath: f.IVRPath, Language: f.Language, EndedAt: f.EndedAt, EndReason: f.EndReason,
		Disposition: f.Disposition, DispositionCode: f.DispositionCode, NoSurvey: f.NoSurvey,
		EscalatedTo: f.EscalatedTo, EscalatedAt: f.EscalatedAt,
		SurveyStatus: f.SurveyStatus, SurveyRating: f.SurveyRating, SurveySolved: f.SurveySolved,
	}
	vs := make([]Visit, len(f.Visits))
	for i, fv := range f.Visits {
		vs[i] = Visit{
			CallID: f.CallID, N: fv.N, Queue: fv.Queue, Line: cfg.lineFor(fv.Queue, fv.EscalatedFrom != ""),
			JoinedAt: fv.JoinedAt, Priority: fv.Priority, Outcome: fv.Outcome, LeftAt: fv.LeftAt, Wait: fv.Wait,
			Agent: fv.Agent, AnsweredAt: fv.AnsweredAt, Ring: fv.Ring, Talk: fv.Talk, Wrapup: fv.Wrapup,
			RingNoAnswer: fv.RingNoAnswer, EscalatedFrom: fv.EscalatedFrom, EscalatedTo: fv.EscalatedTo,
			EscalatedAt: fv.EscalatedAt, OverflowTo: fv.OverflowTo, EWT: fv.EWT, HasEWT: fv.HasEWT,
		}
	}
	// Flags and call-level summary.
	for i := range vs {
		v := &vs[i]
		T, S := cfg.ThresholdFor(v.Queue), cfg.ShortAbandonFor(v.Queue)
		v.WithinT = v.Outcome == OutcomeAnswered && v.Wait <= T
		v.ShortAbandon = v.Outcome == OutcomeAbandoned && v.Wait <= S
		v.AbandonWithinT = v.Outcome == OutcomeAbandoned && v.Wait <= T
		c.Talk += v.Talk
		c.Wrapup += v.Wrapup
		if v.Outcome == OutcomeAnswered {
			if c.AnsweredAt.IsZero() {
				c.AnsweredAt = v.AnsweredAt
				c.FirstLine = v.Line
				c.Wait = v.AnsweredAt.Sub(vs[0].JoinedAt)
				if v.N == 0 {
					c.Wait = v.Wait
				}
			}
			c.Agent = v.Agent
			c.Line = v.Line
			if v.EscalatedFrom != "" && c.SecondLineAnsweredAt.IsZero() {
				c.SecondLineAnsweredAt = v.AnsweredAt
			}
		}
	}
	if len(vs) > 0 {
		c.FirstQueue = vs[0].Queue
		c.Queue = vs[len(vs)-1].Queue
		c.JoinedAt = vs[0].JoinedAt
		if c.AnsweredAt.IsZero() {
			last := vs[len(vs)-1]
			c.Outcome = last.Outcome
			c.Line = last.Line
			if last.Outcome != OutcomeWaiting {
				c.Wait = last.LeftAt.Sub(vs[0].JoinedAt)
				if len(vs) == 1 {
					c.Wait = last.Wait
				}
			}
		} else {
			c.Outcome = OutcomeAnswered
		}
	} else {
		c.Outcome = OutcomeIVR
	}
	c.CallerNorm = NormalizeNumber(c.Caller)
	if IsRef(c.Caller) { // stored calls match callers by their ref
		c.CallerNorm = c.Caller
	}
	return c, vs
}

// NormalizeNumber reduces a caller number to "+digits" for repeat-call
// matching. Anonymous, withheld and empty numbers give "". A Russian
// national "8XXXXXXXXXX" becomes "+7XXXXXXXXXX"; 10 digits starting with 9
// get +7 too.
func NormalizeNumber(s string) string {
	s = strings.TrimSpace(strings.ToLower(s))
	switch s {
	case "", "anonymous", "unknown", "restricted", "private", "unavailable", "withheld":
		return ""
	}
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	d := b.String()
	switch {
	case d == "":
		return ""
	case len(d) == 11 && d[0] == '8' && !strings.HasPrefix(s, "+"):
		d = "7" + d[1:]
	case len(d) == 10 && d[0] == '9' && !strings.HasPrefix(s, "+"):
		d = "7" + d
	}
	return "+" + d
}
