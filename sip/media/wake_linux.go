//go:build linux

package media

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// kickSlack is how long after a slot's due time its timerfd fires: late
// enough that the Go timer is certainly due when the runtime wakes (the
// offset between the two clocks' readings is bounded by one vDSO call).
const kickSlack = 25 * time.Microsecond

// timerfdWaiter is the Go timer waiter plus a timerfd on CLOCK_MONOTONIC,
// armed with an absolute expiration just after each due time and registered
// in Go's netpoller but never read. When the process is busy, the scheduler
// runs due timers at every goroutine switch and the timer alone is precise.
// When it is idle, the runtime sleeps in epoll_wait whose timeout is in
// whole milliseconds (rounded down, then 1 ms when under one), so a timer
// fires up to 1 ms late; the timerfd's expiry ends that epoll_wait within
// microseconds, and the scheduler then finds the pacer's timer due.
type timerfdWaiter struct {
	timerWaiter
	f    *os.File
	fd   int
	base int64     // CLOCK_MONOTONIC (ns) at ref
	ref  time.Time // with its monotonic reading
	spec unix.ItimerSpec
}

// newWaiter returns the pacer's wake-up: timer plus timerfd, or the timer
// alone where a timerfd cannot be had.
func newWaiter() waiter {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return newTimerWaiter()
	}
	// A non-blocking descriptor given to os.NewFile joins the netpoller's
	// epoll set: that registration is all it is for.
	w := &timerfdWaiter{timerWaiter: *newTimerWaiter(), f: os.NewFile(uintptr(fd), "pacer-timerfd"), fd: fd}
	// Go's monotonic clock is CLOCK_MONOTONIC; only the offset between the
	// two readings is unknown, and bracketing time.Now bounds it.
	var t0, t1 unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &t0)
	w.ref = time.Now()
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &t1)
	w.base = (t0.Nano() + t1.Nano()) / 2
	return w
}

// wait blocks until due; false when stop is closed first.
func (w *timerfdWaiter) wait(due time.Time, stop <-chan struct{}) bool {
	// Re-arming also resets the expiration count, so the unread descriptor
	// signals every new expiry (the netpoller's epoll set is edge-triggered).
	w.spec.Value = unix.NsecToTimespec(w.base + int64(due.Sub(w.ref)+kickSlack))
	_ = unix.TimerfdSettime(w.fd, unix.TFD_TIMER_ABSTIME, &w.spec, nil)
	return w.timerWaiter.wait(due, stop)
}

func (w *timerfdWaiter) close() {
	w.timerWaiter.close()
	w.f.Close()
}
