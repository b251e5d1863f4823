package sip

import (
	"context"
	"sync"
	"time"
)

// DigitBuffer keeps the DTMF digits a leg received until call logic reads
// them. Switch implementations embed one to implement ReadDigits,
// FlushDigits and barge-in (Play with StopOnDigit) the same way.
type DigitBuffer struct {
	mu     sync.Mutex
	digits []rune
	wake   chan struct{}
}

// maxBufferedDigits bounds what a caller can type ahead.
const maxBufferedDigits = 64

// NewDigitBuffer returns an empty buffer.
func NewDigitBuffer() *DigitBuffer { return &DigitBuffer{wake: make(chan struct{}, 1)} }

// Push adds a received digit (dropped beyond 64 unread ones) and wakes a
// reader.
func (b *DigitBuffer) Push(d rune) {
	b.mu.Lock()
	if len(b.digits) < maxBufferedDigits {
		b.digits = append(b.digits, d)
	}
	b.mu.Unlock()
	b.Rewake()
}

// Peek returns the oldest unread digit without taking it.
func (b *DigitBuffer) Peek() (rune, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.digits) == 0 {
		return 0, false
	}
	return b.digits[0], true
}

// Pop takes the oldest unread digit.
func (b *DigitBuffer) Pop() (rune, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.digits) == 0 {
		return 0, false
	}
	d := b.digits[0]
	b.digits = b.digits[1:]
	return d, true
}

// Flush discards the unread digits.
func (b *DigitBuffer) Flush() {
	b.mu.Lock()
	b.digits = b.digits[:0]
	b.mu.Unlock()
}

// Wake is signalled (without blocking, so it may coalesce) after a Push.
func (b *DigitBuffer) Wake() <-chan struct{} { return b.wake }

// Rewake signals Wake again, for a waiter that took a wake-up it does not
// consume (so another waiter still sees it).
func (b *DigitBuffer) Rewake() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Read collects digits under opts (defaults: Max 1, FirstTimeout 5 s,
// InterTimeout 3 s). A timeout returns what was collected without an
// error; the terminator ends input and is not returned. It returns
// ErrHangup when ended is closed, and ctx.Err() on cancellation, with the
// digits collected so far.
func (b *DigitBuffer) Read(ctx context.Context, opts DigitOptions, ended <-chan struct{}) (string, error) {
	if opts.Max < 1 {
		opts.Max = 1
	}
	first, inter := opts.FirstTimeout, opts.InterTimeout
	if first == 0 {
		first = 5 * time.Second
	}
	if inter == 0 {
		inter = 3 * time.Second
	}
	var got []rune
	timer := time.NewTimer(first)
	defer timer.Stop()
	for {
		for {
			d, ok := b.Pop()
			if !ok {
				break
			}
			if opts.Terminator != 0 && d == opts.Terminator {
				return string(got), nil
			}
			got = append(got, d)
			if len(got) >= opts.Max {
				return string(got), nil
			}
			timer.Reset(inter)
		}
		select {
		case <-b.wake:
		case <-timer.C:
			return string(got), nil
		case <-ended:
			return string(got), ErrHangup
		case <-ctx.Done():
			return string(got), ctx.Err()
		}
	}
}
