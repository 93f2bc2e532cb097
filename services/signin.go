package services

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/ent/user"
)

// external is a verified sign-in method: who the provider says the person is.
type external struct {
	provider authidentity.Provider
	id       string  // provider subject, or E.164 number
	email    *string // only when the provider verified it; stored for reference
	name     string  // pre-fills an empty profile
	picture  string
	logAttrs []slog.Attr // extra event attributes (masked phone)
}

// signer is the sign-in core shared by phone and provider sign-in.
type signer struct {
	Base
	sessions *Sessions
}

// signIn finds or creates the user holding the verified method ext and
// opens a session for device, in one transaction, and returns the token
// pair. Accounts are never linked by email: an unknown (provider, id)
// always makes a new user. A concurrent first sign-in of the same identity
// loses on the unique index; it is retried once and then finds the winner's
// user.
func (s signer) signIn(ctx context.Context, ext external, device string) (*TokenPair, error) {
	var (
		pair *TokenPair
		neu  bool
		err  error
	)
	for try := 0; try < 2; try++ {
		err = s.withTx(ctx, func(tx *ent.Tx) error {
			var u *ent.User
			if u, neu, err = s.holder(ctx, tx, ext); err != nil {
				return err
			}
			pair, err = s.sessions.open(ctx, tx, u, device, neu)
			return err
		})
		if !ent.IsConstraintError(err) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	attrs := append([]slog.Attr{slog.String("method", string(ext.provider)), slog.String("user_id", pair.User.ID.String()),
		slog.String("session_id", pair.sessionID.String()), slog.Bool("new_user", neu)}, ext.logAttrs...)
	s.events.log(ctx, EventSignInSucceeded, attrs...)
	return pair, nil
}

// holder returns the user holding ext with the user's row locked (see
// lockUser), creating user and identity when none does. A known identity
// gets its email filled where empty and its last use recorded; the user's
// empty name and picture are pre-filled.
func (s signer) holder(ctx context.Context, tx *ent.Tx, ext external) (*ent.User, bool, error) {
	now := s.now()
	q := tx.User.Query().Where(user.HasIdentitiesWith(authidentity.ProviderEQ(ext.provider), authidentity.ProviderID(ext.id)))
	if s.dialect.locksRows() {
		q.ForUpdate()
	}
	u, err := q.Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return createWithIdentity(ctx, tx, ext, now)
	case err != nil:
		return nil, false, fmt.Errorf("find user of identity: %w", err)
	}
	upd := tx.AuthIdentity.Update().
		Where(authidentity.ProviderEQ(ext.provider), authidentity.ProviderID(ext.id)).
		SetLastUsedAt(now)
	if ext.email != nil {
		upd.Modify(func(u *entsql.UpdateBuilder) {
			u.Set(authidentity.FieldEmail, entsql.ExprFunc(func(b *entsql.Builder) {
				b.WriteString("COALESCE(").Ident(authidentity.FieldEmail).WriteString(", ").Arg(*ext.email).WriteString(")")
			}))
		})
	}
	if err := upd.Exec(ctx); err != nil {
		return nil, false, fmt.Errorf("update identity: %w", err)
	}
	u, err = prefill(ctx, tx, u, ext)
	return u, false, err
}

// createWithIdentity creates a user (no role yet) holding ext. Nobody else
// can see the new row before commit, so it needs no lock.
func createWithIdentity(ctx context.Context, tx *ent.Tx, ext external, now time.Time) (*ent.User, bool, error) {
	create := tx.User.Create()
	if name := cleanName(ext.name); name != "" {
		create.SetFullName(truncateRunes(name, 255))
	}
	if ext.picture != "" && validPictureURL(ext.picture) {
		create.SetProfilePictureURL(ext.picture)
	}
	u, err := create.Save(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("create user: %w", err)
	}
	err = tx.AuthIdentity.Create().SetUser(u).SetProvider(ext.provider).SetProviderID(ext.id).
		SetNillableEmail(ext.email).SetLastUsedAt(now).Exec(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("create identity: %w", err)
	}
	return u, true, nil
}

// prefill copies the provider's name and picture into an empty profile.
func prefill(ctx context.Context, tx *ent.Tx, u *ent.User, ext external) (*ent.User, error) {
	upd := tx.User.UpdateOne(u)
	changed := false
	if name := cleanName(ext.name); u.FullName == nil && name != "" {
		upd.SetFullName(truncateRunes(name, 255))
		changed = true
	}
	if u.ProfilePictureURL == nil && ext.picture != "" && validPictureURL(ext.picture) {
		upd.SetProfilePictureURL(ext.picture)
		changed = true
	}
	if !changed {
		return u, nil
	}
	u, err := upd.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("prefill profile: %w", err)
	}
	return u, nil
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
