package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// WebhookEvent is one event of the webhook outbox (user created, role
// selected, deleted, identity linked...): inserted in the same transaction
// as the change, so it exists if and only if the change committed, then
// delivered to WEBHOOK_URL at least once by whichever instance claims it.
// No foreign key: user.deleted outlives its user.
type WebhookEvent struct{ ent.Schema }

// Annotations of the WebhookEvent.
func (WebhookEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("webhook_events")}
}

// Fields of the WebhookEvent.
func (WebhookEvent) Fields() []ent.Field {
	return []ent.Field{
		// id grows with every event: a user's events are delivered in id order.
		field.Int64("id").
			Immutable().
			Comment("increasing event number; delivery order within a user"),
		// event_id is the webhook-id header receivers deduplicate on.
		field.UUID("event_id", uuid.UUID{}).
			Default(uuid.New).
			Unique().
			Immutable().
			Comment("webhook-id: receivers deduplicate on it"),
		// type is the event's name, e.g. user.created.
		field.Enum("type").
			NamedValues(
				"UserCreated", "user.created",
				"UserRoleSelected", "user.role_selected",
				"UserUpdated", "user.updated",
				"UserDeleted", "user.deleted",
				"IdentityLinked", "identity.linked",
				"IdentityUnlinked", "identity.unlinked").
			Immutable().
			Comment("event name"),
		// user_id is the user the event is about: the ordering key.
		field.UUID("user_id", uuid.UUID{}).
			Immutable().
			Comment("user the event is about; events of one user go out in order"),
		// payload is the exact JSON body sent (and signed) on every attempt.
		field.Text("payload").
			Immutable().
			Comment("JSON body, the same on every attempt"),
		// created_at is when the change committed's transaction wrote the event.
		createdAt("when the event happened"),
		// status is pending until a 2xx (delivered) or the last attempt (failed).
		field.Enum("status").
			Values("pending", "delivered", "failed").
			Default("pending").
			Comment("pending, delivered or failed"),
		// attempts counts deliveries started (a crash mid-delivery counts too).
		field.Int("attempts").
			Default(0).
			NonNegative().
			Comment("delivery attempts started"),
		// next_attempt_at is when the event may be tried (again).
		field.Time("next_attempt_at").
			Comment("earliest time of the next attempt"),
		// locked_until is the end of the current attempt's lease: until then
		// no other instance may claim the event; after it, a crashed
		// attempt's event is claimed again.
		field.Time("locked_until").
			Optional().
			Nillable().
			Comment("end of the current attempt's lease"),
		// claim identifies the attempt holding the lease, so only it records the outcome.
		field.UUID("claim", uuid.UUID{}).
			Optional().
			Nillable().
			Comment("attempt holding the lease"),
		// last_error says why the last attempt failed ("status 500", "timeout").
		field.String("last_error").
			Optional().
			Nillable().
			MaxLen(255).
			SchemaType(varchar(255)).
			Comment("why the last attempt failed"),
		// delivered_at is when a 2xx came back.
		field.Time("delivered_at").
			Optional().
			Nillable().
			Comment("when the receiver answered 2xx"),
	}
}

// Indexes of the WebhookEvent.
func (WebhookEvent) Indexes() []ent.Index {
	return []ent.Index{
		// the deliverer's poll: pending events due now; the failed list.
		index.Fields("status", "next_attempt_at"),
		// "no earlier pending event of this user": per-user order.
		index.Fields("user_id", "id"),
		// cleanup of delivered and failed events past WEBHOOK_RETENTION.
		index.Fields("created_at"),
	}
}
