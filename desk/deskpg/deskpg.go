// Package deskpg keeps the desk's sessions and password resets in
// PostgreSQL (desk.Persist), so that they survive a restart and a SIGHUP
// reload. It may import desk, internal/pgmigrate and pgx; internal/server
// wires it.
package deskpg

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/desk"
	"github.com/hotline-cc/hotline/internal/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// VersionTable is the table tern records the desk's schema version in.
const VersionTable = "desk_schema_version"

// Migrate brings the desk's tables up to date.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pgmigrate.Pool(ctx, pool, VersionTable, migrationFS, "migrations"); err != nil {
		return fmt.Errorf("desk: %w", err)
	}
	return nil
}

// Store is desk.Persist on PostgreSQL (run Migrate first).
type Store struct{ pool *pgxpool.Pool }

var _ desk.Persist = (*Store)(nil)

// New returns the store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// SaveSession stores a new session and deletes the expired ones.
func (s *Store) SaveSession(ctx context.Context, ss desk.StoredSession) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM desk_session WHERE expires_at < now()`); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO desk_session (hash, user_id, user_hash, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (hash) DO UPDATE SET user_id = EXCLUDED.user_id, user_hash = EXCLUDED.user_hash, expires_at = EXCLUDED.expires_at`,
		ss.Hash, ss.User, ss.UserHash, ss.Expires.UTC())
	return err
}

// Session returns the session of hash unless it expired by now.
func (s *Store) Session(ctx context.Context, hash string, now time.Time) (desk.StoredSession, bool, error) {
	ss := desk.StoredSession{Hash: hash}
	err := s.pool.QueryRow(ctx, `SELECT user_id, user_hash, expires_at FROM desk_session WHERE hash = $1 AND expires_at > $2`, hash, now.UTC()).
		Scan(&ss.User, &ss.UserHash, &ss.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return desk.StoredSession{}, false, nil
	}
	if err != nil {
		return desk.StoredSession{}, false, err
	}
	return ss, true, nil
}

// ExtendSession moves a session's expiry on.
func (s *Store) ExtendSession(ctx context.Context, hash string, expires time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE desk_session SET expires_at = $2 WHERE hash = $1 AND expires_at < $2`, hash, expires.UTC())
	return err
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM desk_session WHERE hash = $1`, hash)
	return err
}

// DeleteUserSessions ends every session of user.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM desk_session WHERE user_id = $1`, user)
	return err
}

// SaveReset stores a password reset (the latest per user).
func (s *Store) SaveReset(ctx context.Context, r desk.Reset) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO desk_password (user_id, hash, config_hash, reset_at, reset_by) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id) DO UPDATE SET hash = EXCLUDED.hash, config_hash = EXCLUDED.config_hash, reset_at = EXCLUDED.reset_at,
		reset_by = EXCLUDED.reset_by`, r.User, r.Hash, r.ConfigHash, r.At.UTC(), r.By)
	return err
}

// Resets returns every stored password reset.
func (s *Store) Resets(ctx context.Context) ([]desk.Reset, error) {
	rows, err := s.pool.Query(ctx, `SELECT user_id, hash, config_hash, reset_at, reset_by FROM desk_password ORDER BY user_id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (desk.Reset, error) {
		var x desk.Reset
		err := r.Scan(&x.User, &x.Hash, &x.ConfigHash, &x.At, &x.By)
		return x, err
	})
}

// DeleteReset forgets a user's reset (the config has a newer password).
func (s *Store) DeleteReset(ctx context.Context, user string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM desk_password WHERE user_id = $1`, user)
	return err
}
