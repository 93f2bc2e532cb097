package handlers_test

import (
	"net/http"
	"testing"

	"github.com/agency-platform/agency/internal/apitest"
)

// TestAPI_Walkthrough is the README's walk-through as a test: send a code,
// verify, pick a role, refresh, list sessions, log out.
func TestAPI_Walkthrough(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		a := newAPI(t, d)
		p := a.SignIn("+919876543210")
		if p.TokenType != "Bearer" || p.ExpiresIn != 900 || !p.User.NeedsRole || p.User.Role != nil {
			t.Fatalf("first sign-in: got %+v, want a Bearer pair for a user without role", p)
		}
		var me struct {
			ID         string `json:"id"`
			Identities []struct {
				Provider   string `json:"provider"`
				ProviderID string `json:"provider_id"`
			} `json:"identities"`
		}
		a.Call("GET", "/v1/me", p.AccessToken, nil).JSON(t, &me)
		if me.ID != p.User.ID || len(me.Identities) != 1 || me.Identities[0].Provider != "phone" || me.Identities[0].ProviderID != "+919876543210" {
			t.Fatalf("GET /v1/me: got %+v, want the user with one phone identity", me)
		}
		if r := a.Call("GET", "/v1/me/identities", p.AccessToken, nil); r.Status != http.StatusForbidden || r.ErrCode() != "role_required" {
			t.Fatalf("role-gated route without role: got %d %s, want 403 role_required", r.Status, r.ErrCode())
		}
		r := a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]string{"role": "creator"})
		var withRole apitest.Tokens
		r.JSON(t, &withRole)
		if r.Status != http.StatusOK || withRole.User.Role == nil || *withRole.User.Role != "creator" || withRole.User.NeedsRole {
			t.Fatalf("set role: got %d %s", r.Status, r.Body)
		}
		if r := a.Call("GET", "/v1/me/identities", withRole.AccessToken, nil); r.Status != http.StatusOK {
			t.Fatalf("role-gated route with role: got %d %s, want 200", r.Status, r.Body)
		}
		r = a.Refresh(withRole.RefreshToken)
		var refreshed apitest.Tokens
		r.JSON(t, &refreshed)
		if r.Status != http.StatusOK || refreshed.RefreshToken == withRole.RefreshToken {
			t.Fatalf("refresh: got %d, a new token: %v\n%s", r.Status, refreshed.RefreshToken != withRole.RefreshToken, a.Logs)
		}
		var sessions []struct {
			ID         string  `json:"id"`
			DeviceInfo *string `json:"device_info"`
			Current    bool    `json:"current"`
		}
		a.Call("GET", "/v1/me/sessions", refreshed.AccessToken, nil).JSON(t, &sessions)
		if len(sessions) != 1 || !sessions[0].Current || sessions[0].DeviceInfo == nil || *sessions[0].DeviceInfo != "test device" {
			t.Fatalf("sessions: got %+v, want the one current session", sessions)
		}
		if r := a.Call("POST", "/v1/auth/logout", refreshed.AccessToken, nil); r.Status != http.StatusNoContent {
			t.Fatalf("logout: got %d %s, want 204", r.Status, r.Body)
		}
		if r := a.Call("GET", "/v1/me", refreshed.AccessToken, nil); r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("access token after logout: got %d, want 401 with WWW-Authenticate", r.Status)
		}
		if r := a.Refresh(refreshed.RefreshToken); r.Status != http.StatusUnauthorized || r.ErrCode() != "invalid_refresh_token" {
			t.Fatalf("refresh after logout: got %d %s, want 401 invalid_refresh_token", r.Status, r.ErrCode())
		}
		a.NoSecretsIn(p.AccessToken, p.RefreshToken, withRole.RefreshToken, refreshed.RefreshToken, refreshed.AccessToken,
			a.Config.OTP.Secret, a.Config.Sessions.RefreshTokenSecret)
	})
}
