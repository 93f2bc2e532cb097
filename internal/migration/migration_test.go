package migration_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"ariga.io/atlas/sql/migrate"

	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/testdb"
	"github.com/agency-platform/agency/migrations"
)

// embedded returns a private in-memory copy of the committed directory.
func embedded(t *testing.T, d string) *migrate.MemDir {
	t.Helper()
	dir, err := migration.NewEmbeddedDir(migrations.FS, migration.Dir(d))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func sqliteDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := database.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "agency.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestApply_FromEmpty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		dialect string
		open    func(t *testing.T) *sql.DB
	}{
		{migration.Postgres, func(t *testing.T) *sql.DB { return testdb.Empty(t).DB }},
		{migration.SQLite, sqliteDB},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			db := tc.open(t)
			dir := embedded(t, tc.dialect)
			files, _ := dir.Files()
			applied, err := migration.Apply(ctx, db, tc.dialect, dir)
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if len(applied) != len(files) || len(files) == 0 {
				t.Fatalf("applied %d files, want %d", len(applied), len(files))
			}
			again, err := migration.Apply(ctx, db, tc.dialect, dir)
			if err != nil || len(again) != 0 {
				t.Fatalf("re-apply: got %v, %v; want nothing applied", again, err)
			}
			st, err := migration.ReadStatus(ctx, db, tc.dialect, dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Applied) != len(files) || len(st.Pending) != 0 {
				t.Fatalf("status: got %d applied %d pending, want %d and 0", len(st.Applied), len(st.Pending), len(files))
			}
			for _, table := range []string{"users", "user_auth_identities", "user_refresh_tokens", "phone_otps"} {
				if _, err := db.ExecContext(ctx, "SELECT count(*) FROM "+table); err != nil {
					t.Errorf("table %s: %v", table, err)
				}
			}
		})
	}
}

// TestApply_AtlasRevisionRows checks the history rows have the Atlas CLI's
// layout and content, so the CLI reads our history as its own.
func TestApply_AtlasRevisionRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.Empty(t)
	dir := embedded(t, migration.Postgres)
	if _, err := migration.Apply(ctx, db.DB, migration.Postgres, dir); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = 'atlas_schema_revisions' AND table_name = 'atlas_schema_revisions' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var c string
		rows.Scan(&c)
		cols = append(cols, c)
	}
	rows.Close()
	want := "version,description,type,applied,total,executed_at,execution_time,error,error_stmt,hash,partial_hashes,operator_version"
	if got := strings.Join(cols, ","); got != want {
		t.Fatalf("columns: got %s, want %s", got, want)
	}
	sum, _ := dir.Checksum()
	files, _ := dir.Files()
	for _, f := range files {
		var typ, applied, total int
		var hash, desc string
		err := db.QueryRowContext(ctx, `SELECT type, applied, total, hash, description
			FROM atlas_schema_revisions.atlas_schema_revisions WHERE version = $1`, f.Version()).
			Scan(&typ, &applied, &total, &hash, &desc)
		if err != nil {
			t.Fatalf("revision %s: %v", f.Version(), err)
		}
		wantHash, _ := sum.SumByName(f.Name())
		stmts, _ := f.Stmts()
		if typ != int(migrate.RevisionTypeExecute) || applied != len(stmts) || total != len(stmts) || hash != wantHash || desc != f.Desc() {
			t.Errorf("revision %s: got type=%d applied=%d total=%d hash=%s desc=%s; want %d %d %d %s %s",
				f.Version(), typ, applied, total, hash, desc, migrate.RevisionTypeExecute, len(stmts), len(stmts), wantHash, f.Desc())
		}
	}
}

func TestApply_RefusesTampering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("edited_without_rehash", func(t *testing.T) {
		t.Parallel()
		db := testdb.Empty(t)
		dir := embedded(t, migration.Postgres)
		files, _ := dir.Files()
		f := files[0]
		dir.WriteFile(f.Name(), append(f.Bytes(), []byte("\nCREATE TABLE sneaky (id int);\n")...))
		_, err := migration.Apply(ctx, db.DB, migration.Postgres, dir)
		if !errors.Is(err, migrate.ErrChecksumMismatch) {
			t.Fatalf("got %v, want checksum mismatch", err)
		}
	})
	t.Run("applied_then_edited_and_rehashed", func(t *testing.T) {
		t.Parallel()
		db := testdb.Empty(t)
		dir := embedded(t, migration.Postgres)
		if _, err := migration.Apply(ctx, db.DB, migration.Postgres, dir); err != nil {
			t.Fatal(err)
		}
		files, _ := dir.Files()
		f := files[0]
		dir.WriteFile(f.Name(), append(f.Bytes(), []byte("\n-- edited after the fact\n")...))
		sum, err := dir.Checksum()
		if err != nil {
			t.Fatal(err)
		}
		if err := migrate.WriteSumFile(dir, sum); err != nil {
			t.Fatal(err)
		}
		_, err = migration.Apply(ctx, db.DB, migration.Postgres, dir)
		if err == nil || !strings.Contains(err.Error(), "changed after it was applied") {
			t.Fatalf("got %v, want the tampered file refused", err)
		}
	})
}

// TestApply_Concurrent starts several appliers at once on one empty
// database, as several instances booting together would: the advisory lock
// lets exactly one apply each file.
func TestApply_Concurrent(t *testing.T) {
	t.Parallel()
	for i := 0; i < 3; i++ {
		t.Run(fmt.Sprintf("round_%d", i), func(t *testing.T) {
			t.Parallel()
			applyConcurrently(t, i)
		})
	}
}

// applyConcurrently starts six appliers at once on one empty database:
// the migrations must be applied exactly once in all.
func applyConcurrently(t *testing.T, i int) {
	t.Helper()
	ctx := context.Background()
	db := testdb.Empty(t)
	const n = 6
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		total int
		errs  []error
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			applied, err := migration.Apply(ctx, db.DB, migration.Postgres, embedded(t, migration.Postgres))
			mu.Lock()
			defer mu.Unlock()
			total += len(applied)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	files, _ := embedded(t, migration.Postgres).Files()
	if len(errs) > 0 || total != len(files) {
		t.Fatalf("round %d: got %d files applied in all and errors %v; want %d and none", i, total, errs, len(files))
	}
}

// TestDrift fails when someone changes the Ent schema without generating a
// migration, or the desired-state files are stale.
func TestDrift(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, d := range []string{migration.Postgres, migration.SQLite} {
		t.Run(d, func(t *testing.T) {
			var dev *sql.DB
			if d == migration.Postgres {
				dev = testdb.Empty(t).DB
			} else {
				var err error
				if dev, err = database.OpenSQLiteMemory(ctx); err != nil {
					t.Fatal(err)
				}
				defer dev.Close()
			}
			drift, err := migration.Drift(ctx, d, embedded(t, d), dev)
			if err != nil {
				t.Fatal(err)
			}
			if drift != "" {
				t.Fatalf("the Ent schema and migrations/%s disagree; run `go run . migrate diff NAME`. Missing:\n%s", migration.Dir(d), drift)
			}
			want, err := migration.DesiredSQL(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join("..", "..", "migrations", "desired", migration.Dir(d)+".sql"))
			if err != nil || string(got) != want {
				t.Fatalf("migrations/desired/%s.sql is stale (err %v); run `go run . migrate diff NAME`", migration.Dir(d), err)
			}
		})
	}
}

// TestDesiredSQL_MatchesMigrations builds a database from the desired-state
// file (what the Atlas CLI community build reads) and checks a migration
// diff against it is empty, so the file and the directory describe one schema.
func TestDesiredSQL_MatchesMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.Empty(t)
	text, err := migration.DesiredSQL(ctx, migration.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, text); err != nil {
		t.Fatalf("desired SQL does not apply: %v", err)
	}
	viaMigrations := testdb.Empty(t)
	if _, err := migration.Apply(ctx, viaMigrations.DB, migration.Postgres, embedded(t, migration.Postgres)); err != nil {
		t.Fatal(err)
	}
	if a, b := describe(t, db.DB), describe(t, viaMigrations.DB); a != b {
		t.Fatalf("schemas differ:\ndesired:\n%s\nmigrations:\n%s", a, b)
	}
}

// describe prints a PostgreSQL schema's columns, constraints, indexes and
// enum types in a stable order.
func describe(t *testing.T, db *sql.DB) string {
	t.Helper()
	q := `SELECT 'col ' || table_name || '.' || column_name || ' ' || udt_name || ' ' ||
	        coalesce(character_maximum_length::text, '-') || ' ' || is_nullable || ' ' || coalesce(column_default, '-')
	      FROM information_schema.columns WHERE table_schema = 'public'
	      UNION ALL
	      SELECT 'con ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
	      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
	      UNION ALL
	      SELECT 'idx ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
	      UNION ALL
	      SELECT 'enum ' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
	      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname
	      ORDER BY 1`
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

// TestApply_ConcurrentSQLite applies migrations to several SQLite files and
// to one file from several goroutines at once; none may fail on a lock.
func TestApply_ConcurrentSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	shared := sqliteDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := make(chan struct{})
	for i := range 8 {
		db := shared
		if i%2 == 0 {
			db = sqliteDB(t)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := migration.Apply(ctx, db, migration.SQLite, embedded(t, migration.SQLite))
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent SQLite apply: %v", err)
		}
	}
	st, err := migration.ReadStatus(ctx, shared, migration.SQLite, embedded(t, migration.SQLite))
	files, _ := embedded(t, migration.SQLite).Files()
	if err != nil || len(st.Applied) != len(files) {
		t.Fatalf("shared file: got %d applied (err %v), want %d", len(st.Applied), err, len(files))
	}
}
