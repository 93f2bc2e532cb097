package schemaviz

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// Text describes the model as plain tables: each table with its columns
// (type, nullability, default, keys), indexes and foreign keys, then the
// relations with their Ent edges, then the enum types.
func Text(m *Model) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Schema from %s: %d tables, %d relations, %d enum types\n", m.Source, len(m.Tables), len(m.Relations), len(m.Enums))
	if m.Compared {
		if len(m.Differences) == 0 {
			b.WriteString("No difference: the database matches the Ent schema.\n")
		} else {
			fmt.Fprintf(&b, "%d differences from the Ent schema:\n", len(m.Differences))
			for _, d := range m.Differences {
				b.WriteString("  ! " + d + "\n")
			}
		}
	}
	for _, t := range m.Tables {
		fmt.Fprintf(&b, "\nTABLE %s (%s)%s\n", t.Name, entityLine(t), statusSuffix(t.Status, ""))
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "  column\ttype\tnull\tdefault\tkey\t")
		for _, c := range t.Columns {
			null := "NOT NULL"
			if c.Nullable {
				null = "NULL"
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Type, null, c.Default, keyMark(c), statusSuffix(c.Status, c.Note))
		}
		w.Flush()
		for _, ix := range t.Indexes {
			kind := "index "
			if ix.Unique {
				kind = "unique"
			}
			fmt.Fprintf(&b, "  %s %s (%s)%s\n", kind, ix.Name, strings.Join(ix.Columns, ", "), statusSuffix(ix.Status, ""))
		}
		for _, fk := range t.ForeignKeys {
			fmt.Fprintf(&b, "  foreign key %s (%s) -> %s(%s) ON DELETE %s%s\n", fk.Name, strings.Join(fk.Columns, ", "),
				fk.RefTable, strings.Join(fk.RefColumns, ", "), fk.OnDelete, statusSuffix(fk.Status, ""))
		}
	}
	if len(m.Relations) > 0 {
		b.WriteString("\nRELATIONS\n")
		for _, r := range m.Relations {
			fmt.Fprintf(&b, "  %s 1 -> %s %s via %s.(%s), ON DELETE %s; edges: %s\n", r.Parent, childCard(r), r.Child, r.Child,
				strings.Join(r.Columns, ", "), r.OnDelete, strings.Join(relationLabel(r)[:len(relationLabel(r))-1], ", "))
		}
	}
	if len(m.Enums) > 0 {
		b.WriteString("\nENUM TYPES\n")
		for _, e := range m.Enums {
			fmt.Fprintf(&b, "  %s: %s%s\n", e.Name, strings.Join(e.Values, ", "), statusSuffix(e.Status, ""))
			if len(e.Missing) > 0 {
				fmt.Fprintf(&b, "    missing from the database: %s\n", strings.Join(e.Missing, ", "))
			}
			if len(e.Extra) > 0 {
				fmt.Fprintf(&b, "    in the database only: %s\n", strings.Join(e.Extra, ", "))
			}
		}
	}
	return b.String()
}

func childCard(r *Relation) string {
	if r.Unique {
		return "0..1"
	}
	return "*"
}

// Mermaid renders the model as a Mermaid erDiagram, entities named by
// their tables. Types are written without spaces, as Mermaid requires; an
// enum column's comment lists its values.
func Mermaid(m *Model) string {
	var b strings.Builder
	b.WriteString("erDiagram\n")
	for _, t := range m.Tables {
		fmt.Fprintf(&b, "    %s {\n", t.Name)
		for _, c := range t.Columns {
			var keys []string
			if c.PK {
				keys = append(keys, "PK")
			}
			if c.FK {
				keys = append(keys, "FK")
			}
			if c.Unique {
				keys = append(keys, "UK")
			}
			var notes []string
			if c.Nullable {
				notes = append(notes, "nullable")
			}
			if e := m.Enum(c.Enum); e != nil {
				notes = append(notes, strings.Join(e.Values, " | "))
			}
			if c.Default != "" {
				notes = append(notes, "default "+c.Default)
			}
			line := "        " + mermaidType(c.Type) + " " + c.Name
			if len(keys) > 0 {
				line += " " + strings.Join(keys, ", ")
			}
			if len(notes) > 0 {
				line += ` "` + strings.ReplaceAll(strings.Join(notes, "; "), `"`, "'") + `"`
			}
			b.WriteString(line + "\n")
		}
		b.WriteString("    }\n")
	}
	for _, r := range m.Relations {
		parent, child := "||", "o{"
		if r.Optional {
			parent = "|o"
		}
		if r.Unique {
			child = "o|"
		}
		label := strings.Join(relationLabel(r), ", ")
		fmt.Fprintf(&b, "    %s %s--%s %s : %q\n", r.Parent, parent, child, r.Child, label)
	}
	return b.String()
}

// mermaidType shortens a type to a word Mermaid accepts.
func mermaidType(t string) string {
	for long, short := range map[string]string{
		"timestamp with time zone":    "timestamptz",
		"timestamp without time zone": "timestamp",
		"character varying":           "varchar",
		"double precision":            "float8",
	} {
		if rest, ok := strings.CutPrefix(t, long); ok {
			t = short + rest
		}
	}
	return strings.ReplaceAll(t, " ", "_")
}
