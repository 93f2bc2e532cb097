package schemaviz

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
)

var (
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string
	//go:embed page.html
	pageHTML string
)

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// ContentSecurityPolicy is the policy the page is served with: nothing
// loads from anywhere, the one inline style and script are allowed by hash.
var ContentSecurityPolicy = "default-src 'none'; img-src data:; style-src '" + hashOf(pageCSS) + "'; script-src '" + hashOf(pageJS) + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// HTML renders the model as one self-contained page: the SVG diagram
// (readable with JavaScript off), the list of differences when the model
// was compared with the code, and the text description. The inline script
// adds zoom, pan and highlighting of a clicked entity's lines.
func HTML(ctx context.Context, m *Model) ([]byte, error) {
	d, err := Layout(ctx, m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = pageTmpl.Execute(&buf, map[string]any{
		"Model": m,
		"SVG":   template.HTML(d.SVG()),
		"Text":  Text(m),
		"CSS":   template.CSS(pageCSS),
		"JS":    template.JS(pageJS),
	})
	return buf.Bytes(), err
}
