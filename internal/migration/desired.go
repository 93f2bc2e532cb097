// Package migration turns the Ent schema into versioned Atlas migrations and
// applies them. Ent's own diff cannot create PostgreSQL enum types, so the
// desired state is built here from Ent's table conversion, with every enum
// column that names a PostgreSQL type turned into a shared Atlas EnumType.
package migration

import (
	"context"
	"database/sql"
	"fmt"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	"entgo.io/ent/dialect"
	entschema "entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"

	entmigrate "github.com/agency-platform/agency/ent/migrate"
)

// Dialects we generate and apply migrations for, named as Ent names them.
const (
	Postgres = dialect.Postgres
	SQLite   = dialect.SQLite
)

// Dir returns the name of the migration directory of a dialect, relative to
// the migrations folder.
func Dir(d string) string {
	if d == SQLite {
		return "sqlite"
	}
	return "postgres"
}

// desiredSchema builds the schema the Ent definitions describe, for dialect d.
// Enum columns with a PostgreSQL SchemaType become one shared EnumType per
// type name, listed in the schema's objects so Atlas emits CREATE TYPE.
func desiredSchema(ctx context.Context, d string) (*schema.Schema, error) {
	tables := entmigrate.Tables
	a, err := entschema.NewMigrate(offlineDriver{name: d}, entschema.WithDialect(d))
	if err != nil {
		return nil, fmt.Errorf("desired schema: %w", err)
	}
	realm, err := a.StateReader(tables...).ReadState(ctx)
	if err != nil {
		return nil, fmt.Errorf("desired schema: convert ent tables: %w", err)
	}
	s := schema.New("")
	if len(realm.Schemas) == 1 {
		s = realm.Schemas[0]
	}
	s.Name = ""
	if d != Postgres {
		return s, nil
	}
	// The seed declares uniqueness as table constraints (unique(...)), so
	// unique indexes are created as constraints on PostgreSQL.
	for _, t := range s.Tables {
		for _, idx := range t.Indexes {
			if idx.Unique {
				idx.AddAttrs(postgres.UniqueConstraint(idx.Name))
			}
		}
	}
	enums := map[string]*schema.EnumType{}
	for _, et := range tables {
		at, ok := s.Table(et.Name)
		if !ok {
			return nil, fmt.Errorf("desired schema: table %q missing after conversion", et.Name)
		}
		for _, ec := range et.Columns {
			name := ec.SchemaType[Postgres]
			if ec.Type != field.TypeEnum || name == "" {
				continue
			}
			e, ok := enums[name]
			if !ok {
				e = &schema.EnumType{T: name, Values: ec.Enums, Schema: s}
				enums[name] = e
				s.Objects = append(s.Objects, e)
			}
			ac, _ := at.Column(ec.Name)
			ac.Type.Type = e
		}
	}
	return s, nil
}

// DesiredSchema returns the schema the Ent definitions describe for dialect
// d, as migrations build it: the tables, their indexes and foreign keys, and
// on PostgreSQL the enum types. `agency schema viz` draws it.
func DesiredSchema(ctx context.Context, d string) (*schema.Schema, error) {
	return desiredSchema(ctx, d)
}

// defaultPlanner returns Atlas's connection-less planner and differ for d.
func defaultPlanner(d string) (migrate.PlanApplier, schema.Differ) {
	if d == SQLite {
		return sqlite.DefaultPlan, sqlite.DefaultDiff
	}
	return postgres.DefaultPlan, postgres.DefaultDiff
}

// noQualifier plans statements without a schema prefix, as Ent does, so the
// files apply to whatever schema the connection uses.
func noQualifier(o *migrate.PlanOptions) { o.SchemaQualifier = new(string) }

// DesiredSQL renders the whole desired schema of dialect d as plain SQL: the
// statements that build it on an empty database. It needs no database.
func DesiredSQL(ctx context.Context, d string) (string, error) {
	s, err := desiredSchema(ctx, d)
	if err != nil {
		return "", err
	}
	planner, differ := defaultPlanner(d)
	changes, err := differ.SchemaDiff(schema.New(""), s)
	if err != nil {
		return "", fmt.Errorf("desired sql: diff: %w", err)
	}
	plan, err := planner.PlanChanges(ctx, "desired", changes, noQualifier)
	if err != nil {
		return "", fmt.Errorf("desired sql: plan: %w", err)
	}
	return formatPlan(plan), nil
}

// formatPlan renders a plan the way Atlas writes a migration file: each
// change's comment, then its statement.
func formatPlan(p *migrate.Plan) string {
	var out string
	for _, c := range p.Changes {
		if c.Comment != "" {
			out += "-- " + upperFirst(c.Comment) + "\n"
		}
		out += c.Cmd + ";\n"
	}
	return out
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// openAtlas opens Atlas's driver for dialect d on an open database.
func openAtlas(d string, db schema.ExecQuerier) (migrate.Driver, error) {
	if d == SQLite {
		return sqlite.Open(db)
	}
	return postgres.Open(db)
}

var _ schema.ExecQuerier = (*sql.DB)(nil)
