package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// docsPage serves the API reference, rendered from openapi.yaml at
// startup (internal/apidocs); its assets are apidocs.Assets.
func docsPage(page []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Data(http.StatusOK, "text/html; charset=utf-8", page)
	}
}
