package database

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
)

// Scratch is a throwaway PostgreSQL database: a dev database for
// `migrate diff`, or one test's private database.
type Scratch struct {
	// DB is a pool on the scratch database.
	DB *sql.DB
	// URL connects to it (for code that opens its own pool).
	URL string
	// Name is the database name.
	Name  string
	admin *sql.DB
}

// CreateScratch creates a database with a random name starting with prefix
// on the server that admin (connected through serverURL) belongs to, as a
// copy of template ("template0" for an empty one), and opens a pool on it.
func CreateScratch(ctx context.Context, admin *sql.DB, serverURL, prefix, template string, p Pool) (*Scratch, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("scratch database: server URL is not a valid URL")
	}
	u.Path = "/" + name
	// FILE_COPY copies the template's files instead of WAL-logging every
	// page: for our small databases it is the faster strategy.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template+" STRATEGY FILE_COPY"); err != nil {
		return nil, fmt.Errorf("create scratch database: %w", err)
	}
	s := &Scratch{URL: u.String(), Name: name, admin: admin}
	if s.DB, err = OpenPostgres(ctx, s.URL, p); err != nil {
		_ = s.Drop(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// Drop closes the pool and drops the database, ending any session still
// connected to it.
func (s *Scratch) Drop(ctx context.Context) error {
	if s.DB != nil {
		s.DB.Close()
	}
	if _, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+s.Name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop scratch database %s: %w", s.Name, err)
	}
	return nil
}
