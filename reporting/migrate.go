package reporting

import (
	"context"
	"embed"
	"fmt"

	"github.com/hotline-cc/hotline/internal/pgmigrate"
	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// VersionTable is the table tern records the schema version in.
const VersionTable = "reporting_schema_version"

// Migrate brings the reporting schema up to date, then moves the personal
// values that rows of an older hotline hold into personal_data (once). It is safe to run
// concurrently from several processes (tern takes an advisory lock).
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	if err := pgmigrate.Conn(ctx, conn, VersionTable, migrationFS, "migrations"); err != nil {
		return fmt.Errorf("reporting: %w", err)
	}
	// Personal values an older hotline kept in the log move out of it.
	if err := migrateLegacy(ctx, conn); err != nil {
		return fmt.Errorf("reporting: migrate personal data: %w", err)
	}
	return nil
}
