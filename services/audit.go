package services

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/auditevent"
)

// The audit trail's types: the security events' names (events.go), kept
// as rows of audit_events (see journal.go for how they are written).
const (
	auditUserCreated         = auditevent.TypeUserCreated
	auditSignIn              = auditevent.TypeSigninSucceeded
	auditRoleSet             = auditevent.TypeRoleSet
	auditProfileUpdated      = auditevent.TypeProfileUpdated
	auditIdentityLinked      = auditevent.TypeIdentityLinked
	auditIdentityUnlinked    = auditevent.TypeIdentityUnlinked
	auditSessionRevoked      = auditevent.TypeSessionRevoked
	auditSessionEvicted      = auditevent.TypeSessionEvicted
	auditLogout              = auditevent.TypeLogout
	auditRefreshTokenReused  = auditevent.TypeRefreshTokenReused
	auditUserDeleted         = auditevent.TypeUserDeleted
	auditAdminGranted        = auditevent.TypeAdminGranted
	auditAdminRoleSet        = auditevent.TypeAdminRoleSet
	auditAdminUserDeleted    = auditevent.TypeAdminUserDeleted
	auditAdminSessionsEnded  = auditevent.TypeAdminSessionsEnded
	auditAdminWebhookRetried = auditevent.TypeAdminWebhookRetried
)

// Audit errors.
var (
	ErrBadAuditType = NewFieldError(KindInvalid, CodeInvalidRequest, "type", "type is not an audit event type")
	ErrBadTimeRange = NewFieldError(KindInvalid, CodeInvalidRequest, "until", "until must be after since")
	ErrBadAuditUser = NewFieldError(KindInvalid, CodeInvalidRequest, "user_id", "user_id must be a UUID")
)

// ErrBadTime refuses a time parameter that is not RFC 3339.
func ErrBadTime(name string) *Error {
	return NewFieldError(KindInvalid, CodeInvalidRequest, name, name+" must be an RFC 3339 time (2026-12-01T00:00:00Z)")
}

// Audit reads the audit trail: the admins' search and a user's own activity.
type Audit struct{ Base }

// NewAudit returns the audit reader.
func NewAudit(base Base) *Audit { return &Audit{Base: base} }

// AuditFilter selects and pages the admin audit list.
type AuditFilter struct {
	UserID       uuid.UUID // uuid.Nil: any; else rows the user is the target or the actor of
	Type         string    // "": any
	Since, Until time.Time // zero: unbounded; Since inclusive, Until exclusive
	Limit        int       // 0: DefaultPageSize
	Cursor       string
}

// AuditPage is one page of audit rows, newest first.
type AuditPage struct {
	Events     []*ent.AuditEvent
	NextCursor string // "" on the last page
}

// List pages through the audit trail, newest first, keyed on the row id:
// a page continues strictly after the previous one's last row, whatever is
// written meanwhile.
func (a *Audit) List(ctx context.Context, f AuditFilter) (*AuditPage, error) {
	q := a.db.AuditEvent.Query()
	if f.UserID != uuid.Nil {
		q.Where(auditevent.Or(auditevent.TargetUserID(f.UserID), auditevent.ActorUserID(f.UserID)))
	}
	if f.Type != "" {
		if auditevent.TypeValidator(auditevent.Type(f.Type)) != nil {
			return nil, ErrBadAuditType
		}
		q.Where(auditevent.TypeEQ(auditevent.Type(f.Type)))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return nil, ErrBadTimeRange
	}
	if !f.Since.IsZero() {
		q.Where(auditevent.CreatedAtGTE(f.Since))
	}
	if !f.Until.IsZero() {
		q.Where(auditevent.CreatedAtLT(f.Until))
	}
	return a.page(ctx, q, f.Limit, f.Cursor)
}

// Activity pages through the signed-in user's own audit rows (what was
// done to their account, by them or an admin), newest first.
func (a *Audit) Activity(ctx context.Context, p *Principal, limit int, cursor string) (*AuditPage, error) {
	return a.page(ctx, a.db.AuditEvent.Query().Where(auditevent.TargetUserID(p.User.ID)), limit, cursor)
}

// auditOf is every audit row about the user, oldest first (the export).
func (b Base) auditOf(ctx context.Context, id uuid.UUID) ([]*ent.AuditEvent, error) {
	rows, err := b.db.AuditEvent.Query().Where(auditevent.TargetUserID(id)).Order(auditevent.ByID()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit of user: %w", err)
	}
	return rows, nil
}

func (a *Audit) page(ctx context.Context, q *ent.AuditEventQuery, limit int, cursor string) (*AuditPage, error) {
	limit, after, err := pageArgs(limit, cursor)
	if err != nil {
		return nil, err
	}
	if after > 0 {
		q.Where(auditevent.IDLT(after))
	}
	rows, err := q.Order(auditevent.ByID(entsql.OrderDesc())).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	page := &AuditPage{}
	page.Events, page.NextCursor = cutPage(rows, limit, func(e *ent.AuditEvent) int64 { return e.ID })
	return page, nil
}

// cutPage keeps the first limit of rows (a query asks for limit+1 to know
// whether more follow) and returns the cursor after the last one kept, ""
// when none follow.
func cutPage[T any](rows []T, limit int, id func(T) int64) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, encodeIDCursor(id(rows[limit-1]))
}

// pageSize checks a page size; 0 is DefaultPageSize.
func pageSize(limit int) (int, error) {
	if limit == 0 {
		return DefaultPageSize, nil
	}
	if limit < 1 || limit > MaxPageSize {
		return 0, ErrBadLimit
	}
	return limit, nil
}

// pageArgs checks a page size and decodes an id cursor (0: first page).
func pageArgs(limit int, cursor string) (int, int64, error) {
	limit, err := pageSize(limit)
	if err != nil {
		return 0, 0, err
	}
	if cursor == "" {
		return limit, 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, 0, ErrBadCursor
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || id < 1 {
		return 0, 0, ErrBadCursor
	}
	return limit, id, nil
}

// encodeIDCursor is the opaque cursor after the row id.
func encodeIDCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}
