package handlers

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// What a browser may do cross-origin. The API authenticates with bearer
// tokens, never cookies, so no Access-Control-Allow-Credentials is sent.
const (
	corsAllowHeaders  = "Authorization, Content-Type, X-Request-ID"
	corsExposeHeaders = "X-Request-ID, Retry-After"
	// corsMaxAge is how long (seconds) a browser may reuse a preflight's answer.
	corsMaxAge = "3600"
)

// cors lets the browser apps at origins (CORS_ALLOWED_ORIGINS: exact
// origins, or "*" outside production) call the API. It is global
// middleware, so it runs for unmatched requests too: no route has OPTIONS,
// so gin answers every preflight through the 405 handlers, having already
// set Allow to the methods the path really has, and through the 404
// handlers when the path has none.
//
// A preflight (OPTIONS with Access-Control-Request-Method) is always
// answered 204 here, before routing's 405. It carries the
// Access-Control-Allow-* headers only when the origin is allowed and the
// path has the requested method; otherwise none, and the browser refuses
// the call. Other requests go on as usual; an allowed origin's carry
// Access-Control-Allow-Origin. Vary: Origin is on every response, so a
// cache never hands one origin's answer to another. With "*" the answer is
// the literal "*" (valid without credentials). No origins: nothing is done.
func cors(origins []string) gin.HandlerFunc {
	if len(origins) == 0 {
		return func(*gin.Context) {}
	}
	anyOrigin := slices.Contains(origins, "*")
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Add("Vary", "Origin")
		origin := c.GetHeader("Origin")
		allowOrigin := ""
		switch {
		case origin == "":
		case anyOrigin:
			allowOrigin = "*"
		case slices.Contains(origins, origin):
			allowOrigin = origin
		}
		method := c.GetHeader("Access-Control-Request-Method")
		if c.Request.Method != http.MethodOptions || method == "" {
			if allowOrigin != "" {
				h.Set("Access-Control-Allow-Origin", allowOrigin)
				h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			}
			return
		}
		h.Add("Vary", "Access-Control-Request-Method")
		// Allow is set by gin's 405 path (see above); empty for an unknown path.
		methods := strings.Split(h.Get("Allow"), ", ")
		if allowOrigin != "" && slices.Contains(methods, method) {
			h.Set("Access-Control-Allow-Origin", allowOrigin)
			h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		c.AbortWithStatus(http.StatusNoContent)
	}
}
