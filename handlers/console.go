package handlers

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"
)

// web holds the console: plain HTML, CSS and JavaScript, no build step.
// The script calls the API of the same origin, as any client would, and
// keeps the tokens in memory only.
//
//go:embed web
var web embed.FS

var consoleTemplate = template.Must(template.ParseFS(web, "web/console.html"))

// consolePage serves the console, telling where sent codes go. It is
// rendered once: nothing in it depends on the request.
func consolePage(codeDelivery string) gin.HandlerFunc {
	var b bytes.Buffer
	err := consoleTemplate.Execute(&b, struct{ CodeDelivery string }{codeDelivery})
	return func(c *gin.Context) {
		if err != nil {
			writeError(c, err)
			return
		}
		c.Data(http.StatusOK, "text/html; charset=utf-8", b.Bytes())
	}
}
