package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent/user"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/google/uuid"
)

// meUser is the User part of GET/PATCH /v1/me.
type meUser struct {
	ID                string    `json:"id"`
	Role              *string   `json:"role"`
	FullName          *string   `json:"full_name"`
	ProfilePictureURL *string   `json:"profile_picture_url"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func TestProfileUpdate(t *testing.T) {
	t.Parallel()
	longURL := func(n int) string { return "https://img.example/" + strings.Repeat("a", n-len("https://img.example/")) }
	tests := []struct {
		name  string
		body  map[string]string
		field string // "": accepted
	}{
		{name: "empty_name", body: map[string]string{"full_name": ""}, field: "full_name"},
		{name: "name_256", body: map[string]string{"full_name": strings.Repeat("n", 256)}, field: "full_name"},
		{name: "ftp_url", body: map[string]string{"profile_picture_url": "ftp://x"}, field: "profile_picture_url"},
		{name: "url_without_host", body: map[string]string{"profile_picture_url": "https://"}, field: "profile_picture_url"},
		{name: "url_2049", body: map[string]string{"profile_picture_url": longURL(2049)}, field: "profile_picture_url"},
		{name: "bad_url_with_good_name", body: map[string]string{"full_name": "Asha", "profile_picture_url": "javascript:alert(1)"}, field: "profile_picture_url"},
		{name: "valid", body: map[string]string{"full_name": "Asha Rao", "profile_picture_url": "https://img.example/a.png"}},
		{name: "valid_at_limits", body: map[string]string{"full_name": strings.Repeat("n", 255), "profile_picture_url": longURL(2048)}},
		{name: "valid_multibyte_name", body: map[string]string{"full_name": strings.Repeat("अ", 100)}},
		{name: "valid_name_only", body: map[string]string{"full_name": "Ravi"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, migration.Postgres)
			p := a.SignIn("+919812345670")
			var before, after, got meUser
			a.Call("GET", "/v1/me", p.AccessToken, nil).JSON(t, &before)
			a.Clock.Advance(time.Minute) // updated_at must move whichever clock stamps it
			r := a.Call("PATCH", "/v1/me", p.AccessToken, tc.body)
			a.Call("GET", "/v1/me", p.AccessToken, nil).JSON(t, &after)
			if tc.field != "" {
				if r.Status != http.StatusUnprocessableEntity && !(tc.field == "-" && r.Status == http.StatusBadRequest) {
					t.Fatalf("got %d %s, want 422", r.Status, r.Body)
				}
				if code, field := errorOf(t, r); tc.field != "-" && (code != "validation_failed" || field != tc.field) {
					t.Fatalf("got %s field %q, want validation_failed field %q", code, field, tc.field)
				}
				if after.FullName != nil || after.ProfilePictureURL != nil || !after.UpdatedAt.Equal(before.UpdatedAt) {
					t.Fatalf("a refused update changed the user: got %+v, want %+v", after, before)
				}
				return
			}
			r.JSON(t, &got)
			if r.Status != http.StatusOK {
				t.Fatalf("got %d %s, want 200\n%s", r.Status, r.Body, a.Logs)
			}
			for _, u := range []meUser{got, after} {
				if !sameOptional(u.FullName, tc.body, "full_name") || !sameOptional(u.ProfilePictureURL, tc.body, "profile_picture_url") {
					t.Fatalf("got %+v, want the values of %v", u, tc.body)
				}
			}
			if !got.UpdatedAt.After(before.UpdatedAt) || !got.CreatedAt.Equal(before.CreatedAt) || got.ID != before.ID {
				t.Fatalf("timestamps: got created %v updated %v, had created %v updated %v; want updated_at moved only",
					got.CreatedAt, got.UpdatedAt, before.CreatedAt, before.UpdatedAt)
			}
		})
	}
}

// sameOptional reports whether got carries body[key], or is nil when the
// body did not set key.
func sameOptional(got *string, body map[string]string, key string) bool {
	want, ok := body[key]
	if !ok {
		return got == nil
	}
	return got != nil && *got == want
}

func TestRoleSet(t *testing.T) {
	t.Parallel()
	t.Run("invalid_roles", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, migration.Postgres)
		p := a.SignIn("+919812345670")
		for _, role := range []string{"admin", "boss", "", "Creator", " creator"} {
			apitest.WantError(t, a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]string{"role": role}),
				http.StatusUnprocessableEntity, "invalid_role")
		}
		apitest.WantError(t, a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]any{}), http.StatusBadRequest, "invalid_request")
		var me meUser
		a.Call("GET", "/v1/me", p.AccessToken, nil).JSON(t, &me)
		if me.Role != nil {
			t.Fatalf("role after refused sets: got %q, want null", *me.Role)
		}
	})
	t.Run("set_once", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, migration.Postgres)
		p := a.SignIn("+919812345670")
		r := a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]string{"role": "brand"})
		var q apitest.Tokens
		r.JSON(t, &q)
		if r.Status != http.StatusOK || q.User.Role == nil || *q.User.Role != "brand" || q.User.NeedsRole {
			t.Fatalf("first set: got %d %s, want 200 with role brand", r.Status, r.Body)
		}
		if claims := accessClaims(t, q.AccessToken); claims["role"] != "brand" {
			t.Fatalf("access token role claim: got %v, want brand", claims["role"])
		}
		apitest.WantError(t, a.Call("PUT", "/v1/me/role", q.AccessToken, map[string]string{"role": "creator"}),
			http.StatusConflict, "role_already_set")
		// A retry of the same PUT (its response lost) answers like the first.
		retry := a.Call("PUT", "/v1/me/role", q.AccessToken, map[string]string{"role": "brand"})
		var q2 apitest.Tokens
		retry.JSON(t, &q2)
		if retry.Status != http.StatusOK || q2.User.Role == nil || *q2.User.Role != "brand" || q2.RefreshToken != q.RefreshToken {
			t.Fatalf("retry with the same role: got %d %s, want 200 with role brand and the same refresh token", retry.Status, retry.Body)
		}
		u, err := a.Client.User.Get(context.Background(), uuid.MustParse(p.User.ID))
		if err != nil || u.Role == nil || *u.Role != user.RoleBrand {
			t.Fatalf("stored role: got %v (%v), want brand", u, err)
		}
	})
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("lost_response_keeps_the_refresh_token", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p := a.SignIn("+919812345670")
			if r := a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]string{"role": "agency"}); r.Status != http.StatusOK {
				t.Fatalf("set role: got %d %s, want 200", r.Status, r.Body) // the client never reads this
			}
			a.Clock.Advance(time.Minute) // far past the grace window
			q := a.mustRefresh(p.RefreshToken)
			if q.User.Role == nil || *q.User.Role != "agency" {
				t.Fatalf("refresh after a lost role response: got role %v, want agency", q.User.Role)
			}
			a.Clock.Advance(time.Minute)
			a.mustRefresh(q.RefreshToken)
			if r := a.Call("GET", "/v1/me", q.AccessToken, nil); r.Status != http.StatusOK {
				t.Fatalf("the session after the refreshes: got %d, want it alive", r.Status)
			}
		})
		t.Run("refresh_racing_role_set", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			for i := range 8 {
				p := a.SignIn(otpTestPhone(i))
				var role, refresh apitest.Resp
				apitest.Release(2, func(j int) {
					if j == 0 {
						role = a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]string{"role": "creator"})
					} else {
						refresh = a.Refresh(p.RefreshToken)
					}
				})
				if role.Status != http.StatusOK || refresh.Status != http.StatusOK {
					t.Fatalf("round %d: role set got %d %s, refresh got %d %s; want both 200", i, role.Status, role.Body, refresh.Status, refresh.Body)
				}
				var fromRole, fromRefresh apitest.Tokens
				role.JSON(t, &fromRole)
				refresh.JSON(t, &fromRefresh)
				if fromRole.RefreshToken != fromRefresh.RefreshToken {
					t.Fatalf("round %d: the two answers carry different refresh tokens, want the one current token", i)
				}
				a.Clock.Advance(time.Minute)
				a.mustRefresh(fromRefresh.RefreshToken)
			}
		})
		t.Run("race", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			for i := range 10 {
				p := a.SignIn(otpTestPhone(i))
				roles := []string{"creator", "gifter"}
				status := make([]int, 2)
				errCode := make([]string, 2)
				apitest.Release(2, func(j int) {
					r := a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]string{"role": roles[j]})
					status[j], errCode[j] = r.Status, r.ErrCode()
				})
				winner := -1
				for j := range 2 {
					if status[j] == http.StatusOK {
						winner = j
					} else if status[j] != http.StatusConflict || errCode[j] != "role_already_set" {
						t.Fatalf("round %d: got %v %v, want one 200 and one 409 role_already_set", i, status, errCode)
					}
				}
				if winner < 0 || status[0] == status[1] {
					t.Fatalf("round %d: got %v %v, want one 200 and one 409", i, status, errCode)
				}
				u, err := a.Client.User.Get(context.Background(), uuid.MustParse(p.User.ID))
				if err != nil || u.Role == nil || string(*u.Role) != roles[winner] {
					t.Fatalf("round %d: stored role: got %v (%v), want %s", i, u, err, roles[winner])
				}
			}
		})
	})
}

// TestDeleteMe: DELETE /v1/me deletes the account with its sign-in methods
// and sessions; every token of the user fails on its next use, on every
// session; the phone number signs up again as a new user. It needs a
// recent sign-in; a user without a role may leave; the last admin may not.
func TestDeleteMe(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		ctx := context.Background()
		a := newAPI(t, d)
		const num = "+919876543210"
		tok := a.SignIn(num)
		other := a.SignIn(num) // a second device
		var me meUser
		a.Call("GET", "/v1/me", tok.AccessToken, nil).JSON(t, &me)
		if r := a.Call("PUT", "/v1/me/role", tok.AccessToken, map[string]string{"role": "creator"}); r.Status != http.StatusOK {
			t.Fatalf("set role: got %d", r.Status)
		}

		a.Clock.Advance(11 * time.Minute)
		apitest.WantError(t, a.Call("DELETE", "/v1/me", tok.AccessToken, nil), http.StatusForbidden, "reauth_required")
		fresh := a.SignIn(num)
		if r := a.Call("DELETE", "/v1/me", fresh.AccessToken, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete me: got %d %s, want 204", r.Status, r.Body)
		}
		for _, p := range []apitest.Tokens{tok, other, fresh} {
			apitest.WantError(t, a.Call("GET", "/v1/me", p.AccessToken, nil), http.StatusUnauthorized, "unauthorized")
			apitest.WantError(t, a.Refresh(p.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		}
		uid := uuid.MustParse(me.ID)
		users, err := a.Client.User.Query().Where(user.ID(uid)).Count(ctx)
		if err != nil || users != 0 {
			t.Fatalf("the user row after deletion: %d, %v", users, err)
		}
		if n, _ := a.Client.AuthIdentity.Query().Count(ctx); n != 0 {
			t.Fatalf("%d identities left after deletion, want 0", n)
		}
		if n, _ := a.Client.Session.Query().Count(ctx); n != 0 {
			t.Fatalf("%d sessions left after deletion, want 0", n)
		}
		if !strings.Contains(a.Logs.String(), "event=user_deleted") {
			t.Fatal("the deletion was not logged as a security event")
		}
		again := a.SignIn(num)
		var newMe meUser
		a.Call("GET", "/v1/me", again.AccessToken, nil).JSON(t, &newMe)
		if newMe.ID == me.ID || newMe.Role != nil {
			t.Fatalf("the number signed up again as %s (role %v), want a new user without a role", newMe.ID, newMe.Role)
		}

		// A user without a role can leave.
		if r := a.Call("DELETE", "/v1/me", again.AccessToken, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete me without a role: got %d", r.Status)
		}

		// The last admin cannot; with another admin, it can.
		admin := a.SignIn("+919876543211")
		var adminMe meUser
		a.Call("GET", "/v1/me", admin.AccessToken, nil).JSON(t, &adminMe)
		if err := a.Client.User.UpdateOneID(uuid.MustParse(adminMe.ID)).SetRole(user.RoleAdmin).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		apitest.WantError(t, a.Call("DELETE", "/v1/me", admin.AccessToken, nil), http.StatusConflict, "last_admin")
		second := a.SignIn("+919876543212")
		var secondMe meUser
		a.Call("GET", "/v1/me", second.AccessToken, nil).JSON(t, &secondMe)
		if err := a.Client.User.UpdateOneID(uuid.MustParse(secondMe.ID)).SetRole(user.RoleAdmin).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if r := a.Call("DELETE", "/v1/me", admin.AccessToken, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete an admin with another admin left: got %d %s", r.Status, r.Body)
		}
		apitest.WantError(t, a.Call("DELETE", "/v1/me", second.AccessToken, nil), http.StatusConflict, "last_admin")
	})
}

// TestDeleteMe_TwoLastAdminsAtOnce: two admins, each deleting their own
// account at the same moment: one goes, the other is refused as the last.
func TestDeleteMe_TwoLastAdminsAtOnce(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		ctx := context.Background()
		a := newAPI(t, d)
		toks := []apitest.Tokens{a.SignIn("+919876543221"), a.SignIn("+919876543222")}
		for _, tok := range toks {
			var me meUser
			a.Call("GET", "/v1/me", tok.AccessToken, nil).JSON(t, &me)
			if err := a.Client.User.UpdateOneID(uuid.MustParse(me.ID)).SetRole(user.RoleAdmin).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		status := make([]int, 2)
		apitest.Release(2, func(i int) { status[i] = a.Call("DELETE", "/v1/me", toks[i].AccessToken, nil).Status })
		if !(status[0] == http.StatusNoContent && status[1] == http.StatusConflict || status[0] == http.StatusConflict && status[1] == http.StatusNoContent) {
			t.Fatalf("two admins deleting themselves at once: got %v, want one 204 and one 409", status)
		}
		if n, _ := a.Client.User.Query().Where(user.RoleEQ(user.RoleAdmin)).Count(ctx); n != 1 {
			t.Fatalf("%d admins left, want 1", n)
		}
	})
}

// TestExportMe: GET /v1/me/export answers the profile, the sign-in methods
// and the live sessions as a file to save, before a role is chosen too, and
// nothing secret: no token, token hash, code or code hash.
func TestExportMe(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		ctx := context.Background()
		a := newAPI(t, d)
		tok := a.SignIn("+919876543210")
		second := a.SignIn("+919876543210")
		r := a.Call("GET", "/v1/me/export", tok.AccessToken, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("export: got %d %s", r.Status, r.Body)
		}
		var e struct {
			ExportedAt time.Time `json:"exported_at"`
			User       meUser    `json:"user"`
			Identities []struct {
				Provider   string `json:"provider"`
				ProviderID string `json:"provider_id"`
			} `json:"identities"`
			Sessions []struct {
				ID      string `json:"id"`
				Current bool   `json:"current"`
			} `json:"sessions"`
		}
		r.JSON(t, &e)
		if !strings.HasPrefix(r.Header.Get("Content-Disposition"), `attachment; filename="agency-account-`+e.User.ID) {
			t.Fatalf("Content-Disposition: got %q", r.Header.Get("Content-Disposition"))
		}
		if len(e.Identities) != 1 || e.Identities[0].Provider != "phone" || e.Identities[0].ProviderID != "+919876543210" {
			t.Fatalf("identities: got %+v", e.Identities)
		}
		if len(e.Sessions) != 2 || e.User.Role != nil || e.ExportedAt.IsZero() {
			t.Fatalf("export: got %d sessions, role %v, exported at %v; want 2, none, a time", len(e.Sessions), e.User.Role, e.ExportedAt)
		}
		rows, err := a.Client.Session.Query().All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		body := string(r.Body)
		for _, secret := range []string{tok.AccessToken, tok.RefreshToken, second.AccessToken, second.RefreshToken} {
			if strings.Contains(body, secret) {
				t.Fatal("the export holds a token")
			}
		}
		for _, row := range rows {
			if strings.Contains(body, row.TokenHash) || row.PreviousTokenHash != nil && strings.Contains(body, *row.PreviousTokenHash) {
				t.Fatal("the export holds a token hash")
			}
		}
		for _, word := range []string{"hash", "secret", "otp"} {
			if strings.Contains(strings.ToLower(body), word) {
				t.Fatalf("the export mentions %q: %s", word, body)
			}
		}
	})
}
