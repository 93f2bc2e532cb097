package database

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"
)

// PostgreSQL plans an unnamed statement again on every execution, and for
// the service's hot statements (a join of three tables, an UPDATE inside a
// WITH) planning costs several times the execution: measured with pgbench,
// the who-am-I SELECT runs at about 4,300 per second unprepared and 14,500
// prepared on this 2-core machine. So the service's driver prepares each
// statement text once (database/sql then prepares it once per connection,
// on first use there) and executes it by name afterwards.
//
// Named statements live in a server session: a pooler that hands each
// transaction another server connection (PgBouncer in transaction mode,
// without max_prepared_statements) loses them, or hands one client's
// statement "1" to another client whose "1" is different. So
// DB_PREPARED_STATEMENTS=auto (the default) turns this off when such a
// pooler is found (BehindTransactionPooler), false always, and every
// statement goes unnamed again.

// maxPrepared bounds the statements kept prepared (each takes a little
// memory on every server connection); past it, new texts go unnamed. The
// service issues a few dozen distinct texts.
const maxPrepared = 500

// stmtCache holds the prepared statements by text.
type stmtCache struct {
	db *sql.DB
	// off is set once a named statement is found missing or taken on the
	// server (lostSession): a transaction pooler nobody said was there.
	// From then on every statement goes unnamed.
	off     atomic.Bool
	mu      sync.RWMutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool // being prepared in the background
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// lookup returns query's statement if it is prepared, and whether the
// cache has room for another.
func (c *stmtCache) lookup(query string) (*sql.Stmt, bool) {
	if c.off.Load() {
		return nil, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stmts[query], len(c.stmts) < maxPrepared
}

// get returns the prepared statement of query, preparing it on first use
// on a connection of the pool; nil when the cache is full (the caller runs
// query unnamed).
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	s, room := c.lookup(query)
	if s != nil || !room {
		return s, nil
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		if lostSession(err) {
			c.off.Store(true)
		}
		return nil, err
	}
	return c.keep(query, s), nil
}

// keep stores s as query's statement unless another was stored meanwhile,
// and returns the one kept.
func (c *stmtCache) keep(query string, s *sql.Stmt) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, query)
	if other, ok := c.stmts[query]; ok {
		_ = s.Close()
		return other
	}
	c.stmts[query] = s
	return s
}

// prepareLater prepares query on a connection of the pool in the
// background. A transaction, which holds a connection, never waits for
// another: with every connection held by transactions that would each wait
// for one, nothing would move.
func (c *stmtCache) prepareLater(query string) {
	c.mu.Lock()
	if c.off.Load() || c.pending[query] || c.stmts[query] != nil || len(c.stmts) >= maxPrepared {
		c.mu.Unlock()
		return
	}
	c.pending[query] = true
	c.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := c.db.PrepareContext(ctx, query)
		if err != nil {
			c.mu.Lock()
			delete(c.pending, query)
			c.mu.Unlock()
			return
		}
		c.keep(query, s)
	}()
}

// drop forgets query's statement (its plan no longer fits the tables).
func (c *stmtCache) drop(query string) {
	c.mu.Lock()
	s, ok := c.stmts[query]
	delete(c.stmts, query)
	c.mu.Unlock()
	if ok {
		_ = s.Close()
	}
}

// staleStatement reports PostgreSQL's refusal to run a prepared statement
// whose result columns changed since it was prepared (a migration altered a
// table it reads): the statement must be prepared again.
func staleStatement(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "0A000" && pqErr.Message == "cached plan must not change result type"
}

// lostSession reports PostgreSQL's answers when a client's named
// statements are not in the server session its statement reached: one it
// prepared is missing (26000), its name is taken by another client's
// (42P05), or the bind does not fit the statement of that name. That is a
// transaction pooler (PgBouncer in transaction mode) that the startup check
// did not see; the cache turns itself off.
func lostSession(err error) bool {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return false
	}
	return pqErr.Code == "26000" || pqErr.Code == "42P05" ||
		pqErr.Code == "08P01" && strings.Contains(pqErr.Message, "bind message supplies")
}

// failed handles a prepared statement's error: a stale statement is
// dropped (prepared afresh next time), a lost session turns the cache off.
// It reports whether the statement can run again, unnamed (outside a
// transaction: inside one, the error has aborted it).
func (c *stmtCache) failed(query string, err error) bool {
	stale, lost := staleStatement(err), lostSession(err)
	if lost {
		c.off.Store(true)
	}
	if stale || lost {
		c.drop(query)
	}
	return stale || lost
}

// preparedDB is the pool as Ent's ExecQuerier, running statements prepared.
type preparedDB struct {
	db    *sql.DB
	cache *stmtCache
}

func (p preparedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := p.cache.get(ctx, query)
	if err != nil || s == nil {
		return p.db.ExecContext(ctx, query, args...)
	}
	res, err := s.ExecContext(ctx, args...)
	if p.cache.failed(query, err) {
		return p.db.ExecContext(ctx, query, args...)
	}
	return res, err
}

func (p preparedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := p.cache.get(ctx, query)
	if err != nil || s == nil {
		return p.db.QueryContext(ctx, query, args...)
	}
	rows, err := s.QueryContext(ctx, args...)
	if p.cache.failed(query, err) {
		return p.db.QueryContext(ctx, query, args...)
	}
	return rows, err
}

// preparedTx runs a transaction's statements prepared once the pool has
// them: database/sql binds the pool's statement to the transaction's
// connection (preparing it there on first use, on that connection). A text
// the pool has not prepared yet runs unnamed, and is prepared in the
// background for the next transaction. A stale statement fails the
// transaction (it is aborted on the server) and is prepared afresh for the
// next one.
type preparedTx struct {
	tx    *sql.Tx
	cache *stmtCache
}

func (p preparedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	s, _ := p.cache.lookup(query)
	if s == nil {
		p.cache.prepareLater(query)
		return nil
	}
	return p.tx.StmtContext(ctx, s)
}

func (p preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s := p.stmt(ctx, query)
	if s == nil {
		return p.tx.ExecContext(ctx, query, args...)
	}
	res, err := s.ExecContext(ctx, args...)
	p.cache.failed(query, err)
	return res, err
}

func (p preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s := p.stmt(ctx, query)
	if s == nil {
		return p.tx.QueryContext(ctx, query, args...)
	}
	rows, err := s.QueryContext(ctx, args...)
	p.cache.failed(query, err)
	return rows, err
}

// preparedDriver is Ent's SQL driver on a pool, with every statement, in
// or out of a transaction, prepared.
type preparedDriver struct {
	*entsql.Driver
	db    *sql.DB
	cache *stmtCache
}

func newPreparedDriver(db *sql.DB, d string) *preparedDriver {
	c := newStmtCache(db)
	return &preparedDriver{Driver: entsql.NewDriver(d, entsql.Conn{ExecQuerier: preparedDB{db: db, cache: c}}), db: db, cache: c}
}

// Tx implements dialect.Driver.
func (d *preparedDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &entsql.Tx{Conn: entsql.Conn{ExecQuerier: preparedTx{tx: tx, cache: d.cache}}, Tx: tx}, nil
}

// Close implements dialect.Driver.
func (d *preparedDriver) Close() error { return d.db.Close() }
