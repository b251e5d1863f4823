package reporting

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// VersionTable is the table tern records the schema version in.
const VersionTable = "reporting_schema_version"

// Migrate brings the reporting schema up to date, then moves the personal
// values that rows of an older hotline hold into personal_data (once). It is safe to run
// concurrently from several processes (tern takes an advisory lock).
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err != nil {
		return fmt.Errorf("reporting: migrator: %w", err)
	}
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return err
	}
	if err := m.LoadMigrations(sub); err != nil {
		return fmt.Errorf("reporting: load migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("reporting: migrate: %w", err)
	}
	// Personal values an older hotline kept in the log move out of it.
	if err := migrateLegacy(ctx, conn); err != nil {
		return fmt.Errorf("reporting: migrate personal data: %w", err)
	}
	return nil
}
