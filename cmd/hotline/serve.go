package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hotline-cc/hotline/internal/server"
)

// runServe runs the support line until SIGTERM or SIGINT: then calls may
// finish for -drain and the services stop. SIGHUP reloads IVR flows and
// agents' credentials from the config file.
// exitFenced is serve's status when the node lost its line's lease
// (EX_TEMPFAIL: systemd's Restart= starts it again, as a standby).
const exitFenced = 75

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "examples/hotline.yaml", "config file")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	drain := fs.Duration("drain", 30*time.Second, "on SIGTERM, how long active calls may finish before they are hung up")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "hotline serve: -log-level %q: want debug, info, warn or error\n", *level)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(cfg, log)
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		log.Error("hotline did not start", "error", err)
		if srv != nil {
			_ = srv.Shutdown(context.Background())
		}
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for ctx.Err() == nil {
		select {
		case <-srv.Fenced():
			// The line's lease is lost: another node takes the calls and
			// closes this one's as after a crash. Exit without draining;
			// systemd starts a fresh standby (deploy/systemd).
			log.Error("this node lost the line's lease: exiting (restart it to stand by again)")
			return exitFenced
		case <-hup:
			if err := srv.Reload(*path); err != nil {
				log.Error("reload refused: keeping the running config", "error", err)
				continue
			}
			log.Info("config reloaded: IVR flows and agent credentials (queue and agent changes apply at the next restart)")
		case <-ctx.Done():
		}
	}
	log.Info("shutting down: draining calls", "drain", drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		log.Warn("shutdown", "error", err)
	}
	return 0
}
