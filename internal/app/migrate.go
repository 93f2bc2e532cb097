package app

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"github.com/spf13/cobra"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
)

// defaultDevServer is where `migrate diff` makes its scratch PostgreSQL
// database when --dev-url is not given (the local test server).
const defaultDevServer = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func (a *cli) migrateCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Generate, apply and inspect versioned migrations"}
	cmd.AddCommand(a.migrateApplyCmd(), a.migrateStatusCmd(), a.migrateDiffCmd())
	return cmd
}

func (a *cli) migrateApplyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "apply",
		Short: "Apply pending migrations to the configured database",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withMigrationDB(cmd.Context(), func(cfg *config.Config, db *sql.DB) error {
				applied, err := applyMigrations(cmd.Context(), db, cfg.DB.Dialect())
				if err != nil {
					return err
				}
				if len(applied) == 0 {
					a.printf("database is up to date\n")
				}
				for _, v := range applied {
					a.printf("applied %s\n", v)
				}
				return nil
			})
		},
	}
}

// withMigrationDB loads config, opens the database migrations go to
// (MIGRATION_DATABASE_URL, else DATABASE_URL) and runs fn, refusing a
// transaction pooler (errMigrateThroughPooler).
func (a *cli) withMigrationDB(ctx context.Context, fn func(cfg *config.Config, db *sql.DB) error) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	target := cfg.DB
	target.URL = target.MigrationTarget()
	db, err := openDB(ctx, target, a.logger(cfg))
	if err != nil {
		return err
	}
	defer db.Close()
	if target.Dialect() == "postgres" {
		if err := directForMigrations(ctx, db); err != nil {
			return err
		}
	}
	return fn(cfg, db)
}

// applyMigrations applies the embedded migrations of dialect d.
func applyMigrations(ctx context.Context, db *sql.DB, d string) ([]string, error) {
	dir, err := migrationDir(d)
	if err != nil {
		return nil, err
	}
	return migration.Apply(ctx, db, d, dir)
}

func (a *cli) migrateStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Print applied and pending migration versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withMigrationDB(cmd.Context(), func(cfg *config.Config, db *sql.DB) error {
				dir, err := migrationDir(cfg.DB.Dialect())
				if err != nil {
					return err
				}
				st, err := migration.ReadStatus(cmd.Context(), db, cfg.DB.Dialect(), dir)
				if err != nil {
					return err
				}
				for _, r := range st.Applied {
					a.printf("applied  %s  %s  %s\n", r.Version, r.Description, r.ExecutedAt.UTC().Format("2006-01-02T15:04:05Z"))
				}
				for _, v := range st.Pending {
					a.printf("pending  %s\n", v)
				}
				a.printf("%d applied, %d pending\n", len(st.Applied), len(st.Pending))
				return nil
			})
		},
	}
}

func (a *cli) migrateDiffCmd() *cobra.Command {
	var devURL, root string
	cmd := &cobra.Command{
		Use:   "diff NAME",
		Short: "Write the next migration for the current Ent schema (both dialects)",
		Long: `Writes migrations/postgres/<version>_NAME.sql and migrations/sqlite/<version>_NAME.sql
(plus atlas.sum) for whatever the Ent schema changed, and regenerates
migrations/desired/{postgres,sqlite}.sql. PostgreSQL needs a dev server:
a throwaway database is created on --dev-url's server and dropped afterwards.
SQLite uses an in-memory database. Nothing is written when nothing changed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !validMigrationName(name) {
				return fmt.Errorf("migration name %q: use letters, digits and underscores", name)
			}
			for _, d := range []string{migration.Postgres, migration.SQLite} {
				file, err := diffDialect(cmd.Context(), d, filepath.Join(root, migration.Dir(d)), name, devURL)
				if err != nil {
					return err
				}
				if file == "" {
					a.printf("%s: no changes\n", d)
				} else {
					a.printf("%s: wrote %s\n", d, filepath.Join(root, migration.Dir(d), file))
				}
			}
			return writeDesired(cmd.Context(), root)
		},
	}
	env := config.ParseEnv(a.env)
	if devURL = env["DEV_DATABASE_URL"]; devURL == "" {
		devURL = defaultDevServer
	}
	cmd.Flags().StringVar(&devURL, "dev-url", devURL, "PostgreSQL server for a scratch dev database (env DEV_DATABASE_URL)")
	cmd.Flags().StringVar(&root, "dir", "migrations", "migrations folder")
	return cmd
}

// diffDialect writes the next migration of one dialect into path.
func diffDialect(ctx context.Context, d, path, name, devURL string) (string, error) {
	dir, err := migrate.NewLocalDir(path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	dev, cleanup, err := openDevDB(ctx, d, devURL)
	if err != nil {
		return "", err
	}
	defer cleanup()
	return migration.Diff(ctx, d, dir, name, dev)
}

// writeDesired regenerates the desired-state SQL files from the Ent schema.
func writeDesired(ctx context.Context, root string) error {
	for _, d := range []string{migration.Postgres, migration.SQLite} {
		text, err := migration.DesiredSQL(ctx, d)
		if err != nil {
			return err
		}
		path := filepath.Join(root, "desired", migration.Dir(d)+".sql")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// openDevDB gives a clean scratch database: in memory for SQLite, a new
// database on the server at serverURL for PostgreSQL. cleanup drops it.
func openDevDB(ctx context.Context, d, serverURL string) (*sql.DB, func(), error) {
	if d == migration.SQLite {
		db, err := database.OpenSQLiteMemory(ctx)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	admin, err := database.OpenPostgres(ctx, serverURL, database.Pool{MaxOpenConns: 2, MaxIdleConns: 1})
	if err != nil {
		return nil, nil, fmt.Errorf("dev database server: %w (pass --dev-url)", err)
	}
	dev, err := database.CreateScratch(ctx, admin, serverURL, "agency_dev_", "template0", database.Pool{MaxOpenConns: 4, MaxIdleConns: 4})
	if err != nil {
		admin.Close()
		return nil, nil, err
	}
	return dev.DB, func() {
		_ = dev.Drop(context.WithoutCancel(ctx))
		admin.Close()
	}, nil
}

func validMigrationName(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == ""
}
