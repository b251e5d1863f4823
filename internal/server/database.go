package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/desk/deskpg"
	"github.com/hotline-cc/hotline/dialpolicy/pgledger"
	"github.com/hotline-cc/hotline/internal/lease"
	"github.com/hotline-cc/hotline/queue/callback"
	"github.com/hotline-cc/hotline/recording"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/hotline-cc/hotline/survey"
)

// Migrate applies every package's migrations (reporting, the dialling
// policy's ledger, survey, callbacks, the line's lease, the desk's sessions).
func Migrate(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", RedactDSNError(err, url))
	}
	defer conn.Close(ctx)
	if err := reporting.Migrate(ctx, conn); err != nil {
		return fmt.Errorf("reporting migrations: %w", err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", RedactDSNError(err, url))
	}
	defer pool.Close()
	if err := pgledger.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("dialling policy migrations: %w", err)
	}
	if err := survey.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("survey migrations: %w", err)
	}
	if err := callback.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("callback migrations: %w", err)
	}
	if err := recording.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("recording migrations: %w", err)
	}
	if err := lease.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("lease migrations: %w", err)
	}
	if err := deskpg.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("desk migrations: %w", err)
	}
	return nil
}

// RedactDSNError keeps a password in the URL out of an error message.
func RedactDSNError(err error, dsn string) error {
	msg := err.Error()
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			if c := strings.Index(dsn[i+3:at], ":"); c >= 0 {
				pw := dsn[i+3+c+1 : at]
				if pw != "" {
					msg = strings.ReplaceAll(msg, pw, "***")
				}
			}
		}
	}
	return errors.New(msg)
}
