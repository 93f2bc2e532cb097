package handlers

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/services"
)

// maxAuthHeader caps the Authorization header; longer is refused before parsing.
const maxAuthHeader = 8 << 10

const ctxPrincipal = "principal"

// limitAuthHeader refuses oversized Authorization headers on every route.
func limitAuthHeader() gin.HandlerFunc {
	return func(c *gin.Context) {
		if len(c.GetHeader("Authorization")) > maxAuthHeader {
			writeError(c, invalidRequest("Authorization", "the Authorization header exceeds 8 KiB"))
			return
		}
		c.Next()
	}
}

// bearerToken extracts the token of "Authorization: Bearer <token>".
func bearerToken(c *gin.Context) (string, bool) { return parseBearer(c.GetHeader("Authorization")) }

// parseBearer reads an Authorization header value of the Bearer scheme
// (case-insensitive) and returns its token.
func parseBearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// requireAuth lets only callers with a valid access token of a live session through.
func requireAuth(sessions *services.Sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, ok := bearerToken(c)
		if !ok {
			writeError(c, services.ErrUnauthorized)
			return
		}
		p, err := sessions.Authenticate(c.Request.Context(), token)
		if err != nil {
			writeError(c, err)
			return
		}
		c.Set(ctxPrincipal, p)
		c.Next()
	}
}

// requireRole refuses callers who have not chosen a role yet.
func requireRole() gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := services.RequireRole(principal(c)); err != nil {
			writeError(c, err)
			return
		}
		c.Next()
	}
}

// principal is the authenticated caller (set by requireAuth).
func principal(c *gin.Context) *services.Principal {
	p, _ := c.Get(ctxPrincipal)
	return p.(*services.Principal)
}
