package database

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// BehindTransactionPooler reports whether db reaches PostgreSQL through a
// pooler that hands server sessions out per transaction or per statement
// (PgBouncer with pool_mode=transaction or statement). Session state does
// not survive there: a named prepared statement, a SET without LOCAL or a
// session-level advisory lock made by one transaction may be missing, or
// belong to another client, in the next.
//
// The test: two client connections held open at once ask for their server
// process id. Directly (or through a pooler in session mode) each client
// connection has a server session of its own, so the ids always differ. A
// transaction pooler gives the second the server session the first has
// just released (PgBouncer reuses the most recently released one), so the
// ids are equal, unless another client took that session in between: on a
// busy pool (other instances starting at the same moment) a try can miss,
// so it tries ten times, and the statement cache still turns itself off if
// a named statement goes missing later (see lostSession). Set
// DB_PREPARED_STATEMENTS=false behind a transaction pooler to rely on
// neither.
func BehindTransactionPooler(ctx context.Context, db *sql.DB) (bool, error) {
	for i := range 10 {
		if i > 0 {
			time.Sleep(time.Duration(i) * 2 * time.Millisecond)
		}
		same, err := shareSession(ctx, db)
		if err != nil || same {
			return same, err
		}
	}
	return false, nil
}

func shareSession(ctx context.Context, db *sql.DB) (bool, error) {
	a, err := db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("pooler check: %w", err)
	}
	defer a.Close()
	b, err := db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("pooler check: %w", err)
	}
	defer b.Close()
	var pa, pb int
	if err := a.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pa); err != nil {
		return false, fmt.Errorf("pooler check: %w", err)
	}
	if err := b.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pb); err != nil {
		return false, fmt.Errorf("pooler check: %w", err)
	}
	return pa == pb, nil
}
