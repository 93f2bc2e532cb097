package services_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/internal/testdb"
)

// These tests pin the seed's contract where the database, not Go, enforces
// it: unique sign-in methods, cascading deletes, enum types, timestamps.

func TestSchema_ProviderUnique(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	a := db.Client.User.Create().SaveX(ctx)
	b := db.Client.User.Create().SaveX(ctx)
	db.Client.AuthIdentity.Create().SetUser(a).SetProvider(authidentity.ProviderPhone).SetProviderID("+919876543210").SaveX(ctx)
	_, err := db.Client.AuthIdentity.Create().SetUser(b).SetProvider(authidentity.ProviderPhone).SetProviderID("+919876543210").Save(ctx)
	var pqErr *pq.Error
	if !ent.IsConstraintError(err) || !errors.As(err, &pqErr) || pqErr.Constraint != "provider_unique_idx" {
		t.Fatalf("got %v, want a violation of provider_unique_idx", err)
	}
	// The same id under another provider is a different identity.
	if _, err := db.Client.AuthIdentity.Create().SetUser(b).SetProvider(authidentity.ProviderGoogle).SetProviderID("+919876543210").Save(ctx); err != nil {
		t.Fatalf("same id, other provider: got %v, want success", err)
	}
	var contype string
	db.QueryRowContext(ctx, `SELECT contype FROM pg_constraint WHERE conname = 'provider_unique_idx'`).Scan(&contype)
	if contype != "u" {
		t.Fatalf("provider_unique_idx: got constraint type %q, want a unique constraint (u)", contype)
	}
}

func TestSchema_CascadeDeletesWithUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	u := db.Client.User.Create().SaveX(ctx)
	other := db.Client.User.Create().SaveX(ctx)
	for _, owner := range []*ent.User{u, other} {
		db.Client.AuthIdentity.Create().SetUser(owner).SetProvider(authidentity.ProviderGoogle).SetProviderID(owner.ID.String()).SaveX(ctx)
		db.Client.Session.Create().SetUser(owner).SetTokenHash("h" + owner.ID.String()).SetExpiresAt(time.Now().Add(time.Hour)).SaveX(ctx)
	}
	// Delete with plain SQL: the database, not Ent, must remove the children.
	if _, err := db.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"user_auth_identities", "user_refresh_tokens"} {
		var mine, theirs int
		db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE user_id = $1), count(*) FILTER (WHERE user_id = $2) FROM `+table, u.ID, other.ID).Scan(&mine, &theirs)
		if mine != 0 || theirs != 1 {
			t.Errorf("%s: got %d rows of the deleted user and %d of the other, want 0 and 1", table, mine, theirs)
		}
	}
}

func TestSchema_EnumsRefusedByDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	for _, tc := range []struct{ name, stmt string }{
		{"role", `INSERT INTO users (role) VALUES ('superuser')`},
		{"provider", `INSERT INTO user_auth_identities (user_id, provider, provider_id) SELECT id, 'twitter', 'x' FROM users LIMIT 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db.Client.User.Create().SaveX(ctx)
			_, err := db.ExecContext(ctx, tc.stmt)
			var pqErr *pq.Error
			if !errors.As(err, &pqErr) || pqErr.Code != "22P02" {
				t.Fatalf("got %v, want invalid_text_representation (22P02) from the enum type", err)
			}
		})
	}
	var types []string
	rows, _ := db.QueryContext(ctx, `SELECT t.typname || ':' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
		FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname ORDER BY 1`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		types = append(types, s)
	}
	rows.Close()
	want := []string{"auth_provider:google,facebook,phone", "user_role:creator,agency,brand,gifter,admin"}
	if len(types) != 2 || types[0] != want[0] || types[1] != want[1] {
		t.Fatalf("enum types: got %v, want %v", types, want)
	}
}

func TestSchema_Defaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	// A row inserted by hand gets its id and timestamps from the database.
	var id string
	var role *string
	var created, updated time.Time
	err := db.QueryRowContext(ctx, `INSERT INTO users DEFAULT VALUES RETURNING id, role, created_at, updated_at`).Scan(&id, &role, &created, &updated)
	if err != nil || id == "" || role != nil || created.IsZero() || updated.IsZero() {
		t.Fatalf("got id=%q role=%v created=%v updated=%v err=%v; want generated id, NULL role, timestamps", id, role, created, updated, err)
	}
}

func TestSchema_UpdatedAtMovesOnUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	created := db.Client.User.Create().SaveX(ctx)
	u := db.Client.User.GetX(ctx, created.ID) // as stored (microseconds)
	time.Sleep(5 * time.Millisecond)          // wall-clock distance between two writes, not an expiry wait
	u.Update().SetFullName("Ajay Kumar").ExecX(ctx)
	u2 := db.Client.User.GetX(ctx, u.ID)
	if !u2.UpdatedAt.After(u.UpdatedAt) || !u2.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("updated_at: got %v after %v (created %v → %v), want it to move and created_at to stay", u2.UpdatedAt, u.UpdatedAt, u.CreatedAt, u2.CreatedAt)
	}
	n := db.Client.User.Update().SetProfilePictureURL("https://example.com/a.png").SaveX(ctx)
	u3 := db.Client.User.GetX(ctx, u.ID)
	if n != 1 || !u3.UpdatedAt.After(u2.UpdatedAt) {
		t.Fatalf("bulk update: updated_at got %v, want after %v", u3.UpdatedAt, u2.UpdatedAt)
	}
}
