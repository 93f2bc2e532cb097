package migration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// LockName is the advisory lock taken while applying; it is the Atlas CLI's
// own name, so `atlas migrate apply` and `agency migrate apply` (or several
// instances starting at once) exclude each other.
const LockName = "atlas_migrate_execute"

// lockTimeout is how long an instance waits for another one to finish
// migrating before it gives up.
const lockTimeout = 2 * time.Minute

// operatorVersion is recorded with every revision, as the CLI records its own.
const operatorVersion = "agency"

// Status is the migration state of a database.
type Status struct {
	Applied []*migrate.Revision // revisions recorded in the database, oldest first
	Pending []string            // files of the directory not applied yet, in order
}

// Apply runs every pending migration file of dir on db, one transaction per
// file, while holding the migration lock. It refuses a directory whose
// atlas.sum does not match its files, and an applied file that was edited
// afterwards even when atlas.sum was regenerated. It returns the versions it
// applied (none when the database is up to date).
func Apply(ctx context.Context, db *sql.DB, d string, dir migrate.Dir) ([]string, error) {
	var applied []string
	err := withLock(ctx, db, d, func(drv migrate.Driver, rrw *revisions) error {
		pending, err := pendingFiles(ctx, drv, dir, rrw)
		if err != nil {
			return err
		}
		for _, f := range pending {
			if err := applyFile(ctx, db, d, dir, f); err != nil {
				return err
			}
			applied = append(applied, f.Version())
		}
		return nil
	})
	return applied, err
}

// ReadStatus reports applied and pending migrations without changing anything
// but creating the (empty) revision table when it is missing.
func ReadStatus(ctx context.Context, db *sql.DB, d string, dir migrate.Dir) (*Status, error) {
	st := &Status{}
	err := withLock(ctx, db, d, func(drv migrate.Driver, rrw *revisions) error {
		revs, err := rrw.ReadRevisions(ctx)
		if err != nil {
			return err
		}
		st.Applied = revs
		pending, err := pendingFiles(ctx, drv, dir, rrw)
		for _, f := range pending {
			st.Pending = append(st.Pending, f.Version())
		}
		return err
	})
	return st, err
}

// withLock opens Atlas's driver, takes the migration lock, makes sure the
// revision table exists and runs fn.
func withLock(ctx context.Context, db *sql.DB, d string, fn func(migrate.Driver, *revisions) error) error {
	drv, err := openAtlas(d, db)
	if err != nil {
		return fmt.Errorf("migrate: open driver: %w", err)
	}
	// On SQLite, Atlas's lock is a file in the temp folder shared by every
	// SQLite database of the machine, refused at once while held and left
	// behind by a killed process. SQLite needs none: each file is applied
	// in an IMMEDIATE transaction holding the database's write lock, and
	// applyFile skips a version another process applied first.
	if d != SQLite {
		locker, ok := drv.(schema.Locker)
		if !ok {
			return fmt.Errorf("migrate: %s driver cannot lock", d)
		}
		unlock, err := locker.Lock(ctx, LockName, lockTimeout)
		if err != nil {
			return fmt.Errorf("migrate: take lock %q: %w", LockName, err)
		}
		defer unlock()
	}
	rrw := &revisions{dialect: d, conn: db}
	if err := rrw.init(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return fn(drv, rrw)
}

// pendingFiles lists the files to apply after checking atlas.sum and the
// hashes of the files already applied.
//
// On SQLite no lock keeps a concurrent applier out (see withLock), so
// Atlas's reading of the history and its check that an empty history means
// an empty database can straddle that applier's first commit (a file and
// its revision commit together), which Atlas reports as a database that is
// not clean. Reading again sees the commit; a database that really holds
// foreign tables keeps failing and is reported.
func pendingFiles(ctx context.Context, drv migrate.Driver, dir migrate.Dir, rrw *revisions) ([]migrate.File, error) {
	for try := 1; ; try++ {
		files, err := pendingOnce(ctx, drv, dir, rrw)
		var notClean *migrate.NotCleanError
		if rrw.dialect != SQLite || try == 5 || !errors.As(err, &notClean) {
			return files, err
		}
	}
}

func pendingOnce(ctx context.Context, drv migrate.Driver, dir migrate.Dir, rrw *revisions) ([]migrate.File, error) {
	if err := verifyApplied(ctx, dir, rrw); err != nil {
		return nil, err
	}
	ex, err := migrate.NewExecutor(drv, dir, rrw, migrate.WithOperatorVersion(operatorVersion))
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	files, err := ex.Pending(ctx)
	if errors.Is(err, migrate.ErrNoPendingFiles) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return files, nil
}

// verifyApplied compares each applied revision's recorded hash with the
// file's hash in atlas.sum. Atlas's executor checks atlas.sum against the
// files but not against history, so an applied file edited and re-hashed
// would otherwise pass silently.
func verifyApplied(ctx context.Context, dir migrate.Dir, rrw *revisions) error {
	if err := migrate.Validate(dir); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sum, err := dir.Checksum()
	if err != nil {
		return fmt.Errorf("migrate: read atlas.sum: %w", err)
	}
	files, err := dir.Files()
	if err != nil {
		return fmt.Errorf("migrate: read directory: %w", err)
	}
	byVersion := make(map[string]migrate.File, len(files))
	for _, f := range files {
		byVersion[f.Version()] = f
	}
	revs, err := rrw.ReadRevisions(ctx)
	if err != nil {
		return err
	}
	for _, rev := range revs {
		if !rev.Type.Has(migrate.RevisionTypeExecute) {
			continue
		}
		f, ok := byVersion[rev.Version]
		if !ok && newerThanAll(rev.Version, files) {
			return fmt.Errorf("migrate: %w: version %s is applied but this binary knows migrations up to %s",
				ErrDatabaseNewer, rev.Version, files[len(files)-1].Version())
		}
		if !ok {
			return fmt.Errorf("migrate: applied version %s has no file in the directory: %w", rev.Version, errTampered)
		}
		h, err := sum.SumByName(f.Name())
		if err != nil {
			return fmt.Errorf("migrate: %s: %w", f.Name(), err)
		}
		if h != rev.Hash {
			return fmt.Errorf("migrate: %s: %w", f.Name(), errTampered)
		}
	}
	return nil
}

// ErrDatabaseNewer reports a database migrated by a newer release of the
// binary: it holds a version this one does not know, after all it knows.
var ErrDatabaseNewer = errors.New("the database was migrated by a newer release")

// newerThanAll reports whether version sorts after every file's version
// (versions are timestamps of one width, so text order is time order).
func newerThanAll(version string, files []migrate.File) bool {
	return len(files) == 0 || version > files[len(files)-1].Version()
}

// Check reports, without taking the migration lock or changing anything,
// the versions of dir not yet applied to db (all of them when the revision
// table does not exist), and ErrDatabaseNewer when db holds a version
// newer than any of dir's. It is cheap enough for a readiness probe.
func Check(ctx context.Context, db *sql.DB, d string, dir migrate.Dir) ([]string, error) {
	files, err := dir.Files()
	if err != nil {
		return nil, fmt.Errorf("migrate: read directory: %w", err)
	}
	rrw := &revisions{dialect: d, conn: db}
	revs, err := rrw.ReadRevisions(ctx)
	if err != nil && !missingTable(err) {
		return nil, err
	}
	applied := make(map[string]bool, len(revs))
	for _, r := range revs {
		applied[r.Version] = true
		if newerThanAll(r.Version, files) {
			return nil, fmt.Errorf("migrate: %w: version %s", ErrDatabaseNewer, r.Version)
		}
	}
	var pending []string
	for _, f := range files {
		if !applied[f.Version()] {
			pending = append(pending, f.Version())
		}
	}
	return pending, nil
}

// missingTable reports the error of reading a revision table that was
// never created.
func missingTable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "does not exist") || strings.Contains(s, "no such table")
}

// applyFile runs one file and records its revision in one transaction, so a
// failing file leaves neither half its statements nor a revision behind. On
// SQLite this also keeps Atlas's table rebuilds from cascading deletes.
func applyFile(ctx context.Context, db *sql.DB, d string, dir migrate.Dir, f migrate.File) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s: begin: %w", f.Name(), err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	rrw := &revisions{dialect: d, conn: tx}
	if _, err := rrw.ReadRevision(ctx, f.Version()); err == nil {
		return tx.Rollback() // applied meanwhile by another process
	}
	drv, err := openAtlas(d, tx)
	if err != nil {
		return fmt.Errorf("migrate %s: open driver: %w", f.Name(), err)
	}
	ex, err := migrate.NewExecutor(drv, dir, rrw,
		migrate.WithOperatorVersion(operatorVersion))
	if err != nil {
		return fmt.Errorf("migrate %s: %w", f.Name(), err)
	}
	if err := ex.Execute(ctx, f); err != nil {
		return fmt.Errorf("migrate %s: %w", f.Name(), err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s: commit: %w", f.Name(), err)
	}
	return nil
}
