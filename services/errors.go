// Package services holds the business rules of the identity service. It
// works on the Ent client and plain values; it never sees HTTP.
package services

import (
	"errors"
	"fmt"
)

// Kind is the closed set of failure classes; handlers map each to one HTTP
// status in a single table.
type Kind int

// The kinds of service errors.
const (
	KindInternal Kind = iota
	KindInvalid
	KindUnauthenticated
	KindForbidden
	KindNotFound
	KindConflict
	KindRateLimited
	KindUnavailable
	KindUpstream
	KindNotImplemented
	KindUnprocessable
	KindTooLarge
	KindUnsupportedMedia
)

// Error is a failure a client may be told about: a Kind, a stable
// snake_case Code, a user-safe Message and the wrapped cause (logged, never
// sent to the client).
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// Field names the offending input, when there is one.
	Field string
	// RetryAfterSeconds is set for rate-limited errors.
	RetryAfterSeconds int
	Err               error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is match two service errors with the same code, so tests
// and callers can compare against the sentinels below.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// newError builds a service error.
func newError(kind Kind, code, msg string) *Error {
	return &Error{Kind: kind, Code: code, Message: msg}
}

// AsError returns the service error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
