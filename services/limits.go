package services

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/predicate"
	"github.com/agency-platform/agency/ent/ratelimit"
)

// limiter counts events in windows stored in auth_rate_limits, so every
// instance sharing the database sees the same counts.
//
// A fixed window (the send limits) counts from the start of each hour. A
// sliding window (the failure budgets) is approximated the usual way, from
// two fixed windows: the events counted so far in the current one, plus
// the previous one's count weighted by how much of it the sliding window
// still covers. So a budget cannot be spent twice across a boundary (20
// failures at 23:59 and 20 at 00:00 of a daily budget count as 40 in the
// same day), and it comes back gradually rather than all at once; a burst
// at a window's end is remembered for up to two windows.
type limiter struct {
	db  *ent.Client
	drv dialect.Driver
	now func() time.Time
}

// newLimiter is the limiter on base's database.
func newLimiter(base Base) *limiter { return &limiter{db: base.db, drv: base.drv, now: base.now} }

// span is a window: its length, and whether it slides.
type span struct {
	size    time.Duration
	sliding bool
}

// hourly and daily are the windows the limits use.
var (
	hourly        = span{size: time.Hour}
	slidingHourly = span{size: time.Hour, sliding: true}
	slidingDaily  = span{size: 24 * time.Hour, sliding: true}
)

// usage is a key's sliding count at some instant.
type usage struct {
	start   time.Time // of the current fixed window
	current int       // events counted in it
	carried float64   // the previous window's count, weighted
}

// room is how many events the current window may hold in all under limit,
// given what the previous window carries (rounded against the client).
func (u usage) room(limit int) int { return limit - int(math.Ceil(u.carried-1e-9)) }

// budget is a limit on a key's events in a window.
type budget struct {
	key    string
	limit  int
	window span
}

// read returns key's usage at now.
func (l *limiter) read(ctx context.Context, key string, w span, now time.Time) (usage, error) {
	us, err := l.readAll(ctx, now, budget{key: key, window: w})
	if err != nil {
		return usage{}, err
	}
	return us[0], nil
}

// readAll returns the usage of each budget at now, in one SELECT: the
// current fixed window and, for a sliding one, the previous (a past window
// never changes, so reading it apart from the conditional UPDATE of take
// is safe).
func (l *limiter) readAll(ctx context.Context, now time.Time, budgets ...budget) ([]usage, error) {
	us := make([]usage, len(budgets))
	preds := make([]predicate.RateLimit, len(budgets))
	for i, b := range budgets {
		us[i].start = now.Truncate(b.window.size)
		starts := []time.Time{us[i].start}
		if b.window.sliding {
			starts = append(starts, us[i].start.Add(-b.window.size))
		}
		preds[i] = ratelimit.And(ratelimit.Key(b.key), ratelimit.WindowStartIn(starts...))
	}
	rows, err := l.db.RateLimit.Query().Where(ratelimit.Or(preds...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("rate limit %s: %w", budgets[0].key, err)
	}
	for _, r := range rows {
		for i, b := range budgets {
			switch {
			case r.Key != b.key:
			case r.WindowStart.Equal(us[i].start):
				us[i].current = r.Count
			default:
				covered := 1 - float64(now.Sub(us[i].start))/float64(b.window.size)
				us[i].carried = float64(r.Count) * covered
			}
		}
	}
	return us, nil
}

// firstFull returns, without counting, the first budget with no room for
// another event and how long until it has some; nil when all have room.
func (l *limiter) firstFull(ctx context.Context, budgets ...budget) (*budget, time.Duration, error) {
	now := l.now()
	us, err := l.readAll(ctx, now, budgets...)
	if err != nil {
		return nil, 0, err
	}
	for i, u := range us {
		if u.current >= u.room(budgets[i].limit) {
			return &budgets[i], u.wait(budgets[i].limit, budgets[i].window, now), nil
		}
	}
	return nil, 0, nil
}

// take records one event for key if the window has room. It never lets
// the count pass limit: the event is one upsert of the window's row, an
// INSERT whose conflict on the unique (key, window_start) index becomes an
// UPDATE only while count is below what the carried part leaves; the row
// it returns (none when full) decides, whichever concurrent request
// created the row. A fixed window needs nothing else; a sliding one first
// reads the previous window's count. When the window is full it returns
// false and how long until an event would fit.
func (l *limiter) take(ctx context.Context, key string, limit int, w span) (bool, time.Duration, error) {
	now := l.now()
	u := usage{start: now.Truncate(w.size)}
	if w.sliding {
		var err error
		if u, err = l.read(ctx, key, w, now); err != nil {
			return false, 0, err
		}
	}
	if room := u.room(limit); room > 0 {
		// The previous window stays readable for a whole window after it ends.
		err := l.db.RateLimit.Create().
			SetKey(key).SetWindowStart(u.start).SetCount(1).SetExpiresAt(u.start.Add(2*w.size)).
			OnConflict(
				entsql.ConflictColumns(ratelimit.FieldKey, ratelimit.FieldWindowStart),
				entsql.ResolveWith(func(s *entsql.UpdateSet) { s.Add(ratelimit.FieldCount, 1) }),
				entsql.UpdateWhere(entsql.LT(ratelimit.FieldCount, room)),
			).
			Exec(ctx)
		if err == nil {
			return true, 0, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
		}
	}
	u, err := l.read(ctx, key, w, now)
	if err != nil {
		return false, 0, err
	}
	return false, u.wait(limit, w, now), nil
}

// reservation is one event counted in advance against each of a set of
// budgets, in the window each was counted in.
type reservation struct {
	keys   []string
	starts []time.Time
}

// reserve counts one event against every budget before the event happens,
// all or none: a failure budget counts a guess before its code is
// compared, so however many guesses run in parallel, on however many
// instances, no more are compared than the budgets allow. Checking first
// and counting after would let every guess that checks before the first
// one counts through.
//
// It is one SELECT of the budgets' usage (refusing at once when one is
// full), then one statement: an INSERT of every budget's row whose
// conflict becomes, per row, an UPDATE only while the count is below that
// budget's room; the rows it returns are the budgets counted. If one was
// full by then, the others are given back. It returns the full budget
// (nil when all were counted) and how long until it has room.
func (l *limiter) reserve(ctx context.Context, budgets ...budget) (reservation, *budget, time.Duration, error) {
	// Rows are locked in key order, here and wherever a reservation is
	// given back (lockedInOrder), so two requests never wait for each other.
	budgets = slices.SortedFunc(slices.Values(budgets), func(a, b budget) int { return strings.Compare(a.key, b.key) })
	now := l.now()
	us, err := l.readAll(ctx, now, budgets...)
	if err != nil {
		return reservation{}, nil, 0, err
	}
	rooms := make([]int, len(budgets))
	for i, u := range us {
		if rooms[i] = u.room(budgets[i].limit); u.current >= rooms[i] {
			return reservation{}, &budgets[i], u.wait(budgets[i].limit, budgets[i].window, now), nil
		}
	}
	ins := entsql.Dialect(l.drv.Dialect()).Insert(ratelimit.Table).
		Columns(ratelimit.FieldID, ratelimit.FieldKey, ratelimit.FieldWindowStart, ratelimit.FieldCount, ratelimit.FieldExpiresAt)
	for i, b := range budgets {
		// The previous window stays readable for a whole window after it ends.
		ins.Values(uuid.New(), b.key, us[i].start, 1, us[i].start.Add(2*b.window.size))
	}
	ins.OnConflict(
		entsql.ConflictColumns(ratelimit.FieldKey, ratelimit.FieldWindowStart),
		entsql.ResolveWith(func(s *entsql.UpdateSet) { s.Add(ratelimit.FieldCount, 1) }),
		entsql.UpdateWhere(entsql.P(func(b *entsql.Builder) {
			col := func(c string) string { return b.Quote(ratelimit.Table) + "." + b.Quote(c) }
			b.WriteString(col(ratelimit.FieldCount) + " < CASE " + col(ratelimit.FieldKey))
			for i, bg := range budgets {
				b.WriteString(" WHEN ").Arg(bg.key).WriteString(" THEN CAST(").Arg(rooms[i]).WriteString(" AS BIGINT)")
			}
			b.WriteString(" END")
		})),
	).Returning(ratelimit.FieldKey)
	query, args := ins.Query()
	rows := &entsql.Rows{}
	if err := l.drv.Query(ctx, query, args, rows); err != nil {
		return reservation{}, nil, 0, fmt.Errorf("rate limit %s: reserve: %w", budgets[0].key, err)
	}
	counted := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return reservation{}, nil, 0, fmt.Errorf("rate limit %s: reserve: %w", budgets[0].key, err)
		}
		counted[k] = true
	}
	if err := rows.Close(); err != nil {
		return reservation{}, nil, 0, fmt.Errorf("rate limit %s: reserve: %w", budgets[0].key, err)
	}
	var (
		r    reservation
		full *budget
	)
	for i, b := range budgets {
		if counted[b.key] {
			r.keys, r.starts = append(r.keys, b.key), append(r.starts, us[i].start)
		} else if full == nil {
			full = &budgets[i]
		}
	}
	if full == nil {
		return r, nil, 0, nil
	}
	if err := l.release(ctx, r); err != nil {
		return reservation{}, nil, 0, err
	}
	u, err := l.read(ctx, full.key, full.window, now)
	if err != nil {
		return reservation{}, nil, 0, err
	}
	return reservation{}, full, u.wait(full.limit, full.window, now), nil
}

// releasePredicate selects the rows r counted in, still above zero; on
// PostgreSQL it locks them in key order first (as reserve's INSERT does),
// so a release and a reservation of the same two rows cannot deadlock.
func (r reservation) releasePredicate(d string) predicate.RateLimit {
	preds := make([]predicate.RateLimit, len(r.keys))
	for i, k := range r.keys {
		preds[i] = ratelimit.And(ratelimit.Key(k), ratelimit.WindowStart(r.starts[i]))
	}
	rows := ratelimit.And(ratelimit.Or(preds...), ratelimit.CountGT(0))
	if d != dialect.Postgres {
		return rows
	}
	return func(s *entsql.Selector) {
		locked := entsql.Select(ratelimit.FieldID).From(entsql.Table(ratelimit.Table))
		rows(locked)
		locked.OrderBy(ratelimit.FieldKey).ForUpdate()
		s.Where(entsql.In(s.C(ratelimit.FieldID), locked))
	}
}

// release gives back a reservation's events (what they counted did not
// happen: the guess was right, or there was no code to guess), in one
// UPDATE.
func (l *limiter) release(ctx context.Context, r reservation) error {
	if len(r.keys) == 0 {
		return nil
	}
	if _, err := l.db.RateLimit.Update().Where(r.releasePredicate(l.drv.Dialect())).AddCount(-1).Save(ctx); err != nil {
		return fmt.Errorf("rate limit %s: release: %w", r.keys[0], err)
	}
	return nil
}

// refund gives back one event of key's current window (the request it
// counted did not happen after all, e.g. the SMS was refused).
func (l *limiter) refund(ctx context.Context, key string, w span) error {
	start := l.now().Truncate(w.size)
	_, err := l.db.RateLimit.Update().
		Where(ratelimit.Key(key), ratelimit.WindowStart(start), ratelimit.CountGT(0)).
		AddCount(-1).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("rate limit %s: refund: %w", key, err)
	}
	return nil
}

// wait is how long until one more event fits: while the current window's
// own count fills the limit, until the next window, where this count
// carries over shrinking; else until the previous window's carried part
// has shrunk enough.
func (u usage) wait(limit int, w span, now time.Time) time.Duration {
	window := w.size
	end := u.start.Add(window)
	if !w.sliding {
		return end.Sub(now)
	}
	if u.current >= limit {
		// In the next window: current * (1 - f) + 0 <= limit - 1.
		f := 1 - float64(limit-1)/float64(u.current)
		return end.Sub(now) + time.Duration(f*float64(window))
	}
	// Now: prev * (1 - f) <= limit - 1 - current, with prev * (1 - f0) = carried.
	covered := 1 - float64(now.Sub(u.start))/float64(window)
	if covered <= 0 || u.carried <= 0 {
		return time.Second
	}
	prev := u.carried / covered
	f := 1 - float64(limit-1-u.current)/prev
	return u.start.Add(time.Duration(f * float64(window))).Sub(now)
}

// refused is the answer when a limit is used up: a security event naming
// the limit (never the counted number or address) with attrs, and
// ErrRateLimited telling the client how long to wait.
func refused(ctx context.Context, events *Events, key string, wait time.Duration, attrs ...slog.Attr) error {
	events.log(ctx, EventRateLimited, append([]slog.Attr{slog.String("limit", limitName(key))}, attrs...)...)
	return ErrRateLimited.RetryIn(wait)
}

// limitName is a limiter key without the counted value (number or IP):
// keys are name:kind:value, and an IPv6 value holds colons itself.
func limitName(key string) string {
	parts := strings.SplitN(key, ":", 3)
	if len(parts) == 3 {
		return parts[0] + ":" + parts[1]
	}
	return key
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
