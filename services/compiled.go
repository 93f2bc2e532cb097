package services

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/ent/session"
	"github.com/agency-platform/agency/ent/user"
)

// The two statements on every request's path (authentication, rotation)
// were a third of the server's CPU through Ent's query path: building the
// SQL text anew on each call and scanning rows by reflection. Their text
// never changes, so Ent's SQL builder writes it once, and each call sends
// it with its arguments and scans the columns it selected itself.

// compiled is a statement Ent's SQL builder wrote once.
type compiled struct {
	once sync.Once
	text string
	err  error
}

// get returns the statement's text. build writes it with the arguments it
// is given; the first call gives it distinct sentinels and checks that the
// builder placed them in the order given, so that every later call's
// arguments, passed in that order, land where they belong.
func (c *compiled) get(build func(args ...any) (string, []any), sentinels ...any) (string, error) {
	c.once.Do(func() {
		text, got := build(sentinels...)
		if !reflect.DeepEqual(got, sentinels) {
			c.err = fmt.Errorf("compiled statement: the builder placed the arguments as %v, want %v", got, sentinels)
			return
		}
		c.text = text
	})
	return c.text, c.err
}

// query runs a compiled statement on the driver (its deadline and, on
// PostgreSQL, its prepared statement) and calls scan for each row.
func (b Base) query(ctx context.Context, c *compiled, build func(args ...any) (string, []any), sentinels, args []any, scan func(*entsql.Rows) error) error {
	text, err := c.get(build, sentinels...)
	if err != nil {
		return err
	}
	rows := &entsql.Rows{}
	if err := b.drv.Query(ctx, text, args, rows); err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Sentinel arguments: distinct values of each argument's type.
var (
	sentinelA = uuid.MustParse("00000000-0000-4000-8000-00000000000a")
	sentinelB = uuid.MustParse("00000000-0000-4000-8000-00000000000b")
	sentinelT = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
)

// userColumns are the user's columns every compiled statement selects, in
// userScan.dest's order (a test keeps them equal to the schema's).
var userColumns = []string{user.FieldID, user.FieldRole, user.FieldFullName, user.FieldProfilePictureURL, user.FieldCreatedAt, user.FieldUpdatedAt}

// userScan holds a user row while it is scanned.
type userScan struct {
	id                   uuid.UUID
	role, name, picture  sql.NullString
	createdAt, updatedAt sql.NullTime
}

func (u *userScan) dest() []any {
	return []any{&u.id, &u.role, &u.name, &u.picture, &u.createdAt, &u.updatedAt}
}

func (u *userScan) user() *ent.User {
	out := &ent.User{ID: u.id, CreatedAt: u.createdAt.Time, UpdatedAt: u.updatedAt.Time}
	if u.role.Valid {
		r := user.Role(u.role.String)
		out.Role = &r
	}
	if u.name.Valid {
		out.FullName = &u.name.String
	}
	if u.picture.Valid {
		out.ProfilePictureURL = &u.picture.String
	}
	return out
}

// compiledStatements are a Base's compiled statements (one set per
// database: their text depends on the dialect).
type compiledStatements struct {
	// liveUser reads a user of a live session with its identities (one
	// row per identity, oldest first; NULLs for a user with none).
	// Arguments: the user's id, the session's id, now.
	liveUser compiled
	// rotate is a rotation on PostgreSQL: the conditional UPDATE of the
	// session inside a WITH whose SELECT reads its user. Arguments: the new
	// token hash, the old one, the new generation, now (rotated_at), now
	// (last_used_at), the idle expiry twice, the session's id, the old
	// hash, the old generation, now.
	rotate compiled
}

func (d Dialect) liveUserQuery(args ...any) (string, []any) {
	u, s, i := entsql.Table(user.Table), entsql.Table(session.Table), entsql.Table(authidentity.Table).As("t1")
	cols := make([]string, 0, len(userColumns)+len(identityColumns))
	for _, c := range userColumns {
		cols = append(cols, u.C(c))
	}
	sel := entsql.Dialect(string(d)).Select(cols...)
	for _, c := range identityColumns {
		sel.AppendSelectAs(i.C(c[0]), c[1])
	}
	live := entsql.Select(s.C(session.FieldUserID)).From(s).Where(entsql.And(
		entsql.ColumnsEQ(u.C(user.FieldID), s.C(session.FieldUserID)), entsql.EQ(s.C(session.FieldID), args[1]),
		entsql.GT(s.C(session.FieldExpiresAt), args[2])))
	return sel.From(u).LeftJoin(i).On(u.C(user.FieldID), i.C(authidentity.FieldUserID)).
		Where(entsql.And(entsql.EQ(u.C(user.FieldID), args[0]), entsql.Exists(live))).
		OrderBy(i.C(authidentity.FieldCreatedAt), i.C(authidentity.FieldID)).
		Query()
}

func (d Dialect) rotateQuery(args ...any) (string, []any) {
	s := entsql.Table(session.Table)
	upd := entsql.Dialect(string(d)).Update(session.Table).
		Set(session.FieldTokenHash, args[0]).Set(session.FieldPreviousTokenHash, args[1]).Set(session.FieldGeneration, args[2]).
		Set(session.FieldRotatedAt, args[3]).Set(session.FieldLastUsedAt, args[4]).Set(session.FieldExpiresAt, d.cappedExpiry(args[5], args[6])).
		Where(entsql.And(entsql.EQ(s.C(session.FieldID), args[7]), entsql.EQ(s.C(session.FieldTokenHash), args[8]),
			entsql.EQ(s.C(session.FieldGeneration), args[9]), entsql.GT(s.C(session.FieldExpiresAt), args[10]))).
		Returning(session.FieldUserID)
	u := entsql.Table(user.Table)
	cols := make([]string, len(userColumns))
	for k, c := range userColumns {
		cols[k] = u.C(c)
	}
	sel := entsql.Dialect(string(d)).Select(cols...).From(u).
		Where(entsql.In(u.C(user.FieldID), entsql.Select(session.FieldUserID).From(entsql.Table(rotatedCTE))))
	sel.Prefix(entsql.ExprFunc(func(b *entsql.Builder) {
		b.WriteString("WITH ").Ident(rotatedCTE).WriteString(" AS (").Join(upd).WriteString(")")
	}))
	return sel.Query()
}

// rotateSentinels are rotateQuery's arguments as the first call checks them.
var rotateSentinels = []any{"new-hash", "old-hash", int64(2), sentinelT, sentinelT.Add(time.Second),
	sentinelT.Add(2 * time.Second), sentinelT.Add(3 * time.Second), sentinelA, "old-hash-again", int64(1), sentinelT.Add(4 * time.Second)}
