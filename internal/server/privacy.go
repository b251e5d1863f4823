package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/queue"
	"github.com/hotline-cc/hotline/queue/callback"
	"github.com/hotline-cc/hotline/recording"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/hotline-cc/hotline/survey"
)

// Personal data (docs/privacy.md): the retention job and erasure of one
// number, in the database (reporting's personal_data, the survey tables)
// and in the writer's spool.

// Retention maps the config's privacy section.
func Retention(cfg *config.Config) reporting.Retention {
	return reporting.Retention{CallerNumbers: cfg.Privacy.CallerNumbers, Collected: cfg.Privacy.Collected, Notes: cfg.Privacy.Notes}
}

// JournalPath is the writer's spool journal of a config.
func JournalPath(cfg *config.Config) string {
	return filepath.Join(cfg.Database.SpoolDir, "events.journal")
}

// Erasure is what erasing a number removed.
type Erasure struct {
	PersonalData int64 `json:"personal_data"` // personal_data rows (number, collected digits, notes)
	Surveys      int64 `json:"surveys"`       // survey rows whose number and notes were blanked
	SpoolEvents  int   `json:"spool_events"`  // events scrubbed in the writer's memory and spool
	Callbacks    int64 `json:"callbacks"`     // open callbacks cancelled, their number blanked
	Recordings   int   `json:"recordings"`    // recordings of the number's calls deleted

	cancelled []string // the call ids of those callbacks (for the queue to withdraw)
}

// Purge is what one retention run removed.
type Purge struct {
	reporting.Purged
	Surveys     int64 `json:"surveys"`
	SpoolEvents int   `json:"spool_events"`
	Recordings  int   `json:"recordings"` // recording files past recording.retention deleted
}

// spool is where a number's not yet stored events are scrubbed: the
// running writer, or the spool files when no writer holds them.
type spool interface {
	EraseNumber(number string, calls []string) (int, error)
	PurgeExpired(now time.Time, r reporting.Retention) (int, error)
}

type offlineSpool string

func (p offlineSpool) EraseNumber(number string, calls []string) (int, error) {
	return reporting.EraseFromSpool(string(p), number, calls)
}

func (p offlineSpool) PurgeExpired(now time.Time, r reporting.Retention) (int, error) {
	return reporting.PurgeSpool(string(p), now, r)
}

// eraseNumber erases number everywhere: the spool first (the calls known
// from the database are passed, a batch in flight is waited for), then
// the database, so nothing written meanwhile brings the number back.
func eraseNumber(ctx context.Context, store *reporting.Store, pool *pgxpool.Pool, sp spool, rec *recording.Service, region, number string) (Erasure, error) {
	var out Erasure
	if reporting.NormalizeNumber(number) == "" {
		return out, fmt.Errorf("%q is not a phone number", number)
	}
	calls, err := store.CallsOfNumber(ctx, number)
	if err != nil {
		return out, err
	}
	if out.SpoolEvents, err = sp.EraseNumber(number, calls); err != nil {
		return out, fmt.Errorf("spool: %w", err)
	}
	if out.Recordings, err = rec.EraseCalls(ctx, calls); err != nil {
		return out, fmt.Errorf("recordings: %w", err)
	}
	e, err := store.EraseNumber(ctx, number)
	if err != nil {
		return out, err
	}
	out.PersonalData = e.Rows
	if out.Surveys, err = survey.EraseNumber(ctx, pool, number, region); err != nil {
		return out, err
	}
	if c := ivr.NormalizeCaller(number, region); !c.Anonymous {
		if out.cancelled, out.Callbacks, err = callback.EraseNumber(ctx, pool, c.E164); err != nil {
			return out, err
		}
	}
	return out, nil
}

func purge(ctx context.Context, store *reporting.Store, pool *pgxpool.Pool, sp spool, rec *recording.Service, now time.Time, r reporting.Retention) (Purge, error) {
	var out Purge
	var err error
	if out.Recordings, err = rec.Purge(ctx, now); err != nil {
		return out, fmt.Errorf("recordings: %w", err)
	}
	if out.Purged, err = store.PurgeExpired(ctx, now, r); err != nil {
		return out, err
	}
	if out.Surveys, err = survey.PurgeExpired(ctx, pool, now, r.CallerNumbers, r.Notes); err != nil {
		return out, err
	}
	if out.SpoolEvents, err = sp.PurgeExpired(now, r); err != nil && !errors.Is(err, reporting.ErrSpoolInUse) {
		return out, fmt.Errorf("spool: %w", err)
	}
	return out, nil
}

// privacyService runs the retention job at start and hourly.
func (s *Server) privacyService() service {
	return &loop{run: func(ctx context.Context) {
		log := s.log.With("component", "privacy")
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			p, err := purge(ctx, s.store, s.pool, s.writer, s.rec, time.Now(), Retention(s.cfg))
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("retention job failed (next run in an hour)", "error", err)
			case err == nil && (p.Purged != reporting.Purged{} || p.Surveys > 0 || p.SpoolEvents > 0 || p.Recordings > 0):
				log.Info("retention job", "callers", p.Callers, "collected", p.Collected, "notes", p.Notes,
					"surveys", p.Surveys, "spool_events", p.SpoolEvents, "recordings", p.Recordings)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}}
}

// eraseHandler is POST /api/v1/privacy/erase {"number": "..."} (behind the
// API token): it erases the number and answers with an Erasure.
func (s *Server) eraseHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Number string `json:"number"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || reporting.NormalizeNumber(req.Number) == "" {
			http.Error(w, `want {"number": "+7..."}`, http.StatusBadRequest)
			return
		}
		e, err := eraseNumber(r.Context(), s.store, s.pool, s.writer, s.rec, surveyConfigOf(s.cfg).Region, req.Number)
		if err != nil {
			s.log.Error("privacy: erasure failed", "error", err)
			http.Error(w, "erasure failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		for _, id := range e.cancelled {
			if err := s.runner.CancelCallback(id); err != nil && !errors.Is(err, queue.ErrUnknownCall) {
				s.log.Warn("privacy: an erased number's callback is still in line", "call", id, "error", err)
			}
		}
		s.log.Info("privacy: a number was erased", "personal_data", e.PersonalData, "surveys", e.Surveys, "spool_events", e.SpoolEvents,
			"callbacks", e.Callbacks, "recordings", e.Recordings)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e)
	})
}

// openOffline opens the database of cfg for the privacy commands.
func openOffline(ctx context.Context, cfg *config.Config) (*reporting.Store, *pgxpool.Pool, error) {
	url := cfg.Database.URL
	if url == "" {
		return nil, nil, errors.New("no database: set database.url or DATABASE_URL")
	}
	if err := Migrate(ctx, url); err != nil {
		return nil, nil, err
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("database: %w", RedactDSNError(err, url))
	}
	return reporting.NewStore(pool, ReportingConfig(cfg), slog.New(slog.DiscardHandler)), pool, nil
}

// EraseNumber is `hotline privacy erase`: it erases number in the
// database and the spool of cfg. When a running hotline holds the spool,
// that hotline is asked to do it (POST /api/v1/privacy/erase at
// http.listen with http.token), so its memory and spool are scrubbed too.
func EraseNumber(ctx context.Context, cfg *config.Config, number string) (Erasure, error) {
	store, pool, err := openOffline(ctx, cfg)
	if err != nil {
		return Erasure{}, err
	}
	defer pool.Close()
	rec, err := offlineRecordings(cfg, pool)
	if err != nil {
		return Erasure{}, err
	}
	e, err := eraseNumber(ctx, store, pool, offlineSpool(JournalPath(cfg)), rec, surveyConfigOf(cfg).Region, number)
	if errors.Is(err, reporting.ErrSpoolInUse) {
		return eraseRemote(ctx, cfg, number)
	}
	return e, err
}

// eraseRemote asks the running hotline of cfg to erase number.
func eraseRemote(ctx context.Context, cfg *config.Config, number string) (Erasure, error) {
	var out Erasure
	base, client, err := SelfAPI(cfg)
	if err != nil {
		return out, err
	}
	body, _ := json.Marshal(map[string]string{"number": number})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/privacy/erase", bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	req.Header.Set("Content-Type", "application/json")
	if t := cfg.HTTP.Token.Value(); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	resp, err := client.Do(req)
	if err != nil {
		return out, fmt.Errorf("a running hotline holds the spool, and its API did not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return out, fmt.Errorf("a running hotline holds the spool; its API answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// PurgeExpired is `hotline privacy purge`: the retention job once, at
// now. A spool held by a running hotline is left to that hotline's own
// job (hourly).
func PurgeExpired(ctx context.Context, cfg *config.Config, now time.Time) (Purge, error) {
	store, pool, err := openOffline(ctx, cfg)
	if err != nil {
		return Purge{}, err
	}
	defer pool.Close()
	rec, err := offlineRecordings(cfg, pool)
	if err != nil {
		return Purge{}, err
	}
	return purge(ctx, store, pool, offlineSpool(JournalPath(cfg)), rec, now, Retention(cfg))
}

// offlineRecordings is the recordings' retention and erasure for the
// privacy commands (no metrics, no events: there is no bus).
func offlineRecordings(cfg *config.Config, pool *pgxpool.Pool) (*recording.Service, error) {
	rc := recordingConfigOf(cfg)
	rc.Store = recording.NewStore(pool)
	return recording.New(rc)
}
