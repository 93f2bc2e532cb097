package services

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
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

// signInWith finds or creates the user holding (provider, id) and starts a
// session, in one transaction. Accounts are never linked by email: an
// unknown (provider, id) always makes a new user. A concurrent first
// sign-in of the same identity loses on the unique index; it is retried
// once and then finds the winner's user.
func signInWith(ctx context.Context, db *ent.Client, sessions *Sessions, events *Events, now func() time.Time, ext external, device string) (*TokenPair, error) {
	var (
		u   *ent.User
		tok refreshToken
		neu bool
		err error
	)
	for try := 0; try < 2; try++ {
		err = withTx(ctx, db, func(tx *ent.Tx) error {
			var err error
			if u, neu, err = upsertIdentity(ctx, tx, ext, now()); err != nil {
				return err
			}
			tok, err = sessions.start(ctx, tx, u, device)
			return err
		})
		if !ent.IsConstraintError(err) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	attrs := append([]slog.Attr{slog.String("method", string(ext.provider)), slog.String("user_id", u.ID.String()),
		slog.String("session_id", tok.session.String()), slog.Bool("new_user", neu)}, ext.logAttrs...)
	events.log(ctx, EventSignInSucceeded, attrs...)
	return sessions.pair(u, tok)
}

// upsertIdentity returns the user holding ext, creating user and identity
// when none does. A known identity gets its email filled where empty and
// its last use recorded; the user's empty name and picture are pre-filled.
func upsertIdentity(ctx context.Context, tx *ent.Tx, ext external, now time.Time) (*ent.User, bool, error) {
	ident, err := tx.AuthIdentity.Query().
		Where(authidentity.ProviderEQ(ext.provider), authidentity.ProviderID(ext.id)).
		WithUser().
		Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return createWithIdentity(ctx, tx, ext, now)
	case err != nil:
		return nil, false, fmt.Errorf("find identity: %w", err)
	}
	upd := ident.Update().SetLastUsedAt(now)
	if ident.Email == nil && ext.email != nil {
		upd.SetEmail(*ext.email)
	}
	if err := upd.Exec(ctx); err != nil {
		return nil, false, fmt.Errorf("update identity: %w", err)
	}
	u, err := prefill(ctx, tx, ident.Edges.User, ext)
	return u, false, err
}

func createWithIdentity(ctx context.Context, tx *ent.Tx, ext external, now time.Time) (*ent.User, bool, error) {
	create := tx.User.Create()
	if ext.name != "" {
		create.SetFullName(truncateRunes(ext.name, 255))
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
	if u.FullName == nil && ext.name != "" {
		upd.SetFullName(truncateRunes(ext.name, 255))
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
