package schema

import (
	"strconv"
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"
)

// IDMixin gives an entity the seed's primary key: a random UUID, generated in
// Go (SQLite has no generator) and by PostgreSQL for rows inserted by hand.
type IDMixin struct{ mixin.Schema }

// Fields of the IDMixin.
func (IDMixin) Fields() []ent.Field {
	return []ent.Field{
		// id is the row's random identifier; never reused, never derived from data.
		field.UUID("id", uuid.UUID{}).
			Default(uuid.New).
			Immutable().
			Annotations(entsql.DefaultExprs(map[string]string{
				dialect.Postgres: "gen_random_uuid()",
			})).
			Comment("random primary key"),
	}
}

// createdAt is a timestamptz column defaulting to the insert time, both in Go
// and in the database (the seed's defaultNow()).
func createdAt(comment string) ent.Field {
	return field.Time("created_at").
		Default(time.Now).
		Immutable().
		Annotations(nowDefault()).
		Comment(comment)
}

// nowDefault is the database-side default for "now" in each dialect we run on.
func nowDefault() *entsql.Annotation {
	return entsql.DefaultExprs(map[string]string{
		dialect.Postgres: "now()",
		dialect.SQLite:   "CURRENT_TIMESTAMP",
	})
}

// varchar returns the column type for a bounded string on PostgreSQL; SQLite
// keeps its own text type. Ent's MaxLen alone does not change the PG type.
func varchar(n int) map[string]string {
	return map[string]string{dialect.Postgres: "varchar(" + strconv.Itoa(n) + ")"}
}
