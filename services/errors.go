// Package services holds the business rules of the identity service. It
// works on the Ent client and plain values; it never sees HTTP.
//
// Where things are: store.go is the plumbing every service shares (the
// database and its dialect, transactions, the clock, the security event
// log); errors.go and codes.go the one error type and the closed list of
// error codes; one file per service: phoneauth.go (OTP send and verify),
// signin.go (find or create the user of a verified sign-in method),
// sessions.go and refreshtoken.go (sessions, their rotating refresh tokens,
// who-am-I), providers.go (Google, Facebook), identities.go (linking),
// users.go (profile, role), admin.go, limits.go (rate limits in the
// database), cleanup.go.
package services

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the class of a failure. Handlers map each kind to one HTTP status
// in a single table. The set is closed: services raise no other.
type Kind int

// The kinds of service errors. The zero Kind is no kind: an error without
// one is an internal failure.
const (
	KindInvalid         Kind = iota + 1 // the request is malformed
	KindUnprocessable                   // well-formed, but a value breaks a rule
	KindUnauthenticated                 // no valid credential
	KindForbidden                       // a valid credential that may not do this
	KindNotFound                        // no such thing (or not the caller's)
	KindConflict                        // the state forbids it (already set, in use)
	KindRateLimited                     // a limit is used up; retry after a wait
	KindUnavailable                     // a dependency did not answer; retry later
	KindUpstream                        // a dependency refused the request
	KindNotImplemented                  // the feature is not configured here
)

// Kinds lists every kind services raise.
func Kinds() []Kind {
	return []Kind{KindInvalid, KindUnprocessable, KindUnauthenticated, KindForbidden, KindNotFound,
		KindConflict, KindRateLimited, KindUnavailable, KindUpstream, KindNotImplemented}
}

// Error is a failure a client may be told about: a Kind, a stable Code, a
// user-safe Message, optionally the offending Field and a RetryAfter, and
// the wrapped cause (logged, never sent to the client).
//
// Errors are package-level sentinels (ErrUserNotFound...) or variants of
// one made by With, OnField and RetryIn. errors.Is compares by identity:
// a variant is its sentinel, and two sentinels are never equal, even when
// they share a code (ErrUserNotFound and ErrSessionNotFound are both
// not_found).
type Error struct {
	Kind    Kind
	Code    Code
	Message string
	// Field names the offending input, when there is one.
	Field string
	// RetryAfter is how long a rate-limited client should wait.
	RetryAfter time.Duration

	sentinel *Error // what this is a variant of; nil for a sentinel
	cause    error
}

// sentinels are every sentinel declared with NewError, for tests that
// compare them with the API contract.
var sentinels []*Error

// NewError declares a sentinel error. Call it only in package-level var
// declarations.
func NewError(kind Kind, code Code, message string) *Error {
	e := &Error{Kind: kind, Code: code, Message: message}
	sentinels = append(sentinels, e)
	return e
}

// NewFieldError declares a sentinel error about one input field.
func NewFieldError(kind Kind, code Code, field, message string) *Error {
	e := NewError(kind, code, message)
	e.Field = field
	return e
}

// Sentinels returns every sentinel declared so far (services' own once the
// package is initialised, plus those of packages that import it).
func Sentinels() []*Error { return append([]*Error(nil), sentinels...) }

// Error is the code, the message and the cause; for logs, never for clients.
func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return string(e.Code) + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is the sentinel e is a variant of.
func (e *Error) Is(target error) bool { return e.sentinel != nil && target == e.sentinel }

// variant copies e, remembering its sentinel.
func (e *Error) variant() *Error {
	v := *e
	if v.sentinel == nil {
		v.sentinel = e
	}
	return &v
}

// With returns e carrying cause, which is logged but never sent.
func (e *Error) With(cause error) *Error {
	v := e.variant()
	v.cause = cause
	return v
}

// OnField returns e naming the offending field, with a message saying what
// is wrong with it.
func (e *Error) OnField(field, message string) *Error {
	v := e.variant()
	v.Field, v.Message = field, message
	return v
}

// RetryIn returns e telling the client to wait d before trying again.
func (e *Error) RetryIn(d time.Duration) *Error {
	v := e.variant()
	v.RetryAfter = d
	return v
}

// AsError returns the service error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
