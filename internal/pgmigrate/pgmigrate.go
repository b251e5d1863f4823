// Package pgmigrate applies the SQL migrations a hotline package embeds
// (tern, one version table per package) and River's own schema. It is the
// one home of that procedure for reporting, survey, queue/callback and
// dialpolicy/pgledger. It imports no hotline package: only pgx, tern and
// River's migrator.
package pgmigrate

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Conn applies the migrations in fsys's directory dir (files named
// NNN_name.sql) on conn, recording the version in versionTable. tern takes
// an advisory lock: concurrent runs from several processes are safe.
func Conn(ctx context.Context, conn *pgx.Conn, versionTable string, fsys fs.FS, dir string) error {
	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return fmt.Errorf("migrator: %w", err)
	}
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return err
	}
	if err := m.LoadMigrations(sub); err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Pool is Conn on a connection taken from pool.
func Pool(ctx context.Context, pool *pgxpool.Pool, versionTable string, fsys fs.FS, dir string) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	return Conn(ctx, conn.Conn(), versionTable, fsys, dir)
}

// River brings River's schema up to date (its migrator locks too).
func River(ctx context.Context, pool *pgxpool.Pool) error {
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	return nil
}
