package handlers_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/fakegraph"
	"github.com/agency-platform/agency/internal/migration"
)

func TestFacebookSignIn(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("ok_creates_user_and_identity", func(t *testing.T) {
			t.Parallel()
			p := newProvAPI(t, d)
			fb := p.fbUser("EAA-1", "fb-1")
			pair := mustPair(t, p.facebook("EAA-1"))
			u := userRow(t, p.api, pair.User.ID)
			wantStr(t, "full_name", u.FullName, fb.Name)
			wantStr(t, "profile_picture_url", u.ProfilePictureURL, fb.Picture)
			ident := identityRow(t, p.api, authidentity.ProviderFacebook, "fb-1")
			if ident.UserID.String() != pair.User.ID {
				t.Fatalf("identity user: got %s, want %s", ident.UserID, pair.User.ID)
			}
			wantStr(t, "identity email", ident.Email, fb.Email)
			wantRowCounts(t, p.api, 1, 1)
			again := mustPair(t, p.facebook("EAA-1"))
			if again.User.ID != pair.User.ID {
				t.Fatalf("second sign-in: got user %s, want %s", again.User.ID, pair.User.ID)
			}
			wantRowCounts(t, p.api, 1, 1)
		})
	})
	t.Run("no_email", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		p.graph.AddUser("EAA-1", fakegraph.User{ID: "fb-1", Name: "No Mail"})
		mustPair(t, p.facebook("EAA-1"))
		if ident := identityRow(t, p.api, authidentity.ProviderFacebook, "fb-1"); ident.Email != nil {
			t.Fatalf("identity email: got %q, want NULL", *ident.Email)
		}
	})
	t.Run("expiring_later_ok", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		p.graph.AddUser("EAA-1", fakegraph.User{ID: "fb-1", ExpiresAt: p.Clock.Now().Add(time.Hour).Unix()})
		mustPair(t, p.facebook("EAA-1"))
	})
}

func TestFacebookSignIn_Rejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		user  func(now time.Time) *fakegraph.User // nil: the token is unknown to Graph
		token string
	}{
		{"other_app", func(time.Time) *fakegraph.User { return &fakegraph.User{ID: "fb-1", AppID: "other"} }, "EAA-1"},
		{"unknown_token", func(time.Time) *fakegraph.User { return nil }, "EAA-unknown"},
		{"revoked", func(time.Time) *fakegraph.User { return &fakegraph.User{ID: "fb-1", Invalid: true} }, "EAA-1"},
		{"expired", func(now time.Time) *fakegraph.User {
			return &fakegraph.User{ID: "fb-1", ExpiresAt: now.Add(-time.Minute).Unix()}
		}, "EAA-1"},
		{"page_token", func(time.Time) *fakegraph.User { return &fakegraph.User{ID: "fb-1", Type: "PAGE"} }, "EAA-1"},
		{"me_disagrees", func(time.Time) *fakegraph.User { return &fakegraph.User{ID: "fb-1", MeID: "fb-2"} }, "EAA-1"},
		{"empty", func(time.Time) *fakegraph.User { return nil }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProvAPI(t, migration.Postgres)
			if u := tt.user(p.Clock.Now()); u != nil {
				p.graph.AddUser(tt.token, *u)
			}
			apitest.WantError(t, p.facebook(tt.token), http.StatusUnauthorized, "invalid_access_token")
			wantRowCounts(t, p.api, 0, 0)
		})
	}
}
