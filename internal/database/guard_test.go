package database_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"

	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/testdb"
)

// freezer is a TCP proxy to PostgreSQL that can stop passing bytes while
// keeping every connection open: a server (or a PgBouncer without one)
// that accepted a statement and never answers, nor answers a cancel.
type freezer struct {
	ln     net.Listener
	frozen atomic.Bool
	wg     sync.WaitGroup
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			f.wg.Add(2)
			go f.pipe(c, s)
			go f.pipe(s, c)
		}
	}()
	t.Cleanup(func() { f.frozen.Store(false); ln.Close() })
	return f
}

func (f *freezer) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for f.frozen.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				src.Close()
			}
			return
		}
	}
}

// TestGuard_AnswersAtTheDeadline: with the connection frozen mid-statement,
// a statement, a BEGIN and a statement inside a transaction each return
// within the driver's deadline (DB_QUERY_TIMEOUT), as a lost connection
// (503 for the client), instead of waiting for an answer that does not
// come (lib/pq sends a cancel request and waits for the server).
func TestGuard_AnswersAtTheDeadline(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testdb.New(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	f := newFreezer(t, u.Host)
	u.Host = f.ln.Addr().String()
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(4)
	const deadline = 300 * time.Millisecond
	drv := database.NewServiceDriver(db, migration.Postgres, deadline, 4, false, nil)
	ctx := context.Background()
	query := func() error {
		rows := &entsql.Rows{}
		if err := drv.Query(ctx, "SELECT 1", []any{}, rows); err != nil {
			return err
		}
		return rows.Close()
	}
	if err := query(); err != nil {
		t.Fatalf("before the freeze: %v", err)
	}
	tx, err := drv.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}

	f.frozen.Store(true)
	for name, op := range map[string]func() error{
		"statement": query,
		"statement in a transaction": func() error {
			rows := &entsql.Rows{}
			return tx.Query(ctx, "SELECT 1", []any{}, rows)
		},
		"begin": func() error {
			_, err := drv.Tx(ctx)
			return err
		},
	} {
		start := time.Now()
		err := op()
		took := time.Since(start)
		if err == nil || !database.ConnectionLost(err) || took > deadline+time.Second {
			t.Errorf("%s on a frozen connection: got %v after %v, want a lost connection within the deadline (%v)", name, err, took, deadline)
		}
	}
	if err := tx.Rollback(); err != nil {
		t.Errorf("rollback after an abandoned statement: %v", err)
	}
	f.frozen.Store(false)
}

// TestGuard_RequestBudget: the statements of one request share one
// timeout: with 500 ms, two statements of 200 ms pass, the third is cut at
// the 100 ms left, and a fourth is refused at once. Without a budget (a
// background job), each statement has the whole timeout.
func TestGuard_RequestBudget(t *testing.T) {
	t.Parallel()
	db := testdb.New(t).DB
	drv := database.NewServiceDriver(db, migration.Postgres, 500*time.Millisecond, 4, false, nil)
	sleep := func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		rows := &entsql.Rows{}
		if err := drv.Query(ctx, "SELECT pg_sleep(0.2)", []any{}, rows); err != nil {
			return time.Since(start), err
		}
		for rows.Next() {
		}
		return time.Since(start), rows.Close()
	}
	req := database.WithBudget(context.Background())
	for i := range 2 {
		if _, err := sleep(req); err != nil {
			t.Fatalf("statement %d within the budget: %v", i+1, err)
		}
	}
	took, err := sleep(req)
	if err == nil || !database.ConnectionLost(err) || took > 250*time.Millisecond {
		t.Fatalf("third statement with 100 ms of budget left: got %v after %v, want a timeout within about 100 ms", err, took)
	}
	took, err = sleep(req)
	if err == nil || took > 20*time.Millisecond {
		t.Fatalf("a statement with the budget spent: got %v after %v, want a refusal at once", err, took)
	}
	for i := range 4 {
		if _, err := sleep(context.Background()); err != nil {
			t.Fatalf("background statement %d: %v", i+1, err)
		}
	}
}

// TestConnectionLost_ServerCannotWrite: a server that cannot write is an
// outage of the write path (503 and Retry-After), both for a single
// statement (25006) and for a transaction, which a standby refuses at its
// BEGIN READ WRITE with 0A000 (the deployment tests met it on a real
// standby: logout, a transaction since the audit trail, answered 500).
func TestConnectionLost_ServerCannotWrite(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  *pq.Error
		want bool
	}{
		{&pq.Error{Code: "25006", Message: "cannot execute DELETE in a read-only transaction"}, true},
		{&pq.Error{Code: "0A000", Message: "cannot set transaction read-write mode during recovery"}, true},
		{&pq.Error{Code: "0A000", Message: "cannot use RETURNING with this"}, false},
		{&pq.Error{Code: "23505", Message: "duplicate key value violates unique constraint"}, false},
	} {
		if got := database.ConnectionLost(fmt.Errorf("logout: %w", c.err)); got != c.want {
			t.Errorf("%s %q: got %v, want %v", c.err.Code, c.err.Message, got, c.want)
		}
	}
}
