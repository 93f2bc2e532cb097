package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/services"
)

// readiness is /readyz's check: the database answers (database.Probe) and
// holds every migration this binary knows. Migrations only move forward,
// so once none is pending the check is a ping again.
type readiness struct {
	probe   database.Probe
	db      *sql.DB
	dialect string
	log     *slog.Logger
	current atomic.Bool
	warned  atomic.Bool
}

// PingContext answers the probe: nil, services.ErrMigrationsPending with
// the count, or the database's failure.
func (r *readiness) PingContext(ctx context.Context) error {
	if err := r.probe.PingContext(ctx); err != nil {
		return err
	}
	if err := r.writable(ctx); err != nil {
		return err
	}
	if r.current.Load() {
		return nil
	}
	dir, err := migrationDir(r.dialect)
	if err != nil {
		return err
	}
	pending, err := migration.Check(ctx, r.db, r.dialect, dir)
	switch {
	case errors.Is(err, migration.ErrDatabaseNewer):
		if !r.warned.Swap(true) {
			r.log.Warn("the database was migrated by a newer release of agency; serving on it", "err", err)
		}
		r.current.Store(true)
		return nil
	case err != nil:
		return err
	case len(pending) > 0:
		if !r.warned.Swap(true) {
			r.log.Warn("not ready: the database lacks migrations of this release", "pending", pending)
		}
		return services.ErrMigrationsPending.OnField("", fmt.Sprintf(
			"the database lacks %d migrations this release needs (%s...); run agency migrate apply", len(pending), pending[0]))
	}
	r.current.Store(true)
	return nil
}

// writable refuses, on PostgreSQL, a database that cannot write: a standby
// not promoted yet, a demoted primary after a failover, or
// default_transaction_read_only. Every sign-in and refresh would fail
// there, so the instance is not ready (a load balancer sends its traffic
// elsewhere until the pooler or DNS points at the new primary).
func (r *readiness) writable(ctx context.Context) error {
	if r.dialect != "postgres" {
		return nil
	}
	var readOnly bool
	err := r.db.QueryRowContext(ctx, "SELECT current_setting('transaction_read_only') = 'on'").Scan(&readOnly)
	switch {
	case err != nil:
		return err
	case readOnly:
		return services.ErrDatabaseUnavailable.OnField("", "the database is read-only (a standby, or default_transaction_read_only): writes cannot be served")
	}
	return nil
}
