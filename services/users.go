package services

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/user"
	"github.com/agency-platform/agency/ent/webhookevent"
)

// User errors.
var (
	ErrInvalidRole     = NewError(KindUnprocessable, CodeInvalidRole, "role must be one of creator, agency, brand, gifter")
	ErrRoleAlreadySet  = NewError(KindConflict, CodeRoleAlreadySet, "the role is already set")
	ErrRoleRequired    = NewError(KindForbidden, CodeRoleRequired, "choose a role first (PUT /v1/me/role)")
	ErrUserNotFound    = NewError(KindNotFound, CodeNotFound, "no such user")
	ErrLastAdmin       = NewError(KindConflict, CodeLastAdmin, "the last admin cannot delete their account; make another user admin first")
	selfSelectableRole = map[string]user.Role{
		"creator": user.RoleCreator, "agency": user.RoleAgency, "brand": user.RoleBrand, "gifter": user.RoleGifter,
	}
)

// Users reads and changes the signed-in user's own record.
type Users struct {
	Base
	sessions *Sessions
}

// NewUsers returns the user service.
func NewUsers(base Base, sessions *Sessions) *Users {
	return &Users{Base: base, sessions: sessions}
}

// Me returns the caller with their sign-in methods, as Authenticate read
// them: no query of its own.
func (s *Users) Me(p *Principal) *ent.User { return p.User }

// ProfileUpdate holds the fields PATCH /v1/me may change; nil leaves a
// field as it is.
type ProfileUpdate struct {
	FullName          *string
	ProfilePictureURL *string
}

// UpdateProfile validates and applies a profile change, journaled in its
// transaction (profile_updated with the field names, user.updated).
func (s *Users) UpdateProfile(ctx context.Context, p *Principal, in ProfileUpdate) (*ent.User, error) {
	var fields []string
	if in.FullName != nil {
		if n := utf8.RuneCountInString(*in.FullName); n < 1 || n > 255 || !utf8.ValidString(*in.FullName) {
			return nil, validationFailed("full_name", "full_name must be 1 to 255 characters")
		}
		if err := checkName("full_name", *in.FullName); err != nil {
			return nil, err
		}
		fields = append(fields, "full_name")
	}
	if in.ProfilePictureURL != nil {
		if !validPictureURL(*in.ProfilePictureURL) {
			return nil, validationFailed("profile_picture_url", "profile_picture_url must be an http(s) URL of at most 2048 characters")
		}
		fields = append(fields, "profile_picture_url")
	}
	if len(fields) == 0 {
		return p.User, nil
	}
	var u *ent.User
	err := s.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		var err error
		u, err = tx.User.UpdateOneID(p.User.ID).SetNillableFullName(in.FullName).
			SetNillableProfilePictureURL(in.ProfilePictureURL).Save(ctx)
		if err != nil {
			return notFoundAs(err, ErrUnauthorized, "update profile")
		}
		journalProfile(j, u, p.User.ID, p.SessionID, fields, "user")
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.events.log(ctx, EventProfileUpdated, slog.String("user_id", u.ID.String()), slog.Any("fields", fields))
	return u, nil
}

// journalProfile records a change of u's profile fields: their names in
// the audit row (never the values), the profile as it now is in the
// user.updated event. source says who changed it: the user, or the
// provider the user signed in with (an empty profile is pre-filled).
func journalProfile(j *journal, u *ent.User, actor, session uuid.UUID, fields []string, source string) {
	j.audit(auditProfileUpdated, actor, u.ID, session, map[string]any{"fields": fields, "source": source})
	j.hook(webhookevent.TypeUserUpdated, u.ID, map[string]any{"changed_fields": fields, "full_name": u.FullName,
		"profile_picture_url": u.ProfilePictureURL, "role": u.Role})
}

func validPictureURL(s string) bool {
	if len(s) > 2048 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// ErrValidationFailed is a well-formed value that breaks a rule; its
// variants name the field (OnField).
var ErrValidationFailed = NewError(KindUnprocessable, CodeValidationFailed, "a value breaks a rule")

// validationFailed is ErrValidationFailed naming the field.
func validationFailed(field, msg string) *Error { return ErrValidationFailed.OnField(field, msg) }

// SetRole sets the caller's role once. The UPDATE only matches while role
// IS NULL, so of two racing requests with different roles exactly one
// succeeds; asking again for the role the user has answers like the first
// time (a retry after a lost response), another role is ErrRoleAlreadySet.
// The pair carries an access token with the role and the session's current
// refresh token (see currentInTx), so the client's refresh token keeps
// working whatever response it lost, and a concurrent refresh cannot make
// this fail.
func (s *Users) SetRole(ctx context.Context, p *Principal, role string) (*TokenPair, error) {
	r, ok := selfSelectableRole[role]
	if !ok {
		return nil, ErrInvalidRole
	}
	var (
		tok refreshToken
		set bool
	)
	err := s.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		n, err := tx.User.Update().Where(user.ID(p.User.ID), user.RoleIsNil()).SetRole(r).Save(ctx)
		if err != nil {
			return fmt.Errorf("set role: %w", err)
		}
		if set = n == 1; set {
			j.audit(auditRoleSet, p.User.ID, p.User.ID, p.SessionID, map[string]any{"old": nil, "new": role})
			j.hook(webhookevent.TypeUserRoleSelected, p.User.ID, map[string]any{"role": role})
		} else {
			u, err := tx.User.Get(ctx, p.User.ID)
			if err != nil {
				return notFoundAs(err, ErrUnauthorized, "set role")
			}
			if u.Role == nil || *u.Role != r {
				return ErrRoleAlreadySet
			}
		}
		tok, err = s.sessions.currentInTx(ctx, tx, p.SessionID)
		return err
	})
	if err != nil {
		return nil, err
	}
	u, err := s.db.User.Get(ctx, p.User.ID)
	if err != nil {
		return nil, fmt.Errorf("set role: reload user: %w", err)
	}
	if set {
		s.events.log(ctx, EventRoleSet, slog.String("user_id", u.ID.String()), slog.String("role", role))
	}
	return s.sessions.pair(u, tok)
}

// RequireRole refuses a caller who has not chosen a role yet.
func RequireRole(p *Principal) error {
	if p.User.Role == nil {
		return ErrRoleRequired
	}
	return nil
}

// Export is a copy of everything the service keeps about a user that the
// user may see: never a token hash, code hash or secret.
type Export struct {
	ExportedAt time.Time
	User       *ent.User // with its identities
	Sessions   []*ent.Session
	Activity   []*ent.AuditEvent // the user's audit rows, oldest first
}

// Export returns the signed-in user's data (GDPR's right to a copy):
// profile, sign-in methods with their emails, live sessions, and the audit
// rows about the user (their own security activity).
func (s *Users) Export(ctx context.Context, p *Principal) (*Export, error) {
	sessions, err := s.sessions.List(ctx, p)
	if err != nil {
		return nil, err
	}
	activity, err := s.auditOf(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	return &Export{ExportedAt: s.now(), User: p.User, Sessions: sessions, Activity: activity}, nil
}

// DeleteMe deletes the signed-in user: the database deletes the user's
// sign-in methods and sessions with it (ON DELETE CASCADE), so every token
// of the user fails on its next use, and the phone number and provider
// accounts are free for a new sign-up at once. It needs a recent sign-in
// (ReauthWindow), as linking does: a stolen long-lived session cannot
// delete the account. The last admin cannot leave: the admins are locked
// in the transaction (PostgreSQL; SQLite serialises writers), so two admins
// deleting themselves at once cannot both go.
func (s *Users) DeleteMe(ctx context.Context, p *Principal) error {
	if err := s.recentSignIn(ctx, p); err != nil {
		return err
	}
	err := s.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		if p.User.Role != nil && *p.User.Role == user.RoleAdmin {
			admins := tx.User.Query().Where(user.RoleEQ(user.RoleAdmin))
			if s.dialect.locksRows() {
				admins = admins.ForUpdate()
			}
			ids, err := admins.IDs(ctx)
			if err != nil {
				return fmt.Errorf("delete me: admins: %w", err)
			}
			if len(ids) <= 1 {
				return ErrLastAdmin
			}
		}
		if err := tx.User.DeleteOneID(p.User.ID).Exec(ctx); err != nil {
			return notFoundAs(err, ErrUnauthorized, "delete me")
		}
		j.audit(auditUserDeleted, p.User.ID, p.User.ID, p.SessionID, nil)
		j.hook(webhookevent.TypeUserDeleted, p.User.ID, map[string]any{"by": "user"})
		return nil
	})
	if err != nil {
		return err
	}
	s.events.log(ctx, EventUserDeleted, slog.String("user_id", p.User.ID.String()), slog.String("session_id", p.SessionID.String()))
	return nil
}
