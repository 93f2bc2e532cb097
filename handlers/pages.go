package handlers

import (
	"cmp"
	"fmt"
	"io/fs"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/internal/apidocs"
)

// Pages are the HTML pages served beside the API (not under /v1, no
// auth), each behind its switch: DOCS_UI and CONSOLE_UI, on by default
// in development and off in production. A page that is off is not routed,
// so it answers the usual JSON 404.
type Pages struct {
	// Docs serves GET /docs: the API reference rendered from OpenAPI.
	Docs bool
	// Console serves GET /console: a page that walks the sign-in flow.
	Console bool
	// CodeDelivery tells the console's user where a sent code goes,
	// completing "The code is sent …" (for example "to the server log").
	CodeDelivery string
	// Schema serves GET /schema when set (SCHEMA_UI): the schema diagram.
	Schema *SchemaPage

	reference []byte // the rendered /docs page, built by prepare
}

// prepare renders what the switched-on pages build at startup, so that a
// contract that cannot be parsed stops the service before it serves.
func (p *Pages) prepare(spec []byte) error {
	if !p.Docs {
		return nil
	}
	page, err := apidocs.Render(spec)
	if err != nil {
		return fmt.Errorf("build /docs: %w", err)
	}
	p.reference = page
	return nil
}

// pageCSP allows the pages nothing from elsewhere: scripts, styles,
// images and API calls come from this server only, and no other site may
// frame them.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pageHeaders are the security headers of the pages and their assets
// (nosniff comes from securityHeaders, on every response).
func pageHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		c.Next()
	}
}

// contentTypes are the media types of the pages' files, by extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// asset serves one embedded file, read once when the routes are built.
func asset(fsys fs.FS, name string) gin.HandlerFunc {
	body, err := fs.ReadFile(fsys, name)
	ctype := cmp.Or(contentTypes[path.Ext(name)], "application/octet-stream")
	return func(c *gin.Context) {
		if err != nil {
			writeError(c, fmt.Errorf("serve %s: %w", name, err))
			return
		}
		c.Data(http.StatusOK, ctype, body)
	}
}
