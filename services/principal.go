package services

import (
	"context"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/ent/session"
	"github.com/agency-platform/agency/ent/user"
)

// Principal is the caller behind a verified access token: the user as the
// database has it now (current role), with its sign-in methods loaded
// (User.Edges.Identities), and the session the token belongs to.
type Principal struct {
	User      *ent.User
	SessionID uuid.UUID
}

// Authenticate verifies an access token and checks its session still
// exists, so logout and revocation take effect on the next request. One
// SELECT reads the user, only if the session is live, with its sign-in
// methods, so who-am-I needs nothing more.
func (s *Sessions) Authenticate(ctx context.Context, token string) (*Principal, error) {
	claims, err := s.access.Verify(token)
	if err != nil {
		return nil, ErrUnauthorized
	}
	u, err := s.liveUser(ctx, claims.UserID, claims.SessionID)
	if err != nil {
		return nil, err
	}
	return &Principal{User: u, SessionID: claims.SessionID}, nil
}

// principalRow is one row of the principal's SELECT: the user's columns
// (user.Columns, every one: a column added to the schema and missing here
// fails the scan, and so every test) and one identity's, NULL when the
// user has none.
type principalRow struct {
	ID                uuid.UUID  `sql:"id"`
	Role              *string    `sql:"role"`
	FullName          *string    `sql:"full_name"`
	ProfilePictureURL *string    `sql:"profile_picture_url"`
	CreatedAt         time.Time  `sql:"created_at"`
	UpdatedAt         time.Time  `sql:"updated_at"`
	IdentityID        *uuid.UUID `sql:"identity_id"`
	Provider          *string    `sql:"identity_provider"`
	ProviderID        *string    `sql:"identity_provider_id"`
	Email             *string    `sql:"identity_email"`
	IdentityCreatedAt *time.Time `sql:"identity_created_at"`
	LastUsedAt        *time.Time `sql:"identity_last_used_at"`
}

// identityColumns are the identity columns the principal's SELECT adds, in
// a fixed order (the statement's text is the same on every request).
var identityColumns = [][2]string{
	{authidentity.FieldID, "identity_id"}, {authidentity.FieldProvider, "identity_provider"},
	{authidentity.FieldProviderID, "identity_provider_id"}, {authidentity.FieldEmail, "identity_email"},
	{authidentity.FieldCreatedAt, "identity_created_at"}, {authidentity.FieldLastUsedAt, "identity_last_used_at"},
}

// liveUser reads user id if session sid is one of its live sessions, left
// joined with its identities: one row per identity, oldest first (one row
// of NULLs for a user with none, which the seed allows).
func (s *Sessions) liveUser(ctx context.Context, id, sid uuid.UUID) (*ent.User, error) {
	var rows []principalRow
	err := s.db.User.Query().
		Where(user.ID(id), user.HasSessionsWith(session.ID(sid), session.ExpiresAtGT(s.now()))).
		Modify(func(sel *entsql.Selector) {
			t := entsql.Table(authidentity.Table)
			sel.LeftJoin(t).On(sel.C(user.FieldID), t.C(authidentity.FieldUserID))
			for _, c := range identityColumns {
				sel.AppendSelectAs(t.C(c[0]), c[1])
			}
			sel.OrderBy(t.C(authidentity.FieldCreatedAt), t.C(authidentity.FieldID))
		}).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if len(rows) == 0 {
		return nil, ErrUnauthorized
	}
	r := rows[0]
	u := &ent.User{ID: r.ID, FullName: r.FullName, ProfilePictureURL: r.ProfilePictureURL, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Role != nil {
		role := user.Role(*r.Role)
		u.Role = &role
	}
	u.Edges.Identities = make([]*ent.AuthIdentity, 0, len(rows))
	for _, r := range rows {
		if r.IdentityID == nil {
			continue
		}
		u.Edges.Identities = append(u.Edges.Identities, &ent.AuthIdentity{ID: *r.IdentityID, UserID: u.ID,
			Provider: authidentity.Provider(deref(r.Provider)), ProviderID: deref(r.ProviderID), Email: r.Email,
			CreatedAt: deref(r.IdentityCreatedAt), LastUsedAt: r.LastUsedAt})
	}
	return u, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
