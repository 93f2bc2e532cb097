package services

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqlgraph"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/ent/user"
	"github.com/agency-platform/agency/ent/webhookevent"
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
			var (
				u       *ent.User
				pending []entsql.Querier
				j       journal
			)
			if u, neu, pending, err = s.holder(ctx, tx, ext, &j); err != nil {
				return err
			}
			if neu {
				method := map[string]any{"method": string(ext.provider)}
				j.audit(auditUserCreated, u.ID, u.ID, uuid.Nil, method)
				j.hook(webhookevent.TypeUserCreated, u.ID, method)
			}
			pair, err = s.sessions.open(ctx, tx, u, device, newSignIn{user: neu, method: string(ext.provider), journal: &j}, pending...)
			return err
		})
		if !ent.IsConstraintError(err) && !sqlgraph.IsUniqueConstraintError(err) {
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
// empty name and picture are pre-filled. On PostgreSQL the identity's
// update, or the new user's and identity's inserts, are returned as
// pending statements for open to send with the session's, in one round
// trip; elsewhere they run here.
func (s signer) holder(ctx context.Context, tx *ent.Tx, ext external, j *journal) (*ent.User, bool, []entsql.Querier, error) {
	now := s.now()
	q := tx.User.Query().Where(user.HasIdentitiesWith(authidentity.ProviderEQ(ext.provider), authidentity.ProviderID(ext.id)))
	if s.dialect.locksRows() {
		q.ForUpdate()
	}
	u, err := q.Only(ctx)
	switch {
	case ent.IsNotFound(err) && s.dialect == Postgres:
		u, pending := newUserStatements(ext, now)
		return u, true, pending, nil
	case ent.IsNotFound(err):
		u, err := createWithIdentity(ctx, tx, ext, now)
		return u, true, nil, err
	case err != nil:
		return nil, false, nil, fmt.Errorf("find user of identity: %w", err)
	}
	var pending []entsql.Querier
	if s.dialect == Postgres {
		pending = append(pending, touchIdentity(ext, now))
	} else {
		upd := tx.AuthIdentity.Update().Where(authidentity.ProviderEQ(ext.provider), authidentity.ProviderID(ext.id)).SetLastUsedAt(now)
		if ext.email != nil {
			upd.Modify(func(u *entsql.UpdateBuilder) { u.Set(authidentity.FieldEmail, coalesceEmail(*ext.email)) })
		}
		if err := upd.Exec(ctx); err != nil {
			return nil, false, nil, fmt.Errorf("update identity: %w", err)
		}
	}
	u, err = prefill(ctx, tx, u, ext, j)
	return u, false, pending, err
}

// touchIdentity records a sign-in with ext on its identity, filling an
// empty email.
func touchIdentity(ext external, now time.Time) *entsql.UpdateBuilder {
	upd := entsql.Update(authidentity.Table).Set(authidentity.FieldLastUsedAt, now).
		Where(entsql.And(entsql.EQ(authidentity.FieldProvider, ext.provider), entsql.EQ(authidentity.FieldProviderID, ext.id)))
	if ext.email != nil {
		upd.Set(authidentity.FieldEmail, coalesceEmail(*ext.email))
	}
	return upd
}

// coalesceEmail keeps an identity's email, or sets email where it has none.
func coalesceEmail(email string) entsql.Querier {
	return entsql.ExprFunc(func(b *entsql.Builder) {
		b.WriteString("COALESCE(").Ident(authidentity.FieldEmail).WriteString(", ").Arg(email).WriteString(")")
	})
}

// newProfile is what a new user starts with: the provider's name and
// picture, when usable.
func newProfile(ext external) (name, picture *string) {
	if n := cleanName(ext.name); n != "" {
		n = truncateRunes(n, 255)
		name = &n
	}
	if ext.picture != "" && validPictureURL(ext.picture) {
		picture = &ext.picture
	}
	return name, picture
}

// newUserStatements returns a new user (no role yet) holding ext, and the
// INSERTs of the user and its identity, for open to send with the
// session's (PostgreSQL checks the foreign keys at the statement's end).
// Nobody else can see the new rows before commit, so they need no lock; a
// concurrent first sign-in of the same identity fails on the unique index
// and signIn tries again.
func newUserStatements(ext external, now time.Time) (*ent.User, []entsql.Querier) {
	u := &ent.User{ID: uuid.New(), CreatedAt: now, UpdatedAt: now}
	u.FullName, u.ProfilePictureURL = newProfile(ext)
	insUser := entsql.Insert(user.Table).
		Columns(user.FieldID, user.FieldFullName, user.FieldProfilePictureURL, user.FieldCreatedAt, user.FieldUpdatedAt).
		Values(u.ID, u.FullName, u.ProfilePictureURL, now, now)
	insIdentity := entsql.Insert(authidentity.Table).
		Columns(authidentity.FieldID, authidentity.FieldUserID, authidentity.FieldProvider, authidentity.FieldProviderID,
			authidentity.FieldEmail, authidentity.FieldCreatedAt, authidentity.FieldLastUsedAt).
		Values(uuid.New(), u.ID, ext.provider, ext.id, ext.email, now, now)
	return u, []entsql.Querier{insUser, insIdentity}
}

// createWithIdentity creates a user (no role yet) holding ext. Nobody else
// can see the new row before commit, so it needs no lock.
func createWithIdentity(ctx context.Context, tx *ent.Tx, ext external, now time.Time) (*ent.User, error) {
	name, picture := newProfile(ext)
	u, err := tx.User.Create().SetNillableFullName(name).SetNillableProfilePictureURL(picture).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	err = tx.AuthIdentity.Create().SetUser(u).SetProvider(ext.provider).SetProviderID(ext.id).
		SetNillableEmail(ext.email).SetLastUsedAt(now).Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("create identity: %w", err)
	}
	return u, nil
}

// prefill copies the provider's name and picture into an empty profile,
// and journals the change (profile_updated, user.updated).
func prefill(ctx context.Context, tx *ent.Tx, u *ent.User, ext external, j *journal) (*ent.User, error) {
	upd := tx.User.UpdateOne(u)
	var changed []string
	if name := cleanName(ext.name); u.FullName == nil && name != "" {
		upd.SetFullName(truncateRunes(name, 255))
		changed = append(changed, "full_name")
	}
	if u.ProfilePictureURL == nil && ext.picture != "" && validPictureURL(ext.picture) {
		upd.SetProfilePictureURL(ext.picture)
		changed = append(changed, "profile_picture_url")
	}
	if len(changed) == 0 {
		return u, nil
	}
	u, err := upd.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("prefill profile: %w", err)
	}
	journalProfile(j, u, u.ID, uuid.Nil, changed, string(ext.provider))
	return u, nil
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
