package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/database"
)

// Creating and dropping a database each cost PostgreSQL two checkpoints,
// 0.2 s alone and about 0.7 s under parallel tests: most of an HTTP
// test's time. So a package whose TestMain calls Main hands a finished
// test's database to the next test instead of dropping it, after putting it
// back into the template's state: every table truncated, and the schema
// checked unchanged (a test that altered it gets its database dropped).

// Main runs a package's tests with database reuse, then drops the databases
// kept for reuse. Call it from TestMain: os.Exit(testdb.Main(m)).
func Main(m *testing.M) int {
	reused.mu.Lock()
	reused.enabled = true
	reused.mu.Unlock()
	code := m.Run()
	reused.drain(context.Background())
	return code
}

// reuse is the process's stock of clean migrated databases.
type reuse struct {
	mu      sync.Mutex
	enabled bool
	free    []*database.Scratch
	// print is the template's schema fingerprint and tables its tables in
	// deletion order; both read from the first database made from it.
	print  string
	tables []string
}

var reused reuse

// take returns a clean database, with its pool, or nil when there is none
// (or reuse is off, or the caller wants a fresh one). The pool is kept
// across tests: its connections are warm, and neither our code nor the
// tests leave session state on them.
func (r *reuse) take(ctx context.Context, reusable bool) (*database.Scratch, error) {
	if !reusable {
		return nil, nil
	}
	r.mu.Lock()
	if !r.enabled || len(r.free) == 0 {
		r.mu.Unlock()
		return nil, nil
	}
	s := r.free[len(r.free)-1]
	r.free = r.free[:len(r.free)-1]
	r.mu.Unlock()
	// The previous test may have resized the pool (one connection, to see
	// its session): the next gets the usual one.
	s.DB.SetMaxOpenConns(testPool.MaxOpenConns)
	s.DB.SetMaxIdleConns(testPool.MaxIdleConns)
	return s, nil
}

// put resets a finished test's database and keeps it; false means it
// could not be reset and must be dropped.
func (r *reuse) put(ctx context.Context, admin *sql.DB, s *database.Scratch) bool {
	r.mu.Lock()
	enabled := r.enabled
	r.mu.Unlock()
	if !enabled || reset(ctx, r, s) != nil {
		return false
	}
	// Connections of pools the code under test opened itself must not
	// outlive the test that owned them.
	_, err := admin.ExecContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND application_name <> $2`, s.Name, testPool.ApplicationName)
	if err != nil {
		return false
	}
	s.DB.SetMaxIdleConns(1) // a waiting database holds one warm connection, not ten
	r.mu.Lock()
	r.free = append(r.free, s)
	r.mu.Unlock()
	return true
}

// reset deletes every row of the template's tables, children first, in
// one transaction, if the schema still has the template's fingerprint.
// DELETE, not TRUNCATE: on tables this small it is ten times cheaper.
func reset(ctx context.Context, r *reuse, s *database.Scratch) error {
	r.mu.Lock()
	want, tables := r.print, r.tables
	r.mu.Unlock()
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET LOCAL lock_timeout = '2s'"); err != nil {
		return err
	}
	var print string
	if err := tx.QueryRowContext(ctx, fingerprintSQL).Scan(&print); err != nil {
		return err
	}
	if want == "" || print != want {
		return fmt.Errorf("schema changed")
	}
	for _, table := range tables {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// tablesSQL lists the public tables, each after every table referencing
// it, so deleting in this order never breaks a foreign key.
const tablesSQL = `WITH RECURSIVE t AS (
    SELECT c.oid, 0 AS depth FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
  UNION ALL
    SELECT f.confrelid, t.depth + 1 FROM t JOIN pg_constraint f ON f.contype = 'f' AND f.conrelid = t.oid AND f.confrelid <> t.oid
    WHERE t.depth < 32
  )
  SELECT quote_ident(relname) FROM (SELECT oid, max(depth) AS depth FROM t GROUP BY oid) d JOIN pg_class c ON c.oid = d.oid
  ORDER BY d.depth, relname`

// fingerprintSQL hashes what a test must not change: columns, indexes,
// constraints, enum values and the applied migrations.
const fingerprintSQL = `SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT c.oid::regclass::text || ':' || c.relkind::text || ':' || coalesce(pg_get_indexdef(c.oid), '') AS x
    FROM pg_class c WHERE c.relnamespace IN ('public'::regnamespace, 'atlas_schema_revisions'::regnamespace)
  UNION ALL SELECT a.attrelid::regclass::text || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':' ||
      a.attnotnull::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace IN ('public'::regnamespace, 'atlas_schema_revisions'::regnamespace) AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT conrelid::regclass::text || '.' || conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace
  UNION ALL SELECT enumtypid::regtype::text || ':' || enumlabel || ':' || enumsortorder::text FROM pg_enum
  UNION ALL SELECT 'revision:' || version || ':' || hash FROM atlas_schema_revisions.atlas_schema_revisions
) s`

// remember records the template's fingerprint from a database just
// created from it, before any test touched it.
func (r *reuse) remember(ctx context.Context, s *database.Scratch) error {
	r.mu.Lock()
	known := !r.enabled || r.print != ""
	r.mu.Unlock()
	if known {
		return nil
	}
	var print string
	if err := s.DB.QueryRowContext(ctx, fingerprintSQL).Scan(&print); err != nil {
		return fmt.Errorf("schema fingerprint: %w", err)
	}
	rows, err := s.DB.QueryContext(ctx, tablesSQL)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	r.mu.Lock()
	r.print, r.tables = print, tables
	r.mu.Unlock()
	return nil
}

// drain drops every kept database.
func (r *reuse) drain(ctx context.Context) {
	r.mu.Lock()
	free := r.free
	r.free, r.enabled = nil, false
	r.mu.Unlock()
	for _, s := range free {
		_ = s.Drop(ctx)
	}
}

// Test databases are named agency_test_<unix seconds>_<random>, so that
// sweep can recognise the ones a killed test binary left behind.
const scratchBase = "agency_test_"

func scratchPrefix(now time.Time) string {
	return scratchBase + strconv.FormatInt(now.Unix(), 10) + "_"
}

// staleAfter is the age after which a test database is certainly no
// longer used: no test binary runs this long.
const staleAfter = 3 * time.Hour

// sweep drops test databases older than staleAfter (left by killed runs).
func sweep(ctx context.Context, admin *sql.DB, now time.Time) {
	rows, err := admin.QueryContext(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'agency\_test\_%'`)
	if err != nil {
		return
	}
	var stale []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) != nil {
			break
		}
		ts, _, ok := strings.Cut(strings.TrimPrefix(name, scratchBase), "_")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if ok && err == nil && now.Sub(time.Unix(sec, 0)) > staleAfter {
			stale = append(stale, name)
		}
	}
	rows.Close()
	for _, name := range stale {
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
}
