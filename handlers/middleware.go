package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/services"
)

const (
	// maxBodyBytes caps every request body (64 KiB).
	maxBodyBytes = 64 << 10
	// requestIDHeader carries the request id in and out.
	requestIDHeader = "X-Request-ID"
	ctxRequestID    = "request_id"
	ctxLogger       = "logger"
)

// validRequestID accepts a caller's id only when it is short and plain, so
// it cannot inject anything into logs.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID takes the caller's X-Request-ID when it is sane, else makes one,
// and echoes it on the response.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(requestIDHeader)
		if !validRequestID.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(ctxRequestID, id)
		c.Header(requestIDHeader, id)
		ctx := services.WithClientIP(services.WithRequestID(c.Request.Context(), id), c.ClientIP())
		c.Request = c.Request.WithContext(services.WithDatabaseBudget(ctx))
		c.Next()
	}
}

func requestIDFrom(c *gin.Context) string { return c.GetString(ctxRequestID) }

// requestLog logs one line per request. It logs the path, never the query
// string or headers, which may carry tokens.
func requestLog(base *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		log := base.With("request_id", requestIDFrom(c))
		c.Set(ctxLogger, log)
		c.Next()
		log.Info("request",
			"method", c.Request.Method,
			"path", c.Request.URL.Path,
			"status", c.Writer.Status(),
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"client_ip", c.ClientIP(),
		)
	}
}

// logFrom returns the request's logger.
func logFrom(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

// recovery turns a panic into a logged 500 with a JSON body.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				log.Error("panic", "request_id", requestIDFrom(c), "panic", r)
				writeError(c, errInternal)
			}
		}()
		c.Next()
	}
}

// limitBody caps the request body; reading past the cap fails, and the
// handler answers 413.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			writeError(c, errBodyTooLarge)
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

// securityHeaders sets nosniff on every response, and on the API's (which
// carry tokens or personal data, or errors about them) forbids caching
// (RFC 6749 section 5.1).
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(c.Request.URL.Path, "/v1/") {
			h.Set("Cache-Control", "no-store")
			h.Set("Pragma", "no-cache")
		}
		c.Next()
	}
}
