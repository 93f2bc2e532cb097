package handlers

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/services"
)

// statusByKind is the one table mapping service error kinds to HTTP.
var statusByKind = map[services.Kind]int{
	services.KindInvalid:          http.StatusBadRequest,
	services.KindUnauthenticated:  http.StatusUnauthorized,
	services.KindForbidden:        http.StatusForbidden,
	services.KindNotFound:         http.StatusNotFound,
	services.KindConflict:         http.StatusConflict,
	services.KindRateLimited:      http.StatusTooManyRequests,
	services.KindUnavailable:      http.StatusServiceUnavailable,
	services.KindUpstream:         http.StatusBadGateway,
	services.KindNotImplemented:   http.StatusNotImplemented,
	services.KindUnprocessable:    http.StatusUnprocessableEntity,
	services.KindTooLarge:         http.StatusRequestEntityTooLarge,
	services.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// writeError answers with err: a service error with its status and code,
// anything else as a 500 that names only the request id. The cause is
// logged, never sent.
func writeError(c *gin.Context, err error) {
	se, ok := services.AsError(err)
	var status int
	if ok {
		status = statusByKind[se.Kind]
	}
	if status == 0 {
		logFrom(c).Error("request failed", "err", err)
		writeErrorBody(c, http.StatusInternalServerError, "internal_error", "something went wrong; quote the request id when reporting it")
		return
	}
	if se.Err != nil {
		logFrom(c).Warn("request refused", "code", se.Code, "err", se.Err)
	}
	if se.RetryAfterSeconds > 0 {
		c.Header("Retry-After", strconv.Itoa(se.RetryAfterSeconds))
	}
	if status == http.StatusUnauthorized {
		// RFC 6750: name the error only when a token was presented.
		challenge := "Bearer"
		if se.Code == "unauthorized" && c.GetHeader("Authorization") != "" {
			challenge = `Bearer error="invalid_token"`
		}
		c.Header("WWW-Authenticate", challenge)
	}
	c.AbortWithStatusJSON(status, errorBody{Error: errorDetail{
		Code: se.Code, Message: se.Message, Field: se.Field, RequestID: requestIDFrom(c),
	}})
}

// writeErrorBody answers with a plain error body.
func writeErrorBody(c *gin.Context, status int, code, msg string) {
	c.AbortWithStatusJSON(status, errorBody{Error: errorDetail{Code: code, Message: msg, RequestID: requestIDFrom(c)}})
}

func notFound() gin.HandlerFunc {
	return func(c *gin.Context) {
		writeErrorBody(c, http.StatusNotFound, "not_found", "no such route")
	}
}

func methodNotAllowed() gin.HandlerFunc {
	return func(c *gin.Context) {
		writeErrorBody(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route")
	}
}
