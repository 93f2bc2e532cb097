package apidocs

import (
	"fmt"
	"html"
	"html/template"
	"regexp"
	"strings"
)

// The descriptions of the contract are CommonMark. markdown renders the
// subset they use: paragraphs, headings, "-" lists (with wrapped lines),
// pipe tables, `code`, **bold** and [links](url). Everything else is shown
// as text; nothing in the input can add markup of its own, because every
// piece is HTML-escaped before it is wrapped.

var (
	boldRe  = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	linkRe  = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)\)`)
	headRe  = regexp.MustCompile(`^(#{1,6})\s+(.*)$`)
	itemRe  = regexp.MustCompile(`^\s*[-*]\s+(.*)$`)
	tableRe = regexp.MustCompile(`^\s*\|.*\|\s*$`)
	ruleRe  = regexp.MustCompile(`^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$`)
)

// markdown renders md as HTML. Headings start at h3: the page owns h1/h2.
func markdown(md string) template.HTML {
	var b strings.Builder
	lines := strings.Split(strings.ReplaceAll(strings.TrimSpace(md), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); {
		line := lines[i]
		switch {
		case strings.TrimSpace(line) == "":
			i++
		case headRe.MatchString(line):
			m := headRe.FindStringSubmatch(line)
			level := min(len(m[1])+1, 6)
			fmt.Fprintf(&b, "<h%d>%s</h%d>\n", level, inline(m[2]), level)
			i++
		case tableRe.MatchString(line) && i+1 < len(lines) && ruleRe.MatchString(lines[i+1]):
			i = table(&b, lines, i)
		case itemRe.MatchString(line):
			i = list(&b, lines, i)
		default:
			var para []string
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != "" && !itemRe.MatchString(lines[i]) && !headRe.MatchString(lines[i]); i++ {
				para = append(para, strings.TrimSpace(lines[i]))
			}
			b.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>\n")
		}
	}
	return template.HTML(b.String()) //nolint:gosec // every piece went through inline, which escapes
}

// list renders the "-" items from lines[i]; a line indented under an item
// continues it. It returns the index after the list.
func list(b *strings.Builder, lines []string, i int) int {
	b.WriteString("<ul>\n")
	for i < len(lines) && itemRe.MatchString(lines[i]) {
		item := []string{itemRe.FindStringSubmatch(lines[i])[1]}
		for i++; i < len(lines) && strings.HasPrefix(lines[i], "  ") && !itemRe.MatchString(lines[i]); i++ {
			item = append(item, strings.TrimSpace(lines[i]))
		}
		b.WriteString("<li>" + inline(strings.Join(item, " ")) + "</li>\n")
	}
	b.WriteString("</ul>\n")
	return i
}

// table renders a pipe table whose header is lines[i] and rule lines[i+1].
func table(b *strings.Builder, lines []string, i int) int {
	b.WriteString("<div class=\"table\"><table>\n<thead><tr>")
	for _, c := range cells(lines[i]) {
		b.WriteString("<th>" + inline(c) + "</th>")
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for i += 2; i < len(lines) && tableRe.MatchString(lines[i]); i++ {
		b.WriteString("<tr>")
		for _, c := range cells(lines[i]) {
			b.WriteString("<td>" + inline(c) + "</td>")
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody></table></div>\n")
	return i
}

// cells splits a table row on the pipes outside code spans.
func cells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimSuffix(strings.TrimPrefix(row, "|"), "|")
	var out []string
	var cur strings.Builder
	inCode := false
	for _, r := range row {
		switch {
		case r == '`':
			inCode = !inCode
		case r == '|' && !inCode:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// inline renders code spans, bold and links in one line of text.
func inline(s string) string {
	var b strings.Builder
	parts := strings.Split(s, "`")
	for i, p := range parts {
		if i%2 == 1 && i < len(parts)-1 {
			b.WriteString("<code>" + html.EscapeString(p) + "</code>")
			continue
		}
		if i%2 == 1 { // an unmatched backtick: keep it as text
			p = "`" + p
		}
		t := html.EscapeString(p)
		t = boldRe.ReplaceAllString(t, "<strong>$1</strong>")
		t = linkRe.ReplaceAllStringFunc(t, func(m string) string {
			sm := linkRe.FindStringSubmatch(m)
			href := html.UnescapeString(sm[2])
			if !strings.HasPrefix(href, "https://") && !strings.HasPrefix(href, "http://") && !strings.HasPrefix(href, "#") && !strings.HasPrefix(href, "/") {
				return m
			}
			return `<a href="` + html.EscapeString(href) + `">` + sm[1] + `</a>`
		})
		b.WriteString(t)
	}
	return b.String()
}
