package app

import (
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/phone"
	"github.com/agency-platform/agency/services"
)

func (a *cli) adminCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Operator tasks"}
	var phoneArg, userArg string
	grant := &cobra.Command{
		Use:   "grant (--phone +E164 | --user UUID)",
		Short: "Give a user the admin role (how the first admin is made)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (phoneArg == "") == (userArg == "") {
				return errors.New("give exactly one of --phone or --user")
			}
			var (
				id  *uuid.UUID
				num string
			)
			if userArg != "" {
				u, err := uuid.Parse(userArg)
				if err != nil {
					return errors.New("--user must be a UUID")
				}
				id = &u
			} else {
				var err error
				if num, err = phone.Normalize(phoneArg, nil); err != nil {
					return err
				}
			}
			return a.withDB(cmd.Context(), func(cfg *config.Config, db *sql.DB, _ *ent.Client) error {
				log := a.logger(cfg)
				got, err := services.NewAdmin(withOutbox(cfg, newBase(database.NewDriver(db, cfg.DB.Dialect()), time.Now, log), nil)).Grant(cmd.Context(), id, num)
				if errors.Is(err, services.ErrUserNotFound) {
					return errors.New("no such user (a phone must have signed in once)")
				}
				if err != nil {
					return err
				}
				a.printf("user %s is now admin\n", got)
				return nil
			})
		},
	}
	grant.Flags().StringVar(&phoneArg, "phone", "", "the user holding this phone number (E.164)")
	grant.Flags().StringVar(&userArg, "user", "", "the user with this id")
	cmd.AddCommand(grant)
	return cmd
}
