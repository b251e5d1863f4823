package server

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/numbering"
	"github.com/hotline-cc/hotline/sip/media"
)

// mediaParts are the audio pieces built from the config.
type mediaParts struct {
	engine  *media.Engine
	catalog *media.Catalog
	flows   *ivr.Flows
}

// CheckMedia loads the prompt catalog and the IVR flows as New does,
// checking every prompt the flows name and every flow sip.numbers names,
// and the numbering plan's files (a malformed line as file:line), without
// starting anything (check-config).
func CheckMedia(cfg *config.Config) error {
	if _, err := buildMedia(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), false); err != nil {
		return err
	}
	if files := cfg.Numbering.Files; len(files) > 0 {
		if _, err := numbering.Load(files...); err != nil {
			return err
		}
	}
	return nil
}

// buildMedia loads the prompt catalog and the IVR flows (checking every
// prompt they name) and, with withEngine, starts the RTP engine.
func buildMedia(cfg *config.Config, log *slog.Logger, withEngine bool) (*mediaParts, error) {
	if len(cfg.Media.Missing) > 0 {
		return nil, cfg.Media.Missing
	}
	cat, err := media.NewCatalog(media.CatalogConfig{Langs: cfg.Media.Prompts, DefaultLang: cfg.Service.Language, MOH: cfg.Media.MOH})
	if err != nil {
		return nil, err
	}
	flows, err := ivr.ParseFlows(cfg.File, cfg.IVRSection(), ivr.WithPromptChecker(cat)) // with the one calendar
	if err != nil {
		return nil, err
	}
	for _, w := range flows.Warnings(time.Now()) {
		log.Warn(w)
	}
	for num, flow := range cfg.SIP.Numbers {
		if _, ok := flows.Flow(flow); !ok {
			return nil, fmt.Errorf("%s: sip.numbers[%q]: unknown IVR flow %q", cfg.File, num, flow)
		}
	}
	if err := checkNoticePrompt(cfg, cat); err != nil {
		return nil, fmt.Errorf("recording.notice_prompt: %w", err)
	}
	mp := &mediaParts{catalog: cat, flows: flows}
	if withEngine {
		ip := cfg.Media.Addr
		if !ip.IsValid() {
			ip = cfg.SIP.ListenAddr.Addr()
		}
		mp.engine, err = media.NewEngine(media.EngineConfig{
			IP: ip, PortMin: cfg.Media.RTPPortMin, PortMax: cfg.Media.RTPPortMax,
			InactivityTimeout: cfg.Media.InactivityTimeout, PrecisePacing: cfg.Media.PrecisePacing,
			Mux:    cfg.Media.RTPMux,
			Logger: log.With("component", "media"),
		})
		if err != nil {
			return nil, err
		}
	}
	return mp, nil
}

// close stops the RTP engine (if there is one).
func (mp *mediaParts) close() {
	if mp.engine != nil {
		_ = mp.engine.Close()
	}
}
