package services

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/auditevent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/ent/predicate"
	"github.com/agency-platform/agency/ent/session"
	"github.com/agency-platform/agency/ent/user"
	"github.com/agency-platform/agency/ent/webhookevent"
)

// Admin errors.
var (
	ErrForbidden     = NewError(KindForbidden, CodeForbidden, "this needs the admin role")
	ErrBadCursor     = NewFieldError(KindInvalid, CodeInvalidRequest, "cursor", "cursor is not valid")
	ErrBadLimit      = NewFieldError(KindInvalid, CodeInvalidRequest, "limit", "limit must be 1 to 200")
	ErrBadRoleFilter = NewFieldError(KindInvalid, CodeInvalidRequest, "role", "role must be creator, agency, brand, gifter, admin or none")
	ErrAnyRole       = NewError(KindUnprocessable, CodeInvalidRole, "role must be one of creator, agency, brand, gifter, admin")
)

// Paging bounds of the admin user list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// RequireAdmin refuses every caller whose role is not admin.
func RequireAdmin(p *Principal) error {
	if p.User.Role == nil || *p.User.Role != user.RoleAdmin {
		return ErrForbidden
	}
	return nil
}

// Admin is the operators' view of users.
type Admin struct{ Base }

// NewAdmin returns the admin service.
func NewAdmin(base Base) *Admin { return &Admin{Base: base} }

// UserFilter selects and pages the user list.
type UserFilter struct {
	Role   string // "" any, "none" no role yet, or a role
	Query  string // matches name, phone or email identities (case-insensitive substring)
	Limit  int    // 0: DefaultPageSize
	Cursor string // from the previous page
}

// UserPage is one page of users, newest first, with their identities.
type UserPage struct {
	Users      []*ent.User
	NextCursor string // "" on the last page
}

// ListUsers pages through users with keyset pagination on (created_at, id),
// newest first: each page continues strictly after the last row of the
// previous one, so rows are never skipped or repeated, whatever is inserted
// meanwhile.
func (a *Admin) ListUsers(ctx context.Context, f UserFilter) (*UserPage, error) {
	var err error
	if f.Limit, err = pageSize(f.Limit); err != nil {
		return nil, err
	}
	q := a.db.User.Query()
	switch r := f.Role; {
	case r == "none":
		q.Where(user.RoleIsNil())
	case r != "":
		if user.RoleValidator(user.Role(r)) != nil {
			return nil, ErrBadRoleFilter
		}
		q.Where(user.RoleEQ(user.Role(r)))
	}
	if err := CheckText("q", f.Query); err != nil {
		return nil, err
	}
	if s := strings.TrimSpace(f.Query); s != "" {
		q.Where(user.Or(user.FullNameContainsFold(s), user.HasIdentitiesWith(authidentity.Or(
			authidentity.And(authidentity.ProviderEQ(authidentity.ProviderPhone), authidentity.ProviderIDContains(s)),
			authidentity.EmailContainsFold(s)))))
	}
	if f.Cursor != "" {
		after, err := afterCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		q.Where(after)
	}
	users, err := q.Order(user.ByCreatedAt(entsql.OrderDesc()), user.ByID(entsql.OrderDesc())).
		Limit(f.Limit + 1).WithIdentities().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	page := &UserPage{Users: users}
	if len(users) > f.Limit {
		page.Users = users[:f.Limit]
		last := page.Users[f.Limit-1]
		page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}

// A cursor is the (created_at, id) of the last row of a page, opaque to clients.
func encodeCursor(t time.Time, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + id.String()))
}

func afterCursor(c string) (predicate.User, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, ErrBadCursor
	}
	ts, idText, ok := strings.Cut(string(b), "|")
	t, terr := time.Parse(time.RFC3339Nano, ts)
	id, ierr := uuid.Parse(idText)
	if !ok || terr != nil || ierr != nil {
		return nil, ErrBadCursor
	}
	return user.Or(user.CreatedAtLT(t), user.And(user.CreatedAt(t), user.IDLT(id))), nil
}

// UserDetail is one user with identities and the number of live sessions.
type UserDetail struct {
	User     *ent.User
	Sessions int
}

// GetUser returns a user with identities and session count.
func (a *Admin) GetUser(ctx context.Context, id uuid.UUID) (*UserDetail, error) {
	u, err := a.db.User.Query().Where(user.ID(id)).WithIdentities().Only(ctx)
	if err != nil {
		return nil, notFoundAs(err, ErrUserNotFound, "admin: get user")
	}
	n, err := a.db.Session.Query().Where(session.UserID(id)).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: count sessions: %w", err)
	}
	return &UserDetail{User: u, Sessions: n}, nil
}

// SetRole gives a user any role, admin included. Access tokens carry the
// role only as a hint: this service reads the role from the database on
// every request, so the change applies to existing tokens at once. The
// user's row is locked to read the old role the audit row names.
func (a *Admin) SetRole(ctx context.Context, admin *Principal, id uuid.UUID, role string) (*UserDetail, error) {
	r := user.Role(role)
	if user.RoleValidator(r) != nil {
		return nil, ErrAnyRole
	}
	var old *user.Role
	err := a.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		u, err := a.setRoleInTx(ctx, tx, id, r)
		if err != nil {
			return err
		}
		old = u.Role
		journalAdminRole(j, auditAdminRoleSet, admin.User.ID, admin.SessionID, u, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.logAction(ctx, admin, EventAdminRoleSet, id, slog.String("role", role), slog.Any("old_role", old))
	return a.GetUser(ctx, id)
}

// setRoleInTx locks user id, sets its role and returns it as it was.
func (a *Admin) setRoleInTx(ctx context.Context, tx *ent.Tx, id uuid.UUID, r user.Role) (*ent.User, error) {
	q := tx.User.Query().Where(user.ID(id))
	if a.dialect.locksRows() {
		q.ForUpdate()
	}
	u, err := q.Only(ctx)
	if err != nil {
		return nil, notFoundAs(err, ErrUserNotFound, "admin: set role")
	}
	if err := tx.User.UpdateOneID(id).SetRole(r).Exec(ctx); err != nil {
		return nil, notFoundAs(err, ErrUserNotFound, "admin: set role")
	}
	return u, nil
}

// journalAdminRole records an admin's (or the CLI's: actor uuid.Nil) role
// change of u (as it was) to r: the audit row with old and new role, and
// user.updated with the new role.
func journalAdminRole(j *journal, typ auditevent.Type, actor, session uuid.UUID, u *ent.User, r user.Role) {
	details := map[string]any{"old": u.Role, "new": string(r)}
	if actor == uuid.Nil {
		details["actor"] = "cli"
	}
	j.audit(typ, actor, u.ID, session, details)
	j.hook(webhookevent.TypeUserUpdated, u.ID, map[string]any{"changed_fields": []string{"role"}, "full_name": u.FullName,
		"profile_picture_url": u.ProfilePictureURL, "role": string(r)})
}

// DeleteUser deletes a user; the database deletes identities and sessions
// with it (ON DELETE CASCADE).
func (a *Admin) DeleteUser(ctx context.Context, admin *Principal, id uuid.UUID) error {
	err := a.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		if err := tx.User.DeleteOneID(id).Exec(ctx); err != nil {
			return notFoundAs(err, ErrUserNotFound, "admin: delete user")
		}
		j.audit(auditAdminUserDeleted, admin.User.ID, id, admin.SessionID, nil)
		j.hook(webhookevent.TypeUserDeleted, id, map[string]any{"by": "admin"})
		return nil
	})
	if err != nil {
		return err
	}
	a.logAction(ctx, admin, EventAdminUserDeleted, id)
	return nil
}

// EndSessions signs a user out everywhere.
func (a *Admin) EndSessions(ctx context.Context, admin *Principal, id uuid.UUID) error {
	var n int
	err := a.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		exists, err := tx.User.Query().Where(user.ID(id)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("admin: end sessions: %w", err)
		}
		if !exists {
			return ErrUserNotFound
		}
		if n, err = tx.Session.Delete().Where(session.UserID(id)).Exec(ctx); err != nil {
			return fmt.Errorf("admin: end sessions: %w", err)
		}
		j.audit(auditAdminSessionsEnded, admin.User.ID, id, admin.SessionID, map[string]any{"sessions_ended": n})
		return nil
	})
	if err != nil {
		return err
	}
	a.logAction(ctx, admin, EventAdminSessionsEnded, id, slog.Int("sessions_ended", n))
	return nil
}

// Grant makes a user admin from the command line: by user id, or by the
// user holding an E.164 phone number.
func (a *Admin) Grant(ctx context.Context, userID *uuid.UUID, phoneE164 string) (uuid.UUID, error) {
	var id uuid.UUID
	if userID != nil {
		id = *userID
	} else {
		ident, err := a.db.AuthIdentity.Query().
			Where(authidentity.ProviderEQ(authidentity.ProviderPhone), authidentity.ProviderID(phoneE164)).Only(ctx)
		if err != nil {
			return uuid.Nil, notFoundAs(err, ErrUserNotFound, "admin grant")
		}
		id = ident.UserID
	}
	err := a.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		u, err := a.setRoleInTx(ctx, tx, id, user.RoleAdmin)
		if err != nil {
			return err
		}
		journalAdminRole(j, auditAdminGranted, uuid.Nil, uuid.Nil, u, user.RoleAdmin)
		return nil
	})
	if err != nil {
		return uuid.Nil, err
	}
	a.events.log(ctx, EventAdminGranted, slog.String("actor", "cli"), slog.String("target_user_id", id.String()))
	return id, nil
}

// logAction logs an admin action naming the admin and the target (the
// security event; the audit row is written by the action's transaction).
func (a *Admin) logAction(ctx context.Context, admin *Principal, event Event, target uuid.UUID, attrs ...slog.Attr) {
	all := append([]slog.Attr{slog.String("admin_id", admin.User.ID.String()), slog.String("target_user_id", target.String())}, attrs...)
	a.events.log(ctx, event, all...)
}
