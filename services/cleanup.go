package services

import (
	"context"
	"fmt"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/phoneotp"
	"github.com/agency-platform/agency/ent/ratelimit"
	"github.com/agency-platform/agency/ent/session"
)

// cleanupLockKey is the PostgreSQL advisory lock that lets one instance at
// a time run the cleanup when several share a database.
const cleanupLockKey = "agency_cleanup"

// Cleanup deletes rows whose time has passed: expired OTP codes, expired
// sessions and rate-limit counters of past windows.
type Cleanup struct{ Base }

// NewCleanup returns the cleanup job.
func NewCleanup(base Base) *Cleanup { return &Cleanup{Base: base} }

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
	err := c.withTx(ctx, func(tx *ent.Tx) error {
		if c.dialect.locksRows() {
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
		n, err = tx.Session.Delete().Where(session.ExpiresAtLT(now)).Exec(ctx)
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
