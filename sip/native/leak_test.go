package native

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// The leak test's caller phone is on 127.0.0.43 (a trunk address here).
const leakCallerIP = "127.0.0.43"

// resources is what a call may leak: open file descriptors (sockets),
// goroutines, and RTP ports held by the two media engines.
type resources struct {
	fds, goroutines, switchPorts, phonePorts int
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

func measure(t *testing.T, sw, phone *media.Engine) resources {
	return resources{fds: countFDs(t), goroutines: runtime.NumGoroutine(), switchPorts: sw.Streams(), phonePorts: phone.Streams()}
}

// TestNoLeakAfterCallsEndedAtRandomMoments places a burst of calls from a
// Go SIP phone on the trunk and ends each at a random moment: the caller
// cancels while the switch is answering it (its CANCEL leaves with the
// first provisional, just when the leg reaches the consumer), the switch
// rejects it or hangs up while answering, or either side hangs up shortly
// after the answer. Afterwards
// the process's open file descriptors, goroutines and both media engines'
// RTP ports must come back to what they were before the burst (polled
// until a deadline: sipgo's transactions linger up to 64*T1). Issue 17:
// Answer made the stream outside the leg's lock and stored it without
// looking again, so a call cancelled meanwhile kept its socket, port and
// reader goroutine for good.
func TestNoLeakAfterCallsEndedAtRandomMoments(t *testing.T) {
	needPeer(t)
	calls, parallel := 200, 16
	if testing.Short() {
		calls = 40
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 17))
	var rngMu sync.Mutex
	uniform := func(max time.Duration) time.Duration {
		rngMu.Lock()
		defer rngMu.Unlock()
		return time.Duration(rng.Int64N(int64(max) + 1))
	}
	chance := func(p float64) bool {
		rngMu.Lock()
		defer rngMu.Unlock()
		return rng.Float64() < p
	}

	sw := startSwitch(t, func(c *Config) {
		c.Trunks[0].Allow = append(c.Trunks[0].Allow, leakCallerIP)
		c.Logger = slog.New(slog.DiscardHandler)
	})
	phoneEng, err := media.NewEngine(media.EngineConfig{
		IP: netip.MustParseAddr(leakCallerIP), PortMin: 44000, PortMax: 44399,
		InactivityTimeout: time.Minute, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phoneEng.Close() })
	phone, err := siptest.NewPhone(siptest.PhoneConfig{IP: leakCallerIP, User: "caller", Media: phoneEng, QuietSIP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(phone.Close)
	target := siptest.CallOptions{Addr: sw.Addr().String(), To: "88001234567", From: "79123456789"}

	// The switch's side, as the IVR and queue would use it.
	var answered, answerFailed, rejected atomic.Int64
	var burst atomic.Bool // outside the burst every call is answered and left to the caller
	consumerDone := make(chan struct{})
	var legs sync.WaitGroup
	go func() {
		defer close(consumerDone)
		for l := range sw.Incoming() {
			legs.Add(1)
			go func(l sip.Leg) {
				defer legs.Done()
				if !burst.Load() {
					if l.Answer(context.Background()) == nil {
						<-l.Done()
					}
					return
				}
				time.Sleep(uniform(2 * time.Millisecond))
				if chance(0.15) {
					rejected.Add(1)
					_ = l.Hangup(sip.CauseBusy)
					return
				}
				if chance(0.25) {
					// Hung up by the application (IVR, queue) while the
					// answer is being made: within a stream's creation.
					hangAt := uniform(200 * time.Microsecond)
					go func() {
						time.Sleep(hangAt)
						_ = l.Hangup(sip.CauseNormal)
					}()
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := l.Answer(ctx); err != nil {
					answerFailed.Add(1)
					return
				}
				answered.Add(1)
				select {
				case <-l.Done():
				case <-time.After(uniform(100 * time.Millisecond)):
					_ = l.Hangup(sip.CauseNormal)
				}
			}(l)
		}
	}()

	// One ordinary call first, so that what exists once per process (the
	// pacers, sipgo's connections) is in the baseline.
	warm := func() {
		c, err := phone.Call(context.Background(), target)
		if err != nil {
			t.Fatalf("warm-up call: %v", err)
		}
		_ = c.Hangup(context.Background())
		eventually(t, "the warm-up call to end", 10*time.Second, func() bool {
			return sw.ActiveLegs() == 0 && sw.cfg.Media.Streams() == 0 && phoneEng.Streams() == 0
		})
	}
	warm()
	base := measure(t, sw.cfg.Media, phoneEng)
	burst.Store(true)

	var cancelled, callerHungUp, failed atomic.Int64
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for range calls {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// Most callers give up within 3 ms: sipgo sends the CANCEL
			// with the first provisional, as the leg reaches the consumer.
			giveUp := uniform(3 * time.Millisecond)
			if chance(0.3) {
				giveUp = 20*time.Millisecond + uniform(200*time.Millisecond)
			}
			stop := time.AfterFunc(giveUp, cancel)
			c, err := phone.Call(ctx, target)
			stop.Stop()
			if err != nil {
				if ctx.Err() != nil {
					cancelled.Add(1)
				} else {
					failed.Add(1)
				}
				return
			}
			select {
			case <-c.Done():
			case <-time.After(uniform(100 * time.Millisecond)):
				callerHungUp.Add(1)
				hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = c.Hangup(hctx)
				hcancel()
			}
		}()
	}
	wg.Wait()
	burst.Store(false)
	t.Logf("%d calls: %d cancelled by the caller, %d refused (486 by the switch or otherwise), %d answered (%d hung up by the caller); switch: %d answered, %d Answer failed (hung up meanwhile), %d rejected",
		calls, cancelled.Load(), failed.Load(), calls-int(cancelled.Load()+failed.Load()), callerHungUp.Load(),
		answered.Load(), answerFailed.Load(), rejected.Load())

	deadline := time.Now().Add(90 * time.Second)
	var now resources
	for {
		now = measure(t, sw.cfg.Media, phoneEng)
		if sw.ActiveLegs() == 0 && now.switchPorts == base.switchPorts && now.phonePorts == base.phonePorts &&
			now.fds <= base.fds && now.goroutines <= base.goroutines {
			break
		}
		if time.Now().After(deadline) {
			var dump bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
			t.Fatalf("resources did not return to the baseline within 90 s: before %+v, after %+v, %d legs active\n%s",
				base, now, sw.ActiveLegs(), dump.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("baseline %+v, after the burst %+v", base, now)
	// The switch still takes calls.
	warm()
	sw.Close()
	<-consumerDone
	legs.Wait()
}
