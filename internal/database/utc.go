package database

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
)

// utcDriver hands every time argument to SQLite in UTC. SQLite keeps
// timestamps as text and compares them as text, so values written with
// different UTC offsets (a server whose local zone is not UTC) would sort
// and compare wrongly; in one zone, text order is time order.
// PostgreSQL's timestamptz needs no such help.
type utcDriver struct{ dialect.Driver }

func (d utcDriver) Exec(ctx context.Context, query string, args, v any) error {
	return d.Driver.Exec(ctx, query, toUTC(args), v)
}

func (d utcDriver) Query(ctx context.Context, query string, args, v any) error {
	return d.Driver.Query(ctx, query, toUTC(args), v)
}

func (d utcDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return utcTx{tx}, nil
}

type utcTx struct{ dialect.Tx }

func (t utcTx) Exec(ctx context.Context, query string, args, v any) error {
	return t.Tx.Exec(ctx, query, toUTC(args), v)
}

func (t utcTx) Query(ctx context.Context, query string, args, v any) error {
	return t.Tx.Query(ctx, query, toUTC(args), v)
}

// ExecContext passes statements built with Ent's SQL builder through (the
// audit rows and webhook events of a change, services/journal.go), times in
// UTC like the rest.
func (t utcTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	e, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("database: transaction cannot run raw statements")
	}
	return e.ExecContext(ctx, query, toUTC(args).([]any)...)
}

// toUTC rewrites time arguments in place.
func toUTC(args any) any {
	list, ok := args.([]any)
	if !ok {
		return args
	}
	for i, a := range list {
		switch t := a.(type) {
		case time.Time:
			list[i] = t.UTC()
		case *time.Time:
			if t != nil {
				u := t.UTC()
				list[i] = &u
			}
		}
	}
	return list
}
