package services

import (
	"context"
	"log/slog"
)

// Events writes security events (sign-in, OTP sent, limits hit, reuse
// detected, evictions, role changes, logout) as structured log records
// with msg "security_event" and an "event" attribute. Phone numbers are
// masked by the callers; no token, code or secret is ever passed here.
// Observers (the metrics) are told of every event, logged or only counted.
type Events struct {
	l         *slog.Logger
	observers []Observer
}

// Observer is told of each event with its attributes as it happens. It runs
// on the request's goroutine, so it must be quick, and it must not keep or
// change attrs.
type Observer func(event Event, attrs []slog.Attr)

// NewEvents returns an event log writing to l and telling observers.
func NewEvents(l *slog.Logger, observers ...Observer) *Events {
	return &Events{l: l, observers: observers}
}

// Event names a security event: the "event" attribute of its log record.
// The list is closed. Three events share their word with the error code the
// client gets, and are declared from it.
type Event string

// The security events.
const (
	EventSignInSucceeded     Event = "signin_succeeded"
	EventSignInFailed        Event = "signin_failed"
	EventOTPSent             Event = "otp_sent"
	EventOTPSendFailed       Event = "otp_send_failed"
	EventRateLimited               = Event(CodeRateLimited) // a limit or the resend cooldown refused a request
	EventRefreshTokenReused        = Event(CodeRefreshTokenReused)
	EventProviderUnavailable       = Event(CodeProviderUnavailable)
	EventSessionEvicted      Event = "session_evicted"
	EventLogout              Event = "logout"
	EventRoleSet             Event = "role_set"
	EventIdentityLinked      Event = "identity_linked"
	EventIdentityUnlinked    Event = "identity_unlinked"
	EventUserDeleted         Event = "user_deleted" // by the user, DELETE /v1/me
	EventAdminGranted        Event = "admin_granted"
	EventAdminRoleSet        Event = "admin_role_set"
	EventAdminUserDeleted    Event = "admin_user_deleted"
	EventAdminSessionsEnded  Event = "admin_sessions_ended"
	EventAdminWebhookRetried Event = "admin_webhook_retried"
	EventUserCreated         Event = "user_created"
	EventProfileUpdated      Event = "profile_updated"
	EventSessionRevoked      Event = "session_revoked"
	EventWebhookFailed       Event = "webhook_failed" // an event ran out of attempts
	// A session the database holds behind its client's token (rotations
	// lost by a failover to an asynchronous standby, or a restore) caught
	// up with it: see Sessions.refreshMiss.
	EventRefreshCaughtUp Event = "refresh_caught_up"
	// Counted, never logged: one of these happens on every refresh, the
	// hottest path, where a log line each would cost more than the work.
	EventRefreshRotated       Event = "refresh_rotated"
	EventRefreshGraceReplayed Event = "refresh_grace_replayed" // a retry answered with the current token
	// Counted, never logged: the webhook outbox's traffic (attribute "type").
	EventWebhookQueued    Event = "webhook_queued"
	EventWebhookDelivered Event = "webhook_delivered" // with "latency_seconds" since the change
	EventWebhookRetried   Event = "webhook_retried"
)

type requestIDKey struct{}

// WithRequestID tags ctx with the HTTP request id, which events then carry.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func (e *Events) log(ctx context.Context, event Event, attrs ...slog.Attr) {
	if e == nil {
		return
	}
	e.count(event, attrs...)
	if e.l == nil {
		return
	}
	all := make([]slog.Attr, 0, len(attrs)+2)
	all = append(all, slog.String("event", string(event)))
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		all = append(all, slog.String("request_id", id))
	}
	all = append(all, attrs...)
	level := slog.LevelInfo
	switch event {
	case EventRefreshTokenReused, EventRateLimited, EventSignInFailed:
		level = slog.LevelWarn
	}
	e.l.LogAttrs(ctx, level, "security_event", all...)
}

// count tells the observers of event without logging it.
func (e *Events) count(event Event, attrs ...slog.Attr) {
	if e == nil {
		return
	}
	for _, o := range e.observers {
		o(event, attrs)
	}
}
