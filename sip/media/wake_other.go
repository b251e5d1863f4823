//go:build !linux

package media

func newWaiter() waiter { return newTimerWaiter() }
