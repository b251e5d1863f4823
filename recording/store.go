package recording

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/internal/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// VersionTable is the version table of the recordings schema.
const VersionTable = "recording_schema_version"

// Migrate brings the recordings schema up to date.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pgmigrate.Pool(ctx, pool, VersionTable, migrationFS, "migrations"); err != nil {
		return fmt.Errorf("recording: migrate: %w", err)
	}
	return nil
}

// Store keeps recordings' metadata in PostgreSQL.
type Store struct{ pool *pgxpool.Pool }

// NewStore returns the store on pool (run Migrate first).
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Row is one recording's metadata.
type Row struct {
	ID         int64
	CallID     string
	Queue      string
	Agent      string   // first line
	Agents     []string // every agent, segment order
	Path       string   // relative to the recording directory
	StartedAt  time.Time
	Duration   time.Duration
	Size       int64
	SHA256     string
	Segments   []Segment
	Dropped    int64
	State      string // recording|done|failed|deleted
	Error      string
	DeletedAt  *time.Time
	DeletedWhy string
}

// States of a recording row.
const (
	StateRecording = "recording"
	StateDone      = "done"
	StateFailed    = "failed"
	StateDeleted   = "deleted"
)

// begin inserts the row of a recording that starts.
func (s *Store) begin(ctx context.Context, callID, queue, path string, at time.Time) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO recordings (call_id, queue, path, started_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (call_id) DO UPDATE SET path = EXCLUDED.path, started_at = EXCLUDED.started_at, state = 'recording'
		RETURNING id`, callID, queue, path, at).Scan(&id)
	return id, err
}

// finish stores what a recording became (a row deleted meanwhile, by an
// erasure during the call, stays deleted).
func (s *Store) finish(ctx context.Context, id int64, agents []string, res Result) error {
	segs, err := json.Marshal(res.Segments)
	if err != nil {
		return err
	}
	state, msg := StateDone, ""
	if res.Err != nil {
		state, msg = StateFailed, res.Err.Error()
	}
	agent := ""
	if len(agents) > 0 {
		agent = agents[0]
	}
	if agents == nil {
		agents = []string{}
	}
	_, err = s.pool.Exec(ctx, `UPDATE recordings SET agent = $2, agents = $3, duration_ms = $4, size_bytes = $5,
		sha256 = $6, segments = $7, dropped = $8, state = $9, error = $10 WHERE id = $1 AND deleted_at IS NULL`,
		id, agent, agents, res.Duration.Milliseconds(), res.Size, res.SHA256, segs, int64(res.Dropped), state, msg)
	return err
}

const rowCols = `id, call_id, queue, agent, agents, path, started_at, duration_ms, size_bytes, sha256, segments, dropped,
	state, error, deleted_at, deleted_why`

func scanRow(row pgx.Row) (Row, error) {
	var r Row
	var ms int64
	var segs []byte
	err := row.Scan(&r.ID, &r.CallID, &r.Queue, &r.Agent, &r.Agents, &r.Path, &r.StartedAt, &ms, &r.Size, &r.SHA256, &segs,
		&r.Dropped, &r.State, &r.Error, &r.DeletedAt, &r.DeletedWhy)
	if err != nil {
		return r, err
	}
	r.Duration = time.Duration(ms) * time.Millisecond
	err = json.Unmarshal(segs, &r.Segments)
	return r, err
}

// ByCall returns the recording of a call; ok is false when there is none.
func (s *Store) ByCall(ctx context.Context, callID string) (r Row, ok bool, err error) {
	r, err = scanRow(s.pool.QueryRow(ctx, `SELECT `+rowCols+` FROM recordings WHERE call_id = $1`, callID))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// Playable reports which of callIDs have a recording that can be played.
func (s *Store) Playable(ctx context.Context, callIDs []string) (map[string]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT call_id FROM recordings WHERE call_id = ANY($1) AND state = 'done' AND path NOT LIKE 'asterisk:%'`, callIDs)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, err
}

// rows returns the rows a query selects (rowCols).
func (s *Store) rows(ctx context.Context, where string, args ...any) ([]Row, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+rowCols+` FROM recordings WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// drop removes the row of a recording that recorded nothing.
func (s *Store) drop(ctx context.Context, id int64) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM recordings WHERE id = $1 AND deleted_at IS NULL`, id)
	return err
}

// markDeleted records that a recording's file is gone.
func (s *Store) markDeleted(ctx context.Context, id int64, why string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE recordings SET state = 'deleted', deleted_at = $2, deleted_why = $3 WHERE id = $1`, id, at, why)
	return err
}
