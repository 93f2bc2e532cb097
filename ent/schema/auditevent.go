package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// AuditEvent is one row of the audit trail: a security-relevant change
// (sign-in, role set, link, logout, deletion, admin action), written in the
// same transaction as the change it describes. Rows outlive the users they
// name: no edge, no foreign key, no cascade; the ids stay as opaque ids
// until the cleanup job deletes rows older than AUDIT_RETENTION.
type AuditEvent struct{ ent.Schema }

// Annotations of the AuditEvent.
func (AuditEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("audit_events")}
}

// Fields of the AuditEvent.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		// id grows with every row: the keyset the audit lists page on, newest first.
		field.Int64("id").
			Immutable().
			Comment("increasing row number; pages are keyed on it"),
		// created_at is when the change happened (the service's clock).
		createdAt("when the change happened"),
		// type is what happened: a closed list named like the security events.
		field.Enum("type").
			Values("user_created", "signin_succeeded", "role_set", "profile_updated",
				"identity_linked", "identity_unlinked", "session_revoked", "session_evicted",
				"logout", "refresh_token_reused", "user_deleted",
				"admin_granted", "admin_role_set", "admin_user_deleted", "admin_sessions_ended", "admin_webhook_retried").
			Immutable().
			Comment("what happened"),
		// actor_user_id is who did it: the user, an admin, or none (the CLI, the service itself).
		field.UUID("actor_user_id", uuid.UUID{}).
			Optional().
			Nillable().
			Immutable().
			Comment("who did it; empty for the CLI or the service"),
		// target_user_id is whose account it concerns; kept after the user is deleted.
		field.UUID("target_user_id", uuid.UUID{}).
			Optional().
			Nillable().
			Immutable().
			Comment("whose account it concerns"),
		// session_id is the session that made or suffered the change.
		field.UUID("session_id", uuid.UUID{}).
			Optional().
			Nillable().
			Immutable().
			Comment("session that made or suffered the change"),
		// ip is the client's network, never its address: IPv4 /24, IPv6 /48.
		field.String("ip").
			Optional().
			Nillable().
			Immutable().
			MaxLen(64).
			SchemaType(varchar(64)).
			Comment("client network (IPv4 /24, IPv6 /48)"),
		// details is a small JSON object: method, scope, old and new role,
		// changed field names (never values, tokens or codes).
		field.JSON("details", map[string]any{}).
			Optional().
			Immutable().
			Comment("small JSON of details; never a value, token or code"),
	}
}

// Indexes of the AuditEvent.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{
		// GET /v1/me/activity and the admin list filtered by user: target's rows, newest first.
		index.Fields("target_user_id", "id"),
		// the admin list filtered by user: the rows where that user acted (an admin's actions).
		index.Fields("actor_user_id", "id"),
		// the admin list filtered by type, newest first.
		index.Fields("type", "id"),
		// retention: DELETE ... WHERE created_at < now - AUDIT_RETENTION; since/until filters.
		index.Fields("created_at"),
	}
}
