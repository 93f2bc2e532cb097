// Package schemaviz draws the database schema: as one self-contained HTML
// page (an SVG entity-relationship diagram laid out by Graphviz), as a
// Mermaid erDiagram and as plain text. It reads the schema from the code
// (Ent's graph, ent.SchemaGraph, and the tables migrations build) or from a
// live database (Atlas inspection), and marks where the two disagree.
package schemaviz

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/migration"
)

// Status marks an item of a database model against the code.
type Status string

// The statuses. An empty status is an item both sides agree on.
const (
	// Missing: the code has it, the database does not.
	Missing Status = "missing"
	// Extra: the database has it, the code does not.
	Extra Status = "extra"
	// Changed: both have it, differently (Note says how).
	Changed Status = "changed"
)

// Model is a schema as drawn: tables, enum types and the relations between
// tables.
type Model struct {
	// Source says where the model was read from, e.g. "Ent schema (postgres)".
	Source  string
	Dialect string
	Tables  []*Table
	Enums   []*Enum
	// Relations are the foreign keys, with the Ent edges on both ends.
	Relations []*Relation
	// Compared is true for a database model compared with the code; then
	// Differences lists every disagreement (none: the two match).
	Compared    bool
	Differences []string
}

// Table is one table (an Ent entity, when the code declares it).
type Table struct {
	Name string
	// Entity is the Ent type name; empty for a table the code lacks.
	Entity      string
	Columns     []*Column
	PrimaryKey  []string
	Indexes     []*Index
	ForeignKeys []*ForeignKey
	Status      Status
}

// Column is one column.
type Column struct {
	Name string
	// Type is the database type as the database names it (an enum column's
	// type is the enum's name, e.g. user_role).
	Type string
	// Enum is the enum type's name when the column has one.
	Enum     string
	Nullable bool
	// Default is the default expression, "" when none.
	Default string
	Comment string
	PK      bool
	// Unique is true when a one-column unique index or constraint covers it.
	Unique bool
	// FK is true when the column is part of a foreign key.
	FK     bool
	Status Status
	Note   string
}

// Index is one index or unique constraint.
type Index struct {
	Name    string
	Columns []string
	Unique  bool
	Status  Status
}

// ForeignKey is one foreign key of a table.
type ForeignKey struct {
	Name       string
	Columns    []string
	RefTable   string
	RefColumns []string
	// OnDelete is the referential action, e.g. CASCADE ("NO ACTION" when unset).
	OnDelete string
	Status   Status
}

// Enum is one enum type and its values.
type Enum struct {
	Name   string
	Values []string
	// Missing and Extra are values only one side has.
	Missing, Extra []string
	Status         Status
}

// Relation is a foreign key drawn as an edge from the referenced (parent)
// table to the referencing (child) one, with the Ent edges naming it.
type Relation struct {
	Parent, Child string
	Columns       []string
	RefColumns    []string
	OnDelete      string
	// ParentEdge and ChildEdge are the Ent edges on each end ("" if none),
	// with their relation type seen from that end (O2M, M2O, O2O, M2M).
	ParentEdge, ParentRel string
	ChildEdge, ChildRel   string
	// Unique is true when a child row is the only one of its parent (O2O).
	Unique bool
	// Optional is true when the foreign key column may be NULL.
	Optional bool
	Status   Status
}

// Table returns the named table, or nil.
func (m *Model) Table(name string) *Table {
	for _, t := range m.Tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Enum returns the named enum type, or nil.
func (m *Model) Enum(name string) *Enum {
	for _, e := range m.Enums {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// FromCode builds the model of the code for dialect d: the tables the
// migrations build (Atlas's conversion of the Ent schema) with the typed
// edges of Ent's graph.
func FromCode(ctx context.Context, d string) (*Model, error) {
	s, err := migration.DesiredSchema(ctx, d)
	if err != nil {
		return nil, err
	}
	m, err := fromAtlas(s, d)
	if err != nil {
		return nil, err
	}
	m.Source = "Ent schema (" + d + ")"
	addEdges(m, ent.SchemaGraph)
	return m, nil
}

// revisionTables are the migration history tables; they are not part of
// the schema being drawn.
var revisionTables = []string{"atlas_schema_revisions"}

// fromAtlas converts an Atlas schema of dialect d.
func fromAtlas(s *schema.Schema, d string) (*Model, error) {
	m := &Model{Dialect: d}
	enums := map[string]*Enum{}
	addEnum := func(e *schema.EnumType) string {
		if _, ok := enums[e.T]; !ok {
			enums[e.T] = &Enum{Name: e.T, Values: slices.Clone(e.Values)}
		}
		return e.T
	}
	for _, o := range s.Objects {
		if e, ok := o.(*schema.EnumType); ok {
			addEnum(e)
		}
	}
	for _, at := range s.Tables {
		if slices.Contains(revisionTables, at.Name) {
			continue
		}
		t := &Table{Name: at.Name}
		for _, ac := range at.Columns {
			c := &Column{Name: ac.Name, Nullable: ac.Type != nil && ac.Type.Null, Default: exprText(ac.Default)}
			if ac.Type != nil {
				if e, ok := ac.Type.Type.(*schema.EnumType); ok {
					c.Enum = addEnum(e)
				}
				typ, err := typeText(d, ac.Type)
				if err != nil {
					return nil, fmt.Errorf("schemaviz: %s.%s: %w", at.Name, ac.Name, err)
				}
				c.Type = typ
			}
			for _, a := range ac.Attrs {
				if cm, ok := a.(*schema.Comment); ok {
					c.Comment = cm.Text
				}
			}
			t.Columns = append(t.Columns, c)
		}
		if at.PrimaryKey != nil {
			t.PrimaryKey = partNames(at.PrimaryKey)
			for _, name := range t.PrimaryKey {
				if c := t.Column(name); c != nil {
					c.PK = true
				}
			}
		}
		for _, ai := range at.Indexes {
			ix := &Index{Name: ai.Name, Columns: partNames(ai), Unique: ai.Unique}
			t.Indexes = append(t.Indexes, ix)
			if ix.Unique && len(ix.Columns) == 1 {
				if c := t.Column(ix.Columns[0]); c != nil {
					c.Unique = true
				}
			}
		}
		slices.SortFunc(t.Indexes, func(a, b *Index) int { return cmp.Compare(a.Name, b.Name) })
		for _, afk := range at.ForeignKeys {
			fk := &ForeignKey{Name: afk.Symbol, OnDelete: string(afk.OnDelete)}
			if fk.OnDelete == "" {
				fk.OnDelete = string(schema.NoAction)
			}
			for _, c := range afk.Columns {
				fk.Columns = append(fk.Columns, c.Name)
				if col := t.Column(c.Name); col != nil {
					col.FK = true
				}
			}
			if afk.RefTable != nil {
				fk.RefTable = afk.RefTable.Name
			}
			for _, c := range afk.RefColumns {
				fk.RefColumns = append(fk.RefColumns, c.Name)
			}
			t.ForeignKeys = append(t.ForeignKeys, fk)
		}
		m.Tables = append(m.Tables, t)
	}
	slices.SortFunc(m.Tables, func(a, b *Table) int { return cmp.Compare(a.Name, b.Name) })
	for _, e := range enums {
		m.Enums = append(m.Enums, e)
	}
	slices.SortFunc(m.Enums, func(a, b *Enum) int { return cmp.Compare(a.Name, b.Name) })
	m.Relations = relationsOf(m)
	return m, nil
}

// relationsOf turns every foreign key into a relation.
func relationsOf(m *Model) []*Relation {
	var rels []*Relation
	for _, t := range m.Tables {
		for _, fk := range t.ForeignKeys {
			r := &Relation{Parent: fk.RefTable, Child: t.Name, Columns: fk.Columns, RefColumns: fk.RefColumns, OnDelete: fk.OnDelete, Status: fk.Status}
			for _, name := range fk.Columns {
				if c := t.Column(name); c != nil && c.Nullable {
					r.Optional = true
				}
			}
			r.Unique = coveredByUnique(t, fk.Columns)
			r.ParentRel, r.ChildRel = "O2M", "M2O"
			if r.Unique {
				r.ParentRel, r.ChildRel = "O2O", "O2O"
			}
			rels = append(rels, r)
		}
	}
	return rels
}

// coveredByUnique reports whether a unique index has exactly these columns.
func coveredByUnique(t *Table, cols []string) bool {
	for _, ix := range t.Indexes {
		if ix.Unique && slices.Equal(ix.Columns, cols) {
			return true
		}
	}
	return false
}

// addEdges names each table's entity and each relation's Ent edges from
// Ent's graph; the graph's relation types win over the ones inferred from
// the foreign keys.
func addEdges(m *Model, graph []ent.SchemaType) {
	entity := map[string]string{}
	for _, n := range graph {
		entity[n.Name] = n.Table
		if t := m.Table(n.Table); t != nil {
			t.Entity = n.Name
		}
	}
	for _, n := range graph {
		for _, e := range n.Edges {
			if e.Rel == "M2M" || len(e.Columns) == 0 {
				continue
			}
			for _, r := range m.Relations {
				if r.Child != e.Table || !slices.Equal(r.Columns, e.Columns) {
					continue
				}
				switch {
				case n.Table == r.Parent && entity[e.Type] == r.Child && !e.Inverse:
					r.ParentEdge, r.ParentRel = e.Name, e.Rel
				case n.Table == r.Child && entity[e.Type] == r.Parent:
					r.ChildEdge, r.ChildRel = e.Name, e.Rel
				}
			}
		}
	}
}

// partNames lists an index's column names (expressions by their text).
func partNames(ix *schema.Index) []string {
	var out []string
	for _, p := range ix.Parts {
		switch {
		case p.C != nil:
			out = append(out, p.C.Name)
		case p.X != nil:
			out = append(out, exprText(p.X))
		}
	}
	return out
}

// exprText renders a default or index expression.
func exprText(x schema.Expr) string {
	switch v := x.(type) {
	case nil:
		return ""
	case *schema.Literal:
		return v.V
	case *schema.RawExpr:
		return unwrap(v.X)
	}
	return fmt.Sprint(x)
}

// typeText names a column type as the database does, so that the code and
// an inspected database compare equal.
func typeText(d string, ct *schema.ColumnType) (string, error) {
	if e, ok := ct.Type.(*schema.EnumType); ok && d == migration.Postgres {
		return e.T, nil
	}
	var (
		s   string
		err error
	)
	if d == migration.SQLite {
		s, err = sqlite.FormatType(ct.Type)
	} else {
		s, err = postgres.FormatType(ct.Type)
	}
	if err != nil {
		if ct.Raw != "" {
			return strings.ToLower(ct.Raw), nil
		}
		return "", err
	}
	return canonicalType(strings.ToLower(s)), nil
}

// typeAliases maps the short names a type may be given to the name the
// database reports.
var typeAliases = map[string]string{
	"timestamptz": "timestamp with time zone",
	"timestamp":   "timestamp without time zone",
	"int8":        "bigint",
	"int4":        "integer",
	"int":         "integer",
	"int2":        "smallint",
	"bool":        "boolean",
	"float8":      "double precision",
	"float4":      "real",
}

// canonicalType spells a PostgreSQL type the way the catalog reports it.
func canonicalType(s string) string {
	if a, ok := typeAliases[s]; ok {
		return a
	}
	if rest, ok := strings.CutPrefix(s, "varchar"); ok {
		return "character varying" + rest
	}
	return s
}

// unwrap drops the parentheses PostgreSQL and Ent put around a whole
// default expression: "(now())" reads as "now()".
func unwrap(x string) string {
	for len(x) > 2 && x[0] == '(' && x[len(x)-1] == ')' {
		depth := 0
		for i, r := range x {
			switch r {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 && i < len(x)-1 {
				return x
			}
		}
		x = x[1 : len(x)-1]
	}
	return x
}
