package services

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/ratelimit"
)

// limiter counts events in fixed windows stored in auth_rate_limits, so
// every instance sharing the database sees the same counts.
type limiter struct {
	db  *ent.Client
	now func() time.Time
}

// take records one event for key if the window has room. It never raises a
// count past limit: the increment is a conditional UPDATE whose affected-row
// count decides, and the first event of a window is an INSERT that the
// unique (key, window_start) index arbitrates. When the window is full it
// returns false and how long until the window ends.
func (l *limiter) take(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	now := l.now()
	start := now.Truncate(window)
	for try := 0; try < 2; try++ {
		n, err := l.db.RateLimit.Update().
			Where(ratelimit.Key(key), ratelimit.WindowStart(start), ratelimit.CountLT(limit)).
			AddCount(1).
			Save(ctx)
		if err != nil {
			return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
		}
		if n == 1 {
			return true, 0, nil
		}
		exists, err := l.db.RateLimit.Query().Where(ratelimit.Key(key), ratelimit.WindowStart(start)).Exist(ctx)
		if err != nil {
			return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
		}
		if exists {
			return false, start.Add(window).Sub(now), nil
		}
		err = l.db.RateLimit.Create().
			SetKey(key).SetWindowStart(start).SetCount(1).SetExpiresAt(start.Add(window)).
			Exec(ctx)
		if err == nil {
			return true, 0, nil
		}
		if !ent.IsConstraintError(err) {
			return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
		}
		// Another request created the window's row first: count on it.
	}
	return false, start.Add(window).Sub(now), nil
}

// refund gives back one event of key's current window (the request it
// counted did not happen after all, e.g. the SMS could not be sent).
func (l *limiter) refund(ctx context.Context, key string, window time.Duration) error {
	start := l.now().Truncate(window)
	_, err := l.db.RateLimit.Update().
		Where(ratelimit.Key(key), ratelimit.WindowStart(start), ratelimit.CountGT(0)).
		AddCount(-1).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("rate limit %s: refund: %w", key, err)
	}
	return nil
}

// full reports, without counting, whether key's window has reached limit.
func (l *limiter) full(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	now := l.now()
	start := now.Truncate(window)
	full, err := l.db.RateLimit.Query().
		Where(ratelimit.Key(key), ratelimit.WindowStart(start), ratelimit.CountGTE(limit)).
		Exist(ctx)
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	return full, start.Add(window).Sub(now), nil
}

// clientKey is what per-IP limits count a client by: its IPv4 address, or
// the /64 network of its IPv6 address. One subscriber usually holds a whole
// /64, so counting single IPv6 addresses would hand one client 2^64
// budgets. An IPv4-mapped IPv6 address counts as the IPv4 address.
func clientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
