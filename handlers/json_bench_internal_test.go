package handlers

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/ent/user"
)

// BenchmarkProfileJSON encodes who-am-I's answer (the profile with two
// sign-in methods) as the handler does: the response type built from the
// Ent rows, then encoding/json, which gin's JSON render calls.
//
//	go test -run '^$' -bench ProfileJSON -benchmem ./handlers
func BenchmarkProfileJSON(b *testing.B) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	role, name, email := user.RoleCreator, "Ada Lovelace", "ada@example.com"
	u := &ent.User{ID: uuid.New(), Role: &role, FullName: &name, CreatedAt: now, UpdatedAt: now}
	u.Edges.Identities = []*ent.AuthIdentity{
		{ID: uuid.New(), UserID: u.ID, Provider: authidentity.ProviderPhone, ProviderID: "+919876543210", CreatedAt: now},
		{ID: uuid.New(), UserID: u.ID, Provider: authidentity.ProviderGoogle, ProviderID: "109876543210987654321", Email: &email, CreatedAt: now},
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := json.NewEncoder(io.Discard).Encode(meJSON{userJSON: newUserJSON(u), Identities: newIdentitiesJSON(u.Edges.Identities)}); err != nil {
			b.Fatal(err)
		}
	}
}
