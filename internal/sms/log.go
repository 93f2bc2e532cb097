package sms

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/agency-platform/agency/internal/upstream"
)

// Log prints codes instead of sending them, so sign-in works on a
// laptop without an SMS provider.
type Log struct {
	log *slog.Logger
	ttl time.Duration
}

// NewLog returns the development sender: it sends nothing and logs the
// code at WARN level, loud enough that nobody mistakes it for production
// delivery. log must not be nil.
func NewLog(log *slog.Logger, ttl time.Duration) *Log {
	return &Log{log: log, ttl: ttl}
}

// Send logs the full number and the code; both are fine in development
// and this sender must never be wired in production.
func (s *Log) Send(ctx context.Context, to, code string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sms: log: %w: %w", upstream.ErrUnavailable, err)
	}
	s.log.WarnContext(ctx, "DEV SMS sender: not sent, code printed for development",
		slog.String("to", to),
		slog.String("code", code),
		slog.Duration("ttl", s.ttl),
	)
	return nil
}
