package dialpolicy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// Purposes of a dial.
const (
	PurposeSurvey   = "survey"
	PurposeCallback = "callback"
)

// Reason is why a dial was refused. The set is closed.
type Reason string

// Reasons, in the order they are checked.
const (
	NotE164    Reason = "not-e164"
	NotInbound Reason = "not-inbound"
	Denied     Reason = "denied"
	NotAllowed Reason = "not-allowed"
	PerNumber  Reason = "per-number"
	DailyCap   Reason = "daily-cap"
)

// Reasons lists every Reason (metrics create a series for each).
var Reasons = []Reason{NotE164, NotInbound, Denied, NotAllowed, PerNumber, DailyCap}

// Permanent reports whether asking again later cannot help: the number
// itself is refused. The limits (per-number, daily-cap) are temporary.
func (r Reason) Permanent() bool {
	switch r {
	case NotE164, NotInbound, Denied, NotAllowed:
		return true
	case PerNumber, DailyCap:
		return false
	}
	return true
}

// DefaultAllow is Russia's geographic (3xx, 4xx, 8xx) and mobile (9xx)
// numbers: +7 6xx and +7 7xx are Kazakhstan.
var DefaultAllow = []string{"+73", "+74", "+78", "+79"}

// DefaultDeny is always denied unless a longer Allow prefix says
// otherwise: premium-rate and shared-cost ranges in Russia (+7 803, +7
// 809), the UK (+44 9, +44 87), the North American plan (+1 900, +1 976),
// and international premium, satellite and network codes (+870–+883,
// +979).
var DefaultDeny = []string{
	"+7803", "+7809",
	"+449", "+4487",
	"+1900", "+1976",
	"+870", "+871", "+872", "+873", "+874", "+878", "+879", "+881", "+882", "+883", "+979",
}

// Config is the dialling policy.
type Config struct {
	// Allow lists the E.164 prefixes ("+7", "+7914") that may be dialled;
	// nil means DefaultAllow.
	Allow []string
	// Deny lists prefixes never dialled, in addition to DefaultDeny.
	Deny []string
	// Trunks are the trunks an inbound number may have arrived on; empty
	// means any trunk (but there must be one).
	Trunks []string
	// DailyCap bounds dials per day (survey and callbacks together); 0 means
	// 1000.
	DailyCap int
	// PerNumber bounds dials of one number within PerNumberWindow (survey
	// and callbacks together); 0 means 3.
	PerNumber int
	// PerNumberWindow is the per-number limit's window; 0 means 24h.
	PerNumberWindow time.Duration
	// Zone is where a day starts for DailyCap; nil means Europe/Moscow.
	Zone *time.Location
}

// Request asks to dial Number.
type Request struct {
	// Purpose is PurposeSurvey or PurposeCallback.
	Purpose string
	// Number is the E.164 number to dial.
	Number string
	// CallID is the inbound call the number came from (call.arrived).
	CallID string
	// Trunk is the trunk that inbound call came in on (call.arrived
	// Data[trunk]); empty when the number did not arrive through a trunk.
	Trunk string
}

// Refusal is the error Permit and Screen return for a refused dial.
type Refusal struct {
	Reason  Reason
	Purpose string
	// Rule is the prefix that decided (denied, not-allowed: "" when none
	// matched) or the limit reached ("3/24h", "1000/day").
	Rule string
	// RetryAt is when a temporary refusal may be asked again: the next day
	// (daily-cap) or when the oldest dial leaves the window (per-number).
	RetryAt time.Time
}

func (r *Refusal) Error() string {
	if r.Rule != "" {
		return fmt.Sprintf("dial refused: %s (%s)", r.Reason, r.Rule)
	}
	return fmt.Sprintf("dial refused: %s", r.Reason)
}

// AsRefusal returns the Refusal in err's chain.
func AsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

// Take is one dial to record in a Ledger, with the limits to check first.
type Take struct {
	Number, Purpose, CallID string
	At                      time.Time
	// DayStart is the start of At's day: at most DailyCap dials since.
	DayStart time.Time
	DailyCap int
	// NumberSince is At minus the per-number window: fewer than PerNumber
	// dials of Number after it (strictly) are needed.
	NumberSince time.Time
	PerNumber   int
}

// Ledger counts dials. Take checks both limits and records the dial
// atomically (across processes for a shared ledger); it returns the limit
// reached and when it frees ("" when the dial was recorded).
type Ledger interface {
	Take(ctx context.Context, t Take) (reached Reason, retryAt time.Time, err error)
}

// Clock tells the time; tests pass a fake.
type Clock interface{ Now() time.Time }

type sysClock struct{}

func (sysClock) Now() time.Time { return time.Now() }

// Deps are a Policy's collaborators.
type Deps struct {
	// Ledger counts dials; nil: a MemoryLedger (one process only).
	Ledger Ledger
	// Publisher receives dial.refused events; nil drops them.
	Publisher eventlog.Publisher
	// IDs stamps the events; nil: a generator of the policy's own.
	IDs *eventlog.IDs
	// Clock; nil: the system clock.
	Clock Clock
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// Mask masks a number in logs; nil: all but the last 4 digits.
	Mask func(string) string
}

// Policy decides dials. It is safe for concurrent use.
type Policy struct {
	cfg   Config
	allow []string
	deny  []string
	deps  Deps
	log   *slog.Logger

	mu      sync.Mutex
	refused map[[2]string]int64 // purpose, reason → count (this process)
}

// New returns the policy for cfg. A prefix that is not "+" and 1 to 15
// digits is an error.
func New(cfg Config, deps Deps) (*Policy, error) {
	if cfg.Allow == nil {
		cfg.Allow = DefaultAllow
	}
	if cfg.DailyCap <= 0 {
		cfg.DailyCap = 1000
	}
	if cfg.PerNumber <= 0 {
		cfg.PerNumber = 3
	}
	if cfg.PerNumberWindow <= 0 {
		cfg.PerNumberWindow = 24 * time.Hour
	}
	if cfg.Zone == nil {
		if loc, err := time.LoadLocation("Europe/Moscow"); err == nil {
			cfg.Zone = loc
		} else {
			cfg.Zone = time.FixedZone("MSK", 3*3600)
		}
	}
	for _, p := range append(slices.Clone(cfg.Allow), cfg.Deny...) {
		if err := CheckPrefix(p); err != nil {
			return nil, err
		}
	}
	if deps.Ledger == nil {
		deps.Ledger = NewMemoryLedger()
	}
	if deps.IDs == nil {
		deps.IDs = eventlog.NewIDs("")
	}
	if deps.Clock == nil {
		deps.Clock = sysClock{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Mask == nil {
		deps.Mask = mask
	}
	return &Policy{
		cfg: cfg, allow: slices.Clone(cfg.Allow), deny: append(slices.Clone(DefaultDeny), cfg.Deny...),
		deps: deps, log: deps.Logger.With("component", "dialpolicy"), refused: map[[2]string]int64{},
	}, nil
}

// CheckPrefix reports whether p is an E.164 prefix: "+" and 1 to 15
// digits, the first not 0.
func CheckPrefix(p string) error {
	if len(p) < 2 || len(p) > 16 || p[0] != '+' || p[1] == '0' || !digits(p[1:]) {
		return fmt.Errorf("dialpolicy: %q is not an E.164 prefix (+ and 1 to 15 digits)", p)
	}
	return nil
}

// IsE164 reports whether n is "+" and 7 to 15 digits, the first not 0.
func IsE164(n string) bool {
	return len(n) >= 8 && len(n) <= 16 && n[0] == '+' && n[1] != '0' && digits(n[1:])
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// longest returns the longest prefix in list that n starts with.
func longest(n string, list []string) string {
	best := ""
	for _, p := range list {
		if len(p) > len(best) && strings.HasPrefix(n, p) {
			best = p
		}
	}
	return best
}

// screen applies the rules that depend on the request alone.
func (p *Policy) screen(r Request) *Refusal {
	ref := func(reason Reason, rule string) *Refusal {
		return &Refusal{Reason: reason, Purpose: r.Purpose, Rule: rule}
	}
	if !IsE164(r.Number) {
		return ref(NotE164, "")
	}
	if r.Trunk == "" || len(p.cfg.Trunks) > 0 && !slices.Contains(p.cfg.Trunks, r.Trunk) {
		return ref(NotInbound, r.Trunk)
	}
	deny, allow := longest(r.Number, p.deny), longest(r.Number, p.allow)
	switch {
	case deny != "" && len(deny) >= len(allow):
		return ref(Denied, deny)
	case allow == "":
		return ref(NotAllowed, "")
	}
	return nil
}

// Screen checks the rules that depend on the number alone (format,
// inbound, allow and deny lists) without counting a dial: for deciding
// early (when a survey is scheduled, when a callback is requested). A
// refusal is published and returned as a *Refusal.
func (p *Policy) Screen(ctx context.Context, r Request) error {
	if ref := p.screen(r); ref != nil {
		p.refuse(r, ref)
		return ref
	}
	return nil
}

// Permit decides a dial about to be made: the rules of Screen, then the
// per-number limit and the daily cap, and records the dial in the ledger.
// A refusal is published (dial.refused) and returned as a *Refusal; any
// other error is the ledger's (the dial was not recorded: do not dial).
func (p *Policy) Permit(ctx context.Context, r Request) error {
	if ref := p.screen(r); ref != nil {
		p.refuse(r, ref)
		return ref
	}
	now := p.deps.Clock.Now()
	y, m, d := now.In(p.cfg.Zone).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, p.cfg.Zone)
	reached, retry, err := p.deps.Ledger.Take(ctx, Take{
		Number: r.Number, Purpose: r.Purpose, CallID: r.CallID, At: now,
		DayStart: day, DailyCap: p.cfg.DailyCap,
		NumberSince: now.Add(-p.cfg.PerNumberWindow), PerNumber: p.cfg.PerNumber,
	})
	if err != nil {
		return fmt.Errorf("dialpolicy: ledger: %w", err)
	}
	switch reached {
	case "":
		return nil
	case DailyCap:
		if retry.IsZero() {
			retry = time.Date(y, m, d+1, 0, 0, 0, 0, p.cfg.Zone)
		}
		ref := &Refusal{Reason: DailyCap, Purpose: r.Purpose, Rule: fmt.Sprintf("%d/day", p.cfg.DailyCap), RetryAt: retry}
		p.refuse(r, ref)
		return ref
	case PerNumber:
		ref := &Refusal{Reason: PerNumber, Purpose: r.Purpose, Rule: fmt.Sprintf("%d/%v", p.cfg.PerNumber, p.cfg.PerNumberWindow), RetryAt: retry}
		p.refuse(r, ref)
		return ref
	default:
		return fmt.Errorf("dialpolicy: ledger answered %q", reached)
	}
}

func (p *Policy) refuse(r Request, ref *Refusal) {
	p.mu.Lock()
	p.refused[[2]string{r.Purpose, string(ref.Reason)}]++
	p.mu.Unlock()
	p.log.Warn("dial refused", "purpose", r.Purpose, "reason", ref.Reason, "rule", ref.Rule,
		"number", p.deps.Mask(r.Number), "call", r.CallID)
	if p.deps.Publisher == nil {
		return
	}
	e := eventlog.Event{
		ID: p.deps.IDs.Next(), At: p.deps.Clock.Now().UTC(), Type: eventlog.DialRefused,
		CallID: r.CallID, Caller: r.Number, Reason: string(ref.Reason),
	}.WithString(eventlog.KeyPurpose, r.Purpose)
	if ref.Rule != "" {
		e = e.WithString(eventlog.KeyRule, ref.Rule)
	}
	p.deps.Publisher.Publish(e)
}

// Refused returns how many dials this process refused for purpose and
// reason.
func (p *Policy) Refused(purpose string, reason Reason) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused[[2]string{purpose, string(reason)}]
}

// mask keeps the last four digits.
func mask(n string) string {
	if len(n) <= 4 {
		return "****"
	}
	return strings.Repeat("*", len(n)-4) + n[len(n)-4:]
}
