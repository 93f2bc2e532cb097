package migration

import (
	"fmt"
	"io/fs"

	"ariga.io/atlas/sql/migrate"
)

// EmbeddedDir is a migration directory read from an embedded file system
// (the binary's copy of migrations/).
type EmbeddedDir = migrate.MemDir

// NewEmbeddedDir loads the directory sub of fsys into memory.
func NewEmbeddedDir(fsys fs.FS, sub string) (*EmbeddedDir, error) {
	entries, err := fs.ReadDir(fsys, sub)
	if err != nil {
		return nil, fmt.Errorf("read migrations %s: %w", sub, err)
	}
	dir := &migrate.MemDir{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(fsys, sub+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migrations %s: %w", sub, err)
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, err
		}
	}
	return dir, nil
}
