package migration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// Diff writes the next migration of dialect d into dir: the statements that
// take the state the directory builds to the state the Ent schema
// describes. dev must be a clean scratch database of that dialect; it is
// used to replay the directory and to normalise the desired state, and is
// left clean. It returns the file name written, or "" when nothing changed.
func Diff(ctx context.Context, d string, dir migrate.Dir, name string, dev *sql.DB) (string, error) {
	changes, drv, err := pendingChanges(ctx, d, dir, dev)
	if err != nil || len(changes) == 0 {
		return "", err
	}
	plan, err := drv.PlanChanges(ctx, name, changes, noQualifier)
	if err != nil {
		return "", fmt.Errorf("diff: plan: %w", err)
	}
	plan.Version = time.Now().UTC().Format("20060102150405")
	if err := migrate.NewPlanner(drv, dir).WritePlan(plan); err != nil {
		return "", fmt.Errorf("diff: write plan: %w", err)
	}
	return plan.Version + "_" + name + ".sql", nil
}

// Drift returns the changes a new migration would contain (none when the
// directory matches the Ent schema), rendered as SQL, without writing.
func Drift(ctx context.Context, d string, dir migrate.Dir, dev *sql.DB) (string, error) {
	changes, drv, err := pendingChanges(ctx, d, dir, dev)
	if err != nil || len(changes) == 0 {
		return "", err
	}
	plan, err := drv.PlanChanges(ctx, "drift", changes, noQualifier)
	if err != nil {
		return "", fmt.Errorf("drift: plan: %w", err)
	}
	return formatPlan(plan), nil
}

// pendingChanges replays dir on the clean dev database, inspects the
// result, restores the database to clean, normalises the desired schema on
// it and diffs the two.
func pendingChanges(ctx context.Context, d string, dir migrate.Dir, dev *sql.DB) ([]schema.Change, migrate.Driver, error) {
	drv, err := openAtlas(d, dev)
	if err != nil {
		return nil, nil, fmt.Errorf("diff: open dev database: %w", err)
	}
	snap, ok := drv.(migrate.Snapshoter)
	if !ok {
		return nil, nil, fmt.Errorf("diff: %s driver cannot snapshot", d)
	}
	restore, err := snap.Snapshot(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("diff: dev database must be clean: %w", err)
	}
	current, err := replay(ctx, drv, dir)
	if rerr := restore(ctx); rerr != nil && err == nil {
		err = fmt.Errorf("diff: clean dev database: %w", rerr)
	}
	if err != nil {
		return nil, nil, err
	}
	desired, err := desiredSchema(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	normalized, err := normalize(ctx, drv, snap, desired)
	if err != nil {
		return nil, nil, fmt.Errorf("diff: normalise desired schema: %w", err)
	}
	// Both sides describe the dev database's connected schema.
	normalized.Name, normalized.Attrs = current.Name, current.Attrs
	changes, err := drv.SchemaDiff(current, normalized)
	if err != nil {
		return nil, nil, fmt.Errorf("diff: %w", err)
	}
	return changes, drv, nil
}

// replay applies every file of dir to the dev database and inspects it.
func replay(ctx context.Context, drv migrate.Driver, dir migrate.Dir) (*schema.Schema, error) {
	ex, err := migrate.NewExecutor(drv, dir, migrate.NopRevisionReadWriter{})
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	if err := ex.ExecuteN(ctx, 0); err != nil && !errors.Is(err, migrate.ErrNoPendingFiles) {
		return nil, fmt.Errorf("diff: replay directory: %w", err)
	}
	s, err := drv.InspectSchema(ctx, "", nil)
	if err != nil {
		return nil, fmt.Errorf("diff: inspect replayed schema: %w", err)
	}
	return s, nil
}

// normalize returns the desired schema as the dev database would report it,
// so the diff compares like with like (types, defaults, index details).
// Atlas's PostgreSQL driver does this itself; for SQLite the schema is built
// on the dev database, inspected, and the database restored to clean.
func normalize(ctx context.Context, drv migrate.Driver, snap migrate.Snapshoter, desired *schema.Schema) (*schema.Schema, error) {
	if n, ok := drv.(schema.Normalizer); ok {
		return n.NormalizeSchema(ctx, desired)
	}
	restore, err := snap.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	changes, err := drv.SchemaDiff(schema.New(desired.Name), desired)
	if err == nil {
		err = drv.ApplyChanges(ctx, changes)
	}
	var s *schema.Schema
	if err == nil {
		s, err = drv.InspectSchema(ctx, "", nil)
	}
	if rerr := restore(ctx); rerr != nil && err == nil {
		err = rerr
	}
	return s, err
}
