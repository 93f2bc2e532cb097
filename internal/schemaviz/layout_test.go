package schemaviz

import (
	"context"
	"fmt"
	"testing"

	"github.com/agency-platform/agency/internal/migration"
)

// bigModel is a made-up schema of n tables: a tree of foreign keys with a
// few extra ones across it, some tables with many columns, and two enums.
func bigModel(n int) *Model {
	m := &Model{Source: "test", Dialect: migration.Postgres}
	m.Enums = []*Enum{{Name: "status", Values: []string{"draft", "live", "archived"}}, {Name: "tier", Values: []string{"free", "pro"}}}
	for i := range n {
		t := &Table{Name: fmt.Sprintf("table_%02d", i), Entity: fmt.Sprintf("Entity%02d", i), PrimaryKey: []string{"id"}}
		t.Columns = append(t.Columns, &Column{Name: "id", Type: "uuid", PK: true, Default: "gen_random_uuid()"})
		for j := range 2 + i%7 {
			t.Columns = append(t.Columns, &Column{Name: fmt.Sprintf("field_%d_with_a_longer_name", j), Type: "character varying(255)", Nullable: j%2 == 0})
		}
		if i%5 == 0 {
			t.Columns = append(t.Columns, &Column{Name: "status", Type: "status", Enum: "status"})
		}
		if i%9 == 0 {
			t.Columns = append(t.Columns, &Column{Name: "tier", Type: "tier", Enum: "tier"})
		}
		parents := []int{}
		if i > 0 {
			parents = append(parents, (i-1)/3)
		}
		if i > 6 && i%4 == 0 {
			parents = append(parents, i-5)
		}
		for _, p := range parents {
			col := fmt.Sprintf("table_%02d_id", p)
			t.Columns = append(t.Columns, &Column{Name: col, Type: "uuid", FK: true})
			t.ForeignKeys = append(t.ForeignKeys, &ForeignKey{Name: t.Name + "_" + col, Columns: []string{col}, RefTable: fmt.Sprintf("table_%02d", p), RefColumns: []string{"id"}, OnDelete: "CASCADE"})
			t.Indexes = append(t.Indexes, &Index{Name: t.Name + "_" + col + "_idx", Columns: []string{col}})
		}
		m.Tables = append(m.Tables, t)
	}
	m.Relations = relationsOf(m)
	return m
}

// checkGeometry fails the test with every geometry problem.
func checkGeometry(t *testing.T, d *Diagram) {
	t.Helper()
	for _, p := range geometryProblems(d) {
		t.Error(p)
	}
}

// geometryProblems lists boxes that overlap, labels that overlap a box,
// and lines that pass through a box other than their two ends.
func geometryProblems(d *Diagram) []string {
	var problems []string
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for i, a := range d.Nodes {
		if a.Rect.W <= 0 || a.Rect.H <= 0 {
			errorf("%s has no size: %+v", a.ID, a.Rect)
		}
		for _, b := range d.Nodes[i+1:] {
			if a.Rect.Overlaps(b.Rect) {
				errorf("boxes overlap: %s %+v and %s %+v", a.ID, a.Rect, b.ID, b.Rect)
			}
		}
		for _, l := range d.Links {
			if l.Label.W > 0 && a.Rect.Overlaps(l.Label) {
				errorf("label of %s→%s overlaps box %s", l.From, l.To, a.ID)
			}
		}
	}
	for _, l := range d.Links {
		for _, n := range d.Nodes {
			if n.ID == l.From || n.ID == l.To {
				continue
			}
			for _, p := range l.Sample(20) {
				if n.Rect.Contains(p, 1) {
					errorf("line %s→%s crosses box %s at (%.0f,%.0f)", l.From, l.To, n.ID, p.X, p.Y)
					break
				}
			}
		}
		first, last := l.Path[0], l.Path[len(l.Path)-1]
		from, to := d.Node(l.From), d.Node(l.To)
		if !near(from.Rect, first) || !near(to.Rect, last) {
			errorf("line %s→%s does not start and end at its boxes: %v … %v", l.From, l.To, first, last)
		}
	}
	return problems
}

// near reports whether p lies on or close to r's border.
func near(r Rect, p Point) bool {
	grown := Rect{X: r.X - 3, Y: r.Y - 3, W: r.W + 6, H: r.H + 6}
	return grown.Contains(p, 0)
}

func TestLayout_LargeSchema(t *testing.T) {
	t.Parallel()
	m := bigModel(30)
	d, err := Layout(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Nodes) != 32 {
		t.Fatalf("nodes = %d, want 30 tables + 2 enums", len(d.Nodes))
	}
	checkGeometry(t, d)
}

func TestLayout_OurSchema(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{migration.Postgres, migration.SQLite} {
		m, err := FromCode(context.Background(), dialect)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Layout(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		checkGeometry(t, d)
	}
}

// Every row's text fits inside its box, at the width the page's font gives
// it (a monospace font at most charWidth per character).
func TestLayout_TextFitsBoxes(t *testing.T) {
	t.Parallel()
	for _, tb := range bigModel(10).Tables {
		cols, w, _ := tableSize(tb)
		for _, row := range tableRows(tb) {
			x := padX
			for j, cell := range row {
				if cols[j] == 0 {
					continue
				}
				if end := x + float64(runeLen(cell))*charWidth; end > w-padX+0.5 {
					t.Errorf("%s: %q ends at %.0f, box is %.0f wide", tb.Name, cell, end, w)
				}
				x += float64(cols[j]+colGap) * charWidth
			}
		}
	}
}

// The checks above can fail: overlapping boxes and a line through a box
// are reported.
func TestGeometryProblems_Catches(t *testing.T) {
	t.Parallel()
	a := &Node{ID: "t:a", Rect: Rect{0, 0, 100, 50}}
	b := &Node{ID: "t:b", Rect: Rect{90, 40, 100, 50}}
	c := &Node{ID: "t:c", Rect: Rect{300, 0, 100, 50}}
	line := &Link{From: "t:a", To: "t:c", Path: []Point{{100, 25}, {150, 60}, {250, 60}, {300, 25}}}
	line.Path[1], line.Path[2] = Point{140, 65}, Point{160, 65}
	d := &Diagram{Nodes: []*Node{a, b, c}, Links: []*Link{line}}
	got := geometryProblems(d)
	if len(got) != 2 {
		t.Fatalf("want an overlap and a crossing, got %q", got)
	}
}
