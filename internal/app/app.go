// Package app is the agency program: its cobra commands and the wiring that
// turns a configuration into running services. main.go only calls
// Program.Main; tests call Program.Run and NewHandler like main does.
package app

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/migrations"
)

// Program is the agency binary: the files embedded into it by main.
type Program struct {
	// OpenAPI is the API contract (YAML), served at GET /openapi.yaml.
	OpenAPI []byte
}

// Main runs one command line until it ends or SIGINT/SIGTERM arrives, and
// returns the process exit code.
func (p Program) Main(args, env []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := p.Run(ctx, args, env, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "agency:", err)
		return 1
	}
	return 0
}

// Run executes one command line. Everything the program touches of the
// outside world is passed in, so tests call it like Main does.
func (p Program) Run(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	root := p.rootCmd(env, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// cli carries what every command shares: the program, the environment, the
// output streams and the --config flag.
type cli struct {
	Program
	env            []string
	stdout, stderr io.Writer
	configFile     string
}

func (p Program) rootCmd(env []string, stdout, stderr io.Writer) *cobra.Command {
	a := &cli{Program: p, env: env, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "agency",
		Short:         "Identity and session service of the Agency Platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&a.configFile, "config", "", "config file (default ./agency.yaml if present)")
	root.AddCommand(a.serveCmd(), a.migrateCmd(), a.schemaCmd(), a.dbCmd(), a.cleanupCmd(), a.adminCmd(), a.benchCmd())
	return root
}

// config loads the configuration for a command.
func (a *cli) config() (*config.Config, error) {
	return config.Load(a.env, a.configFile)
}

// logger builds the process logger from the configuration.
func (a *cli) logger(cfg *config.Config) *slog.Logger {
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
func (a *cli) withDB(ctx context.Context, fn func(cfg *config.Config, db *sql.DB, client *ent.Client) error) error {
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
func (a *cli) printf(format string, args ...any) {
	fmt.Fprintf(a.stdout, format, args...)
}
