package services

import (
	"context"
	"fmt"
	"time"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/auditevent"
	"github.com/agency-platform/agency/ent/phoneotp"
	"github.com/agency-platform/agency/ent/ratelimit"
	"github.com/agency-platform/agency/ent/session"
	"github.com/agency-platform/agency/ent/webhookevent"
)

// cleanupLockKey is the PostgreSQL advisory lock that lets one instance at
// a time run the cleanup when several share a database.
const cleanupLockKey = "agency_cleanup"

// Cleanup deletes rows whose time has passed: expired OTP codes, expired
// sessions, rate-limit counters of past windows, audit rows older than
// AUDIT_RETENTION and delivered or failed webhook events older than
// WEBHOOK_RETENTION (pending ones are never deleted).
type Cleanup struct {
	Base
	cfg CleanupConfig
}

// CleanupConfig says how long the rows kept for history live.
type CleanupConfig struct {
	AuditRetention   time.Duration
	WebhookRetention time.Duration
}

// NewCleanup returns the cleanup job.
func NewCleanup(base Base, cfg CleanupConfig) *Cleanup { return &Cleanup{Base: base, cfg: cfg} }

// CleanupResult counts what one run deleted. Skipped is true when another
// instance held the lock, in which case nothing was deleted here.
type CleanupResult struct {
	OTPs     int
	Sessions int
	Counters int
	Audit    int // audit rows past AUDIT_RETENTION
	Webhooks int // delivered or failed webhook events past WEBHOOK_RETENTION
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
		res.Audit, res.Webhooks, err = c.history(ctx, tx, now)
		return err
	})
	if err != nil {
		return CleanupResult{}, fmt.Errorf("cleanup: %w", err)
	}
	return res, nil
}

// history deletes the audit rows and finished webhook events past their
// retention (a retention of 0 keeps them).
func (c *Cleanup) history(ctx context.Context, tx *ent.Tx, now time.Time) (audit, hooks int, err error) {
	if c.cfg.AuditRetention > 0 {
		if audit, err = tx.AuditEvent.Delete().Where(auditevent.CreatedAtLT(now.Add(-c.cfg.AuditRetention))).Exec(ctx); err != nil {
			return 0, 0, fmt.Errorf("delete old audit rows: %w", err)
		}
	}
	if c.cfg.WebhookRetention > 0 {
		hooks, err = tx.WebhookEvent.Delete().Where(webhookevent.CreatedAtLT(now.Add(-c.cfg.WebhookRetention)),
			webhookevent.StatusIn(webhookevent.StatusDelivered, webhookevent.StatusFailed)).Exec(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("delete old webhook events: %w", err)
		}
	}
	return audit, hooks, nil
}
