package schemaviz

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// SVG draws the diagram. Every class the page's style and script use is
// set here: node (a box, data-id), link (a line, data-from/data-to), and a
// status class (missing, extra, changed) on whatever differs.
func (d *Diagram) SVG() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" id="diagram" role="img" aria-label="Entity-relationship diagram" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" font-family="ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace" font-size="%.0f">`,
		d.Width, d.Height, d.Width, d.Height, fontSize)
	b.WriteString(`<g id="viewport">`)
	for _, l := range d.Links {
		d.writeLink(&b, l)
	}
	for _, n := range d.Nodes {
		if n.Table != nil {
			writeTable(&b, n)
		} else {
			writeEnum(&b, n)
		}
	}
	b.WriteString(`</g></svg>`)
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }

func statusClass(s Status) string {
	if s == "" {
		return ""
	}
	return " " + string(s)
}

// writeLink draws one line: the spline, cardinality marks at both ends and
// the label.
func (d *Diagram) writeLink(b *strings.Builder, l *Link) {
	kind, status := "enum-link", Status("")
	if l.Relation != nil {
		kind, status = "rel-link", l.Relation.Status
	}
	fmt.Fprintf(b, `<g class="link %s%s" data-from="%s" data-to="%s">`, kind, statusClass(status), esc(l.From), esc(l.To))
	if l.Relation != nil {
		r := l.Relation
		fmt.Fprintf(b, `<title>%s</title>`, esc(fmt.Sprintf("%s.(%s) → %s(%s) ON DELETE %s", r.Child, strings.Join(r.Columns, ", "), r.Parent, strings.Join(r.RefColumns, ", "), r.OnDelete)))
	} else {
		fmt.Fprintf(b, `<title>%s</title>`, esc(strings.TrimPrefix(l.To, "t:")+"."+l.Column+" uses "+strings.TrimPrefix(l.From, "e:")))
	}
	var p strings.Builder
	fmt.Fprintf(&p, "M%.1f,%.1f", l.Path[0].X, l.Path[0].Y)
	for i := 1; i+2 < len(l.Path); i += 3 {
		fmt.Fprintf(&p, " C%.1f,%.1f %.1f,%.1f %.1f,%.1f", l.Path[i].X, l.Path[i].Y, l.Path[i+1].X, l.Path[i+1].Y, l.Path[i+2].X, l.Path[i+2].Y)
	}
	fmt.Fprintf(b, `<path d="%s" fill="none"/>`, p.String())
	if r := l.Relation; r != nil {
		parent, child := "1", "*"
		if r.Optional {
			parent = "0..1"
		}
		if r.Unique {
			child = "0..1"
		}
		writeEndMark(b, l.Path[0], l.Path[1], parent, "card card-parent")
		n := len(l.Path)
		writeEndMark(b, l.Path[n-1], l.Path[n-2], child, "card card-child")
		if n := len(l.Path); n > 0 {
			crowFoot(b, l.Path[n-1], l.Path[n-2], r.Unique)
		}
		fmt.Fprintf(b, `<g class="label"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="3"/>`, l.Label.X, l.Label.Y, l.Label.W, l.Label.H)
		for i, line := range l.LabelLines {
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="%.0f">%s</text>`,
				l.Label.X+l.Label.W/2, l.Label.Y+1+float64(i+1)*labelFont*1.2-3, labelFont, esc(line))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</g>`)
}

// writeEndMark writes a cardinality beside a line's end, off the line.
func writeEndMark(b *strings.Builder, end, toward Point, text, class string) {
	dx, dy := toward.X-end.X, toward.Y-end.Y
	n := math.Hypot(dx, dy)
	if n == 0 {
		n = 1
	}
	ux, uy := dx/n, dy/n
	x, y := end.X+ux*16-uy*9, end.Y+uy*16+ux*9+4
	fmt.Fprintf(b, `<text class="%s" x="%.1f" y="%.1f" text-anchor="middle" font-size="%.0f">%s</text>`, class, x, y, labelFont, esc(text))
}

// crowFoot draws the many end of a relation (three prongs), or a bar for one.
func crowFoot(b *strings.Builder, end, toward Point, one bool) {
	dx, dy := toward.X-end.X, toward.Y-end.Y
	n := math.Hypot(dx, dy)
	if n == 0 {
		return
	}
	ux, uy := dx/n, dy/n
	base := Point{end.X + ux*12, end.Y + uy*12}
	if one {
		fmt.Fprintf(b, `<path class="foot" d="M%.1f,%.1f L%.1f,%.1f" fill="none"/>`, base.X-uy*6, base.Y+ux*6, base.X+uy*6, base.Y-ux*6)
		return
	}
	fmt.Fprintf(b, `<path class="foot" d="M%.1f,%.1f L%.1f,%.1f M%.1f,%.1f L%.1f,%.1f M%.1f,%.1f L%.1f,%.1f" fill="none"/>`,
		base.X, base.Y, end.X-uy*7, end.Y+ux*7,
		base.X, base.Y, end.X, end.Y,
		base.X, base.Y, end.X+uy*7, end.Y-ux*7)
}

// writeTable draws a table box: name and entity, then its rows.
func writeTable(b *strings.Builder, n *Node) {
	t, r := n.Table, n.Rect
	fmt.Fprintf(b, `<g class="node table%s" data-id="%s" tabindex="0">`, statusClass(t.Status), esc(n.ID))
	fmt.Fprintf(b, `<title>%s</title>`, esc("table "+t.Name+" — "+entityLine(t)))
	fmt.Fprintf(b, `<rect class="box" x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="4"/>`, r.X, r.Y, r.W, r.H)
	fmt.Fprintf(b, `<rect class="head" x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="4"/>`, r.X, r.Y, r.W, headHeight)
	fmt.Fprintf(b, `<text class="name" x="%.1f" y="%.1f" font-weight="bold">%s</text>`, r.X+padX, r.Y+17, esc(t.Name))
	fmt.Fprintf(b, `<text class="entity" x="%.1f" y="%.1f" font-size="11">%s%s</text>`, r.X+padX, r.Y+33, esc(entityLine(t)), esc(statusSuffix(t.Status, "")))
	rows := tableRows(t)
	y := r.Y + headHeight + padY
	for i, row := range rows {
		status, note, class := Status(""), "", "col"
		switch {
		case i < len(t.Columns):
			status, note = t.Columns[i].Status, t.Columns[i].Note
		case i < len(t.Columns)+len(t.Indexes):
			status, class = t.Indexes[i-len(t.Columns)].Status, "idx"
		default:
			status, class = t.ForeignKeys[i-len(t.Columns)-len(t.Indexes)].Status, "fk"
		}
		if i == len(t.Columns) {
			fmt.Fprintf(b, `<line class="sep" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, r.X, y+padY/2, r.X+r.W, y+padY/2)
			y += padY
		}
		fmt.Fprintf(b, `<g class="row %s%s">`, class, statusClass(status))
		if status != "" {
			fmt.Fprintf(b, `<title>%s</title>`, esc(statusSuffix(status, note)))
			fmt.Fprintf(b, `<rect class="mark" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, r.X+1, y, r.W-2, rowHeight)
		}
		x := r.X + padX
		for j, cell := range row {
			if n.cols[j] == 0 {
				continue
			}
			if cell != "" {
				fmt.Fprintf(b, `<text class="c%d" x="%.1f" y="%.1f">%s</text>`, j, x, y+13, esc(cell))
			}
			x += float64(n.cols[j]+colGap) * charWidth
		}
		b.WriteString(`</g>`)
		y += rowHeight
	}
	b.WriteString(`</g>`)
}

// writeEnum draws an enum type box with its values.
func writeEnum(b *strings.Builder, n *Node) {
	e, r := n.Enum, n.Rect
	fmt.Fprintf(b, `<g class="node enum%s" data-id="%s" tabindex="0">`, statusClass(e.Status), esc(n.ID))
	fmt.Fprintf(b, `<title>%s</title>`, esc("enum type "+e.Name))
	fmt.Fprintf(b, `<rect class="box" x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="4"/>`, r.X, r.Y, r.W, r.H)
	fmt.Fprintf(b, `<rect class="head" x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="4"/>`, r.X, r.Y, r.W, headHeight)
	fmt.Fprintf(b, `<text class="name" x="%.1f" y="%.1f" font-weight="bold">%s</text>`, r.X+padX, r.Y+17, esc(e.Name))
	fmt.Fprintf(b, `<text class="entity" x="%.1f" y="%.1f" font-size="11">enum type%s</text>`, r.X+padX, r.Y+33, esc(statusSuffix(e.Status, "")))
	y := r.Y + headHeight + padY
	for _, v := range enumValues(e) {
		status := Status("")
		switch {
		case slices.Contains(e.Missing, v):
			status = Missing
		case slices.Contains(e.Extra, v):
			status = Extra
		}
		fmt.Fprintf(b, `<g class="row value%s">`, statusClass(status))
		if status != "" {
			fmt.Fprintf(b, `<title>%s</title><rect class="mark" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, esc(statusSuffix(status, "")), r.X+1, y, r.W-2, rowHeight)
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text></g>`, r.X+padX, y+13, esc("· "+v))
		y += rowHeight
	}
	b.WriteString(`</g>`)
}

// statusSuffix says what a status means, for titles and headers.
func statusSuffix(s Status, note string) string {
	switch s {
	case Missing:
		return " — missing from the database"
	case Extra:
		return " — in the database only"
	case Changed:
		if note != "" {
			return " — differs: " + note
		}
		return " — differs from the code"
	}
	return ""
}
