// Package pgledger is the dialling policy's Ledger in PostgreSQL: the daily
// cap and the per-number limit hold across restarts and across nodes
// sharing the database. It may import dialpolicy, pgx and tern.
package pgledger

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/dialpolicy"
	"github.com/hotline-cc/hotline/internal/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// VersionTable is the table tern records the ledger's schema version in.
const VersionTable = "dialpolicy_schema_version"

// Migrate brings the ledger's schema up to date.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pgmigrate.Pool(ctx, pool, VersionTable, migrationFS, "migrations"); err != nil {
		return fmt.Errorf("dial ledger: %w", err)
	}
	return nil
}

// Ledger implements dialpolicy.Ledger on the dial_ledger table.
type Ledger struct{ pool *pgxpool.Pool }

// New returns the ledger on pool (run Migrate first).
func New(pool *pgxpool.Pool) (*Ledger, error) {
	if pool == nil {
		return nil, errors.New("dial ledger: no database pool")
	}
	return &Ledger{pool: pool}, nil
}

// Take implements dialpolicy.Ledger: one transaction at a time (an advisory
// lock) counts today's dials and the number's, and records the dial.
func (l *Ledger) Take(ctx context.Context, t dialpolicy.Take) (dialpolicy.Reason, time.Time, error) {
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('hotline.dial.ledger'))`); err != nil {
		return "", time.Time{}, err
	}
	var hash string
	if err := tx.QueryRow(ctx, `SELECT encode(sha256(convert_to((SELECT salt FROM dial_salt) || $1, 'UTF8')), 'hex')`, t.Number).Scan(&hash); err != nil {
		return "", time.Time{}, err
	}
	var today, mine int
	var first *time.Time
	if err := tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM dial_ledger WHERE at >= $1),
			(SELECT count(*) FROM dial_ledger WHERE number_hash = $2 AND at > $3),
			(SELECT min(at) FROM dial_ledger WHERE number_hash = $2 AND at > $3)`,
		t.DayStart, hash, t.NumberSince).Scan(&today, &mine, &first); err != nil {
		return "", time.Time{}, err
	}
	if mine >= t.PerNumber && first != nil {
		return dialpolicy.PerNumber, first.Add(t.At.Sub(t.NumberSince)), nil
	}
	if today >= t.DailyCap {
		return dialpolicy.DailyCap, time.Time{}, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO dial_ledger (at, number_hash, purpose, call_id) VALUES ($1, $2, $3, $4)`,
		t.At, hash, t.Purpose, t.CallID); err != nil {
		return "", time.Time{}, err
	}
	oldest := t.DayStart
	if t.NumberSince.Before(oldest) {
		oldest = t.NumberSince
	}
	if _, err := tx.Exec(ctx, `DELETE FROM dial_ledger WHERE at < $1`, oldest); err != nil {
		return "", time.Time{}, err
	}
	return "", time.Time{}, tx.Commit(ctx)
}
