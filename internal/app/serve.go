package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/metrics"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/services"
)

func (a *cli) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, a.logger(cfg), a.OpenAPI)
		},
	}
}

// serve opens the database, applies migrations, starts the background
// cleanup and serves HTTP until ctx is cancelled, then shuts down in order:
// stop accepting, finish in-flight requests, stop jobs, close the database.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, openAPI []byte) error {
	db, err := openDB(ctx, cfg.DB, log)
	if err != nil {
		return err
	}
	defer db.Close()
	dialect := cfg.DB.Dialect()
	pooled, err := findPooler(ctx, cfg.DB, db, log)
	if err != nil {
		return err
	}
	if cfg.DB.MigrateOnStart {
		if err := migrateOnStart(ctx, cfg.DB, db, pooled, log); err != nil {
			return err
		}
	}
	drv := database.NewDriver(db, dialect)
	if err := fillDevSecrets(cfg, log); err != nil {
		return err
	}
	var m *metrics.Metrics
	if cfg.HTTP.MetricsAddr != "" {
		m = metrics.New(db)
	}
	svc, err := New(Deps{Config: cfg, DB: db, SMS: newSender(cfg, log), Now: time.Now, Log: log, OpenAPI: openAPI, Metrics: m, Pooled: pooled})
	if err != nil {
		return err
	}
	stopMetrics, err := serveMetrics(cfg.HTTP, m, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	stopPprof, err := servePprof(cfg.HTTP, log)
	if err != nil {
		return err
	}
	defer stopPprof()
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	srv := newServer(svc.Handler, log)
	jobs, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var jobsDone sync.WaitGroup
	jobsDone.Go(func() {
		runCleanupLoop(jobs, services.NewCleanup(newBase(drv, time.Now, log), cleanupConfig(cfg)), cfg.Cleanup.Interval, log)
	})
	jobsDone.Go(func() { svc.Webhooks.Run(jobs, log) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTP.ShutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopJobs()
	jobsDone.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// newServer is an HTTP server of h with the service's timeouts.
func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serveMetrics serves m at GET /metrics on its own listener (METRICS_ADDR,
// never the public port) until the returned stop is called; with no
// address it does nothing.
func serveMetrics(h config.HTTPConfig, m *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	if h.MetricsAddr == "" || m == nil {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return serveOn("METRICS_ADDR", h.MetricsAddr, newServer(mux, log), h.ShutdownTimeout, log)
}

// servePprof serves Go's profiler at /debug/pprof/ on PPROF_ADDR (a
// loopback address, checked by config) until stop is called, and turns on
// block and mutex sampling so those profiles have content: one blocking
// event per millisecond spent blocked, one mutex contention in 100.
func servePprof(h config.HTTPConfig, log *slog.Logger) (stop func(), err error) {
	if h.PprofAddr == "" {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	runtime.SetBlockProfileRate(int(time.Millisecond))
	runtime.SetMutexProfileFraction(100)
	srv := newServer(mux, log)
	srv.WriteTimeout = 0 // a CPU profile or trace streams for as long as asked
	return serveOn("PPROF_ADDR", h.PprofAddr, srv, h.ShutdownTimeout, log)
}

// serveOn runs srv on its own listener at addr (named by its config key)
// until the returned stop is called.
func serveOn(key, addr string, srv *http.Server, shutdown time.Duration, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (%s): %w", addr, key, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("side listener failed", "key", key, "err", err)
		}
	}()
	log.Info("side listener", "key", key, "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdown)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// cleanupConfig is the cleanup job's share of the configuration.
func cleanupConfig(cfg *config.Config) services.CleanupConfig {
	return services.CleanupConfig{AuditRetention: cfg.Cleanup.AuditRetention, WebhookRetention: cfg.Webhook.Retention}
}

// runCleanupLoop runs the cleanup every interval until ctx ends; 0 disables it.
func runCleanupLoop(ctx context.Context, c *services.Cleanup, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			res, err := c.Run(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("cleanup failed", "err", err)
			case res.Skipped:
				log.Debug("cleanup skipped: another instance holds the lock")
			case err == nil:
				log.Info("cleanup", "otps_deleted", res.OTPs, "sessions_deleted", res.Sessions, "counters_deleted", res.Counters,
					"audit_rows_deleted", res.Audit, "webhook_events_deleted", res.Webhooks)
			}
		}
	}
}

// findPooler looks, on PostgreSQL, for a transaction pooler between the
// service and the database, and says what it changes.
func findPooler(ctx context.Context, cfg config.DBConfig, db *sql.DB, log *slog.Logger) (bool, error) {
	if cfg.Dialect() != "postgres" {
		return false, nil
	}
	pooled, err := database.BehindTransactionPooler(ctx, db)
	if err != nil {
		return false, err
	}
	if pooled {
		log.Info("DATABASE_URL goes through a transaction pooler: session state does not last beyond a transaction",
			"prepared_statements", cfg.Prepared(true), "migrations", redactURL(cfg.MigrationTarget()))
	}
	return pooled, nil
}

// errMigrateThroughPooler refuses to migrate through a transaction pooler.
var errMigrateThroughPooler = errors.New("migrate: the migration database URL goes through a transaction pooler (PgBouncer pool_mode=transaction), " +
	"which cannot keep the migration lock (a session-level advisory lock, the Atlas CLI's protocol): " +
	"set MIGRATION_DATABASE_URL to a direct connection to PostgreSQL, or MIGRATE_ON_START=false and run agency migrate apply on one")

// directForMigrations refuses db, a PostgreSQL pool migrations are about
// to use, when it goes through a transaction pooler.
func directForMigrations(ctx context.Context, db *sql.DB) error {
	pooled, err := database.BehindTransactionPooler(ctx, db)
	if err == nil && pooled {
		err = errMigrateThroughPooler
	}
	return err
}

// migrateOnStart applies pending migrations before serving, on
// MIGRATION_DATABASE_URL when set (a pool of its own, closed afterwards),
// else on db, DATABASE_URL's pool (pooled when a transaction pooler is in
// front of it: refused). A database a newer release migrated (a rolling
// deploy) is served on as it is: its migrations are expected to keep this
// release working.
func migrateOnStart(ctx context.Context, cfg config.DBConfig, db *sql.DB, pooled bool, log *slog.Logger) error {
	applied, err := applyOnStart(ctx, cfg, db, pooled, log)
	switch {
	case errors.Is(err, migration.ErrDatabaseNewer):
		log.Warn("the database was migrated by a newer release of agency; serving on it without migrating", "err", err)
	case err != nil:
		return err
	default:
		log.Info("migrations applied", "count", len(applied), "versions", applied)
	}
	return nil
}

func applyOnStart(ctx context.Context, cfg config.DBConfig, db *sql.DB, pooled bool, log *slog.Logger) ([]string, error) {
	if cfg.MigrationURL == "" || cfg.Dialect() != "postgres" {
		if pooled {
			return nil, errMigrateThroughPooler
		}
		return applyMigrations(ctx, db, cfg.Dialect())
	}
	mdb, err := database.OpenPostgres(ctx, cfg.MigrationURL, database.Pool{
		MaxOpenConns: 2, MaxIdleConns: 2, ConnectTimeout: cfg.ConnectTimeout, ApplicationName: "agency-migrate"})
	if err != nil {
		return nil, fmt.Errorf("MIGRATION_DATABASE_URL: %w", err)
	}
	defer mdb.Close()
	if err := directForMigrations(ctx, mdb); err != nil {
		return nil, err
	}
	log.Info("migrating on MIGRATION_DATABASE_URL", "target", redactURL(cfg.MigrationURL))
	return applyMigrations(ctx, mdb, cfg.Dialect())
}
