// Package upstream is the one contract every outside provider answers
// with: the Google and Facebook token verifiers and the SMS senders. Each
// failure wraps exactly one of three errors, which services map to client
// errors in one place:
//
//   - ErrDisabled: the provider is not configured here; nothing was asked.
//   - ErrInvalid: the provider gave a verdict against the input (a forged,
//     expired or foreign token; a message the SMS provider refused for good).
//   - ErrUnavailable: no verdict (network error, timeout, 5xx, throttling,
//     an answer that cannot be read); trying again later may work. For an
//     SMS this is an ambiguous outcome: the message may still arrive.
//
// Context errors stay detectable with errors.Is alongside these.
package upstream

import "errors"

// The three outcomes of a provider call that did not succeed.
var (
	ErrDisabled    = errors.New("provider not configured")
	ErrInvalid     = errors.New("rejected by the provider")
	ErrUnavailable = errors.New("provider unavailable")
)

// Identity is who an identity provider (Google, Facebook) says the owner of
// a verified token is.
type Identity struct {
	// Subject is the provider's stable id of the person (Google "sub",
	// Facebook's app-scoped user id).
	Subject string
	Email   string
	// EmailVerified is true only when the provider vouches for Email.
	EmailVerified bool
	Name          string
	// Picture is a URL of the profile picture; may be empty.
	Picture string
}
