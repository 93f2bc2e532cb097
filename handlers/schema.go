package handlers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
)

// SchemaPage renders the schema diagram page and the Content-Security-Policy
// it needs (internal/schemaviz); the router calls it once, on the first
// request, and keeps the page.
type SchemaPage struct {
	Render func(ctx context.Context) ([]byte, error)
	CSP    string
}

// schemaPage serves the diagram of the code's schema. A rendering error is
// a 500 and is retried on the next request.
func schemaPage(p *SchemaPage) gin.HandlerFunc {
	var page cached
	return func(c *gin.Context) {
		b, err := page.get(c.Request.Context(), p.Render)
		if err != nil {
			logFrom(c).Error("schema page", "err", err)
			writeError(c, errInternal)
			return
		}
		// The page is one file: its own policy (inline style and script
		// by hash) replaces the pages' 'self' one; the rest of
		// pageHeaders stays.
		c.Writer.Header().Set("Content-Security-Policy", p.CSP)
		c.Data(http.StatusOK, "text/html; charset=utf-8", b)
	}
}
