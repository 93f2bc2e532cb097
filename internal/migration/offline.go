package migration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// offlineDriver lets Ent convert its tables to Atlas's model without a
// database. Ent's conversion asks the server one thing before it starts (the
// PostgreSQL version, or whether SQLite enforces foreign keys); this driver
// answers that question and refuses every other statement, so nothing can
// silently run against it.
type offlineDriver struct{ name string }

var errOffline = errors.New("migration: offline driver runs no statements")

func (d offlineDriver) Dialect() string { return d.name }
func (offlineDriver) Close() error      { return nil }

func (offlineDriver) Exec(context.Context, string, any, any) error { return errOffline }

func (offlineDriver) Tx(context.Context) (dialect.Tx, error) { return nil, errOffline }

func (d offlineDriver) Query(_ context.Context, query string, _, v any) error {
	rows, ok := v.(*entsql.Rows)
	if !ok {
		return errOffline
	}
	switch query {
	case "SHOW server_version_num":
		rows.ColumnScanner = &oneValue{v: "150000"} // the PostgreSQL we target
	case "PRAGMA foreign_keys":
		rows.ColumnScanner = &oneValue{v: int64(1)}
	default:
		return fmt.Errorf("%w: %q", errOffline, query)
	}
	return nil
}

// oneValue is a result set of one row and one column.
type oneValue struct {
	v    any
	done bool
}

func (r *oneValue) Close() error                            { return nil }
func (r *oneValue) ColumnTypes() ([]*sql.ColumnType, error) { return nil, nil }
func (r *oneValue) Columns() ([]string, error)              { return []string{"v"}, nil }
func (r *oneValue) Err() error                              { return nil }
func (r *oneValue) NextResultSet() bool                     { return false }

func (r *oneValue) Next() bool {
	if r.done {
		return false
	}
	r.done = true
	return true
}

func (r *oneValue) Scan(dest ...any) error {
	if len(dest) != 1 {
		return fmt.Errorf("migration: scan %d columns of 1", len(dest))
	}
	switch p := dest[0].(type) {
	case *string:
		*p = fmt.Sprint(r.v)
	case *int64:
		*p, _ = r.v.(int64)
	case *sql.NullInt64:
		n, _ := r.v.(int64)
		*p = sql.NullInt64{Int64: n, Valid: true}
	case *any:
		*p = r.v
	default:
		return fmt.Errorf("migration: scan into %T", dest[0])
	}
	return nil
}
