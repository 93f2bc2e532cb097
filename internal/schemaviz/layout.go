package schemaviz

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Box geometry, in SVG pixels (1 px = 1 Graphviz point). Text is drawn in
// a monospace font, so a line's width is its length times charWidth; the
// estimate is a little wider than DejaVu Sans Mono and Courier at fontSize.
const (
	fontSize   = 12.0
	charWidth  = 7.4
	rowHeight  = 18.0
	headHeight = 40.0
	padX       = 10.0
	padY       = 6.0
	colGap     = 2 // characters between a box's text columns
	labelFont  = 11.0
	margin     = 16.0
)

// Point is a position in the drawing.
type Point struct{ X, Y float64 }

// Rect is a box in the drawing: top-left corner and size.
type Rect struct{ X, Y, W, H float64 }

// Overlaps reports whether two rectangles share any area.
func (r Rect) Overlaps(o Rect) bool {
	return r.X < o.X+o.W && o.X < r.X+r.W && r.Y < o.Y+o.H && o.Y < r.Y+r.H
}

// Contains reports whether p lies strictly inside r shrunk by inset.
func (r Rect) Contains(p Point, inset float64) bool {
	return p.X > r.X+inset && p.X < r.X+r.W-inset && p.Y > r.Y+inset && p.Y < r.Y+r.H-inset
}

// Node is one drawn box: a table or an enum type.
type Node struct {
	// ID is "t:<table>" or "e:<enum>".
	ID    string
	Table *Table
	Enum  *Enum
	Rect  Rect
	// cols are the character widths of the box's text columns.
	cols []int
}

// Link is one drawn line: a relation between two tables, or a table's use
// of an enum type.
type Link struct {
	From, To string // node IDs
	Relation *Relation
	// Column is the enum column, for an enum link.
	Column string
	// Path is the cubic Bézier spline: a start point then three points per segment.
	Path []Point
	// Label is the relation's label box (zero for enum links).
	Label      Rect
	LabelLines []string
}

// Diagram is a laid-out model.
type Diagram struct {
	Model  *Model
	Nodes  []*Node
	Links  []*Link
	Width  float64
	Height float64
}

// Node returns the node with the given ID, or nil.
func (d *Diagram) Node(id string) *Node {
	for _, n := range d.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// Layout sizes every box from its text and lets Graphviz's dot engine
// place the boxes and route the lines around them.
func Layout(ctx context.Context, m *Model) (*Diagram, error) {
	d := &Diagram{Model: m}
	for _, t := range m.Tables {
		n := &Node{ID: "t:" + t.Name, Table: t}
		n.cols, n.Rect.W, n.Rect.H = tableSize(t)
		d.Nodes = append(d.Nodes, n)
	}
	for _, e := range m.Enums {
		n := &Node{ID: "e:" + e.Name, Enum: e}
		n.Rect.W, n.Rect.H = enumSize(e)
		d.Nodes = append(d.Nodes, n)
	}
	for _, r := range m.Relations {
		if d.Node("t:"+r.Parent) == nil || d.Node("t:"+r.Child) == nil {
			continue
		}
		d.Links = append(d.Links, &Link{From: "t:" + r.Parent, To: "t:" + r.Child, Relation: r, LabelLines: relationLabel(r)})
	}
	for _, t := range m.Tables {
		for _, c := range t.Columns {
			if c.Enum != "" && d.Node("e:"+c.Enum) != nil {
				d.Links = append(d.Links, &Link{From: "e:" + c.Enum, To: "t:" + t.Name, Column: c.Name})
			}
		}
	}
	if err := runDot(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

// dotSource writes the graph in the DOT language: fixed-size boxes, one
// edge per link, labels sized for Courier (as wide as the page's font).
func dotSource(d *Diagram) string {
	var b strings.Builder
	b.WriteString("digraph schema {\n")
	b.WriteString("  graph [rankdir=LR, splines=spline, nodesep=0.5, ranksep=1.1, pad=0, fontname=Courier, fontsize=11, outputorder=edgesfirst];\n")
	b.WriteString("  node [shape=box, fixedsize=true, label=\"\", margin=0];\n")
	b.WriteString("  edge [arrowhead=none, arrowtail=none, fontname=Courier, fontsize=11];\n")
	for i, n := range d.Nodes {
		fmt.Fprintf(&b, "  n%d [width=%.4f, height=%.4f];\n", i, n.Rect.W/72, n.Rect.H/72)
	}
	index := map[string]int{}
	for i, n := range d.Nodes {
		index[n.ID] = i
	}
	for _, l := range d.Links {
		attrs := ""
		if len(l.LabelLines) > 0 {
			attrs = fmt.Sprintf(" [label=%s]", strconv.Quote(strings.Join(l.LabelLines, "\n")))
		} else {
			attrs = " [style=dashed, weight=0]"
		}
		fmt.Fprintf(&b, "  n%d -> n%d%s;\n", index[l.From], index[l.To], attrs)
	}
	b.WriteString("}\n")
	return b.String()
}

// pickLink finds the first unrouted link between two nodes.
func pickLink(links []*Link, from, to *Node, labelled bool, used map[*Link]bool) *Link {
	if from == nil || to == nil {
		return nil
	}
	for _, l := range links {
		if !used[l] && l.From == from.ID && l.To == to.ID && (len(l.LabelLines) > 0) == labelled {
			return l
		}
	}
	return nil
}

// splinePoints parses an edge's "pos" (no arrowheads: points only).
func splinePoints(pos string, flip func(x, y float64) Point) ([]Point, error) {
	var pts []Point
	for _, f := range strings.Fields(pos) {
		if strings.HasPrefix(f, "e,") || strings.HasPrefix(f, "s,") {
			continue
		}
		xy, err := floats(f, 2)
		if err != nil {
			return nil, err
		}
		pts = append(pts, flip(xy[0], xy[1]))
	}
	if len(pts) < 4 || (len(pts)-1)%3 != 0 {
		return nil, fmt.Errorf("unexpected spline %q", pos)
	}
	return pts, nil
}

// floats parses n comma-separated numbers.
func floats(s string, n int) ([]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) != n {
		return nil, fmt.Errorf("want %d numbers in %q", n, s)
	}
	out := make([]float64, n)
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Sample returns points along a link's spline, steps per segment.
func (l *Link) Sample(steps int) []Point {
	var out []Point
	for i := 0; i+3 < len(l.Path); i += 3 {
		p0, p1, p2, p3 := l.Path[i], l.Path[i+1], l.Path[i+2], l.Path[i+3]
		for s := 0; s <= steps; s++ {
			t := float64(s) / float64(steps)
			u := 1 - t
			out = append(out, Point{
				X: u*u*u*p0.X + 3*u*u*t*p1.X + 3*u*t*t*p2.X + t*t*t*p3.X,
				Y: u*u*u*p0.Y + 3*u*u*t*p1.Y + 3*u*t*t*p2.Y + t*t*t*p3.Y,
			})
		}
	}
	return out
}

// tableRows are a table box's text rows below its header: one per column,
// then one per index and foreign key, each split into text columns.
func tableRows(t *Table) [][]string {
	var rows [][]string
	for _, c := range t.Columns {
		rows = append(rows, []string{keyMark(c), c.Name, c.Type, nullText(c.Nullable), defaultText(c.Default)})
	}
	for _, ix := range t.Indexes {
		kind := "INDEX"
		if ix.Unique {
			kind = "UNIQUE"
		}
		rows = append(rows, []string{"", kind, ix.Name, "(" + strings.Join(ix.Columns, ", ") + ")", ""})
	}
	for _, fk := range t.ForeignKeys {
		rows = append(rows, []string{"", "FK", strings.Join(fk.Columns, ", ") + " → " + fk.RefTable + "(" + strings.Join(fk.RefColumns, ", ") + ")", "ON DELETE " + fk.OnDelete, ""})
	}
	return rows
}

func keyMark(c *Column) string {
	switch {
	case c.PK:
		return "PK"
	case c.FK:
		return "FK"
	case c.Unique:
		return "UQ"
	}
	return ""
}

func defaultText(x string) string {
	if x == "" {
		return ""
	}
	return "= " + x
}

// tableSize returns a table box's text column widths (in characters) and
// its pixel size.
func tableSize(t *Table) ([]int, float64, float64) {
	rows := tableRows(t)
	cols := make([]int, 5)
	for _, r := range rows {
		for i, cell := range r {
			cols[i] = max(cols[i], runeLen(cell))
		}
	}
	chars := 0
	for _, w := range cols {
		if w > 0 {
			chars += w + colGap
		}
	}
	chars = max(chars, runeLen(t.Name)+colGap, runeLen(entityLine(t))+colGap)
	w := 2*padX + float64(chars)*charWidth
	h := headHeight + 2*padY + float64(len(rows))*rowHeight
	if len(t.Indexes)+len(t.ForeignKeys) > 0 {
		h += padY
	}
	return cols, math.Ceil(w), math.Ceil(h)
}

func entityLine(t *Table) string {
	if t.Entity == "" {
		return "(no Ent entity)"
	}
	return "Ent: " + t.Entity
}

// enumValues are an enum box's rows: its values, then those it lacks.
func enumValues(e *Enum) []string {
	return append(append([]string(nil), e.Values...), e.Missing...)
}

func enumSize(e *Enum) (float64, float64) {
	chars := runeLen("enum " + e.Name)
	for _, v := range enumValues(e) {
		chars = max(chars, runeLen(v)+2)
	}
	return math.Ceil(2*padX + float64(chars+colGap)*charWidth), math.Ceil(headHeight + 2*padY + float64(len(enumValues(e)))*rowHeight)
}

// relationLabel names the Ent edges of a relation and its rule.
func relationLabel(r *Relation) []string {
	var lines []string
	if r.ParentEdge != "" {
		lines = append(lines, r.ParentEdge+" ("+r.ParentRel+")")
	}
	if r.ChildEdge != "" {
		lines = append(lines, r.ChildEdge+" ("+r.ChildRel+")")
	}
	if len(lines) == 0 {
		lines = append(lines, r.ParentRel)
	}
	return append(lines, "ON DELETE "+r.OnDelete)
}

func labelSize(lines []string) (float64, float64) {
	chars := 0
	for _, l := range lines {
		chars = max(chars, runeLen(l))
	}
	return float64(chars)*labelFont*0.6 + 4, float64(len(lines))*labelFont*1.2 + 2
}

func runeLen(s string) int { return len([]rune(s)) }
