package callback

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// QueueOf is the queue and language a callback was requested in; ok is
// false when callID has no callback. Call recording uses it to apply that
// queue's policy to the callback's dial.
func (s *Service) QueueOf(ctx context.Context, callID string) (queue, lang string, ok bool, err error) {
	err = s.deps.Pool.QueryRow(ctx, `SELECT queue, lang FROM callback WHERE call_id = $1`, callID).Scan(&queue, &lang)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", false, nil
	}
	return queue, lang, err == nil, err
}
