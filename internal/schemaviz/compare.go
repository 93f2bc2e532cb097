package schemaviz

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/migration"
)

// FromDatabase inspects the connected schema of a live database of dialect
// d (Atlas inspection; it only reads the catalog) and compares it with the
// code: the model is the database's, with what the code has and the
// database lacks added and marked Missing, what only the database has
// marked Extra, and every difference listed.
func FromDatabase(ctx context.Context, db *sql.DB, d string) (*Model, error) {
	var (
		drv interface {
			InspectSchema(context.Context, string, *schema.InspectOptions) (*schema.Schema, error)
		}
		err error
	)
	if d == migration.SQLite {
		drv, err = sqlite.Open(db)
	} else {
		drv, err = postgres.Open(db)
	}
	if err != nil {
		return nil, fmt.Errorf("schemaviz: open %s inspector: %w", d, err)
	}
	s, err := drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return nil, fmt.Errorf("schemaviz: inspect database: %w", err)
	}
	live, err := fromAtlas(s, d)
	if err != nil {
		return nil, err
	}
	code, err := FromCode(ctx, d)
	if err != nil {
		return nil, err
	}
	live.Source = "database (" + d + ")"
	Compare(code, live)
	addEdges(live, ent.SchemaGraph)
	return live, nil
}

// Compare marks live (a database model) against code and fills
// live.Differences. Items only the code has are added to live, marked
// Missing, so the page draws them.
func Compare(code, live *Model) {
	live.Compared = true
	var diffs []string
	note := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }

	for _, ct := range code.Tables {
		lt := live.Table(ct.Name)
		if lt == nil {
			t := *ct
			t.Status = Missing
			live.Tables = append(live.Tables, &t)
			note("table %s: missing from the database", ct.Name)
			continue
		}
		compareTable(ct, lt, note)
	}
	for _, lt := range live.Tables {
		if lt.Status == "" && code.Table(lt.Name) == nil {
			lt.Status = Extra
			note("table %s: in the database only", lt.Name)
		}
	}
	for _, ce := range code.Enums {
		le := live.Enum(ce.Name)
		if le == nil {
			e := *ce
			e.Status = Missing
			live.Enums = append(live.Enums, &e)
			note("enum %s: missing from the database", ce.Name)
			continue
		}
		for _, v := range ce.Values {
			if !slices.Contains(le.Values, v) {
				le.Missing = append(le.Missing, v)
				note("enum %s: value %q missing from the database", ce.Name, v)
			}
		}
		for _, v := range le.Values {
			if !slices.Contains(ce.Values, v) {
				le.Extra = append(le.Extra, v)
				note("enum %s: value %q in the database only", ce.Name, v)
			}
		}
		if len(le.Missing)+len(le.Extra) > 0 {
			le.Status = Changed
		}
	}
	for _, le := range live.Enums {
		if le.Status == "" && code.Enum(le.Name) == nil {
			le.Status = Extra
			note("enum %s: in the database only", le.Name)
		}
	}
	live.Relations = relationsOf(live)
	live.Differences = diffs
}

// compareTable marks one table present on both sides.
func compareTable(ct, lt *Table, note func(string, ...any)) {
	for _, cc := range ct.Columns {
		lc := lt.Column(cc.Name)
		if lc == nil {
			c := *cc
			c.Status = Missing
			lt.Columns = append(lt.Columns, &c)
			note("column %s.%s: missing from the database", ct.Name, cc.Name)
			continue
		}
		var why []string
		if lc.Type != cc.Type {
			why = append(why, fmt.Sprintf("type %s, code says %s", lc.Type, cc.Type))
		}
		if lc.Nullable != cc.Nullable {
			why = append(why, fmt.Sprintf("%s, code says %s", nullText(lc.Nullable), nullText(cc.Nullable)))
		}
		if len(why) > 0 {
			lc.Status, lc.Note = Changed, strings.Join(why, "; ")
			note("column %s.%s: %s", ct.Name, cc.Name, lc.Note)
		}
	}
	for _, lc := range lt.Columns {
		if lc.Status == "" && ct.Column(lc.Name) == nil {
			lc.Status = Extra
			note("column %s.%s: in the database only", lt.Name, lc.Name)
		}
	}
	hasIndex := func(t *Table, ix *Index) bool {
		return slices.ContainsFunc(t.Indexes, func(o *Index) bool {
			return o.Status != Missing && o.Unique == ix.Unique && slices.Equal(o.Columns, ix.Columns)
		})
	}
	for _, ci := range ct.Indexes {
		if !hasIndex(lt, ci) {
			ix := *ci
			ix.Status = Missing
			lt.Indexes = append(lt.Indexes, &ix)
			note("index %s on %s(%s): missing from the database", ci.Name, ct.Name, strings.Join(ci.Columns, ", "))
		}
	}
	for _, li := range lt.Indexes {
		if li.Status == "" && !hasIndex(ct, li) {
			li.Status = Extra
			note("index %s on %s(%s): in the database only", li.Name, lt.Name, strings.Join(li.Columns, ", "))
		}
	}
	sameFK := func(a, b *ForeignKey) bool {
		return a.RefTable == b.RefTable && slices.Equal(a.Columns, b.Columns) && a.OnDelete == b.OnDelete
	}
	for _, cf := range ct.ForeignKeys {
		if !slices.ContainsFunc(lt.ForeignKeys, func(o *ForeignKey) bool { return o.Status != Missing && sameFK(o, cf) }) {
			fk := *cf
			fk.Status = Missing
			lt.ForeignKeys = append(lt.ForeignKeys, &fk)
			note("foreign key %s.(%s) → %s ON DELETE %s: missing from the database", ct.Name, strings.Join(cf.Columns, ", "), cf.RefTable, cf.OnDelete)
		}
	}
	for _, lf := range lt.ForeignKeys {
		if lf.Status == "" && !slices.ContainsFunc(ct.ForeignKeys, func(o *ForeignKey) bool { return sameFK(o, lf) }) {
			lf.Status = Extra
			note("foreign key %s.(%s) → %s ON DELETE %s: in the database only", lt.Name, strings.Join(lf.Columns, ", "), lf.RefTable, lf.OnDelete)
		}
	}
}

func nullText(null bool) string {
	if null {
		return "NULL"
	}
	return "NOT NULL"
}
