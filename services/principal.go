package services

import (
	"context"
	"database/sql"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
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

// identityColumns are the identity columns the principal's SELECT adds, in
// a fixed order, under names that cannot clash with a user column.
var identityColumns = [][2]string{
	{authidentity.FieldID, "identity_id"}, {authidentity.FieldProvider, "identity_provider"},
	{authidentity.FieldProviderID, "identity_provider_id"}, {authidentity.FieldEmail, "identity_email"},
	{authidentity.FieldCreatedAt, "identity_created_at"}, {authidentity.FieldLastUsedAt, "identity_last_used_at"},
}

// liveUser reads user id if session sid is one of its live sessions, left
// joined with its identities: one row per identity, oldest first (one row
// of NULLs for a user with none, which the seed allows). One compiled
// statement (compiled.go).
func (s *Sessions) liveUser(ctx context.Context, id, sid uuid.UUID) (*ent.User, error) {
	var (
		u    *ent.User
		row  userScan
		iid  uuid.NullUUID
		prov sql.NullString
		pid  sql.NullString
		mail sql.NullString
		at   sql.NullTime
		used sql.NullTime
	)
	dest := append(row.dest(), &iid, &prov, &pid, &mail, &at, &used)
	err := s.query(ctx, &s.stmts.liveUser, s.dialect.liveUserQuery, []any{sentinelA, sentinelB, sentinelT}, []any{id, sid, s.now()},
		func(rows *entsql.Rows) error {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			if u == nil {
				u = row.user()
				u.Edges.Identities = []*ent.AuthIdentity{}
			}
			if iid.Valid {
				i := &ent.AuthIdentity{ID: iid.UUID, UserID: u.ID, Provider: authidentity.Provider(prov.String),
					ProviderID: pid.String, CreatedAt: at.Time}
				if mail.Valid {
					e := mail.String
					i.Email = &e
				}
				if used.Valid {
					t := used.Time
					i.LastUsedAt = &t
				}
				u.Edges.Identities = append(u.Edges.Identities, i)
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if u == nil {
		return nil, ErrUnauthorized
	}
	return u, nil
}
