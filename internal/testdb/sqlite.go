package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/migrations"
)

// SQLiteDB is one test's private embedded database file.
type SQLiteDB struct {
	*sql.DB
	// Path is the database file (for code under test that opens its own pool).
	Path string
	// Client is an Ent client on DB.
	Client *ent.Client
}

var (
	sqliteOnce sync.Once
	sqliteTmpl string
	sqliteErr  error
)

// NewSQLite returns a fresh SQLite database file in the test's temp folder,
// with every migration applied: a copy of a template file migrated once per
// migration set (as New does for PostgreSQL).
func NewSQLite(t testing.TB) *SQLiteDB {
	t.Helper()
	sqliteOnce.Do(func() { sqliteTmpl, sqliteErr = ensureSQLiteTemplate() })
	if sqliteErr != nil {
		t.Fatalf("testdb: build SQLite template: %v", sqliteErr)
	}
	b, err := os.ReadFile(sqliteTmpl)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	path := filepath.Join(t.TempDir(), "agency.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	db, err := database.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return &SQLiteDB{DB: db, Path: path, Client: database.NewClient(db, migration.SQLite)}
}

// ensureSQLiteTemplate builds, once per migration set and shared by all
// test binaries, a migrated SQLite file in the system temp folder. It is
// written under a private name and renamed into place, so a reader never
// sees a half-built file.
func ensureSQLiteTemplate() (string, error) {
	path := filepath.Join(os.TempDir(), "agency-test-sqlite-"+dirHash(migration.SQLite)+".db")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp, err := os.MkdirTemp("", "agency-test-sqlite-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	build := filepath.Join(tmp, "agency.db")
	if err := migrateSQLite(build); err != nil {
		return "", err
	}
	if err := os.Rename(build, path); err != nil {
		return "", err
	}
	return path, nil
}

// migrateSQLite applies the migrations to a new file and leaves it a single
// self-contained file (no WAL beside it).
func migrateSQLite(path string) error {
	ctx := context.Background()
	db, err := database.OpenSQLite(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	dir, err := migration.NewEmbeddedDir(migrations.FS, migration.Dir(migration.SQLite))
	if err != nil {
		return err
	}
	if _, err := migration.Apply(ctx, db, migration.SQLite, dir); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "PRAGMA journal_mode=DELETE"); err != nil {
		return fmt.Errorf("leave WAL mode: %w", err)
	}
	return nil
}
