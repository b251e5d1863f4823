// Command loadtarget runs hotline's native SIP switch alone, with one of a
// few fixed call handlers, so SIPp load can measure the switch and media
// layer without the IVR, queues or a database: how many callers on hold
// with music per core, how many bridged calls per core, how many short
// prompt calls per second. It prints its own CPU use, memory and active
// calls every interval. See docs/benchmarks.md for the commands.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/native"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5060", "SIP address")
	trunk := flag.String("trunk", "127.0.0.2", "allowed caller source (address or CIDR)")
	mode := flag.String("mode", "moh", "moh: answer and play music until the caller hangs up; bridge: answer, ring agent -agent and bridge; prompt: answer, play -prompt, hang up; ivr: answer, 2 s prompt, music, then bridge to -agent")
	agent := flag.String("agent", "bench", "agent SIP user for bridge mode")
	pass := flag.String("password", "bench", "agent password")
	prompt := flag.String("prompt", "queue-thereare", "prompt name (ru)")
	rtp := flag.String("rtp", "20000-39999", "RTP port range")
	every := flag.Duration("every", 5*time.Second, "report interval")
	mux := flag.Bool("mux", false, "multiplexed RTP sockets (media.rtp_mux)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	lo, hi, _ := strings.Cut(*rtp, "-")
	pmin, _ := strconv.Atoi(lo)
	pmax, _ := strconv.Atoi(hi)
	ap := netip.MustParseAddrPort(*listen)
	eng, err := media.NewEngine(media.EngineConfig{IP: ap.Addr(), PortMin: pmin, PortMax: pmax, InactivityTimeout: time.Minute, Logger: log, Mux: *mux})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cat, err := media.NewCatalog(media.CatalogConfig{
		Langs: map[string][]string{"ru": {"/usr/share/asterisk/sounds/ru"}},
		MOH:   map[string]string{"default": "/usr/share/asterisk/moh"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sw, err := native.New(native.Config{
		Listen: *listen, Trunks: []native.Trunk{{Name: "load", Allow: []string{*trunk}}},
		Credentials: native.StaticCredentials{*agent: *pass}, DigestAlgorithms: []string{"MD5"},
		Media: eng, Catalog: cat, Logger: log, IncomingQueue: 8192, RingTimeout: 10 * time.Second,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := sw.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var calls, done, failed atomic.Int64
	go func() {
		for leg := range sw.Incoming() {
			calls.Add(1)
			go func(leg sip.Leg) {
				if err := handle(ctx, sw, leg, *mode, *agent, *prompt); err != nil {
					failed.Add(1)
					log.Warn("call failed", "error", err)
				}
				done.Add(1)
			}(leg)
		}
	}()
	fmt.Printf("loadtarget: mode=%s sip=%s GOMAXPROCS=%d\n", *mode, sw.Addr(), runtime.GOMAXPROCS(0))
	fmt.Println("time     active  calls   done failed  cpu%   rss_MiB streams")
	var last syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &last)
	lastT := time.Now()
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			sw.Close()
			return
		case now := <-t.C:
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			cpu := tv(ru.Utime) + tv(ru.Stime) - tv(last.Utime) - tv(last.Stime)
			pct := 100 * cpu.Seconds() / now.Sub(lastT).Seconds()
			last, lastT = ru, now
			fmt.Printf("%s %6d %6d %6d %6d %6.1f %8.1f %6d", now.Format("15:04:05"), sw.ActiveLegs(), calls.Load(), done.Load(), failed.Load(), pct, float64(ru.Maxrss)/1024, eng.Streams())
			if *mux {
				recv, dropped := eng.MuxStats()
				fmt.Printf("  mux_rx=%d mux_dropped=%d", recv, dropped)
			}
			fmt.Println()
		}
	}
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

func handle(ctx context.Context, sw *native.Switch, leg sip.Leg, mode, agent, prompt string) error {
	defer leg.Hangup(sip.CauseNormal)
	if err := leg.Answer(ctx); err != nil {
		return err
	}
	switch mode {
	case "moh":
		if err := leg.StartMOH("default"); err != nil {
			return err
		}
		<-leg.Done()
		return nil
	case "prompt":
		_, err := leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: prompt}}})
		if err == sip.ErrHangup {
			return nil
		}
		return err
	case "bridge", "ivr":
		if mode == "ivr" {
			if _, err := leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Silence: 0, Name: prompt}}}); err != nil {
				return nilIfHangup(err)
			}
			if err := leg.StartMOH("default"); err != nil {
				return err
			}
		}
		actx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-leg.Done():
				cancel()
			case <-actx.Done():
			}
		}()
		a, err := sw.Dial(actx, sip.Target{Agent: agent, RingTimeout: 10 * time.Second})
		cancel()
		if err != nil {
			if _, ended := leg.Ended(); ended {
				return nil
			}
			return err
		}
		defer a.Hangup(sip.CauseNormal)
		err = leg.Bridge(ctx, a)
		return nilIfHangup(err)
	}
	return fmt.Errorf("unknown mode %q", mode)
}

func nilIfHangup(err error) error {
	if err == sip.ErrHangup {
		return nil
	}
	return err
}
