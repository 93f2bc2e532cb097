package services

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/phoneotp"
	"github.com/agency-platform/agency/ent/ratelimit"
	"github.com/agency-platform/agency/ent/refreshtoken"
)

// cleanupLockKey is the PostgreSQL advisory lock that lets one instance at
// a time run the cleanup when several share a database.
const cleanupLockKey = "agency_cleanup"

// Cleanup deletes rows whose time has passed: expired OTP codes, expired
// sessions (refresh tokens) and rate-limit counters of past windows.
type Cleanup struct {
	db      *ent.Client
	dialect string
	now     func() time.Time
}

// NewCleanup returns the cleanup job on db, whose dialect is d.
func NewCleanup(db *ent.Client, d string, now func() time.Time) *Cleanup {
	return &Cleanup{db: db, dialect: d, now: now}
}

// CleanupResult counts what one run deleted. Skipped is true when another
// instance held the lock, in which case nothing was deleted here.
type CleanupResult struct {
	OTPs     int
	Sessions int
	Counters int
	Skipped  bool
}

// Run deletes every expired row once, in one transaction. On PostgreSQL the
// transaction first takes a transaction-scoped advisory lock without
// waiting; if another instance holds it, this run is skipped.
func (c *Cleanup) Run(ctx context.Context) (CleanupResult, error) {
	var res CleanupResult
	err := withTx(ctx, c.db, func(tx *ent.Tx) error {
		if c.dialect == dialect.Postgres {
			got, err := tryXactLock(ctx, tx, cleanupLockKey)
			if err != nil || !got {
				res.Skipped = !got
				return err
			}
		}
		now := c.now()
		n, err := tx.PhoneOTP.Delete().Where(phoneotp.ExpiresAtLT(now)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete expired otps: %w", err)
		}
		res.OTPs = n
		n, err = tx.RefreshToken.Delete().Where(refreshtoken.ExpiresAtLT(now)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		res.Sessions = n
		n, err = tx.RateLimit.Delete().Where(ratelimit.ExpiresAtLT(now)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete expired rate-limit counters: %w", err)
		}
		res.Counters = n
		return nil
	})
	if err != nil {
		return CleanupResult{}, fmt.Errorf("cleanup: %w", err)
	}
	return res, nil
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

// withTx runs fn in a transaction, committing when it returns nil.
func withTx(ctx context.Context, db *ent.Client, fn func(tx *ent.Tx) error) error {
	tx, err := db.Tx(ctx)
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

// CheckTables queries every table once (as the seed's test-db script does)
// and returns the number of users. It fails when a table is missing.
func CheckTables(ctx context.Context, db *ent.Client) (int, error) {
	if _, err := db.AuthIdentity.Query().Limit(1).Count(ctx); err != nil {
		return 0, fmt.Errorf("query user_auth_identities: %w", err)
	}
	if _, err := db.RefreshToken.Query().Limit(1).Count(ctx); err != nil {
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
