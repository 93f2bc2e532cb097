// Package testdb gives each test its own PostgreSQL database, copied from a
// template that was built by applying the real migration files, and
// dropped when the test ends. Tests never share state and never mock the
// database.
package testdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/migrations"
)

// DefaultServerURL is the PostgreSQL server tests use unless
// TEST_DATABASE_URL names another (any database on it; tests create their own).
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// howToStart is printed when the server does not answer.
const howToStart = `PostgreSQL is not reachable; tests need a real server.
Start the local one:  pg_ctlcluster --skip-systemctl-redirect 15 main start
or point TEST_DATABASE_URL at one (postgres://user@host:5432/postgres).`

// DB is one test's private database.
type DB struct {
	*sql.DB
	// URL connects to this database (for code under test that opens its own pool).
	URL string
	// Client is an Ent client on DB.
	Client *ent.Client
}

// ServerURL is the server tests run against.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultServerURL
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// New returns a fresh database with every migration applied, dropped when
// the test ends.
func New(t testing.TB) *DB {
	t.Helper()
	admin := adminDB(t)
	templateOnce.Do(func() {
		sweep(context.Background(), admin, time.Now())
		templateName, templateErr = ensureTemplate(admin)
	})
	if templateErr != nil {
		t.Fatalf("testdb: build template: %v", templateErr)
	}
	return create(t, admin, templateName)
}

// Empty returns a fresh database with no tables at all, dropped when the
// test ends (for migration tests).
func Empty(t testing.TB) *DB {
	t.Helper()
	return create(t, adminDB(t), "template0")
}

func create(t testing.TB, admin *sql.DB, template string) *DB {
	t.Helper()
	ctx := context.Background()
	reusable := template != "template0"
	s, err := reused.take(ctx, reusable)
	if s == nil && err == nil {
		s, err = database.CreateScratch(ctx, admin, ServerURL(), scratchPrefix(time.Now()), template, testPool)
		if err == nil && reusable {
			if err = reused.remember(ctx, s); err != nil {
				_ = s.Drop(ctx)
			}
		}
	}
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if reusable && reused.put(ctx, admin, s) {
			return
		}
		if err := s.Drop(ctx); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	return &DB{DB: s.DB, URL: s.URL, Client: database.NewClient(s.DB, migration.Postgres)}
}

// testPool sizes each test's connection pool: the service's default
// DB_MAX_OPEN_CONNS, so parallel tests and the two test binaries go test
// runs at once stay within PostgreSQL's default 100 connections.
var testPool = database.Pool{MaxOpenConns: 10, MaxIdleConns: 10, ConnectTimeout: 5 * time.Second, ApplicationName: "agency_testdb"}

var (
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
)

// adminDB is the shared connection to the server used to create databases.
func adminDB(t testing.TB) *sql.DB {
	t.Helper()
	adminOnce.Do(func() {
		admin, adminErr = database.OpenPostgres(context.Background(), ServerURL(),
			database.Pool{MaxOpenConns: 4, MaxIdleConns: 2, ConnectTimeout: 3 * time.Second})
	})
	if adminErr != nil {
		t.Fatalf("testdb: %v\n%s", adminErr, howToStart)
	}
	return admin
}

// ensureTemplate builds (once per migration set, shared by all test
// binaries) a template database with every migration applied. Its name
// carries a hash of the migration files, so a changed migration gets a new
// template. An advisory lock keeps parallel test binaries from racing.
func ensureTemplate(admin *sql.DB) (string, error) {
	ctx := context.Background()
	name := "agency_tmpl_" + migrationsHash()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(hashtext('agency_testdb_template'))"); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, "SELECT pg_advisory_unlock(hashtext('agency_testdb_template'))")
	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	build := name + "_build"
	_, _ = conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+build+" WITH (FORCE)")
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+build+" TEMPLATE template0"); err != nil {
		return "", err
	}
	if err := migrateDatabase(ctx, withDatabase(ServerURL(), build)); err != nil {
		return "", err
	}
	// Rename only when complete, so a half-built template is never used.
	if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+build+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}

func migrateDatabase(ctx context.Context, u string) error {
	db, err := database.OpenPostgres(ctx, u, database.Pool{MaxOpenConns: 2, MaxIdleConns: 1})
	if err != nil {
		return err
	}
	defer db.Close()
	dir, err := migration.NewEmbeddedDir(migrations.FS, migration.Dir(migration.Postgres))
	if err != nil {
		return err
	}
	_, err = migration.Apply(ctx, db, migration.Postgres, dir)
	return err
}

// migrationsHash identifies the embedded PostgreSQL migration set.
func migrationsHash() string { return dirHash(migration.Postgres) }

// dirHash identifies the embedded migration set of dialect d.
func dirHash(d string) string {
	h := sha256.New()
	_ = fs.WalkDir(migrations.FS, migration.Dir(d), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, p)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(p), len(b))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func withDatabase(server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		panic(fmt.Sprintf("testdb: bad TEST_DATABASE_URL: %v", err))
	}
	u.Path = "/" + name
	return u.String()
}
