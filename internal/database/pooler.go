package database

import (
	"context"
	"database/sql"
	"fmt"
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
// ids are equal. Three tries make a pool busy with other clients unlikely
// to hide it.
func BehindTransactionPooler(ctx context.Context, db *sql.DB) (bool, error) {
	for range 3 {
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
