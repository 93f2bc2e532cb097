package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Session is one signed-in device: a row of the seed's user_refresh_tokens
// table. The client holds the session's current refresh token, which
// rotates on every refresh; only a hash of it is stored.
type Session struct{ ent.Schema }

// Annotations of the Session.
func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("user_refresh_tokens")}
}

// Mixin of the Session.
func (Session) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{}}
}

// Fields of the Session.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		// user_id is the session's owner; deleting the user ends the session (cascade).
		field.UUID("user_id", uuid.UUID{}).
			Comment("owning user"),
		// token_hash is a hash of the current refresh token; the token itself
		// is only ever held by the client.
		field.String("token_hash").
			NotEmpty().
			MaxLen(255).
			SchemaType(varchar(255)).
			Sensitive().
			Comment("hash of the current refresh token"),
		// device_info names the device for the session list ("iPhone 15").
		field.Text("device_info").
			Optional().
			Nillable().
			Comment("device label shown in the session list"),
		// expires_at is when the refresh token stops working.
		field.Time("expires_at").
			Comment("when the refresh token stops working"),
		// created_at is the sign-in time; the oldest session is evicted first.
		createdAt("sign-in time; oldest is evicted first"),
		// generation counts rotations; the refresh token carries it, so a
		// replayed older token can be recognised as this session's ancestor.
		field.Int64("generation").
			Default(0).
			NonNegative().
			Comment("rotation counter carried by the token"),
		// previous_token_hash is the hash of the token rotated away last: a
		// retry within the grace window gets the current token back, a later
		// replay revokes the session.
		field.String("previous_token_hash").
			Optional().
			Nillable().
			MaxLen(255).
			SchemaType(varchar(255)).
			Sensitive().
			Comment("hash of the token rotated away last"),
		// rotated_at is when the last rotation happened (start of the grace window).
		field.Time("rotated_at").
			Optional().
			Nillable().
			Comment("time of the last rotation"),
		// last_used_at is the last sign-in or refresh, shown in the session list.
		field.Time("last_used_at").
			Default(time.Now).
			Annotations(nowDefault()).
			Comment("last sign-in or refresh"),
		// session_expires_at is the absolute limit: refreshes never move
		// expires_at past it (SESSION_MAX_AGE after sign-in).
		field.Time("session_expires_at").
			Optional().
			Nillable().
			Comment("absolute session limit"),
	}
}

// Edges of the Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		// user is the owner of this session.
		edge.From("user", User.Type).
			Ref("sessions").
			Field("user_id").
			Unique().
			Required().
			Comment("owner"),
	}
}

// Indexes of the Session.
func (Session) Indexes() []ent.Index {
	return []ent.Index{
		// "sessions of a user, oldest first": session list and device-limit eviction.
		// (Index names are pinned: they date from when this type was
		// called RefreshToken, and renaming must not change the schema.)
		index.Fields("user_id", "created_at").
			StorageKey("refreshtoken_user_id_created_at"),
		// cleanup: DELETE ... WHERE expires_at < now().
		index.Fields("expires_at").
			StorageKey("refreshtoken_expires_at"),
	}
}
