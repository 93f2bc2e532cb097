package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/app"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/testdb"
	"github.com/agency-platform/agency/migrations"
)

var listenRe = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServe runs `agency serve` with env and returns its base URL once it
// listens, and a stop function that returns run's error.
func startServe(t *testing.T, env []string) (string, *apitest.LogBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &apitest.LogBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env, &bytes.Buffer{}, logs) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listenRe.FindStringSubmatch(logs.String()); m != nil {
			stop := func() error { cancel(); return <-done }
			return "http://" + m[1], logs, stop
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve exited early: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServe_EmbeddedDefault starts the service as a new user would, with
// nothing configured but a free port: it must pick the embedded SQLite
// database, migrate it and be ready.
func TestServe_EmbeddedDefault(t *testing.T) {
	t.Chdir(t.TempDir())
	base, logs, stop := startServe(t, []string{"HTTP_ADDR=127.0.0.1:0"})
	if got := getStatus(t, base+"/readyz"); got != 200 {
		t.Fatalf("readyz: got %d, want 200\n%s", got, logs)
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := os.Stat(filepath.Join("data", "agency.db")); err != nil {
		t.Fatalf("embedded database file: %v", err)
	}
	if !strings.Contains(logs.String(), "using embedded SQLite database") {
		t.Fatalf("the log does not say which database is used:\n%s", logs)
	}
}

func TestServe_Postgres(t *testing.T) {
	t.Parallel()
	db := testdb.Empty(t)
	base, logs, stop := startServe(t, []string{"HTTP_ADDR=127.0.0.1:0", "DATABASE_URL=" + db.URL, "CLEANUP_INTERVAL=0"})
	if got := getStatus(t, base+"/readyz"); got != 200 {
		t.Fatalf("readyz: got %d, want 200\n%s", got, logs)
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if !strings.Contains(logs.String(), "using PostgreSQL database") {
		t.Fatalf("the log does not say which database is used:\n%s", logs)
	}
	var n int
	db.QueryRow(`SELECT count(*) FROM atlas_schema_revisions.atlas_schema_revisions`).Scan(&n)
	if n == 0 {
		t.Fatal("serve did not apply migrations")
	}
}

func TestServe_BadConfigNamesKey(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"serve"}, []string{"DB_MAX_OPEN_CONNS=0"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "DB_MAX_OPEN_CONNS") {
		t.Fatalf("got %v, want an error naming DB_MAX_OPEN_CONNS", err)
	}
}

// TestCommands walks the operator's commands against a fresh PostgreSQL
// database: status before and after apply, db check, cleanup, schema sql.
func TestCommands(t *testing.T) {
	t.Parallel()
	db := testdb.Empty(t)
	env := []string{"DATABASE_URL=" + db.URL}
	dir, err := migration.NewEmbeddedDir(migrations.FS, migration.Dir(migration.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := dir.Files()
	n := len(files)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "status"}, fmt.Sprintf("0 applied, %d pending", n)},
		{[]string{"migrate", "apply"}, "applied 2"},
		{[]string{"migrate", "apply"}, "database is up to date"},
		{[]string{"migrate", "status"}, fmt.Sprintf("%d applied, 0 pending", n)},
		{[]string{"db", "check"}, "users: 0"},
		{[]string{"cleanup"}, "deleted 0 expired OTPs, 0 expired sessions, 0 expired rate-limit counters, 0 old audit rows, 0 old webhook events"},
		{[]string{"schema", "sql", "--dialect", "postgres"}, `CREATE TYPE "user_role" AS ENUM`},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(context.Background(), tc.args, env, &out, &errOut); err != nil {
				t.Fatalf("%v: %v\n%s", tc.args, err, errOut.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Fatalf("%v: got %q, want it to contain %q", tc.args, out.String(), tc.want)
			}
		})
	}
	want, _ := os.ReadFile(filepath.Join("..", "..", "migrations", "desired", "postgres.sql"))
	var out bytes.Buffer
	if err := run(context.Background(), []string{"schema", "sql"}, nil, &out, &bytes.Buffer{}); err != nil || out.String() != string(want) {
		t.Fatalf("schema sql differs from migrations/desired/postgres.sql (err %v)", err)
	}
}

func TestDBCheck_FailsWithoutDatabase(t *testing.T) {
	t.Parallel()
	env := []string{"DATABASE_URL=postgres://postgres@127.0.0.1:1/none?sslmode=disable", "DB_CONNECT_TIMEOUT=1s"}
	err := run(context.Background(), []string{"db", "check"}, env, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("db check against no server: got success, want an error")
	}
}

// run executes one command line as main does.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	return app.Program{}.Run(ctx, args, env, stdout, stderr)
}

// TestMain runs the tests, or, with AGENCY_TEST_PROGRAM=1, makes this test
// binary the agency program itself (the bench suite's test starts it as
// its server).
func TestMain(m *testing.M) {
	if os.Getenv("AGENCY_TEST_PROGRAM") == "1" {
		spec, err := os.ReadFile(apitest.SpecPath())
		if err != nil {
			panic(err)
		}
		os.Exit(app.Program{OpenAPI: spec}.Main(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
	}
	os.Exit(testdb.Main(m))
}
