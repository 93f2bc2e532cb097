package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// AuthIdentity is one way a user signs in: a phone number, a Google account
// or a Facebook account. A user may hold several; each belongs to one user.
type AuthIdentity struct{ ent.Schema }

// Annotations of the AuthIdentity.
func (AuthIdentity) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("user_auth_identities")}
}

// Mixin of the AuthIdentity.
func (AuthIdentity) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{}}
}

// Fields of the AuthIdentity.
func (AuthIdentity) Fields() []ent.Field {
	return []ent.Field{
		// user_id is the owner; deleting the user deletes this row (cascade).
		field.UUID("user_id", uuid.UUID{}).
			Comment("owning user"),
		// provider says which kind of sign-in this is.
		field.Enum("provider").
			Values("google", "facebook", "phone").
			SchemaType(map[string]string{dialect.Postgres: "auth_provider"}).
			Comment("sign-in method"),
		// provider_id is the provider's stable id: Google/Facebook subject, or
		// the E.164 phone number.
		field.Text("provider_id").
			NotEmpty().
			Comment("provider subject or E.164 number"),
		// email is kept for reference only (never used to link accounts).
		field.String("email").
			Optional().
			Nillable().
			MaxRuneLen(255).
			SchemaType(varchar(255)).
			Comment("provider email, for reference only"),
		// created_at records when the row was inserted.
		createdAt("when the method was added"),
		// last_used_at is the last sign-in with this method (NULL: never since linking).
		field.Time("last_used_at").
			Optional().
			Nillable().
			Comment("last sign-in with this method"),
	}
}

// Edges of the AuthIdentity.
func (AuthIdentity) Edges() []ent.Edge {
	return []ent.Edge{
		// user is the owner of this sign-in method.
		edge.From("user", User.Type).
			Ref("identities").
			Field("user_id").
			Unique().
			Required().
			Comment("owner"),
	}
}

// Indexes of the AuthIdentity.
func (AuthIdentity) Indexes() []ent.Index {
	return []ent.Index{
		// Sign-in lookup "which user holds (provider, provider_id)"; unique so
		// no two users can claim the same phone or account (the seed's constraint).
		index.Fields("provider", "provider_id").
			Unique().
			StorageKey("provider_unique_idx"),
		// "identities of a user" (GET /v1/me, unlinking, admin view).
		index.Fields("user_id"),
	}
}
