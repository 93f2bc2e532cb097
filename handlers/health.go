package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/agency-platform/agency/services"
	"github.com/gin-gonic/gin"
)

// readyTimeout bounds the database check of /readyz.
const readyTimeout = 2 * time.Second

// healthz answers while the process serves requests at all.
func healthz() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	}
}

// readyz answers 200 when the database answers, else 503 with a reason.
func readyz(db Pinger) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			logFrom(c).Warn("readiness check failed", "err", err)
			if se, ok := services.AsError(err); ok {
				writeError(c, se) // a reason of the service's own (pending migrations)
				return
			}
			writeError(c, services.ErrDatabaseUnavailable)
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	}
}
