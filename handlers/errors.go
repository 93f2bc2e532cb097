package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/services"
)

// Kinds only the HTTP layer raises: refusals of a request's framing that no
// service makes, and the internal failure. They are services.Kind values
// below zero, so that the one table maps every kind an error response can
// have and can never collide with a service's kind.
const (
	kindBodyTooLarge services.Kind = -(iota + 1)
	kindUnsupportedMedia
	kindMethodNotAllowed
	kindInternal
	kindCancelled
)

// statusClientClosed is nginx's 499: the client gave up before the answer.
const statusClientClosed = 499

// statusByKind is the one table from error kinds to HTTP statuses: every
// error response takes its status from here.
var statusByKind = map[services.Kind]int{
	services.KindInvalid:         http.StatusBadRequest,
	services.KindUnprocessable:   http.StatusUnprocessableEntity,
	services.KindUnauthenticated: http.StatusUnauthorized,
	services.KindForbidden:       http.StatusForbidden,
	services.KindNotFound:        http.StatusNotFound,
	services.KindConflict:        http.StatusConflict,
	services.KindRateLimited:     http.StatusTooManyRequests,
	services.KindUnavailable:     http.StatusServiceUnavailable,
	services.KindUpstream:        http.StatusBadGateway,
	services.KindNotImplemented:  http.StatusNotImplemented,
	kindBodyTooLarge:             http.StatusRequestEntityTooLarge,
	kindUnsupportedMedia:         http.StatusUnsupportedMediaType,
	kindMethodNotAllowed:         http.StatusMethodNotAllowed,
	kindInternal:                 http.StatusInternalServerError,
	kindCancelled:                statusClientClosed,
}

// The errors the HTTP layer raises itself.
var (
	errInvalidRequest   = services.NewError(services.KindInvalid, services.CodeInvalidRequest, "the request is malformed")
	errBodyTooLarge     = services.NewError(kindBodyTooLarge, services.CodeBodyTooLarge, "request body exceeds 64 KiB")
	errUnsupportedMedia = services.NewError(kindUnsupportedMedia, services.CodeUnsupportedMediaType, "the body must be application/json")
	errNoRoute          = services.NewError(services.KindNotFound, services.CodeNotFound, "no such route")
	errMethodNotAllowed = services.NewError(kindMethodNotAllowed, services.CodeMethodNotAllowed, "method not allowed on this route")
	errInternal         = services.NewError(kindInternal, services.CodeInternalError, "something went wrong; quote the request id when reporting it")
	errCancelled        = services.NewError(kindCancelled, services.CodeRequestCancelled, "the client gave up before the answer")
)

// invalidRequest is a 400 naming the offending field.
func invalidRequest(field, msg string) *services.Error { return errInvalidRequest.OnField(field, msg) }

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      services.Code `json:"code"`
	Message   string        `json:"message"`
	Field     string        `json:"field,omitempty"`
	RequestID string        `json:"request_id,omitempty"`
}

// writeError answers with err: a service error with its status and code,
// anything else as a 500 that names only the request id. The cause is
// logged, never sent.
func writeError(c *gin.Context, err error) {
	se, ok := services.Classify(err)
	switch {
	case errors.Is(c.Request.Context().Err(), context.Canceled):
		// The client gave up (its work was cancelled with it, in whatever
		// words the driver chose): nothing went wrong here.
		logFrom(c).Info("request cancelled by the client")
		se = errCancelled
	case !ok || statusByKind[se.Kind] == 0:
		logFrom(c).Error("request failed", "err", err)
		se = errInternal
	}
	status := statusByKind[se.Kind]
	if cause := se.Unwrap(); cause != nil {
		logFrom(c).Warn("request refused", "code", se.Code, "err", cause)
	}
	if se.Kind == services.KindRateLimited || se.RetryAfter > 0 {
		c.Header("Retry-After", retryAfter(se.RetryAfter))
	}
	if status == http.StatusUnauthorized {
		// RFC 6750: name the error only when a token was presented.
		challenge := "Bearer"
		if se.Code == services.CodeUnauthorized && c.GetHeader("Authorization") != "" {
			challenge = `Bearer error="invalid_token"`
		}
		c.Header("WWW-Authenticate", challenge)
	}
	c.AbortWithStatusJSON(status, errorBody{Error: errorDetail{
		Code: se.Code, Message: se.Message, Field: se.Field, RequestID: requestIDFrom(c),
	}})
}

// retryAfter is a Retry-After value: whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	return strconv.Itoa(max(s, 1))
}

func notFound() gin.HandlerFunc {
	return func(c *gin.Context) { writeError(c, errNoRoute) }
}

func methodNotAllowed() gin.HandlerFunc {
	return func(c *gin.Context) { writeError(c, errMethodNotAllowed) }
}
