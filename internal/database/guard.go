package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"
)

// The service sits in front of every request: when its database stalls or
// goes away it must answer fast and recover alone. guardedDriver wraps the
// Ent driver for that:
//
//   - every statement, and every transaction as a whole, gets a deadline:
//     what is left of the request's DB_QUERY_TIMEOUT (WithBudget), or the
//     whole timeout outside a request, so a locked table or a connection
//     that never answers costs a request that long in all, not as long as
//     the stall lasts, and the answer comes at the deadline even when the
//     driver cannot stop the statement (within);
//   - a failure that means the connection or the server is gone empties the
//     pool's idle connections, so the next requests dial afresh instead of
//     each finding one more dead connection after a restart or failover.
type guardedDriver struct {
	dialect.Driver
	db      *sql.DB
	timeout time.Duration
	idle    int
}

// Guard wraps drv, whose pool is db (keeping idle idle connections), with
// timeout per request (WithBudget), else per statement and per
// transaction; 0 sets no deadline.
func Guard(drv dialect.Driver, db *sql.DB, timeout time.Duration, idle int) dialect.Driver {
	return &guardedDriver{Driver: drv, db: db, timeout: timeout, idle: idle}
}

// budgetKey holds a request's database budget in its context.
type budgetKey struct{}

// budget is the database time a request has used, in nanoseconds.
type budget struct{ spent atomic.Int64 }

// WithBudget gives the request of ctx one timeout (DB_QUERY_TIMEOUT) for
// all its statements and transactions together: each gets what the ones
// before left, so a request that waited 1 s on one statement waits at most
// the rest on the next, and its answer comes within the timeout of
// database time in all, however many statements it sends. Work without a
// budget (background jobs) gets the timeout per statement and transaction.
func WithBudget(ctx context.Context) context.Context {
	return context.WithValue(ctx, budgetKey{}, &budget{})
}

// deadline is the context of one statement or transaction; its cancel
// func, called when the call is over, charges the time to the request's
// budget.
func (d *guardedDriver) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.timeout <= 0 {
		return ctx, func() {}
	}
	b, _ := ctx.Value(budgetKey{}).(*budget)
	if b == nil {
		return context.WithTimeout(ctx, d.timeout)
	}
	start := time.Now()
	c, cancel := context.WithTimeout(ctx, d.timeout-time.Duration(b.spent.Load()))
	var once sync.Once
	return c, func() {
		once.Do(func() { b.spent.Add(int64(time.Since(start))) })
		cancel()
	}
}

// check empties the idle pool after a failure of the connection or server.
func (d *guardedDriver) check(err error) error {
	if err != nil && ConnectionLost(err) {
		d.db.SetMaxIdleConns(0)
		d.db.SetMaxIdleConns(d.idle)
	}
	return err
}

// within runs fn and returns its error, or, as soon as ctx ends while fn
// still runs, ctx's error: the request gets its answer at the deadline even
// when the driver cannot stop at it. lib/pq stops a statement by sending a
// cancel request and then waits for the server's answer; a PgBouncer whose
// server is gone (a failover in progress) holds the statement, and the
// cancel, until it gets a server again. The abandoned fn goes on in the
// background, and then is called with its error when it returns, to close
// rows or roll back what it opened.
func within(ctx context.Context, fn func() error, then func(error)) error {
	if ctx.Done() == nil {
		return fn()
	}
	if err := ctx.Err(); err != nil { // the request's budget is spent
		return fmt.Errorf("database: no answer in time: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done:
			return err
		default:
		}
		go func() { then(<-done) }()
		return fmt.Errorf("database: no answer in time: %w", ctx.Err())
	}
}

// closeRows closes rows a Query filled, if it filled any.
func closeRows(v any) {
	if rows, ok := v.(*entsql.Rows); ok && rows.ColumnScanner != nil {
		_ = rows.Close()
	}
}

// Exec implements dialect.Driver.
func (d *guardedDriver) Exec(ctx context.Context, query string, args, v any) error {
	ctx, cancel := d.deadline(ctx)
	defer cancel()
	return d.check(within(ctx, func() error { return d.Driver.Exec(ctx, query, args, v) }, func(error) {}))
}

// Query implements dialect.Driver. The deadline lasts until the rows are
// closed: they are read after Query returns.
func (d *guardedDriver) Query(ctx context.Context, query string, args, v any) error {
	ctx, cancel := d.deadline(ctx)
	abandoned := func(err error) {
		if err == nil {
			closeRows(v)
		}
		cancel()
	}
	if err := within(ctx, func() error { return d.Driver.Query(ctx, query, args, v) }, abandoned); err != nil {
		cancel()
		return d.check(err)
	}
	keepUntilClosed(v, cancel)
	return nil
}

// Tx implements dialect.Driver: the deadline covers the whole transaction,
// every statement in it included.
func (d *guardedDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	ctx, cancel := d.deadline(ctx)
	var tx dialect.Tx
	err := within(ctx, func() (err error) {
		tx, err = d.Driver.Tx(ctx)
		return err
	}, func(err error) {
		if err == nil {
			_ = tx.Rollback()
		}
		cancel()
	})
	if err != nil {
		cancel()
		return nil, d.check(err)
	}
	return &guardedTx{Tx: tx, d: d, ctx: ctx, cancel: cancel}, nil
}

// guardedTx is a transaction under its driver's deadline. Its statements
// run under the transaction's context (ctx, which carries the deadline);
// once one is abandoned at the deadline, the transaction is rolled back in
// the background when that statement returns.
type guardedTx struct {
	dialect.Tx
	d         *guardedDriver
	ctx       context.Context
	cancel    context.CancelFunc
	abandoned atomic.Bool
}

// run runs one statement of the transaction under its deadline.
func (t *guardedTx) run(fn func(ctx context.Context) error, then func(error)) error {
	err := within(t.ctx, func() error { return fn(t.ctx) }, then)
	if err != nil && t.ctx.Err() != nil && errors.Is(err, t.ctx.Err()) {
		t.abandoned.Store(true)
	}
	return t.d.check(err)
}

func (t *guardedTx) Exec(_ context.Context, query string, args, v any) error {
	return t.run(func(ctx context.Context) error { return t.Tx.Exec(ctx, query, args, v) }, func(error) {})
}

func (t *guardedTx) Query(_ context.Context, query string, args, v any) error {
	return t.run(func(ctx context.Context) error { return t.Tx.Query(ctx, query, args, v) }, func(err error) {
		if err == nil {
			closeRows(v)
		}
	})
}

// ExecContext passes statements built with Ent's SQL builder through.
func (t *guardedTx) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	e, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("database: transaction cannot run raw statements")
	}
	var res sql.Result
	err := t.run(func(ctx context.Context) (err error) {
		res, err = e.ExecContext(ctx, query, args...)
		return err
	}, func(error) {})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// QueryContext passes raw queries (advisory locks) through.
func (t *guardedTx) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, error) {
	q, ok := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("database: transaction cannot run raw queries")
	}
	var rows *sql.Rows
	err := t.run(func(ctx context.Context) (err error) {
		rows, err = q.QueryContext(ctx, query, args...)
		return err
	}, func(err error) {
		if err == nil {
			rows.Close()
		}
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// Commit commits, unless a statement was abandoned or the deadline has
// passed: then the transaction is rolled back (once that statement
// returns), and Commit fails.
func (t *guardedTx) Commit() error {
	if t.abandoned.Load() || t.ctx.Err() != nil {
		t.rollbackLater()
		return fmt.Errorf("database: commit after a statement got no answer in time: %w", context.DeadlineExceeded)
	}
	defer t.cancel()
	return t.d.check(within(t.ctx, t.Tx.Commit, func(error) {}))
}

// Rollback rolls back; after an abandoned statement, in the background
// (database/sql waits for that statement to return first).
func (t *guardedTx) Rollback() error {
	if t.abandoned.Load() {
		t.rollbackLater()
		return nil
	}
	defer t.cancel()
	return t.Tx.Rollback()
}

func (t *guardedTx) rollbackLater() {
	go func() {
		_ = t.Tx.Rollback()
		t.cancel()
	}()
}

// keepUntilClosed makes closing the rows Query filled end their deadline.
func keepUntilClosed(v any, cancel context.CancelFunc) {
	rows, ok := v.(*entsql.Rows)
	if !ok || rows.ColumnScanner == nil {
		cancel()
		return
	}
	rows.ColumnScanner = closer{ColumnScanner: rows.ColumnScanner, cancel: cancel}
}

type closer struct {
	entsql.ColumnScanner
	cancel context.CancelFunc
}

func (c closer) Close() error {
	defer c.cancel()
	return c.ColumnScanner.Close()
}

// ConnectionLost reports whether err means the database could not be
// reached or did not answer in time, rather than that it refused the
// statement: a refused or reset connection, a deadline, a server shutting
// down or full, a statement or lock timeout, a busy SQLite file, or a
// server that cannot write (25006: a standby not promoted yet, a demoted
// primary after a failover, default_transaction_read_only; a standby
// refusing a transaction's BEGIN READ WRITE, readWriteInRecovery): the write
// belongs on another server, soon, and the pool's idle connections to this
// one are dropped; or a named statement lost to a transaction pooler
// (lostSession: the statement cache turns itself off, the next request
// goes unnamed).
func ConnectionLost(err error) bool {
	var (
		netErr net.Error
		pqErr  *pq.Error
	)
	switch {
	case err == nil:
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &netErr):
		return true
	case errors.As(err, &pqErr):
		code := string(pqErr.Code)
		return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57P") ||
			code == "53300" || code == "57014" || code == "55P03" || code == "25006" || readWriteInRecovery(pqErr) || lostSession(err)
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "driver: bad connection") || strings.Contains(msg, "connection refused")
}

// readWriteInRecovery is a standby refusing a transaction's BEGIN READ
// WRITE (lib/pq begins every writable transaction so): PostgreSQL answers
// 0A000, feature not supported, the code of much else, so the message
// tells this one apart. It means what 25006 means for a single statement.
func readWriteInRecovery(e *pq.Error) bool {
	return e.Code == "0A000" && strings.Contains(e.Message, "read-write mode during recovery")
}

// Probe is the readiness check of a pool: the database answers a ping. A
// ping that fails on a dead idle connection (after a restart, failover or
// pooler restart, every idle connection is dead) empties the idle pool and
// tries once more on a fresh connection, so one probe tells the truth
// instead of failing once per dead connection.
type Probe struct {
	DB *sql.DB
	// Idle is the pool's idle connection limit, restored after emptying it.
	Idle int
}

// PingContext implements the readiness check.
func (p Probe) PingContext(ctx context.Context) error {
	err := p.DB.PingContext(ctx)
	if err != nil && ConnectionLost(err) && ctx.Err() == nil {
		p.DB.SetMaxIdleConns(0)
		p.DB.SetMaxIdleConns(p.Idle)
		err = p.DB.PingContext(ctx)
	}
	return err
}
