package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PhoneOTP is a one-time code sent by SMS, kept for a few minutes and deleted
// once used or expired. It is not linked to a user: the number may be new.
type PhoneOTP struct{ ent.Schema }

// Annotations of the PhoneOTP.
func (PhoneOTP) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("phone_otps")}
}

// Mixin of the PhoneOTP.
func (PhoneOTP) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{}}
}

// Fields of the PhoneOTP.
func (PhoneOTP) Fields() []ent.Field {
	return []ent.Field{
		// phone_number is the E.164 number the code was sent to.
		field.String("phone_number").
			NotEmpty().
			MaxLen(50).
			SchemaType(varchar(50)).
			Comment("E.164 number the code was sent to"),
		// otp_hash is a keyed hash of the code; the code itself is never stored.
		field.String("otp_hash").
			NotEmpty().
			MaxLen(255).
			SchemaType(varchar(255)).
			Sensitive().
			Comment("keyed hash of the code"),
		// expires_at is when the code stops working.
		field.Time("expires_at").
			Comment("when the code stops working"),
		// created_at records when the row was inserted.
		createdAt("when the code was sent"),
		// attempts counts verification tries; each try takes one before the
		// code is compared, so parallel guesses cannot outrun OTP_MAX_ATTEMPTS.
		field.Int("attempts").
			Default(0).
			NonNegative().
			Comment("verification tries used"),
	}
}

// Indexes of the PhoneOTP.
func (PhoneOTP) Indexes() []ent.Index {
	return []ent.Index{
		// verify and resend: "the live code of this number"; unique, so a
		// number has at most one code and a resend replaces it atomically.
		index.Fields("phone_number").Unique(),
		// cleanup: DELETE ... WHERE expires_at < now().
		index.Fields("expires_at"),
	}
}
