package handlers_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/ent/session"
	"github.com/agency-platform/agency/ent/user"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/google/uuid"
)

func mustDetail(t testing.TB, r apitest.Resp) adminUser {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("admin user: got %d %s, want 200", r.Status, r.Body)
	}
	var u adminUser
	r.JSON(t, &u)
	if u.SessionCount == nil {
		t.Fatalf("admin user without session_count: %s", r.Body)
	}
	return u
}

// wantEvent fails unless one log line carries event and every k=v of attrs.
func wantEvent(t testing.TB, a *api, event string, attrs ...string) {
	t.Helper()
	for line := range strings.SplitSeq(a.Logs.String(), "\n") {
		if !strings.Contains(line, " event="+event+" ") && !strings.HasSuffix(line, " event="+event) {
			continue
		}
		if !slices.ContainsFunc(attrs, func(kv string) bool { return !strings.Contains(line, " "+kv) }) {
			return
		}
	}
	t.Fatalf("log: got no line with event=%s %v\n%s", event, attrs, a.Logs.String())
}

func sessionRows(t testing.TB, a *api, userID string) int {
	t.Helper()
	n, err := a.Client.Session.Query().Where(session.UserID(uuid.MustParse(userID))).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAdminGrant(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("by_phone_existing_token_works_at_once", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p := a.SignIn("+919800000099")
			apitest.WantError(t, listUsers(a, p.AccessToken, nil), http.StatusForbidden, "forbidden")
			if _, err := runGrant(t, a, "--phone", "+919800000099"); err != nil {
				t.Fatalf("admin grant: %v", err)
			}
			mustPage(t, listUsers(a, p.AccessToken, nil))
			if u := userRow(t, a, p.User.ID); u.Role == nil || *u.Role != user.RoleAdmin {
				t.Fatalf("stored role: got %v, want admin", u.Role)
			}
		})
	})
	t.Run("by_user", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, migration.Postgres)
		p := a.SignIn("+919800000099")
		out, err := runGrant(t, a, "--user", p.User.ID)
		if err != nil {
			t.Fatalf("admin grant --user: %v", err)
		}
		if want := "user " + p.User.ID + " is now admin"; !strings.Contains(out, want) {
			t.Fatalf("output: got %q, want it to contain %q", out, want)
		}
		mustPage(t, listUsers(a, p.AccessToken, nil))
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, migration.Postgres)
		p := a.SignIn("+919800000099")
		tests := []struct {
			name    string
			args    []string
			wantErr string
		}{
			{"unknown_phone", []string{"--phone", "+919800000011"}, "no such user"},
			{"unknown_user", []string{"--user", uuid.NewString()}, "no such user"},
			{"both_flags", []string{"--phone", "+919800000099", "--user", p.User.ID}, "exactly one"},
			{"no_flag", nil, "exactly one"},
			{"bad_uuid", []string{"--user", "nobody"}, "UUID"},
			{"bad_phone", []string{"--phone", "12345"}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := runGrant(t, a, tt.args...)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("admin grant %v: got error %v, want one mentioning %q", tt.args, err, tt.wantErr)
				}
			})
		}
		if u := userRow(t, a, p.User.ID); u.Role != nil {
			t.Fatalf("role after refused grants: got %s, want NULL", *u.Role)
		}
	})
}

// adminRoutes are every admin operation on target.
func adminRoutes(target string) []struct{ method, path string } {
	return []struct{ method, path string }{
		{"GET", "/v1/admin/users"},
		{"GET", "/v1/admin/users/" + target},
		{"PUT", "/v1/admin/users/" + target + "/role"},
		{"DELETE", "/v1/admin/users/" + target},
		{"DELETE", "/v1/admin/users/" + target + "/sessions"},
	}
}

func TestAdmin_NonAdminRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	target := a.SignIn("+919800000001")
	noRole := a.SignIn("+919800000002")
	creator := a.SignIn("+919800000003")
	r := a.Call("PUT", "/v1/me/role", creator.AccessToken, map[string]string{"role": "creator"})
	if r.Status != http.StatusOK {
		t.Fatalf("PUT /v1/me/role: got %d %s, want 200", r.Status, r.Body)
	}
	r.JSON(t, &creator)
	callers := []struct {
		name       string
		bearer     string
		wantStatus int
		wantCode   string
	}{
		{"no_role", noRole.AccessToken, http.StatusForbidden, "forbidden"},
		{"creator", creator.AccessToken, http.StatusForbidden, "forbidden"},
		{"no_token", "", http.StatusUnauthorized, "unauthorized"},
	}
	for _, c := range callers {
		for _, route := range adminRoutes(target.User.ID) {
			t.Run(c.name+"/"+route.method+"_"+strings.ReplaceAll(strings.TrimPrefix(route.path, "/v1/admin/users"), target.User.ID, "id"), func(t *testing.T) {
				var body any
				if route.method == "PUT" {
					body = map[string]string{"role": "admin"}
				}
				apitest.WantError(t, a.Call(route.method, route.path, c.bearer, body), c.wantStatus, c.wantCode)
			})
		}
	}
	u := userRow(t, a, target.User.ID)
	if u.Role != nil {
		t.Fatalf("target role: got %s, want NULL", *u.Role)
	}
	if n := sessionRows(t, a, target.User.ID); n != 1 {
		t.Fatalf("target sessions: got %d, want 1", n)
	}
	if u := userRow(t, a, noRole.User.ID); u.Role != nil {
		t.Fatalf("caller promoted itself: got role %s, want NULL", *u.Role)
	}
}

func TestAdminGetUser(t *testing.T) {
	t.Parallel()
	p := newProvAPI(t, migration.Postgres)
	admin := newAdmin(t, p.api, "+919800000099")
	target := mustPair(t, p.google(p.googleToken("g-target", nil)))
	mustPair(t, p.google(p.googleToken("g-target", nil))) // a second session

	u := mustDetail(t, p.Call("GET", "/v1/admin/users/"+target.User.ID, admin.AccessToken, nil))
	if u.ID != target.User.ID || u.Role != nil {
		t.Fatalf("user: got %s role %s, want %s without role", u.ID, strOrNil(u.Role), target.User.ID)
	}
	wantStr(t, "full_name", u.FullName, "Test User")
	if len(u.Identities) != 1 || u.Identities[0].Provider != "google" || u.Identities[0].ProviderID != "g-target" {
		t.Fatalf("identities: got %+v, want the google g-target one", u.Identities)
	}
	if *u.SessionCount != 2 {
		t.Fatalf("session_count: got %d, want 2", *u.SessionCount)
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		apitest.WantError(t, p.Call("GET", "/v1/admin/users/"+id, admin.AccessToken, nil), http.StatusNotFound, "not_found")
	}
}

func TestAdminSetRole(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	admin := newAdmin(t, a, "+919800000099")
	target := a.SignIn("+919800000001")
	setRole := func(id string, body any) apitest.Resp {
		return a.Call("PUT", "/v1/admin/users/"+id+"/role", admin.AccessToken, body)
	}

	t.Run("promote_applies_to_existing_token", func(t *testing.T) {
		apitest.WantError(t, listUsers(a, target.AccessToken, nil), http.StatusForbidden, "forbidden")
		u := mustDetail(t, setRole(target.User.ID, map[string]string{"role": "admin"}))
		wantStr(t, "role in the answer", u.Role, "admin")
		mustPage(t, listUsers(a, target.AccessToken, nil))
		wantEvent(t, a, "admin_role_set", "admin_id="+admin.User.ID, "target_user_id="+target.User.ID, "role=admin")
	})
	t.Run("demote_applies_to_existing_token", func(t *testing.T) {
		u := mustDetail(t, setRole(target.User.ID, map[string]string{"role": "creator"}))
		wantStr(t, "role in the answer", u.Role, "creator")
		apitest.WantError(t, listUsers(a, target.AccessToken, nil), http.StatusForbidden, "forbidden")
		apitest.WantError(t, a.Call("GET", "/v1/admin/users/"+admin.User.ID, target.AccessToken, nil), http.StatusForbidden, "forbidden")
		wantEvent(t, a, "admin_role_set", "admin_id="+admin.User.ID, "target_user_id="+target.User.ID, "role=creator")
	})
	t.Run("invalid_role", func(t *testing.T) {
		for _, role := range []string{"boss", "", "none", "Admin", " admin"} {
			apitest.WantError(t, setRole(target.User.ID, map[string]string{"role": role}), http.StatusUnprocessableEntity, "invalid_role")
		}
		r := setRole(target.User.ID, map[string]string{})
		if code, field := errorOf(t, r); r.Status != http.StatusBadRequest || code != "invalid_request" || field != "role" {
			t.Fatalf("no role: got %d %s field %q, want 400 invalid_request field role", r.Status, code, field)
		}
		if u := userRow(t, a, target.User.ID); u.Role == nil || *u.Role != user.RoleCreator {
			t.Fatalf("stored role after refused changes: got %v, want creator", u.Role)
		}
	})
	t.Run("unknown_user", func(t *testing.T) {
		for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
			apitest.WantError(t, setRole(id, map[string]string{"role": "brand"}), http.StatusNotFound, "not_found")
		}
	})
}

func TestAdminEndSessions(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	admin := newAdmin(t, a, "+919800000099")
	first := a.SignIn("+919800000001")
	second := a.SignIn("+919800000001")
	if n := sessionRows(t, a, first.User.ID); n != 2 {
		t.Fatalf("target sessions before: got %d, want 2", n)
	}
	r := a.Call("DELETE", "/v1/admin/users/"+first.User.ID+"/sessions", admin.AccessToken, nil)
	if r.Status != http.StatusNoContent {
		t.Fatalf("end sessions: got %d %s, want 204", r.Status, r.Body)
	}
	for _, p := range []apitest.Tokens{first, second} {
		apitest.WantError(t, a.Refresh(p.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		apitest.WantError(t, a.Call("GET", "/v1/me", p.AccessToken, nil), http.StatusUnauthorized, "unauthorized")
	}
	if n := sessionRows(t, a, first.User.ID); n != 0 {
		t.Fatalf("target sessions after: got %d, want 0", n)
	}
	if n := mustDetail(t, a.Call("GET", "/v1/admin/users/"+first.User.ID, admin.AccessToken, nil)).SessionCount; *n != 0 {
		t.Fatalf("session_count: got %d, want 0", *n)
	}
	mustPage(t, listUsers(a, admin.AccessToken, nil)) // the admin's own session is untouched
	wantEvent(t, a, "admin_sessions_ended", "admin_id="+admin.User.ID, "target_user_id="+first.User.ID)
	apitest.WantError(t, a.Call("DELETE", "/v1/admin/users/"+uuid.NewString()+"/sessions", admin.AccessToken, nil),
		http.StatusNotFound, "not_found")
}

func TestAdminDeleteUser(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		p := newProvAPI(t, d)
		admin := newAdmin(t, p.api, "+919800000099")
		target := p.withRole("g-target")
		mustLink(t, p.linkFacebook(target.AccessToken, p.fbUserToken("fb-target")))
		if n := userIdentityCount(t, p.api, target.User.ID); n != 2 {
			t.Fatalf("target identities before: got %d, want 2", n)
		}

		r := p.Call("DELETE", "/v1/admin/users/"+target.User.ID, admin.AccessToken, nil)
		if r.Status != http.StatusNoContent {
			t.Fatalf("delete user: got %d %s, want 204", r.Status, r.Body)
		}
		ctx := context.Background()
		id := uuid.MustParse(target.User.ID)
		if ok, err := p.Client.User.Query().Where(user.ID(id)).Exist(ctx); err != nil || ok {
			t.Fatalf("user row after delete: got exists=%v (%v), want gone", ok, err)
		}
		if n, err := p.Client.AuthIdentity.Query().Where(authidentity.UserID(id)).Count(ctx); err != nil || n != 0 {
			t.Fatalf("identity rows after delete: got %d (%v), want 0", n, err)
		}
		if n := sessionRows(t, p.api, target.User.ID); n != 0 {
			t.Fatalf("session rows after delete: got %d, want 0", n)
		}
		apitest.WantError(t, p.Call("GET", "/v1/me", target.AccessToken, nil), http.StatusUnauthorized, "unauthorized")
		apitest.WantError(t, p.Call("GET", "/v1/admin/users/"+target.User.ID, admin.AccessToken, nil), http.StatusNotFound, "not_found")
		apitest.WantError(t, p.Call("DELETE", "/v1/admin/users/"+target.User.ID, admin.AccessToken, nil), http.StatusNotFound, "not_found")
		wantEvent(t, p.api, "admin_user_deleted", "admin_id="+admin.User.ID, "target_user_id="+target.User.ID)
		wantRowCounts(t, p.api, 1, 1) // the admin and their phone
		// The deleted user's accounts are free again: signing in makes a new user.
		if again := mustPair(t, p.google(p.googleToken("g-target", nil))); again.User.ID == target.User.ID {
			t.Fatalf("sign-in after delete: got the deleted user id %s, want a new user", again.User.ID)
		}
	})
}
