package services

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/user"
	"github.com/agency-platform/agency/internal/database"
)

// The plumbing every service shares: the database and its dialect,
// transactions and locks, the clock and the security event log.

// WithDatabaseBudget gives a request one DB_QUERY_TIMEOUT of database time
// for all its statements (database.WithBudget).
func WithDatabaseBudget(ctx context.Context) context.Context { return database.WithBudget(ctx) }

// ErrDatabaseUnavailable is the readiness probe's answer when the database
// does not answer.
var ErrDatabaseUnavailable = NewError(KindUnavailable, CodeDatabaseUnavailable, "the database is not reachable")

// ErrMigrationsPending is the readiness probe's answer when the database
// lacks migrations this release needs (MIGRATE_ON_START=false and nobody
// ran `agency migrate apply`): every API call would fail.
var ErrMigrationsPending = NewError(KindUnavailable, CodeMigrationsPending, "the database lacks migrations this release needs; run agency migrate apply")

// ErrUnavailable is any request's answer when the database could not be
// reached or did not answer in time: a 503 with Retry-After, never a 500
// with a driver's words.
var ErrUnavailable = NewError(KindUnavailable, CodeUnavailable, "the service cannot reach its database; try again shortly")

// unavailableRetry is the Retry-After of ErrUnavailable.
const unavailableRetry = 2 * time.Second

// Classify returns err as a service error: the one it holds, ErrUnavailable
// (with err as its cause) when the database could not be reached or did
// not answer in time, or false for anything else (an internal failure).
func Classify(err error) (*Error, bool) {
	if se, ok := AsError(err); ok {
		return se, true
	}
	if database.ConnectionLost(err) {
		return ErrUnavailable.With(err).RetryIn(unavailableRetry), true
	}
	return nil, false
}

// Dialect is the SQL dialect of the database, named as Ent names it. The
// few statements that differ between PostgreSQL and SQLite ask it.
type Dialect string

// The dialects the service runs on.
const (
	Postgres Dialect = dialect.Postgres
	SQLite   Dialect = dialect.SQLite
)

// locksRows reports whether the dialect has row locks (SELECT ... FOR
// UPDATE) and advisory locks. SQLite has neither and needs none: every
// write transaction holds the database's single write lock from BEGIN
// (BEGIN IMMEDIATE), which serialises writers just as well.
func (d Dialect) locksRows() bool { return d == Postgres }

// least is the SQL function returning the smaller of its arguments.
func (d Dialect) least() string {
	if d == Postgres {
		return "LEAST"
	}
	return "MIN"
}

// Base is what every service stands on: the Ent client and its dialect,
// the driver under it (the hot statements run on it directly, see
// compiled.go), the clock and the security event log. Services embed it.
type Base struct {
	db      *ent.Client
	drv     dialect.Driver
	dialect Dialect
	now     func() time.Time
	events  *Events
	stmts   *compiledStatements
	outbox  *Outbox // nil: webhooks are off and no event is queued (see journal.go)
}

// NewBase returns the base of the services on the Ent driver drv (its
// dialect is the database's). now is the clock (time.Now, or a test's);
// events may be nil (nothing is logged).
func NewBase(drv dialect.Driver, now func() time.Time, events *Events) Base {
	return Base{db: ent.NewClient(ent.Driver(drv)), drv: drv, dialect: Dialect(drv.Dialect()), now: now, events: events,
		stmts: &compiledStatements{}}
}

// withTx runs fn in a transaction, committing when it returns nil.
func (b Base) withTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	tx, err := b.db.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// lockUser takes the user's row lock for the rest of the transaction (a
// no-op on SQLite, see locksRows). Whatever else a transaction locks, it
// locks the user first, so two transactions never wait on each other.
func (b Base) lockUser(ctx context.Context, tx *ent.Tx, id uuid.UUID) error {
	if !b.dialect.locksRows() {
		return nil
	}
	if _, err := tx.User.Query().Where(user.ID(id)).ForUpdate().OnlyID(ctx); err != nil {
		return fmt.Errorf("lock user: %w", err)
	}
	return nil
}

// tryXactLock takes a PostgreSQL advisory lock that lasts until the end of
// the transaction, without waiting; it reports whether it got it.
func tryXactLock(ctx context.Context, tx *ent.Tx, key string) (bool, error) {
	rows, err := tx.QueryContext(ctx, "SELECT pg_try_advisory_xact_lock(hashtext($1))", key)
	if err != nil {
		return false, fmt.Errorf("advisory lock %s: %w", key, err)
	}
	defer rows.Close()
	var got bool
	if rows.Next() {
		if err := rows.Scan(&got); err != nil {
			return false, err
		}
	}
	return got, rows.Err()
}

// notFoundAs maps Ent's not-found to a service error; other errors wrap.
func notFoundAs(err error, as *Error, op string) error {
	if ent.IsNotFound(err) {
		return as
	}
	return fmt.Errorf("%s: %w", op, err)
}

// CheckTables queries every table once (as the seed's test-db script does)
// and returns the number of users. It fails when a table is missing.
func CheckTables(ctx context.Context, db *ent.Client) (int, error) {
	if _, err := db.AuthIdentity.Query().Limit(1).Count(ctx); err != nil {
		return 0, fmt.Errorf("query user_auth_identities: %w", err)
	}
	if _, err := db.Session.Query().Limit(1).Count(ctx); err != nil {
		return 0, fmt.Errorf("query user_refresh_tokens: %w", err)
	}
	if _, err := db.PhoneOTP.Query().Limit(1).Count(ctx); err != nil {
		return 0, fmt.Errorf("query phone_otps: %w", err)
	}
	n, err := db.User.Query().Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("query users: %w", err)
	}
	return n, nil
}
