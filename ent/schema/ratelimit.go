package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// RateLimit is one fixed-window counter (OTP sends per number or per client
// IP, failed verifications per number). Limits live in the database so they
// hold across every instance sharing it.
type RateLimit struct{ ent.Schema }

// Annotations of the RateLimit.
func (RateLimit) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("auth_rate_limits")}
}

// Mixin of the RateLimit.
func (RateLimit) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{}}
}

// Fields of the RateLimit.
func (RateLimit) Fields() []ent.Field {
	return []ent.Field{
		// key names what is counted, e.g. "otp_send:phone:+919876543210".
		field.String("key").
			NotEmpty().
			MaxLen(255).
			SchemaType(varchar(255)).
			Comment("what is counted"),
		// window_start is the start of the fixed window this row counts in.
		field.Time("window_start").
			Comment("start of the counting window"),
		// count is how many events the window has seen; updates never raise
		// it past the limit (a conditional UPDATE decides).
		field.Int("count").
			Default(0).
			NonNegative().
			Comment("events counted in the window"),
		// expires_at is the end of the window; cleanup deletes rows past it.
		field.Time("expires_at").
			Comment("end of the window"),
	}
}

// Indexes of the RateLimit.
func (RateLimit) Indexes() []ent.Index {
	return []ent.Index{
		// the counter of a key in a window: the increment's WHERE and its
		// insert's ON CONFLICT target.
		index.Fields("key", "window_start").Unique(),
		// cleanup: DELETE ... WHERE expires_at < now().
		index.Fields("expires_at"),
	}
}
