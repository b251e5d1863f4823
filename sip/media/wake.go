package media

import "time"

// waiter is how a pacer sleeps until its next slot is due: wait returns
// false when stop is closed first. close releases it (after the last wait).
type waiter interface {
	wait(due time.Time, stop <-chan struct{}) bool
	close()
}

// timerWaiter is the portable waiter on a Go timer (millisecond precision
// when the process is idle: the netpoller's epoll timeout is in ms).
type timerWaiter struct{ t *time.Timer }

func newTimerWaiter() *timerWaiter { return &timerWaiter{t: time.NewTimer(time.Hour)} }

func (w *timerWaiter) wait(due time.Time, stop <-chan struct{}) bool {
	w.t.Reset(time.Until(due))
	select {
	case <-stop:
		return false
	case <-w.t.C:
		return true
	}
}

func (w *timerWaiter) close() { w.t.Stop() }
