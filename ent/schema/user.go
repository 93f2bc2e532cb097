package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// User is the person behind every sign-in method: who they are and what role
// they play on the platform. How they sign in lives in AuthIdentity.
type User struct{ ent.Schema }

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("users")}
}

// Mixin of the User.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{}}
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		// role is NULL until the user picks one; clients must send such a user
		// to the role picker. admin is granted by operators, never self-selected.
		field.Enum("role").
			Values("creator", "agency", "brand", "gifter", "admin").
			Optional().
			Nillable().
			SchemaType(map[string]string{dialect.Postgres: "user_role"}).
			Comment("platform role; NULL until chosen"),
		// full_name is the display name, pre-filled from Google/Facebook when known.
		field.String("full_name").
			Optional().
			Nillable().
			MaxRuneLen(255).
			SchemaType(varchar(255)).
			Comment("display name"),
		// profile_picture_url points at the avatar, pre-filled from Google/Facebook.
		field.Text("profile_picture_url").
			Optional().
			Nillable().
			Comment("avatar URL"),
		// created_at records when the row was inserted.
		createdAt("sign-up time"),
		// updated_at moves on every update of the row through Ent (UpdateDefault).
		field.Time("updated_at").
			Default(time.Now).
			UpdateDefault(time.Now).
			Annotations(nowDefault()).
			Comment("last change of the row"),
	}
}

// Indexes of the User.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		// admin user list: keyset pagination ORDER BY created_at DESC, id DESC.
		index.Fields("created_at", "id"),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		// identities are the sign-in methods (phone, Google, Facebook) of the
		// user; the database deletes them with the user.
		edge.To("identities", AuthIdentity.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)).
			Comment("sign-in methods of the user"),
		// sessions are the user's signed-in devices (rows of
		// user_refresh_tokens); the database deletes them with the user. The
		// foreign key keeps the name it had when this edge was
		// "refresh_tokens".
		edge.To("sessions", Session.Type).
			StorageKey(edge.Symbol("user_refresh_tokens_users_refresh_tokens")).
			Annotations(entsql.OnDelete(entsql.Cascade)).
			Comment("sessions of the user"),
	}
}
