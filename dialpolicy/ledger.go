package dialpolicy

import (
	"context"
	"sync"
	"time"
)

// MemoryLedger is a Ledger in memory: one process, forgotten at restart.
// Serve uses the PostgreSQL ledger (dialpolicy/pgledger) when a database
// is configured.
type MemoryLedger struct {
	mu    sync.Mutex
	dials []dial // in time order
}

type dial struct {
	number string
	at     time.Time
}

// NewMemoryLedger returns an empty ledger.
func NewMemoryLedger() *MemoryLedger { return &MemoryLedger{} }

// Take implements Ledger.
func (l *MemoryLedger) Take(_ context.Context, t Take) (Reason, time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	oldest := t.DayStart
	if t.NumberSince.Before(oldest) {
		oldest = t.NumberSince
	}
	keep := l.dials[:0]
	for _, d := range l.dials {
		if !d.at.Before(oldest) {
			keep = append(keep, d)
		}
	}
	l.dials = keep
	today, mine := 0, 0
	var first time.Time
	for _, d := range l.dials {
		if !d.at.Before(t.DayStart) {
			today++
		}
		if d.number == t.Number && d.at.After(t.NumberSince) {
			if mine == 0 {
				first = d.at
			}
			mine++
		}
	}
	if mine >= t.PerNumber {
		return PerNumber, first.Add(t.At.Sub(t.NumberSince)), nil
	}
	if today >= t.DailyCap {
		return DailyCap, time.Time{}, nil
	}
	l.dials = append(l.dials, dial{number: t.Number, at: t.At})
	return "", time.Time{}, nil
}
