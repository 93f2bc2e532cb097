package app

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/services"
)

func (a *cli) schemaCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "schema", Short: "Print the desired database schema"}
	var d string
	sqlCmd := &cobra.Command{
		Use:   "sql",
		Short: "Print the whole desired schema as SQL (the Atlas CLI's external schema)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch d {
			case "postgres", "postgresql":
				d = migration.Postgres
			case "sqlite", "sqlite3":
				d = migration.SQLite
			default:
				return fmt.Errorf("--dialect must be postgres or sqlite, got %q", d)
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
	cmd.AddCommand(sqlCmd)
	return cmd
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
		Short: "Delete expired OTP codes and expired sessions once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDB(cmd.Context(), func(cfg *config.Config, _ *sql.DB, client *ent.Client) error {
				res, err := services.NewCleanup(newBase(cfg, client, time.Now, a.logger(cfg))).Run(cmd.Context())
				if err != nil {
					return err
				}
				if res.Skipped {
					a.printf("another instance is running the cleanup; nothing done\n")
					return nil
				}
				a.printf("deleted %d expired OTPs, %d expired sessions, %d expired rate-limit counters\n", res.OTPs, res.Sessions, res.Counters)
				return nil
			})
		},
	}
}
