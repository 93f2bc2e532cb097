// Package apidocs renders the API reference: one HTML page built from the
// OpenAPI contract when the service starts, listing every operation by
// tag with its parameters, bodies, responses, error codes and security.
// The page needs nothing from outside the server: its stylesheet, script
// and icon (Assets) are served under /docs/ beside it, and without
// JavaScript it lists everything (the script adds the search box).
package apidocs

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"strings"
)

//go:embed page.html.tmpl
var pageFS embed.FS

//go:embed assets
var assetsFS embed.FS

// Assets are the files the page links to, to be served under /docs/:
// docs.css, docs.js and favicon.svg.
var Assets, _ = fs.Sub(assetsFS, "assets")

var page = template.Must(template.New("page.html.tmpl").
	Funcs(template.FuncMap{"lower": strings.ToLower}).
	ParseFS(pageFS, "page.html.tmpl"))

// Render builds the page from the contract (YAML or JSON). It fails only
// when the document cannot be parsed; an invalid but readable document is
// shown as it is.
func Render(spec []byte) ([]byte, error) {
	ref, err := build(spec)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := page.Execute(&b, ref); err != nil {
		return nil, fmt.Errorf("render the API reference: %w", err)
	}
	return b.Bytes(), nil
}
