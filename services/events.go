package services

import (
	"context"
	"log/slog"
)

// Events writes security events (sign-in, OTP sent, limits hit, reuse
// detected, evictions, role changes, logout) as structured log records
// with msg "security_event" and an "event" attribute. Phone numbers are
// masked by the callers; no token, code or secret is ever passed here.
type Events struct{ l *slog.Logger }

// NewEvents returns an event log writing to l.
func NewEvents(l *slog.Logger) *Events { return &Events{l: l} }

type requestIDKey struct{}

// WithRequestID tags ctx with the HTTP request id, which events then carry.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func (e *Events) log(ctx context.Context, event string, attrs ...slog.Attr) {
	if e == nil || e.l == nil {
		return
	}
	all := make([]slog.Attr, 0, len(attrs)+2)
	all = append(all, slog.String("event", event))
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		all = append(all, slog.String("request_id", id))
	}
	all = append(all, attrs...)
	level := slog.LevelInfo
	switch event {
	case "refresh_token_reused", "rate_limited", "signin_failed":
		level = slog.LevelWarn
	}
	e.l.LogAttrs(ctx, level, "security_event", all...)
}
