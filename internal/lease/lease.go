// Package lease is a line's lease in PostgreSQL: at most one hotline node
// holds it, and only the holder takes the line's calls (docs/scaling.md,
// "Two nodes, one line"). It imports no hotline package but
// internal/pgmigrate.
//
// The lease is a session advisory lock taken on a connection of its own.
// Three rules make "never two active nodes" hold without trusting clocks
// across machines:
//
//  1. The connection sets idle_session_timeout = Timeout: PostgreSQL ends a
//     session that sent nothing for Timeout, which releases the lock. A node
//     cut off from the database therefore loses the lock at the latest
//     Timeout after the last query PostgreSQL received from it.
//  2. The holder checks that it still holds the lock every Timeout/8; each
//     check must answer before (send time of the last good check) +
//     Timeout/2, else the holder fences itself (Lost is closed: it stops
//     taking calls at once). PostgreSQL received that last good check after
//     it was sent, so the holder has fenced before rule 1 can free the lock.
//  3. PostgreSQL may free the lock earlier than rule 1 (it sees the
//     connection close: the node died, or a proxy reset the connection). A
//     node that acquires a lease whose previous holder did not release it
//     cleanly waits Timeout/2 before it acts: the previous holder's last good
//     check was sent before the lock was freed, so by then it has fenced
//     (or is dead). A clean release (Release, on SIGTERM) is recorded in the
//     line_lease row, so a hand-over costs no wait.
//
// The line_lease row also keeps a fencing token (one more at each
// acquisition) and the holder's node name, for logs and the role endpoint.
package lease

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hotline-cc/hotline/internal/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// VersionTable is the table tern records the lease's schema version in.
const VersionTable = "lease_schema_version"

// lockClass is the first key of every line's advisory lock ("hotl"); the
// second is derived from the line's name.
const lockClass = 0x686f746c

// Migrate brings the lease's schema up to date.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pgmigrate.Pool(ctx, pool, VersionTable, migrationFS, "migrations"); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	return nil
}

// Config describes one node's lease on one line.
type Config struct {
	// DSN is the database; the lease opens a connection of its own.
	DSN string
	// Line names the line (one lock per line).
	Line string
	// Node names this node (recorded in line_lease; the role endpoint).
	Node string
	// Timeout is the lease time (default 4 s, at least 1 s): a holder cut
	// off from the database stops within Timeout/2, the database frees the
	// lease after Timeout at the latest.
	Timeout time.Duration
	// Retry is how often a waiting node tries for the lease (default
	// 200 ms).
	Retry time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Previous describes the holder before this one.
type Previous struct {
	Node  string // "" when the line was never held
	Token int64
	// Clean is true when that holder released the lease (a hand-over),
	// false when it died or lost the database.
	Clean bool
}

// Lease is a held lease. Lost is closed when it is lost; Release gives it
// up.
type Lease struct {
	cfg      Config
	conn     *pgx.Conn
	token    int64
	previous Previous
	log      *slog.Logger

	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	released sync.Once
}

// objid is the line's second lock key (non-negative, so pg_locks shows it
// as passed).
func objid(line string) int32 { return int32(crc32.ChecksumIEEE([]byte(line)) & 0x7fffffff) }

func (c *Config) defaults() error {
	if c.Line == "" || c.Node == "" {
		return errors.New("lease: line and node are required")
	}
	if c.Timeout == 0 {
		c.Timeout = 4 * time.Second
	}
	if c.Timeout < time.Second {
		return fmt.Errorf("lease: timeout %s is under 1s", c.Timeout)
	}
	if c.Retry <= 0 {
		c.Retry = 200 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// FenceAfter is how long a holder goes without a confirmed check before it
// fences itself, and how long a node waits after taking over from a holder
// that did not release cleanly.
func (c Config) FenceAfter() time.Duration { return c.Timeout / 2 }

// Acquire waits until this node holds the line's lease and may act on it,
// or ctx ends. Database errors while waiting are logged and retried.
func Acquire(ctx context.Context, cfg Config) (*Lease, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "lease", "line", cfg.Line, "node", cfg.Node)
	pcfg, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("lease: database url: %w", err)
	}
	pcfg.RuntimeParams["idle_session_timeout"] = strconv.FormatInt(cfg.Timeout.Milliseconds(), 10)
	pcfg.RuntimeParams["application_name"] = "hotline lease " + cfg.Node
	pcfg.ConnectTimeout = cfg.Timeout
	var conn *pgx.Conn
	failing := false
	fail := func(what string, err error) {
		if !failing {
			log.Warn("lease: "+what+" failed (retrying)", "error", err)
			failing = true
		}
		if conn != nil {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn.Close(cctx)
			cancel()
			conn = nil
		}
	}
	t := time.NewTicker(cfg.Retry)
	defer t.Stop()
	for {
		if conn == nil {
			conn, err = pgx.ConnectConfig(ctx, pcfg)
			if err != nil {
				conn = nil
				if ctx.Err() == nil {
					fail("connecting", err)
				}
			}
		}
		if conn != nil {
			l, got, err := tryLock(ctx, conn, cfg, log)
			switch {
			case err != nil && ctx.Err() == nil:
				fail("trying the lock", err)
			case got:
				if !l.previous.Clean && l.previous.Node != "" {
					// Rule 3: the previous holder may not know yet.
					log.Info("lease taken from a holder that did not release it: waiting for it to have fenced",
						"previous", l.previous.Node, "wait", cfg.FenceAfter())
					select {
					case <-time.After(cfg.FenceAfter()):
					case <-l.lost:
						return nil, errors.New("lease: lost while waiting out the previous holder")
					case <-ctx.Done():
						l.Release(context.Background())
						return nil, ctx.Err()
					}
				}
				log.Info("lease held", "token", l.token, "previous", l.previous.Node, "clean_handover", l.previous.Clean)
				return l, nil
			default:
				failing = false
			}
		}
		select {
		case <-ctx.Done():
			if conn != nil {
				conn.Close(context.Background())
			}
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// tryLock tries the lock once; when it is taken, it records the
// acquisition and starts the keeper.
func tryLock(ctx context.Context, conn *pgx.Conn, cfg Config, log *slog.Logger) (*Lease, bool, error) {
	var got bool
	sent := time.Now()
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, int32(lockClass), objid(cfg.Line)).Scan(&got); err != nil {
		return nil, false, err
	}
	if !got {
		return nil, false, nil
	}
	l := &Lease{cfg: cfg, conn: conn, log: log, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var released *time.Time
		err := tx.QueryRow(ctx, `SELECT node, token, released_at FROM line_lease WHERE line = $1`, cfg.Line).
			Scan(&l.previous.Node, &l.previous.Token, &released)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			l.previous.Clean = true // never held
		case err != nil:
			return err
		default:
			l.previous.Clean = released != nil
		}
		return tx.QueryRow(ctx, `
			INSERT INTO line_lease (line, node, token, acquired_at) VALUES ($1, $2, 1, now())
			ON CONFLICT (line) DO UPDATE SET node = $2, token = line_lease.token + 1, acquired_at = now(), released_at = NULL
			RETURNING token`, cfg.Line, cfg.Node).Scan(&l.token)
	})
	if err != nil {
		_, _ = conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, int32(lockClass), objid(cfg.Line))
		return nil, false, err
	}
	go l.keep(sent)
	return l, true, nil
}

// keep checks the lock every Timeout/8 until Release or a failed check
// (rule 2).
func (l *Lease) keep(lastOK time.Time) {
	defer close(l.done)
	every := l.cfg.Timeout / 8
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		sent := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), lastOK.Add(l.cfg.FenceAfter()))
		var held bool
		err := l.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
			AND pid = pg_backend_pid() AND classid = $1::int8::oid AND objid = $2::int8::oid AND objsubid = 2 AND granted)`,
			int64(lockClass), int64(objid(l.cfg.Line))).Scan(&held)
		cancel()
		if err == nil && !held {
			err = errors.New("the database says another session holds it")
		}
		if err != nil {
			select {
			case <-l.stop: // Release raced the check
				return
			default:
			}
			l.log.Error("lease lost: this node stops taking calls", "error", err, "token", l.token)
			l.lostOnce.Do(func() { close(l.lost) })
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			l.conn.Close(cctx)
			cancel()
			return
		}
		lastOK = sent
	}
}

// Lost is closed when the lease is lost: the node must stop acting on the
// line at once.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Token is this holding's fencing token (one more at each acquisition).
func (l *Lease) Token() int64 { return l.token }

// Previous describes the holder before this one.
func (l *Lease) Previous() Previous { return l.previous }

// Release gives the lease up cleanly, recording the hand-over so that the
// next holder does not wait. After a loss it only closes the connection.
func (l *Lease) Release(ctx context.Context) error {
	var err error
	l.released.Do(func() {
		close(l.stop)
		<-l.done
		select {
		case <-l.lost:
			return
		default:
		}
		if _, err = l.conn.Exec(ctx, `UPDATE line_lease SET released_at = now() WHERE line = $1 AND token = $2`,
			l.cfg.Line, l.token); err == nil {
			_, err = l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, int32(lockClass), objid(l.cfg.Line))
		}
		l.conn.Close(ctx)
		if err != nil {
			err = fmt.Errorf("lease: release: %w", err)
			return
		}
		l.log.Info("lease released", "token", l.token)
	})
	return err
}

// Holder returns who holds line's lease as line_lease records it (ok false
// when it was never held or the last holder released it).
func Holder(ctx context.Context, pool *pgxpool.Pool, line string) (node string, token int64, ok bool, err error) {
	var released *time.Time
	err = pool.QueryRow(ctx, `SELECT node, token, released_at FROM line_lease WHERE line = $1`, line).Scan(&node, &token, &released)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("lease: holder: %w", err)
	}
	return node, token, released == nil, nil
}
