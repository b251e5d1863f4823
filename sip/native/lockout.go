package native

import (
	"net/netip"
	"sync"
	"time"
)

// LockoutConfig says when password guessing locks a source address or a
// user out. Zero values take the defaults in New.
type LockoutConfig struct {
	// SourceFailures failures (wrong passwords, refused INVITEs) from one
	// IP address within SourceWindow ban that address for Ban. Default 10
	// in 10 min: a guesser at 9 a minute is caught in under 2 minutes.
	SourceFailures int
	SourceWindow   time.Duration
	// UserFailures failed authentications naming one user, from any
	// number of addresses, within UserWindow lock that user for Ban:
	// then only addresses where the user's phones are registered may try
	// to authenticate as it (the office keeps working, guessers do not).
	// Default 20 in 1 h: 90 guesses spread over 10 addresses are caught.
	UserFailures int
	UserWindow   time.Duration
	// Ban is the first ban; each further ban of the same address or user
	// within MaxBan of the last one lasts twice as long, up to MaxBan.
	// Defaults 10 min and 24 h.
	Ban    time.Duration
	MaxBan time.Duration
}

func (c *LockoutConfig) defaults() {
	if c.SourceFailures == 0 {
		c.SourceFailures = 10
	}
	if c.SourceWindow == 0 {
		c.SourceWindow = 10 * time.Minute
	}
	if c.UserFailures == 0 {
		c.UserFailures = 20
	}
	if c.UserWindow == 0 {
		c.UserWindow = time.Hour
	}
	if c.Ban == 0 {
		c.Ban = 10 * time.Minute
	}
	if c.MaxBan == 0 {
		c.MaxBan = 24 * time.Hour
	}
	if c.MaxBan < c.Ban {
		c.MaxBan = c.Ban
	}
}

// lockout counts failures per source address and per user and bans with
// a progressive back-off. What a ban means is decided by the switch: a
// banned address is dropped except for responses and the exact
// address:port of registered phones; a locked user may still authenticate
// from addresses where it is registered.
type lockout struct {
	mu      sync.Mutex
	cfg     LockoutConfig
	now     func() time.Time
	sources map[netip.Addr]*strikes
	users   map[string]*strikes
}

// strikes is the failure history of one address or user.
type strikes struct {
	times       []time.Time // failures within the window
	bannedUntil time.Time
	bans        int // bans so far in this run of bans (the back-off exponent)
}

// maxTracked bounds each table under a spray of addresses or user names;
// past it, entries with no ban and no recent failure are dropped.
const maxTracked = 100000

func newLockout(cfg LockoutConfig, now func() time.Time) *lockout {
	cfg.defaults()
	return &lockout{cfg: cfg, now: now, sources: map[netip.Addr]*strikes{}, users: map[string]*strikes{}}
}

// sourceBanned reports whether addr is banned now.
func (l *lockout) sourceBanned(addr netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.sources[addr]
	return f != nil && l.now().Before(f.bannedUntil)
}

// userLocked reports whether user is locked now.
func (l *lockout) userLocked(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.users[user]
	return f != nil && l.now().Before(f.bannedUntil)
}

// verdict is what one failure led to.
type verdict struct {
	SourceBanned bool          // the address is banned (now or already)
	SourceBan    time.Duration // the ban this failure started; 0 if none
	UserLocked   bool
	UserBan      time.Duration
}

// fail records a failure from addr naming user ("" when no user is named,
// e.g. a refused INVITE).
func (l *lockout) fail(addr netip.Addr, user string) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var v verdict
	if addr.IsValid() {
		f := l.sources[addr]
		if f == nil {
			if len(l.sources) >= maxTracked {
				gc(l.sources, now, l.cfg.SourceWindow, l.cfg.MaxBan)
			}
			f = &strikes{}
			l.sources[addr] = f
		}
		v.SourceBan = l.strike(f, now, l.cfg.SourceFailures, l.cfg.SourceWindow)
		v.SourceBanned = now.Before(f.bannedUntil)
	}
	if user != "" {
		f := l.users[user]
		if f == nil {
			if len(l.users) >= maxTracked {
				gc(l.users, now, l.cfg.UserWindow, l.cfg.MaxBan)
			}
			f = &strikes{}
			l.users[user] = f
		}
		v.UserBan = l.strike(f, now, l.cfg.UserFailures, l.cfg.UserWindow)
		v.UserLocked = now.Before(f.bannedUntil)
	}
	return v
}

// strike adds a failure to f and returns the ban it starts, if any.
func (l *lockout) strike(f *strikes, now time.Time, limit int, window time.Duration) time.Duration {
	if now.Before(f.bannedUntil) {
		return 0 // already banned; failures during a ban do not extend it
	}
	keep := f.times[:0]
	for _, t := range f.times {
		if now.Sub(t) < window {
			keep = append(keep, t)
		}
	}
	f.times = append(keep, now)
	if len(f.times) < limit {
		return 0
	}
	// A quiet MaxBan since the last ban ended starts the back-off over.
	if !f.bannedUntil.IsZero() && now.Sub(f.bannedUntil) >= l.cfg.MaxBan {
		f.bans = 0
	}
	ban := l.cfg.Ban
	for i := 0; i < f.bans && ban < l.cfg.MaxBan; i++ {
		ban *= 2
	}
	ban = min(ban, l.cfg.MaxBan)
	f.bans++
	f.bannedUntil = now.Add(ban)
	f.times = f.times[:0]
	return ban
}

func gc[K comparable](m map[K]*strikes, now time.Time, window, quiet time.Duration) {
	for k, f := range m {
		recent := len(f.times) > 0 && now.Sub(f.times[len(f.times)-1]) < window
		backingOff := !f.bannedUntil.IsZero() && now.Sub(f.bannedUntil) < quiet
		if !recent && !backingOff {
			delete(m, k)
		}
	}
}
