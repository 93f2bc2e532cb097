package migration

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// RevisionTable is where applied migrations are recorded: the layout and
// place the Atlas CLI uses (on PostgreSQL in its own schema of the same
// name), so `atlas migrate status/apply` and `agency migrate` read each
// other's history.
const RevisionTable = "atlas_schema_revisions"

// cloudIdentifier is a reserved row the Atlas CLI keeps in the table; it is
// not a migration and readers skip it.
const cloudIdentifier = ".atlas_cloud_identifier"

// revisions implements Atlas's RevisionReadWriter on the CLI's table.
type revisions struct {
	dialect string
	conn    schema.ExecQuerier
}

var _ migrate.RevisionReadWriter = (*revisions)(nil)

// table is the qualified table name for the dialect.
func (r *revisions) table() string {
	if r.dialect == Postgres {
		return `"` + RevisionTable + `"."` + RevisionTable + `"`
	}
	return "`" + RevisionTable + "`"
}

// q adapts a statement written with $n placeholders to the dialect.
func (r *revisions) q(s string) string {
	s = strings.ReplaceAll(s, "{table}", r.table())
	if r.dialect == SQLite {
		s = strings.ReplaceAll(s, "$", "?")
		s = strings.ReplaceAll(s, "::jsonb", "")
	}
	return s
}

// init creates the table (and on PostgreSQL its schema) when missing.
func (r *revisions) init(ctx context.Context) error {
	typ := map[string][2]string{Postgres: {"timestamptz", "jsonb"}, SQLite: {"datetime", "json"}}[r.dialect]
	var stmts []string
	if r.dialect == Postgres {
		stmts = append(stmts, `CREATE SCHEMA IF NOT EXISTS "`+RevisionTable+`"`)
	}
	stmts = append(stmts, r.q(`CREATE TABLE IF NOT EXISTS {table} (
  version character varying NOT NULL PRIMARY KEY,
  description character varying NOT NULL,
  type bigint NOT NULL DEFAULT 2,
  applied bigint NOT NULL DEFAULT 0,
  total bigint NOT NULL DEFAULT 0,
  executed_at `+typ[0]+` NOT NULL,
  execution_time bigint NOT NULL,
  error text NULL,
  error_stmt text NULL,
  hash character varying NOT NULL,
  partial_hashes `+typ[1]+` NULL,
  operator_version character varying NOT NULL
)`))
	for _, s := range stmts {
		if _, err := r.conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("create revision table: %w", err)
		}
	}
	return nil
}

// Ident names the table so Atlas's clean-database check ignores it.
func (r *revisions) Ident() *migrate.TableIdent {
	if r.dialect == Postgres {
		return &migrate.TableIdent{Name: RevisionTable, Schema: RevisionTable}
	}
	return &migrate.TableIdent{Name: RevisionTable}
}

const revisionColumns = `version, description, type, applied, total, executed_at, execution_time,
  error, error_stmt, hash, partial_hashes, operator_version`

// ReadRevisions returns the applied revisions, oldest first.
func (r *revisions) ReadRevisions(ctx context.Context) ([]*migrate.Revision, error) {
	rows, err := r.conn.QueryContext(ctx, r.q(`SELECT `+revisionColumns+` FROM {table}
  WHERE version <> $1 ORDER BY version`), cloudIdentifier)
	if err != nil {
		return nil, fmt.Errorf("read revisions: %w", err)
	}
	defer rows.Close()
	var out []*migrate.Revision
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rev)
	}
	return out, rows.Err()
}

// ReadRevision returns one revision or migrate.ErrRevisionNotExist.
func (r *revisions) ReadRevision(ctx context.Context, version string) (*migrate.Revision, error) {
	rows, err := r.conn.QueryContext(ctx, r.q(`SELECT `+revisionColumns+` FROM {table} WHERE version = $1`), version)
	if err != nil {
		return nil, fmt.Errorf("read revision: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, migrate.ErrRevisionNotExist
	}
	return scanRevision(rows)
}

func scanRevision(rows *sql.Rows) (*migrate.Revision, error) {
	var (
		rev              migrate.Revision
		typ              int64
		execNanos        int64
		errText, errStmt sql.NullString
		partial          sql.NullString
	)
	if err := rows.Scan(&rev.Version, &rev.Description, &typ, &rev.Applied, &rev.Total, &rev.ExecutedAt,
		&execNanos, &errText, &errStmt, &rev.Hash, &partial, &rev.OperatorVersion); err != nil {
		return nil, fmt.Errorf("scan revision: %w", err)
	}
	rev.Type = migrate.RevisionType(typ)
	rev.ExecutionTime = time.Duration(execNanos)
	rev.Error, rev.ErrorStmt = errText.String, errStmt.String
	if partial.Valid && partial.String != "" {
		if err := json.Unmarshal([]byte(partial.String), &rev.PartialHashes); err != nil {
			return nil, fmt.Errorf("scan revision %s partial hashes: %w", rev.Version, err)
		}
	}
	return &rev, nil
}

// WriteRevision inserts or updates a revision.
func (r *revisions) WriteRevision(ctx context.Context, rev *migrate.Revision) error {
	var partial any
	if rev.PartialHashes != nil {
		b, err := json.Marshal(rev.PartialHashes)
		if err != nil {
			return err
		}
		partial = string(b)
	}
	_, err := r.conn.ExecContext(ctx, r.q(`INSERT INTO {table} (`+revisionColumns+`)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)
  ON CONFLICT (version) DO UPDATE SET description = excluded.description, type = excluded.type,
    applied = excluded.applied, total = excluded.total, executed_at = excluded.executed_at,
    execution_time = excluded.execution_time, error = excluded.error, error_stmt = excluded.error_stmt,
    hash = excluded.hash, partial_hashes = excluded.partial_hashes,
    operator_version = excluded.operator_version`),
		rev.Version, rev.Description, int64(rev.Type), rev.Applied, rev.Total, rev.ExecutedAt.UTC(),
		int64(rev.ExecutionTime), nullString(rev.Error), nullString(rev.ErrorStmt), rev.Hash, partial,
		rev.OperatorVersion)
	if err != nil {
		return fmt.Errorf("write revision %s: %w", rev.Version, err)
	}
	return nil
}

// DeleteRevision removes a revision.
func (r *revisions) DeleteRevision(ctx context.Context, version string) error {
	_, err := r.conn.ExecContext(ctx, r.q(`DELETE FROM {table} WHERE version = $1`), version)
	return err
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// errTampered reports an applied migration whose file no longer matches.
var errTampered = errors.New("applied migration file changed after it was applied")
