// Package pgtest gives tests a fresh PostgreSQL database.
//
// If DATABASE_URL is set, every database is created on that server (a
// uniquely named database per call to New, dropped at the end of the test).
// Otherwise a throwaway PostgreSQL 15 cluster is started from the system
// binaries (/usr/lib/postgresql/15/bin, or PGTEST_BINDIR) once per test
// process, in a temporary directory, on a free TCP port on 127.0.0.1 with a
// private unix socket directory, and stopped when the tests end. PostgreSQL
// refuses to run as root, so when the tests run as root the cluster is
// started as the "postgres" user through runuser.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		db := pgtest.New(t) // db.Pool, db.DSN
//	}
//
// Tests that need to stop and restart the server (durability tests) start
// their own cluster with StartCluster.
//
// The shared cluster runs with fsync=off for speed unless PGTEST_FSYNC=on.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultBinDir is where Debian installs the PostgreSQL 15 server binaries.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

const installHint = "PostgreSQL server binaries not found in %s: install them (Debian: apt-get install postgresql-15), " +
	"set PGTEST_BINDIR, or set DATABASE_URL to a server where the user may CREATE DATABASE"

// DB is one fresh database.
type DB struct {
	// DSN connects to the database.
	DSN string
	// Name is the database name.
	Name string
	// Pool is a pgx pool on the database, closed at the end of the test.
	Pool *pgxpool.Pool
}

// shared is the per-process server. A test helper owns process-wide state by
// nature: one cluster per test binary.
var shared struct {
	once     sync.Once
	mu       sync.Mutex
	adminDSN string
	cluster  *Cluster
	err      error
}

// Main runs the tests and stops the shared cluster (if one was started), then
// exits with the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the shared cluster if it was started. Main calls it; call it
// yourself from a TestMain that needs to do more after m.Run.
func Stop() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster != nil {
		shared.cluster.Stop()
		shared.cluster = nil
	}
}

// AdminDSN returns a DSN for the maintenance database of the shared server
// (DATABASE_URL or the throwaway cluster), starting the cluster if needed.
func AdminDSN(tb testing.TB) string {
	tb.Helper()
	shared.once.Do(func() {
		if u := os.Getenv("DATABASE_URL"); u != "" {
			shared.adminDSN = u
			return
		}
		bin := binDir()
		if !binariesPresent(bin) {
			shared.err = fmt.Errorf(installHint, bin)
			return
		}
		c, err := StartCluster(ClusterOptions{Fsync: os.Getenv("PGTEST_FSYNC") == "on"})
		if err != nil {
			shared.err = err
			return
		}
		shared.mu.Lock()
		shared.cluster = c
		shared.mu.Unlock()
		shared.adminDSN = c.DSN("postgres")
	})
	if shared.err != nil {
		if testing.Short() && !binariesPresent(binDir()) {
			tb.Skipf("pgtest: skipping in -short mode: %v", shared.err)
		}
		tb.Fatalf("pgtest: %v", shared.err)
	}
	return shared.adminDSN
}

// New creates a fresh, uniquely named database and drops it when the test ends.
func New(tb testing.TB) *DB {
	tb.Helper()
	admin := AdminDSN(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "pgtest_" + randomHex(6)
	if err := exec1(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	dsn, err := withDatabase(admin, name)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	tb.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := exec1(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return &DB{DSN: dsn, Name: name, Pool: pool}
}

func exec1(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase replaces the database of a URL or keyword/value DSN.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse DATABASE_URL: %w", err)
		}
		u.Path = "/" + db
		return u.String(), nil
	}
	return dsn + " dbname=" + db, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func binDir() string {
	if d := os.Getenv("PGTEST_BINDIR"); d != "" {
		return d
	}
	return DefaultBinDir
}

func binariesPresent(dir string) bool {
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return false
		}
	}
	return true
}

// ClusterOptions configure StartCluster.
type ClusterOptions struct {
	// BinDir holds initdb and pg_ctl; default PGTEST_BINDIR or DefaultBinDir.
	BinDir string
	// Fsync turns on fsync and synchronous_commit (off by default for speed).
	Fsync bool
}

// Cluster is a throwaway PostgreSQL cluster.
type Cluster struct {
	bin     string
	dir     string // temp root, removed by Stop
	data    string
	sock    string
	logFile string
	port    int
	asUser  string // "postgres" when running as root, "" otherwise
	mu      sync.Mutex
	running bool
	// everStarted: later starts must reuse the port clients know.
	everStarted bool
}

// StartCluster initialises and starts a new cluster. Stop it with Stop.
func StartCluster(opts ClusterOptions) (*Cluster, error) {
	bin := opts.BinDir
	if bin == "" {
		bin = binDir()
	}
	if !binariesPresent(bin) {
		return nil, fmt.Errorf(installHint, bin)
	}
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		c.asUser = "postgres"
	}
	c.reapOrphans()
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	c.dir = dir
	// Who owns the cluster: a later run stops it if this process dies
	// without calling Stop (a killed or timed-out go test).
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.data = filepath.Join(dir, "data")
	c.sock = filepath.Join(dir, "sock")
	c.logFile = filepath.Join(dir, "postgres.log")
	if err := os.Mkdir(c.sock, 0o700); err != nil {
		return nil, err
	}
	if c.asUser != "" {
		if err := chownTree(dir, c.asUser); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if out, err := c.run("initdb", "-D", c.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	conf := "listen_addresses = '127.0.0.1'\n" +
		"unix_socket_directories = '" + c.sock + "'\n" +
		"max_connections = 100\nshared_buffers = 128MB\n"
	if !opts.Fsync {
		conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
	}
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	_, err = f.WriteString(conf)
	f.Close()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

// DSN returns a DSN for database db on this cluster (TCP on 127.0.0.1).
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// Port returns the TCP port.
func (c *Cluster) Port() int { return c.port }

// Start starts the server (again after Halt). Until the first start succeeds
// each attempt picks a free port; later starts reuse it.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return nil
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if !c.everStarted {
			p, err := freePort()
			if err != nil {
				return err
			}
			c.port = p
		}
		out, err := c.run("pg_ctl", "-D", c.data, "-l", c.logFile, "-w", "-t", "60",
			"-o", "-p "+strconv.Itoa(c.port), "start")
		if err == nil {
			c.running = true
			c.everStarted = true
			return nil
		}
		lastErr = fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, tail(c.logFile))
	}
	return lastErr
}

// Halt stops the server (pg_ctl stop -m fast) but keeps its data, so Start can
// bring it back. Durability tests use it to simulate an outage.
func (c *Cluster) Halt() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	out, err := c.run("pg_ctl", "-D", c.data, "-w", "-t", "60", "-m", "fast", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	c.running = false
	return nil
}

const ownerFile = "owner.pid"

// reapOrphans stops and removes the clusters of earlier test processes that
// died without stopping them (their owner PID no longer exists).
func (c *Cluster) reapOrphans() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgtest-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours to judge (no owner recorded)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // the owner is alive (or unknown)
		}
		orphan := &Cluster{bin: c.bin, asUser: c.asUser, dir: dir, data: filepath.Join(dir, "data")}
		_, _ = orphan.run("pg_ctl", "-D", orphan.data, "-w", "-t", "30", "-m", "immediate", "stop")
		_ = os.RemoveAll(dir)
	}
}

// Stop stops the server and removes its files.
func (c *Cluster) Stop() {
	c.mu.Lock()
	if c.running {
		c.run("pg_ctl", "-D", c.data, "-w", "-t", "60", "-m", "immediate", "stop")
		c.running = false
	}
	c.mu.Unlock()
	os.RemoveAll(c.dir)
}

// run executes a PostgreSQL binary, as the postgres user when we are root.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "PGTZ=UTC", "TZ=UTC")
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	return buf.Bytes(), err
}

func chownTree(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("pgtest: running as root needs user %q: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
