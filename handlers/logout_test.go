package handlers_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/agency-platform/agency/internal/apitest"
)

func TestLogout(t *testing.T) {
	t.Parallel()
	const logout = "/v1/auth/logout"
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("bearer", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p, other := a.SignIn(tokPhoneA), a.SignIn(tokPhoneA)
			if r := a.Call("POST", logout, p.AccessToken, nil); r.Status != http.StatusNoContent {
				t.Fatalf("logout: got %d %s, want 204", r.Status, r.Body)
			}
			wantUnauthorized(t, a.Call("GET", "/v1/me", p.AccessToken, nil))
			// Idempotent: the session has ended, and saying so again is fine.
			if r := a.Call("POST", logout, p.AccessToken, nil); r.Status != http.StatusNoContent {
				t.Fatalf("second logout: got %d %s, want 204", r.Status, r.Body)
			}
			wantUnauthorized(t, a.Call("GET", "/v1/me", p.AccessToken, nil))
			apitest.WantError(t, a.Refresh(p.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
			if got := storedSessions(t, a, p.User.ID); !slices.Equal(got, []string{sidOf(t, other.AccessToken)}) {
				t.Fatalf("sessions: got %v, want only the other device's", got)
			}
		})
		t.Run("refresh_token_body", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p := a.SignIn(tokPhoneA)
			for i := range 2 {
				if r := a.Call("POST", logout, "", map[string]string{"refresh_token": p.RefreshToken}); r.Status != http.StatusNoContent {
					t.Fatalf("logout %d by refresh token: got %d %s, want 204", i+1, r.Status, r.Body)
				}
			}
			if got := storedSessions(t, a, p.User.ID); len(got) != 0 {
				t.Fatalf("sessions: got %v, want none", got)
			}
			wantUnauthorized(t, a.Call("GET", "/v1/me", p.AccessToken, nil))
			apitest.WantError(t, a.Refresh(p.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		})
		t.Run("refresh_token_body_unknown", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p := a.SignIn(tokPhoneA)
			for _, tok := range []string{"garbage", otherSecret(p.RefreshToken)} {
				if r := a.Call("POST", logout, "", map[string]string{"refresh_token": tok}); r.Status != http.StatusNoContent {
					t.Fatalf("logout by an unknown token: got %d %s, want 204", r.Status, r.Body)
				}
			}
			if got := storedSessions(t, a, p.User.ID); len(got) != 1 {
				t.Fatalf("sessions: got %v, want the one untouched", got)
			}
		})
		t.Run("scope_others", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p1, p2, p3 := a.SignIn(tokPhoneA), a.SignIn(tokPhoneA), a.SignIn(tokPhoneA)
			b := a.SignIn(tokPhoneB)
			if r := a.Call("POST", logout+"?scope=others", p2.AccessToken, nil); r.Status != http.StatusNoContent {
				t.Fatalf("logout: got %d %s, want 204", r.Status, r.Body)
			}
			if got := storedSessions(t, a, p2.User.ID); !slices.Equal(got, []string{sidOf(t, p2.AccessToken)}) {
				t.Fatalf("sessions: got %v, want only the current %s", got, sidOf(t, p2.AccessToken))
			}
			for _, p := range []apitest.Tokens{p1, p3} {
				wantUnauthorized(t, a.Call("GET", "/v1/me", p.AccessToken, nil))
			}
			for _, p := range []apitest.Tokens{p2, b} {
				if r := a.Call("GET", "/v1/me", p.AccessToken, nil); r.Status != http.StatusOK {
					t.Fatalf("a session that should live: got %d, want 200", r.Status)
				}
			}
		})
		t.Run("scope_global", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p1, p2 := a.SignIn(tokPhoneA), a.SignIn(tokPhoneA)
			b := a.SignIn(tokPhoneB)
			if r := a.Call("POST", logout+"?scope=global", p2.AccessToken, nil); r.Status != http.StatusNoContent {
				t.Fatalf("logout: got %d %s, want 204", r.Status, r.Body)
			}
			if got := storedSessions(t, a, p1.User.ID); len(got) != 0 {
				t.Fatalf("sessions: got %v, want none", got)
			}
			if got := storedSessions(t, a, b.User.ID); len(got) != 1 {
				t.Fatalf("another user's sessions: got %v, want 1 untouched", got)
			}
			wantUnauthorized(t, a.Call("GET", "/v1/me", p2.AccessToken, nil))
		})
		t.Run("scope_bogus", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p := a.SignIn(tokPhoneA)
			apitest.WantError(t, a.Call("POST", logout+"?scope=bogus", p.AccessToken, nil), http.StatusBadRequest, "invalid_request")
			if r := a.Call("GET", "/v1/me", p.AccessToken, nil); r.Status != http.StatusOK {
				t.Fatalf("after a refused logout: got %d, want 200", r.Status)
			}
		})
		t.Run("refresh_token_cannot_end_other_sessions", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p, other := a.SignIn(tokPhoneA), a.SignIn(tokPhoneA)
			body := map[string]string{"refresh_token": p.RefreshToken}
			for _, scope := range []string{"global", "others"} {
				wantUnauthorized(t, a.Call("POST", logout+"?scope="+scope, "", body))
			}
			apitest.WantError(t, a.Call("POST", logout+"?scope=bogus", "", body), http.StatusBadRequest, "invalid_request")
			if got := storedSessions(t, a, p.User.ID); len(got) != 2 {
				t.Fatalf("sessions: got %v, want both untouched", got)
			}
			if r := a.Call("POST", logout+"?scope=current", "", body); r.Status != http.StatusNoContent {
				t.Fatalf("scope=current by refresh token: got %d %s, want 204", r.Status, r.Body)
			}
			if got := storedSessions(t, a, p.User.ID); !slices.Equal(got, []string{sidOf(t, other.AccessToken)}) {
				t.Fatalf("sessions: got %v, want only the other device's", got)
			}
		})
		t.Run("revoked_token_cannot_end_other_sessions", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p, other := a.SignIn(tokPhoneA), a.SignIn(tokPhoneA)
			if r := a.Call("POST", logout, p.AccessToken, nil); r.Status != http.StatusNoContent {
				t.Fatalf("logout: got %d %s, want 204", r.Status, r.Body)
			}
			wantUnauthorized(t, a.Call("POST", logout+"?scope=global", p.AccessToken, nil))
			if r := a.Call("GET", "/v1/me", other.AccessToken, nil); r.Status != http.StatusOK {
				t.Fatalf("the other device after a revoked token's global logout: got %d, want 200", r.Status)
			}
		})
		t.Run("bearer_and_body_ends_the_bearers_session", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p, other := a.SignIn(tokPhoneA), a.SignIn(tokPhoneA)
			body := map[string]string{"refresh_token": other.RefreshToken}
			if r := a.Call("POST", logout, p.AccessToken, body); r.Status != http.StatusNoContent {
				t.Fatalf("logout: got %d %s, want 204", r.Status, r.Body)
			}
			if got := storedSessions(t, a, p.User.ID); !slices.Equal(got, []string{sidOf(t, other.AccessToken)}) {
				t.Fatalf("sessions: got %v, want only the body's (the bearer's ended)", got)
			}
		})
		t.Run("forged_bearer_refused", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p := a.SignIn(tokPhoneA)
			forged := p.AccessToken[:len(p.AccessToken)-4] + "AAAA"
			wantUnauthorized(t, a.Call("POST", logout, forged, nil))
			if got := storedSessions(t, a, p.User.ID); len(got) != 1 {
				t.Fatalf("sessions: got %v, want 1", got)
			}
		})
		t.Run("no_credentials", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p := a.SignIn(tokPhoneA)
			wantUnauthorized(t, a.Call("POST", logout, "", nil))
			if got := storedSessions(t, a, p.User.ID); len(got) != 1 {
				t.Fatalf("sessions: got %v, want 1", got)
			}
		})
	})
}
