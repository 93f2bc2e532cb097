package apitest

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"

	"entgo.io/ent/dialect"
)

// Statements counts what the services send to the database through the
// Ent driver, one round trip each: a statement (Exec or Query, in a
// transaction or not), a BEGIN, a COMMIT or a ROLLBACK. The HTTP tests
// read it around a request to hold each endpoint to its budget.
type Statements struct {
	mu  sync.Mutex
	log []string
	txs int // transactions begun
}

// Wrap is app.Deps.WrapDriver: drv, counted.
func (s *Statements) Wrap(drv dialect.Driver) dialect.Driver {
	return &countingDriver{Driver: drv, s: s}
}

func (s *Statements) add(kind, query string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == "BEGIN" {
		s.txs++
	}
	s.log = append(s.log, kind+" "+strings.Join(strings.Fields(query), " "))
}

// Take returns what was sent since the last Take, and how many
// transactions were begun.
func (s *Statements) Take() (sent []string, txs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sent, txs = s.log, s.txs
	s.log, s.txs = nil, 0
	return sent, txs
}

// Short is a statement as Take returns it, cut to one line of 160 characters.
func Short(stmt string) string {
	if len(stmt) > 160 {
		return stmt[:160] + "..."
	}
	return stmt
}

type countingDriver struct {
	dialect.Driver
	s *Statements
}

func (d *countingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.s.add("exec", query)
	return d.Driver.Exec(ctx, query, args, v)
}

func (d *countingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.s.add("query", query)
	return d.Driver.Query(ctx, query, args, v)
}

func (d *countingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	d.s.add("BEGIN", "")
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, s: d.s}, nil
}

type countingTx struct {
	dialect.Tx
	s *Statements
}

func (t *countingTx) Exec(ctx context.Context, query string, args, v any) error {
	t.s.add("tx exec", query)
	return t.Tx.Exec(ctx, query, args, v)
}

func (t *countingTx) Query(ctx context.Context, query string, args, v any) error {
	t.s.add("tx query", query)
	return t.Tx.Query(ctx, query, args, v)
}

// ExecContext passes built statements through, counted.
func (t *countingTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	t.s.add("tx exec", query)
	e, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, errors.New("apitest: the transaction cannot run raw statements")
	}
	return e.ExecContext(ctx, query, args...)
}

// QueryContext passes raw queries (advisory locks) through, counted.
func (t *countingTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	t.s.add("tx query", query)
	q, ok := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	})
	if !ok {
		return nil, errors.New("apitest: the transaction cannot run raw queries")
	}
	return q.QueryContext(ctx, query, args...)
}

func (t *countingTx) Commit() error {
	t.s.add("COMMIT", "")
	return t.Tx.Commit()
}

func (t *countingTx) Rollback() error {
	t.s.add("ROLLBACK", "")
	return t.Tx.Rollback()
}
