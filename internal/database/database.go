// Package database opens the service's database: PostgreSQL through lib/pq
// when a URL is configured, else an embedded SQLite file (pure Go, no cgo).
package database

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq" // registers "postgres"
	"modernc.org/sqlite"

	"github.com/agency-platform/agency/ent"
)

// SQLiteDriver is the database/sql driver name the embedded database uses.
// Ent and Atlas know SQLite as "sqlite3", so modernc's driver is registered
// under that name.
const SQLiteDriver = dialect.SQLite

var registerOnce sync.Once

// registerSQLite registers modernc's driver as "sqlite3" once per process.
func registerSQLite() {
	registerOnce.Do(func() { sql.Register(SQLiteDriver, &sqlite.Driver{}) })
}

// Pool sizes and timeouts of the connection pool.
type Pool struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxIdleTime time.Duration
	ConnMaxLifetime time.Duration
	ConnectTimeout  time.Duration
	// ApplicationName names the connections in pg_stat_activity; empty
	// keeps the URL's own (or none).
	ApplicationName string
}

// OpenPostgres opens a pool on a postgres:// URL and waits, up to the
// connect timeout, for the database to answer: one that is still starting,
// or a failover in progress, is waited for rather than given up on.
func OpenPostgres(ctx context.Context, rawURL string, p Pool) (*sql.DB, error) {
	dsn, err := dsnOf(rawURL, p)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(p.MaxOpenConns)
	db.SetMaxIdleConns(p.MaxIdleConns)
	db.SetConnMaxIdleTime(p.ConnMaxIdleTime)
	db.SetConnMaxLifetime(p.ConnMaxLifetime)
	if err := pingUntil(ctx, db, p.ConnectTimeout); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return db, nil
}

// pingUntil pings db until it answers or timeout has passed, waiting
// between tries from 100 ms, doubling up to 2 s.
func pingUntil(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := db.PingContext(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// dsnOf adds lib/pq's connect_timeout (whole seconds), the pool's
// application_name and binary_parameters unless the URL sets them.
// binary_parameters=yes makes lib/pq send a query with arguments in one
// round trip (Parse, Bind, Execute, Sync) instead of two (Parse and
// Describe, then Bind and Execute); it sends []byte arguments in binary
// format, which only bytea columns would receive (the schema has none
// today; a jsonb column would need its arguments as strings).
func dsnOf(rawURL string, p Pool) (string, error) {
	d := p.ConnectTimeout
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("open postgres: DATABASE_URL is not a valid URL")
	}
	q := u.Query()
	if q.Get("connect_timeout") == "" && d > 0 {
		secs := int(d.Round(time.Second) / time.Second)
		q.Set("connect_timeout", fmt.Sprint(max(secs, 1)))
	}
	if q.Get("application_name") == "" && p.ApplicationName != "" {
		q.Set("application_name", p.ApplicationName)
	}
	if q.Get("binary_parameters") == "" {
		q.Set("binary_parameters", "yes")
	}
	if q.Get("sslmode") == "" && isLocal(u.Hostname()) {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// isLocal reports a loopback host, where TLS is pointless and usually off.
func isLocal(host string) bool {
	return host == "" || host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

// OpenSQLite opens (creating it and its folder when missing) the embedded
// database file with foreign keys enforced, WAL journaling and a busy
// timeout, so concurrent requests wait instead of failing.
func OpenSQLite(ctx context.Context, path string) (*sql.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite: create %s: %w", dir, err)
		}
	}
	return openSQLiteDSN(ctx, "file:"+path+"?"+sqlitePragmas+"&_pragma=journal_mode(WAL)")
}

// OpenSQLiteMemory opens a private in-memory SQLite database (a dev database
// for diffs); it lives until the returned pool is closed.
func OpenSQLiteMemory(ctx context.Context) (*sql.DB, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	db, err := openSQLiteDSN(ctx, "file:mem"+hex.EncodeToString(b)+"?mode=memory&cache=shared&"+sqlitePragmas)
	if err != nil {
		return nil, err
	}
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	db.SetMaxIdleConns(1) // keep one connection so the memory database survives
	return db, nil
}

// _txlock=immediate makes every transaction take the write lock at BEGIN, so
// a read-then-write transaction never fails on a stale snapshot; SQLite
// serialises writers anyway.
const sqlitePragmas = "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_time_format=sqlite&_txlock=immediate"

func openSQLiteDSN(ctx context.Context, dsn string) (*sql.DB, error) {
	registerSQLite()
	db, err := sql.Open(SQLiteDriver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if err := ping(ctx, db, 10*time.Second); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	return db, nil
}

func ping(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return db.PingContext(ctx)
}

// NewClient wraps an open pool in an Ent client of the given dialect.
func NewClient(db *sql.DB, d string) *ent.Client {
	return ent.NewClient(ent.Driver(driverOf(db, d)))
}

// NewServiceClient is the client the running service uses: NewClient with
// the driver guarded (see Guard) by timeout per statement and transaction,
// keeping idle idle connections, and, on PostgreSQL when prepared is set,
// every statement prepared (prepared.go). wrap, when not nil, wraps the
// whole (tests count statements with it).
func NewServiceClient(db *sql.DB, d string, timeout time.Duration, idle int, prepared bool, wrap func(dialect.Driver) dialect.Driver) *ent.Client {
	return ent.NewClient(ent.Driver(NewServiceDriver(db, d, timeout, idle, prepared, wrap)))
}

// NewServiceDriver is the driver under NewServiceClient.
func NewServiceDriver(db *sql.DB, d string, timeout time.Duration, idle int, prepared bool, wrap func(dialect.Driver) dialect.Driver) dialect.Driver {
	drv := driverOf(db, d)
	if prepared && d == dialect.Postgres {
		drv = newPreparedDriver(db, d)
	}
	drv = Guard(drv, db, timeout, idle)
	if wrap != nil {
		drv = wrap(drv)
	}
	return drv
}

// NewDriver is NewClient's driver: Ent's driver on the pool (with times
// kept in UTC on SQLite).
func NewDriver(db *sql.DB, d string) dialect.Driver { return driverOf(db, d) }

func driverOf(db *sql.DB, d string) dialect.Driver {
	var drv dialect.Driver = entsql.OpenDB(d, db)
	if d == dialect.SQLite {
		drv = utcDriver{drv}
	}
	return drv
}
