package app

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/schemaviz"
	"github.com/agency-platform/agency/services"
)

func (a *cli) schemaCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "schema", Short: "Print, draw and describe the database schema"}
	var d string
	sqlCmd := &cobra.Command{
		Use:   "sql",
		Short: "Print the whole desired schema as SQL (the Atlas CLI's external schema)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := dialectFlag(d)
			if err != nil {
				return err
			}
			text, err := migration.DesiredSQL(cmd.Context(), d)
			if err != nil {
				return err
			}
			a.printf("%s", text)
			return nil
		},
	}
	sqlCmd.Flags().StringVar(&d, "dialect", "postgres", "postgres or sqlite")
	cmd.AddCommand(sqlCmd, a.schemaVizCmd(), a.schemaDescribeCmd())
	return cmd
}

// vizOptions are the flags of `schema viz`.
type vizOptions struct {
	out, format, dialect string
	db                   bool
}

func (a *cli) schemaVizCmd() *cobra.Command {
	var o vizOptions
	cmd := &cobra.Command{
		Use:   "viz",
		Short: "Draw the schema: one offline HTML page, Mermaid or text",
		Long: `Draws the schema as an entity-relationship diagram: every table with its
columns (types, nullability, defaults, keys), indexes and foreign keys with
their ON DELETE rule, the enum types with their values, and the Ent edges
with their cardinality. The HTML page is one file with nothing to fetch:
it opens from file:// with the network off.

By default it draws the code (Ent's graph and the tables migrations
build). With --db it reads the configured database instead (DATABASE_URL,
or the embedded SQLite file) and marks every difference from the code.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.schemaViz(cmd.Context(), o) },
	}
	cmd.Flags().StringVar(&o.out, "out", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&o.format, "format", "html", "html, mermaid or text")
	cmd.Flags().StringVar(&o.dialect, "dialect", "postgres", "dialect of the code's schema: postgres or sqlite (with --db: the database's)")
	cmd.Flags().BoolVar(&o.db, "db", false, "read the configured database and mark its differences from the code")
	return cmd
}

func (a *cli) schemaDescribeCmd() *cobra.Command {
	var o vizOptions
	cmd := &cobra.Command{
		Use:   "describe",
		Short: "Print the schema as plain tables (schema viz --format text)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.format = "text"
			return a.schemaViz(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.dialect, "dialect", "postgres", "postgres or sqlite")
	cmd.Flags().BoolVar(&o.db, "db", false, "read the configured database and mark its differences from the code")
	return cmd
}

// schemaViz builds the model (code or database) and writes it.
func (a *cli) schemaViz(ctx context.Context, o vizOptions) error {
	if o.format != "html" && o.format != "mermaid" && o.format != "text" {
		return fmt.Errorf("--format must be html, mermaid or text, got %q", o.format)
	}
	var (
		m   *schemaviz.Model
		err error
	)
	if o.db {
		err = a.withDB(ctx, func(cfg *config.Config, db *sql.DB, _ *ent.Client) error {
			m, err = schemaviz.FromDatabase(ctx, db, cfg.DB.Dialect())
			return err
		})
	} else {
		d, derr := dialectFlag(o.dialect)
		if derr != nil {
			return derr
		}
		m, err = schemaviz.FromCode(ctx, d)
	}
	if err != nil {
		return err
	}
	var out []byte
	switch o.format {
	case "mermaid":
		out = []byte(schemaviz.Mermaid(m))
	case "text":
		out = []byte(schemaviz.Text(m))
	default:
		if out, err = schemaviz.HTML(ctx, m); err != nil {
			return err
		}
	}
	if o.out == "" {
		_, err = a.stdout.Write(out)
		return err
	}
	if err := os.WriteFile(o.out, out, 0o644); err != nil {
		return err
	}
	a.printf("wrote %s (%s)\n", o.out, m.Source)
	return nil
}

// dialectFlag reads a --dialect value.
func dialectFlag(d string) (string, error) {
	switch d {
	case "postgres", "postgresql":
		return migration.Postgres, nil
	case "sqlite", "sqlite3":
		return migration.SQLite, nil
	}
	return "", fmt.Errorf("--dialect must be postgres or sqlite, got %q", d)
}

func (a *cli) dbCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "db", Short: "Database checks"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Connect, check the tables exist and print the user count",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDB(cmd.Context(), func(_ *config.Config, db *sql.DB, client *ent.Client) error {
				if err := db.PingContext(cmd.Context()); err != nil {
					return fmt.Errorf("database connection failed: %w", err)
				}
				a.printf("database connection successful\n")
				n, err := services.CheckTables(cmd.Context(), client)
				if err != nil {
					return err
				}
				a.printf("tables present; users: %d\n", n)
				return nil
			})
		},
	})
	return cmd
}

func (a *cli) cleanupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cleanup",
		Short: "Delete expired OTP codes and sessions, old audit rows and old webhook events once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDB(cmd.Context(), func(cfg *config.Config, db *sql.DB, _ *ent.Client) error {
				res, err := services.NewCleanup(newBase(database.NewDriver(db, cfg.DB.Dialect()), time.Now, a.logger(cfg)), cleanupConfig(cfg)).Run(cmd.Context())
				if err != nil {
					return err
				}
				if res.Skipped {
					a.printf("another instance is running the cleanup; nothing done\n")
					return nil
				}
				a.printf("deleted %d expired OTPs, %d expired sessions, %d expired rate-limit counters, %d old audit rows, %d old webhook events\n",
					res.OTPs, res.Sessions, res.Counters, res.Audit, res.Webhooks)
				return nil
			})
		},
	}
}
