package database_test

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/user"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// onOneConnection returns the service's client on a test database whose
// pool holds a single connection, so a query of the pool sees the session
// the client's statements ran in.
func onOneConnection(t *testing.T, prepared bool) (*ent.Client, *sql.DB) {
	t.Helper()
	db := testdb.New(t).DB
	db.SetMaxOpenConns(1)
	return database.NewServiceClient(db, migration.Postgres, 3*time.Second, 1, prepared, nil), db
}

// preparedCount is the number of statements prepared in the pool's session.
func preparedCount(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM pg_prepared_statements").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPrepared_StatementsRunByName runs the same queries, in and out of a
// transaction, several times: each distinct text is prepared once in the
// session (a text first seen in a transaction is prepared in the
// background, never on a second connection the transaction would wait
// for: this pool has one), and with DB_PREPARED_STATEMENTS off none is.
func TestPrepared_StatementsRunByName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prepared bool
		want     int
	}{{true, 4}, {false, 0}} { // INSERT, SELECT, UPDATE and the UPDATE's read-back
		client, db := onOneConnection(t, tc.prepared)
		ctx := context.Background()
		before := preparedCount(t, db) // a reused test database's session may hold others
		for range 3 {
			u := client.User.Create().SaveX(ctx)                // INSERT
			client.User.Query().Where(user.ID(u.ID)).OnlyX(ctx) // SELECT
			tx, err := client.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tx.User.Query().Where(user.ID(u.ID)).OnlyX(ctx)       // the same SELECT, in the transaction
			tx.User.UpdateOneID(u.ID).SetFullName("A").ExecX(ctx) // UPDATE
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		got := preparedCount(t, db) - before
		for deadline := time.Now().Add(2 * time.Second); got < tc.want && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond) // the background preparation of the UPDATE's texts
			got = preparedCount(t, db) - before
		}
		if got != tc.want {
			t.Errorf("prepared=%v: got %d statements prepared in the session, want %d", tc.prepared, got, tc.want)
		}
	}
}

// TestPrepared_StaleStatement changes the type of a column a prepared
// statement returns, as a migration of a newer release may while this one
// serves: PostgreSQL refuses the old statement ("cached plan must not change
// result type"); the driver runs the query unnamed instead and prepares it
// afresh, so no request fails outside a transaction.
func TestPrepared_StaleStatement(t *testing.T) {
	t.Parallel()
	client, db := onOneConnection(t, true)
	ctx := context.Background()
	u := client.User.Create().SetFullName("Ada").SaveX(ctx)
	read := func() string {
		t.Helper()
		got, err := client.User.Query().Where(user.ID(u.ID)).Only(ctx)
		if err != nil {
			t.Fatalf("read after the column changed type: %v", err)
		}
		return *got.FullName
	}
	read()
	if _, err := db.Exec("ALTER TABLE users ALTER COLUMN full_name TYPE text"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got := read(); got != "Ada" {
			t.Fatalf("got full_name %q, want Ada", got)
		}
	}
}
