package survey

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/ivr"
)

// Personal data in the survey tables (152-FZ): survey.number is the number
// to dial, survey.notes the agent's notes copied for reviewers. The
// opt-out list keeps a salted SHA-256 of the number (survey_number_hash),
// never the number, so an opt-out outlives an erasure.

// Erased is the reason of a survey cancelled because its number was erased.
const Erased = "erased"

// EraseNumber blanks one number (any form; national numbers in region,
// default RU) in the survey tables: the number and the notes of its
// surveys. Surveys not yet dialled are cancelled (reason "erased"); their
// jobs find them cancelled and do nothing. An opt-out stays (as a hash).
// It returns the number of survey rows changed.
func EraseNumber(ctx context.Context, pool *pgxpool.Pool, number, region string) (int64, error) {
	c := ivr.NormalizeCaller(number, region)
	if c.Anonymous {
		return 0, fmt.Errorf("survey: %q is not a phone number", number)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `UPDATE survey SET state = 'cancelled', reason = $2, next_at = NULL, updated_at = now()
		WHERE number = $1 AND state IN ('scheduled', 'retry')`, c.E164, Erased); err != nil {
		return 0, fmt.Errorf("survey: erase: %w", err)
	}
	tag, err := tx.Exec(ctx, `UPDATE survey SET number = '', notes = '', updated_at = now() WHERE number = $1`, c.E164)
	if err != nil {
		return 0, fmt.Errorf("survey: erase: %w", err)
	}
	return tag.RowsAffected(), tx.Commit(ctx)
}

// PurgeExpired blanks, at now, the numbers of surveys that are over
// (not scheduled, retrying or being dialled) and whose call ended more
// than numbers ago, and the notes of surveys whose call ended more than
// notes ago; zero or negative keeps them. It returns the rows changed.
func PurgeExpired(ctx context.Context, pool *pgxpool.Pool, now time.Time, numbers, notes time.Duration) (int64, error) {
	var n int64
	if numbers > 0 {
		tag, err := pool.Exec(ctx, `UPDATE survey SET number = '', updated_at = now()
			WHERE number <> '' AND state NOT IN ('scheduled', 'retry', 'in_progress') AND ended_at < $1`, now.Add(-numbers))
		if err != nil {
			return n, fmt.Errorf("survey: purge numbers: %w", err)
		}
		n += tag.RowsAffected()
	}
	if notes > 0 {
		tag, err := pool.Exec(ctx, `UPDATE survey SET notes = '', updated_at = now() WHERE notes <> '' AND ended_at < $1`, now.Add(-notes))
		if err != nil {
			return n, fmt.Errorf("survey: purge notes: %w", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
