package eventlog

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"
)

// IDs is the one generator of event IDs in a process: the prefix, a dash and
// a 12-digit sequence number, so that IDs sort by creation. The default
// prefix is the process's start time (UTC, to the nanosecond) and four
// random bytes, so that IDs of a later run sort after those of an earlier
// one and two nodes never collide. Safe for concurrent use.
type IDs struct {
	prefix string
	seq    atomic.Uint64
}

// NewIDs returns a generator with the given prefix; "" means the time now
// and four random bytes.
func NewIDs(prefix string) *IDs {
	if prefix == "" {
		prefix = DefaultPrefix(time.Now())
	}
	return &IDs{prefix: prefix}
}

// DefaultPrefix is the prefix NewIDs uses for start time t.
func DefaultPrefix(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405.000000000") + "-" + hex.EncodeToString(b[:])
}

// Next returns a new ID.
func (g *IDs) Next() string {
	n := strconv.FormatUint(g.seq.Add(1), 10)
	id := make([]byte, 0, len(g.prefix)+1+12)
	id = append(id, g.prefix...)
	id = append(id, '-')
	for i := len(n); i < 12; i++ {
		id = append(id, '0')
	}
	return string(append(id, n...))
}
