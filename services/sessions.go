package services

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/predicate"
	"github.com/agency-platform/agency/ent/session"
	"github.com/agency-platform/agency/ent/user"
	"github.com/agency-platform/agency/internal/accesstoken"
)

// Session and token errors.
var (
	ErrInvalidRefreshToken = NewError(KindUnauthenticated, CodeInvalidRefreshToken, "the refresh token is unknown, expired or revoked")
	ErrRefreshTokenReused  = NewError(KindUnauthenticated, CodeRefreshTokenReused, "this refresh token was already used; the session has been ended")
	ErrUnauthorized        = NewError(KindUnauthenticated, CodeUnauthorized, "a valid access token is required")
	ErrSessionNotFound     = NewError(KindNotFound, CodeNotFound, "no such session")
	ErrInvalidScope        = NewError(KindInvalid, CodeInvalidRequest, "scope must be current, others or global")
)

// SessionConfig sets token lifetimes and the device limit.
type SessionConfig struct {
	RefreshTTL time.Duration // idle expiry, moved forward by each refresh
	MaxAge     time.Duration // absolute limit from sign-in
	ReuseGrace time.Duration // a retried refresh within this gets the same token back
	MaxPerUser int           // device limit
	RefreshKey []byte        // REFRESH_TOKEN_SECRET
}

// Sessions issues, rotates, lists and ends sessions (one row of
// user_refresh_tokens per signed-in device).
type Sessions struct {
	Base
	access *accesstoken.Issuer
	cfg    SessionConfig
	key    refreshKey
}

// NewSessions returns the session service; access issues the access tokens.
func NewSessions(base Base, access *accesstoken.Issuer, cfg SessionConfig) *Sessions {
	return &Sessions{Base: base, access: access, cfg: cfg, key: refreshKey(cfg.RefreshKey)}
}

// TokenPair is what a sign-in or refresh hands the client.
type TokenPair struct {
	AccessToken  string
	ExpiresIn    time.Duration
	RefreshToken string
	User         *ent.User
	sessionID    uuid.UUID
}

// open starts a session for u inside tx, the caller holding u's row lock
// (so concurrent sign-ins of one user take turns), enforces the device
// limit and issues the token pair. Sessions beyond MaxPerUser are deleted
// oldest first, never the one just created, by one DELETE that keeps the
// MaxPerUser-1 newest others; a user created in tx has none to evict.
//
// On PostgreSQL the session's INSERT, the eviction and the caller's pending
// statements (the sign-in method's update, or a new user's inserts) are one
// statement: WITH p0 AS (pending...), new_session AS (INSERT ...) DELETE
// ... (the DELETE does not see the new row, which it would keep anyway).
// Elsewhere pending must be empty, and the INSERT and the DELETE are two.
//
// The sign-in's journal (signin_succeeded, and user_created or a profile
// change before it) is written in the same transaction: on PostgreSQL as
// more statements of the same one, elsewhere after the INSERT.
func (s *Sessions) open(ctx context.Context, tx *ent.Tx, u *ent.User, device string, in newSignIn, pending ...entsql.Querier) (*TokenPair, error) {
	now := s.now()
	tok, err := newRefreshToken(uuid.New())
	if err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	j := in.journal
	if j == nil {
		j = &journal{}
	}
	j.audit(auditSignIn, u.ID, u.ID, tok.session, map[string]any{"method": in.method, "new_user": in.user})
	row := sessionRow{id: tok.session, userID: u.ID, hash: tok.hash(), expires: minTime(now.Add(s.cfg.RefreshTTL), now.Add(s.cfg.MaxAge)),
		maxAge: now.Add(s.cfg.MaxAge), now: now, device: device}
	evicted, err := s.insertJournaled(ctx, tx, row, !in.user, j, pending)
	if err != nil {
		return nil, err
	}
	if evicted > 0 {
		s.events.log(ctx, EventSessionEvicted, slog.String("user_id", u.ID.String()), slog.Int("count", evicted))
	}
	return s.pair(u, tok)
}

// insertJournaled inserts the session row (evicting beyond the device
// limit) and writes the sign-in's journal j, with a session_evicted row
// when it evicted; it returns the number evicted. On PostgreSQL j rides in
// the INSERT's statement, and the eviction's row, which needs its count,
// is one more; on SQLite j, eviction included, is written after.
func (s *Sessions) insertJournaled(ctx context.Context, tx *ent.Tx, row sessionRow, evict bool, j *journal, pending []entsql.Querier) (int, error) {
	if s.dialect != Postgres {
		evicted, err := s.insertThenEvict(ctx, tx, row, evict)
		if err != nil {
			return 0, err
		}
		j.evicted(row, evicted)
		return evicted, s.writeJournal(ctx, tx, j)
	}
	written, err := s.journalStatements(ctx, j)
	if err != nil {
		return 0, err
	}
	tx.OnCommit(s.afterCommit(s.outboxHooks(j)))
	evicted, err := s.insertEvict(ctx, tx, append(pending, written...), row, evict)
	if err != nil || evicted == 0 {
		return evicted, err
	}
	ev := &journal{}
	ev.evicted(row, evicted)
	return evicted, s.writeJournal(ctx, tx, ev)
}

// evicted adds the session_evicted row of the sign-in that opened row, when
// it evicted any session.
func (j *journal) evicted(row sessionRow, count int) {
	if count > 0 {
		j.audit(auditSessionEvicted, uuid.Nil, row.userID, row.id, map[string]any{"count": count})
	}
}

// newSignIn says what open records of a sign-in: whether it created the
// user, the method, and the journal the sign-in has filled so far.
type newSignIn struct {
	user    bool
	method  string
	journal *journal
}

// sessionRow is a new session's columns.
type sessionRow struct {
	id, userID           uuid.UUID
	hash                 string
	expires, maxAge, now time.Time
	device               string
}

// insertEvict is open's one statement on PostgreSQL; it returns the
// number of sessions evicted.
func (s *Sessions) insertEvict(ctx context.Context, tx *ent.Tx, pending []entsql.Querier, r sessionRow, evict bool) (int, error) {
	var device *string
	if r.device != "" {
		device = &r.device
	}
	insert := entsql.Insert(session.Table).
		Columns(session.FieldID, session.FieldUserID, session.FieldTokenHash, session.FieldDeviceInfo, session.FieldExpiresAt,
			session.FieldSessionExpiresAt, session.FieldCreatedAt, session.FieldLastUsedAt, session.FieldGeneration).
		Values(r.id, r.userID, r.hash, device, r.expires, r.maxAge, r.now, r.now, 0)
	var final entsql.Querier = insert
	if evict {
		pending = append(pending, insert)
		t := entsql.Table(session.Table)
		final = entsql.Delete(session.Table).Where(entsql.And(entsql.EQ(session.FieldUserID, r.userID), entsql.NEQ(session.FieldID, r.id),
			entsql.NotIn(session.FieldID, newestOthers(t, r.userID, r.id, s.cfg.MaxPerUser-1))))
	}
	sb := &entsql.Builder{}
	sb.SetDialect(string(s.dialect))
	for i, q := range pending {
		if i == 0 {
			sb.WriteString("WITH ")
		} else {
			sb.WriteString(", ")
		}
		sb.Ident("p" + strconv.Itoa(i)).WriteString(" AS (").Join(q).WriteString(")")
	}
	sb.Pad().Join(final)
	query, args := sb.Query()
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("start session: %w", err)
	}
	if !evict {
		return 0, nil
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// insertThenEvict is open's INSERT and DELETE where they cannot be one
// statement (SQLite).
func (s *Sessions) insertThenEvict(ctx context.Context, tx *ent.Tx, r sessionRow, evict bool) (int, error) {
	create := tx.Session.Create().SetID(r.id).SetUserID(r.userID).SetTokenHash(r.hash).SetExpiresAt(r.expires).
		SetSessionExpiresAt(r.maxAge).SetCreatedAt(r.now).SetLastUsedAt(r.now)
	if r.device != "" {
		create.SetDeviceInfo(r.device)
	}
	if err := create.Exec(ctx); err != nil {
		return 0, fmt.Errorf("start session: %w", err)
	}
	if !evict {
		return 0, nil
	}
	n, err := tx.Session.Delete().
		Where(session.UserID(r.userID), session.IDNEQ(r.id), notAmongNewest(r.userID, r.id, s.cfg.MaxPerUser-1)).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("start session: evict: %w", err)
	}
	return n, nil
}

// newestOthers selects the ids of the keep newest sessions of user other
// than except.
func newestOthers(t *entsql.SelectTable, userID, except uuid.UUID, keep int) *entsql.Selector {
	return entsql.Select(t.C(session.FieldID)).From(t).
		Where(entsql.And(entsql.EQ(t.C(session.FieldUserID), userID), entsql.NEQ(t.C(session.FieldID), except))).
		OrderBy(entsql.Desc(t.C(session.FieldCreatedAt)), entsql.Desc(t.C(session.FieldID))).
		Limit(keep)
}

// notAmongNewest matches the sessions that are not among the keep newest
// sessions of user other than except.
func notAmongNewest(userID, except uuid.UUID, keep int) predicate.Session {
	return func(sel *entsql.Selector) {
		sel.Where(entsql.NotIn(sel.C(session.FieldID), newestOthers(entsql.Table(session.Table), userID, except, keep)))
	}
}

// pair issues an access token for u on session and packages the pair.
func (s *Sessions) pair(u *ent.User, tok refreshToken) (*TokenPair, error) {
	role := ""
	if u.Role != nil {
		role = string(*u.Role)
	}
	at, ttl, err := s.access.Issue(u.ID, tok.session, role)
	if err != nil {
		return nil, fmt.Errorf("issue access token: %w", err)
	}
	return &TokenPair{AccessToken: at, ExpiresIn: ttl, RefreshToken: s.key.encode(tok), User: u, sessionID: tok.session}, nil
}

// Refresh rotates a refresh token: the old one dies, the idle expiry moves
// to now + RefreshTTL (never past the absolute limit). The common case is
// one statement on PostgreSQL (see rotate); a miss is explained apart.
func (s *Sessions) Refresh(ctx context.Context, raw string) (*TokenPair, error) {
	tok, ok := parseRefreshToken(raw)
	if !ok {
		return nil, ErrInvalidRefreshToken
	}
	now := s.now()
	h := tok.hash()
	next := s.key.next(tok.session, tok.gen, h)
	u, err := s.rotate(ctx, tok, h, next, now)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return s.refreshMiss(ctx, tok, h, next, now)
	}
	s.events.count(EventRefreshRotated)
	return s.pair(u, next)
}

// rotate moves the session from tok (whose secret hashes to h) to next,
// if tok is its current token and the session is live, and returns the
// session's user; nil when nothing matched. The UPDATE is conditional on
// (id, token_hash, generation), so of concurrent refreshes of one token
// exactly one matches. On PostgreSQL the UPDATE runs inside the SELECT of
// the user (WITH rotated AS (UPDATE ... RETURNING user_id)): one statement,
// one round trip, atomic. SQLite has no UPDATE in a WITH: an UPDATE, then a
// SELECT.
func (s *Sessions) rotate(ctx context.Context, tok refreshToken, h string, next refreshToken, now time.Time) (*ent.User, error) {
	where := []predicate.Session{session.ID(tok.session), session.TokenHash(h), session.Generation(tok.gen), session.ExpiresAtGT(now)}
	if s.dialect != Postgres {
		n, err := s.db.Session.Update().Where(where...).
			SetTokenHash(next.hash()).SetPreviousTokenHash(h).SetGeneration(next.gen).SetRotatedAt(now).SetLastUsedAt(now).
			Modify(s.capExpiry(now.Add(s.cfg.RefreshTTL))).
			Save(ctx)
		if err != nil || n == 0 {
			return nil, wrapErr(err, "rotate refresh token")
		}
		u, err := s.db.User.Query().Where(user.HasSessionsWith(session.ID(tok.session))).Only(ctx)
		if err != nil {
			return nil, notFoundAs(err, ErrInvalidRefreshToken, "refresh: load user")
		}
		return u, nil
	}
	var (
		u   *ent.User
		row userScan
	)
	args := []any{next.hash(), h, next.gen, now, now, now.Add(s.cfg.RefreshTTL), now.Add(s.cfg.RefreshTTL), tok.session, h, tok.gen, now}
	err := s.query(ctx, &s.stmts.rotate, s.dialect.rotateQuery, rotateSentinels, args, func(rows *entsql.Rows) error {
		if err := rows.Scan(row.dest()...); err != nil {
			return err
		}
		u = row.user()
		return nil
	})
	return u, wrapErr(err, "rotate refresh token")
}

// rotatedCTE names the rotated session in the statement of rotate.
const rotatedCTE = "rotated"

// wrapErr wraps a non-nil err with op.
func wrapErr(err error, op string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

// capExpiry sets expires_at to the earlier of idle and the session's
// absolute limit, computed by the database in the same UPDATE.
func (s *Sessions) capExpiry(idle time.Time) func(*entsql.UpdateBuilder) {
	return func(u *entsql.UpdateBuilder) { u.Set(session.FieldExpiresAt, s.dialect.cappedExpiry(idle, idle)) }
}

// cappedExpiry is the earlier of idle and the session's absolute limit
// (session_expires_at, or fallback where it is NULL).
func (d Dialect) cappedExpiry(idle, fallback any) entsql.Querier {
	return entsql.ExprFunc(func(b *entsql.Builder) {
		b.WriteString(d.least() + "(").Arg(idle).WriteString(", COALESCE(").Ident(session.FieldSessionExpiresAt).
			WriteString(", ").Arg(fallback).WriteString("))")
	})
}

// refreshMiss explains a refresh whose UPDATE matched nothing: a retry
// within the grace window (answered with the current token), a replay of an
// older token (the session is revoked), a session the database holds
// behind its client (caught up), or an invalid token.
func (s *Sessions) refreshMiss(ctx context.Context, tok refreshToken, h string, next refreshToken, now time.Time) (*TokenPair, error) {
	row, err := s.db.Session.Query().Where(session.ID(tok.session)).WithUser().Only(ctx)
	if err != nil {
		return nil, notFoundAs(err, ErrInvalidRefreshToken, "refresh: load session")
	}
	if !row.ExpiresAt.After(now) {
		return nil, ErrInvalidRefreshToken
	}
	if s.key.isDescendant(tok, row.Generation, row.TokenHash) {
		return s.catchUp(ctx, row, tok, h, next, now)
	}
	isPredecessor := row.Generation == tok.gen+1 && row.PreviousTokenHash != nil && equalHash(*row.PreviousTokenHash, h)
	// A retry within the grace window, or the client's token after a
	// rotation the server made itself (rotated_at empty, see currentInTx),
	// gets the current token back.
	retry := row.RotatedAt == nil || now.Sub(*row.RotatedAt) <= s.cfg.ReuseGrace
	if isPredecessor && retry && equalHash(next.hash(), row.TokenHash) {
		s.events.count(EventRefreshGraceReplayed)
		return s.pair(row.Edges.User, next)
	}
	ancestor, _ := s.key.isAncestor(tok, row.Generation, row.TokenHash)
	if isPredecessor || ancestor {
		err := s.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
			n, err := tx.Session.Delete().Where(session.ID(row.ID)).Exec(ctx)
			if err != nil {
				return fmt.Errorf("revoke reused session: %w", err)
			}
			if n > 0 {
				j.audit(auditRefreshTokenReused, uuid.Nil, row.UserID, row.ID, map[string]any{"generation": tok.gen})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.events.log(ctx, EventRefreshTokenReused, slog.String("user_id", row.UserID.String()),
			slog.String("session_id", row.ID.String()))
		return nil, ErrRefreshTokenReused
	}
	return nil, ErrInvalidRefreshToken
}

// catchUp rotates a session the database holds behind its client's token
// tok (generation row.Generation; rotations the database lost, see
// refreshKey.isDescendant) straight to the token after tok, as if the lost
// rotations had been kept: the client goes on signed in. The UPDATE is
// conditional on the row being as read, so of concurrent requests one
// catches up; the others, read again by refreshMiss, find tok just rotated
// and are answered by the grace window.
func (s *Sessions) catchUp(ctx context.Context, row *ent.Session, tok refreshToken, h string, next refreshToken, now time.Time) (*TokenPair, error) {
	n, err := s.db.Session.Update().
		Where(session.ID(row.ID), session.Generation(row.Generation), session.TokenHash(row.TokenHash)).
		SetTokenHash(next.hash()).SetPreviousTokenHash(h).SetGeneration(next.gen).SetRotatedAt(now).SetLastUsedAt(now).
		Modify(s.capExpiry(now.Add(s.cfg.RefreshTTL))).
		Save(ctx)
	if err != nil {
		return nil, wrapErr(err, "refresh: catch up")
	}
	if n == 0 {
		// Another request caught up first, or the session changed: read it
		// again. It is now at or past tok's successor, so this cannot come
		// back here.
		return s.refreshMiss(ctx, tok, h, next, now)
	}
	s.events.log(ctx, EventRefreshCaughtUp, slog.String("user_id", row.UserID.String()), slog.String("session_id", row.ID.String()),
		slog.Int64("lost_rotations", tok.gen-row.Generation))
	return s.pair(row.Edges.User, next)
}

// CheckLogoutScope refuses a logout scope other than "current" (or ""),
// "others" (every session but the current one) and "global" (all).
func CheckLogoutScope(scope string) error {
	switch scope {
	case "", "current", "others", "global":
		return nil
	}
	return ErrInvalidScope
}

// wider reports whether scope reaches beyond the caller's own session.
func wider(scope string) bool { return scope == "others" || scope == "global" }

// LogoutAccessToken ends sessions of the holder of an access token. Scope
// current ends the token's own session and succeeds when that session has
// ended already, so a client can always clear its state (a second logout
// is a 204 too). Others and global reach the user's other sessions, so the
// token's session must be live.
func (s *Sessions) LogoutAccessToken(ctx context.Context, token, scope string) error {
	if err := CheckLogoutScope(scope); err != nil {
		return err
	}
	if wider(scope) {
		p, err := s.Authenticate(ctx, token)
		if err != nil {
			return err
		}
		return s.logout(ctx, p.User.ID, p.SessionID, scope)
	}
	claims, err := s.access.Verify(token)
	if err != nil {
		return ErrUnauthorized
	}
	return s.logout(ctx, claims.UserID, claims.SessionID, scope)
}

// logout deletes the user's sessions of scope, relative to session sid,
// and journals it when it ended any.
func (s *Sessions) logout(ctx context.Context, userID, sid uuid.UUID, scope string) error {
	var n int
	err := s.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		q := tx.Session.Delete().Where(session.UserID(userID))
		switch scope {
		case "others":
			q.Where(session.IDNEQ(sid))
		case "global":
		default:
			scope = "current"
			q.Where(session.ID(sid))
		}
		var err error
		if n, err = q.Exec(ctx); err != nil {
			return fmt.Errorf("logout: %w", err)
		}
		if n > 0 {
			j.audit(auditLogout, userID, userID, sid, map[string]any{"scope": scope, "sessions_ended": n})
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.events.log(ctx, EventLogout, slog.String("user_id", userID.String()),
		slog.String("session_id", sid.String()), slog.String("scope", scope), slog.Int("sessions_ended", n))
	return nil
}

// LogoutRefreshToken ends the session a refresh token belongs to, when the
// token is its current one or the one just rotated away. Anything else is
// ignored: the answer is the same, so the call reveals nothing. A refresh
// token speaks for its own session only: scope others or global is
// unauthorized here (it needs an access token).
func (s *Sessions) LogoutRefreshToken(ctx context.Context, raw, scope string) error {
	if err := CheckLogoutScope(scope); err != nil {
		return err
	}
	if wider(scope) {
		return ErrUnauthorized
	}
	tok, ok := parseRefreshToken(raw)
	if !ok {
		return nil
	}
	h := tok.hash()
	var n int
	err := s.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		mine := session.And(session.ID(tok.session), session.Or(session.TokenHash(h), session.PreviousTokenHash(h)))
		row, err := tx.Session.Query().Where(mine).Only(ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("logout by refresh token: %w", err)
		}
		if n, err = tx.Session.Delete().Where(mine).Exec(ctx); err != nil {
			return fmt.Errorf("logout by refresh token: %w", err)
		}
		if n > 0 {
			j.audit(auditLogout, row.UserID, row.UserID, row.ID, map[string]any{"scope": "refresh_token", "sessions_ended": n})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n > 0 {
		s.events.log(ctx, EventLogout, slog.String("session_id", tok.session.String()), slog.String("scope", "refresh_token"))
	}
	return nil
}

// List returns the caller's live sessions, newest first.
func (s *Sessions) List(ctx context.Context, p *Principal) ([]*ent.Session, error) {
	rows, err := s.db.Session.Query().
		Where(session.UserID(p.User.ID), session.ExpiresAtGT(s.now())).
		Order(session.ByCreatedAt(entsql.OrderDesc()), session.ByID()).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return rows, nil
}

// Revoke ends one of the caller's sessions; another user's is not found.
func (s *Sessions) Revoke(ctx context.Context, p *Principal, id uuid.UUID) error {
	err := s.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		n, err := tx.Session.Delete().Where(session.ID(id), session.UserID(p.User.ID)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("revoke session: %w", err)
		}
		if n == 0 {
			return ErrSessionNotFound
		}
		j.audit(auditSessionRevoked, p.User.ID, p.User.ID, p.SessionID, map[string]any{"revoked_session_id": id.String()})
		return nil
	})
	if err != nil {
		return err
	}
	s.events.log(ctx, EventSessionRevoked, slog.String("user_id", p.User.ID.String()), slog.String("session_id", p.SessionID.String()),
		slog.String("revoked_session_id", id.String()))
	return nil
}

// currentInTx returns session sid's current refresh token, inside tx,
// with the session's row locked so no refresh moves it meanwhile. From
// generation 1 on the current secret derives from the stored previous
// hash, so the client's token is returned as it is. A generation-0 secret
// is random and never stored: that session is rotated once, by the
// server, which marks it by leaving rotated_at empty; the client's
// generation-0 token then stays valid (refreshMiss answers it with the
// current token), so a lost response costs nothing.
func (s *Sessions) currentInTx(ctx context.Context, tx *ent.Tx, sid uuid.UUID) (refreshToken, error) {
	q := tx.Session.Query().Where(session.ID(sid), session.ExpiresAtGT(s.now()))
	if s.dialect.locksRows() {
		q.ForUpdate()
	}
	row, err := q.Only(ctx)
	if err != nil {
		return refreshToken{}, notFoundAs(err, ErrUnauthorized, "current token")
	}
	if row.Generation > 0 && row.PreviousTokenHash != nil {
		cur := s.key.next(sid, row.Generation-1, *row.PreviousTokenHash)
		if equalHash(cur.hash(), row.TokenHash) {
			return cur, nil
		}
		// Rotated under another REFRESH_TOKEN_SECRET: rotate from the stored hash.
	}
	next := s.key.next(sid, row.Generation, row.TokenHash)
	err = tx.Session.UpdateOneID(sid).
		SetTokenHash(next.hash()).
		SetPreviousTokenHash(row.TokenHash).
		SetGeneration(next.gen).
		ClearRotatedAt().
		Exec(ctx)
	if err != nil {
		return refreshToken{}, fmt.Errorf("rotate session: %w", err)
	}
	return next, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
