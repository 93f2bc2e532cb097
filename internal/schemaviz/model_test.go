package schemaviz

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// The code model holds the seed's four tables plus ours, the two enum types
// with their values, and the two foreign keys with their Ent edges.
func TestFromCode_Postgres(t *testing.T) {
	t.Parallel()
	m, err := FromCode(context.Background(), migration.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range m.Tables {
		names = append(names, tb.Name)
	}
	want := []string{"audit_events", "auth_rate_limits", "phone_otps", "user_auth_identities", "user_refresh_tokens", "users", "webhook_events"}
	if !slices.Equal(names, want) {
		t.Fatalf("tables = %v, want %v", names, want)
	}
	role := m.Table("users").Column("role")
	if role.Type != "user_role" || role.Enum != "user_role" || !role.Nullable {
		t.Errorf("users.role = %+v, want nullable user_role", role)
	}
	if e := m.Enum("user_role"); e == nil || !slices.Equal(e.Values, []string{"creator", "agency", "brand", "gifter", "admin"}) {
		t.Errorf("enum user_role = %+v", e)
	}
	if e := m.Enum("auth_provider"); e == nil || !slices.Contains(e.Values, "phone") {
		t.Errorf("enum auth_provider = %+v", e)
	}
	if got := m.Table("users").Column("full_name").Type; got != "character varying(255)" {
		t.Errorf("users.full_name type = %q", got)
	}
	if len(m.Relations) != 2 {
		t.Fatalf("relations = %d, want 2", len(m.Relations))
	}
	for _, r := range m.Relations {
		if r.Parent != "users" || r.OnDelete != "CASCADE" || r.ParentRel != "O2M" || r.ChildRel != "M2O" || r.ChildEdge != "user" {
			t.Errorf("relation = %+v", r)
		}
	}
	if m.Table("users").Entity != "User" || m.Table("user_refresh_tokens").Entity != "Session" {
		t.Errorf("entities: %q, %q", m.Table("users").Entity, m.Table("user_refresh_tokens").Entity)
	}
	ident := m.Table("user_auth_identities")
	if !slices.ContainsFunc(ident.Indexes, func(ix *Index) bool {
		return ix.Unique && slices.Equal(ix.Columns, []string{"provider", "provider_id"})
	}) {
		t.Errorf("user_auth_identities lacks the seed's unique (provider, provider_id): %+v", ident.Indexes)
	}
}

// A freshly migrated database matches the code exactly, on both dialects.
func TestFromDatabase_MatchesCode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		m, err := FromDatabase(ctx, testdb.New(t).DB, migration.Postgres)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Differences) != 0 {
			t.Errorf("differences on a migrated database:\n%s", strings.Join(m.Differences, "\n"))
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		m, err := FromDatabase(ctx, testdb.NewSQLite(t).DB, migration.SQLite)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Differences) != 0 {
			t.Errorf("differences on a migrated database:\n%s", strings.Join(m.Differences, "\n"))
		}
	})
}

// Each kind of hand-made change is found and marked.
func TestFromDatabase_MarksDifferences(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	for _, stmt := range []string{
		`ALTER TABLE users ADD COLUMN nickname text`,
		`ALTER TABLE phone_otps ALTER COLUMN attempts DROP NOT NULL`,
		`ALTER TABLE user_refresh_tokens ALTER COLUMN device_info TYPE varchar(64)`,
		`DROP INDEX user_created_at_id`,
		`CREATE INDEX users_full_name ON users (full_name)`,
		`ALTER TYPE user_role ADD VALUE 'moderator'`,
		`CREATE TABLE notes (id int PRIMARY KEY)`,
		`ALTER TABLE users DROP COLUMN profile_picture_url`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	m, err := FromDatabase(ctx, db.DB, migration.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(m.Differences, "\n")
	for _, want := range []string{
		"column users.nickname: in the database only",
		"column phone_otps.attempts: NULL, code says NOT NULL",
		"column user_refresh_tokens.device_info: type character varying(64), code says text",
		"index user_created_at_id on users(created_at, id): missing from the database",
		"index users_full_name on users(full_name): in the database only",
		`enum user_role: value "moderator" in the database only`,
		"table notes: in the database only",
		"column users.profile_picture_url: missing from the database",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("differences lack %q; got:\n%s", want, got)
		}
	}
	if len(m.Differences) != 8 {
		t.Errorf("want 8 differences, got %d:\n%s", len(m.Differences), got)
	}
	if c := m.Table("users").Column("nickname"); c == nil || c.Status != Extra {
		t.Errorf("users.nickname not marked extra: %+v", c)
	}
	if c := m.Table("users").Column("profile_picture_url"); c == nil || c.Status != Missing {
		t.Errorf("users.profile_picture_url not drawn as missing: %+v", c)
	}
}
