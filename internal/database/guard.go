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
//   - every statement, and every transaction as a whole, gets a deadline
//     (DB_QUERY_TIMEOUT), so a locked table or a connection that never
//     answers costs a request that long, not as long as the stall lasts;
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
// timeout per statement and per transaction; 0 sets no deadline.
func Guard(drv dialect.Driver, db *sql.DB, timeout time.Duration, idle int) dialect.Driver {
	return &guardedDriver{Driver: drv, db: db, timeout: timeout, idle: idle}
}

func (d *guardedDriver) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d.timeout)
}

// check empties the idle pool after a failure of the connection or server.
func (d *guardedDriver) check(err error) error {
	if err != nil && ConnectionLost(err) {
		d.db.SetMaxIdleConns(0)
		d.db.SetMaxIdleConns(d.idle)
	}
	return err
}

// Exec implements dialect.Driver.
func (d *guardedDriver) Exec(ctx context.Context, query string, args, v any) error {
	ctx, cancel := d.deadline(ctx)
	defer cancel()
	return d.check(d.Driver.Exec(ctx, query, args, v))
}

// Query implements dialect.Driver. The deadline lasts until the rows are
// closed: they are read after Query returns.
func (d *guardedDriver) Query(ctx context.Context, query string, args, v any) error {
	ctx, cancel := d.deadline(ctx)
	if err := d.Driver.Query(ctx, query, args, v); err != nil {
		cancel()
		return d.check(err)
	}
	keepUntilClosed(v, cancel)
	return nil
}

// Tx implements dialect.Driver: the deadline covers the whole transaction.
func (d *guardedDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	ctx, cancel := d.deadline(ctx)
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		cancel()
		return nil, d.check(err)
	}
	return &guardedTx{Tx: tx, d: d, cancel: cancel}, nil
}

// guardedTx is a transaction under its driver's deadline.
type guardedTx struct {
	dialect.Tx
	d      *guardedDriver
	cancel context.CancelFunc
}

func (t *guardedTx) Exec(ctx context.Context, query string, args, v any) error {
	return t.d.check(t.Tx.Exec(ctx, query, args, v))
}

func (t *guardedTx) Query(ctx context.Context, query string, args, v any) error {
	return t.d.check(t.Tx.Query(ctx, query, args, v))
}

// ExecContext passes statements built with Ent's SQL builder through.
func (t *guardedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	e, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("database: transaction cannot run raw statements")
	}
	res, err := e.ExecContext(ctx, query, args...)
	return res, t.d.check(err)
}

// QueryContext passes raw queries (advisory locks) through.
func (t *guardedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, ok := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("database: transaction cannot run raw queries")
	}
	rows, err := q.QueryContext(ctx, query, args...)
	return rows, t.d.check(err)
}

func (t *guardedTx) Commit() error {
	defer t.cancel()
	return t.d.check(t.Tx.Commit())
}

func (t *guardedTx) Rollback() error {
	defer t.cancel()
	return t.Tx.Rollback()
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
// primary after a failover, default_transaction_read_only): the write
// belongs on another server, soon, and the pool's idle connections to this
// one are dropped.
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
			code == "53300" || code == "57014" || code == "55P03" || code == "25006"
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "driver: bad connection") || strings.Contains(msg, "connection refused")
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
