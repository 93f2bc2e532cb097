package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// jwks publishes the public signing keys.
func jwks(doc []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "application/json", doc)
	}
}

// openAPI serves the API contract.
func openAPI(spec []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Data(http.StatusOK, "application/yaml", spec)
	}
}
