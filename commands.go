package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/migrations"
)

// app carries what every command shares: the environment, the output
// streams and the --config flag.
type app struct {
	env            []string
	stdout, stderr io.Writer
	configFile     string
}

func newRootCmd(env []string, stdout, stderr io.Writer) *cobra.Command {
	a := &app{env: env, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "agency",
		Short:         "Identity and session service of the Agency Platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&a.configFile, "config", "", "config file (default ./agency.yaml if present)")
	root.AddCommand(a.serveCmd(), a.migrateCmd(), a.schemaCmd(), a.dbCmd(), a.cleanupCmd(), a.adminCmd())
	return root
}

// config loads the configuration for a command.
func (a *app) config() (*config.Config, error) {
	return config.Load(a.env, a.configFile)
}

// logger builds the process logger from the configuration.
func (a *app) logger(cfg *config.Config) *slog.Logger {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.LogLevel]
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(a.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(a.stderr, opts))
}

// openDB opens the configured database: PostgreSQL when DATABASE_URL is
// set, else the embedded SQLite file. It logs which one, without secrets.
func openDB(ctx context.Context, cfg config.DBConfig, log *slog.Logger) (*sql.DB, error) {
	if cfg.URL == "" {
		log.Info("using embedded SQLite database", "path", cfg.SQLitePath)
		return database.OpenSQLite(ctx, cfg.SQLitePath)
	}
	log.Info("using PostgreSQL database", "target", redactURL(cfg.URL))
	return database.OpenPostgres(ctx, cfg.URL, database.Pool{
		MaxOpenConns:    cfg.MaxOpenConns,
		MaxIdleConns:    cfg.MaxIdleConns,
		ConnMaxIdleTime: cfg.ConnMaxIdleTime,
		ConnMaxLifetime: cfg.ConnMaxLifetime,
		ConnectTimeout:  cfg.ConnectTimeout,
	})
}

// redactURL keeps host, port and database name of a URL; never credentials.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Host + u.Path
}

// migrationDir returns the embedded migration directory of a dialect.
func migrationDir(d string) (*migration.EmbeddedDir, error) {
	return migration.NewEmbeddedDir(migrations.FS, migration.Dir(d))
}

// withDB loads config, opens the database and runs fn; used by the
// operational commands.
func (a *app) withDB(ctx context.Context, fn func(cfg *config.Config, db *sql.DB, client *ent.Client) error) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	log := a.logger(cfg)
	db, err := openDB(ctx, cfg.DB, log)
	if err != nil {
		return err
	}
	defer db.Close()
	client := database.NewClient(db, cfg.DB.Dialect())
	return fn(cfg, db, client)
}

// printf writes to the command's standard output.
func (a *app) printf(format string, args ...any) {
	fmt.Fprintf(a.stdout, format, args...)
}
