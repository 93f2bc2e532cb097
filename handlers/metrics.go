package handlers

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/internal/metrics"
)

// requestMetrics counts each request by method, route template (gin's
// FullPath, never the raw path) and status, and times it. It sits outside
// recovery, so a panic is counted as the 500 it became.
func requestMetrics(m *metrics.Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = metrics.Unmatched
		}
		m.ObserveRequest(c.Request.Method, route, c.Writer.Status(), time.Since(start))
	}
}
