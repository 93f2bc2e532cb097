package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/fakegraph"
	"github.com/agency-platform/agency/internal/fakeidp"
	"github.com/agency-platform/agency/internal/migration"
)

func TestProviderAvailability(t *testing.T) {
	t.Parallel()
	t.Run("google_disabled", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres, "GOOGLE_CLIENT_IDS=")
		apitest.WantError(t, p.google(p.googleToken("g-1", nil)), http.StatusNotImplemented, "provider_disabled")
		if n := p.idp.JWKSFetches(); n != 0 {
			t.Fatalf("JWKS fetches while disabled: got %d, want 0", n)
		}
	})
	t.Run("google_issuer_down_then_back", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		p.idp.SetDown(true)
		apitest.WantError(t, p.google(p.googleToken("g-1", nil)), http.StatusServiceUnavailable, "provider_unavailable")
		p.idp.SetDown(false)
		// A failed discovery is the answer for a second, shared by every
		// caller; then the issuer is asked again.
		apitest.WantError(t, p.google(p.googleToken("g-1", nil)), http.StatusServiceUnavailable, "provider_unavailable")
		p.Clock.Advance(time.Second)
		mustPair(t, p.google(p.googleToken("g-1", nil)))
	})
	t.Run("google_down_on_key_refetch", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		mustPair(t, p.google(p.googleToken("g-1", nil)))
		p.idp.RotateKey(t)
		p.Clock.Advance(p.Config.Google.JWKSMinRefresh) // past the refetch floor
		p.idp.SetDown(true)
		apitest.WantError(t, p.google(p.googleToken("g-1", nil)), http.StatusServiceUnavailable, "provider_unavailable")
	})
	t.Run("google_slow", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres, "PROVIDER_TIMEOUT=300ms")
		p.idp.SetDelay(2 * time.Second)
		start := time.Now()
		apitest.WantError(t, p.google(p.googleToken("g-1", nil)), http.StatusServiceUnavailable, "provider_unavailable")
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Fatalf("slow issuer: answered after %v, want within 1.5s (PROVIDER_TIMEOUT=300ms)", took)
		}
	})
	t.Run("google_slow_key_refetch", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres, "PROVIDER_TIMEOUT=300ms")
		mustPair(t, p.google(p.googleToken("g-1", nil)))
		p.idp.RotateKey(t)
		p.Clock.Advance(p.Config.Google.JWKSMinRefresh) // past the refetch floor
		p.idp.SetDelay(2 * time.Second)
		start := time.Now()
		apitest.WantError(t, p.google(p.googleToken("g-1", nil)), http.StatusServiceUnavailable, "provider_unavailable")
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Fatalf("slow JWKS: answered after %v, want within 1.5s (PROVIDER_TIMEOUT=300ms)", took)
		}
	})
	t.Run("facebook_disabled", func(t *testing.T) {
		t.Parallel()
		for _, env := range [][]string{
			{"FACEBOOK_APP_ID=", "FACEBOOK_APP_SECRET="},
			{"FACEBOOK_APP_SECRET="},
			{"FACEBOOK_APP_ID="},
		} {
			p := newProvAPI(t, migration.Postgres, env...)
			p.fbUser("EAA-1", "fb-1")
			apitest.WantError(t, p.facebook("EAA-1"), http.StatusNotImplemented, "provider_disabled")
			if n := p.graph.Calls(); n != 0 {
				t.Fatalf("%v: Graph calls while disabled: got %d, want 0", env, n)
			}
		}
	})
	t.Run("facebook_graph_down", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		p.fbUser("EAA-1", "fb-1")
		p.graph.SetDown(true)
		apitest.WantError(t, p.facebook("EAA-1"), http.StatusServiceUnavailable, "provider_unavailable")
		wantRowCounts(t, p.api, 0, 0)
	})
	t.Run("facebook_slow", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres, "PROVIDER_TIMEOUT=300ms")
		p.fbUser("EAA-1", "fb-1")
		p.graph.SetDelay(2 * time.Second)
		start := time.Now()
		apitest.WantError(t, p.facebook("EAA-1"), http.StatusServiceUnavailable, "provider_unavailable")
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Fatalf("slow Graph: answered after %v, want within 1.5s (PROVIDER_TIMEOUT=300ms)", took)
		}
	})
}

func TestProviderSignIn_WrongTokenField(t *testing.T) {
	t.Parallel()
	p := newProvAPI(t, migration.Postgres)
	tests := []struct {
		name      string
		path      string
		body      map[string]string
		wantField string
	}{
		{"access_token_on_google", "/v1/auth/google", map[string]string{"access_token": "EAA-1"}, "access_token"},
		{"both_on_google", "/v1/auth/google", map[string]string{"id_token": "x.y.z", "access_token": "EAA-1"}, "access_token"},
		{"id_token_on_facebook", "/v1/auth/facebook", map[string]string{"id_token": "x.y.z"}, "id_token"},
		{"missing_id_token", "/v1/auth/google", map[string]string{}, "id_token"},
		{"missing_access_token", "/v1/auth/facebook", map[string]string{}, "access_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.Call("POST", tt.path, "", tt.body)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("got %d %s, want 400", r.Status, r.Body)
			}
			if code, field := errorOf(t, r); code != "invalid_request" || field != tt.wantField {
				t.Fatalf("got %s field %q, want invalid_request field %q", code, field, tt.wantField)
			}
		})
	}
	if n := p.graph.Calls(); n != 0 {
		t.Fatalf("Graph calls for malformed requests: got %d, want 0", n)
	}
}

// TestProviderSignIn_NeverLinksByEmail: a Google account whose verified
// email equals an existing Facebook identity's email gets its own user.
func TestProviderSignIn_NeverLinksByEmail(t *testing.T) {
	t.Parallel()
	p := newProvAPI(t, migration.Postgres)
	p.graph.AddUser("EAA-1", fakegraph.User{ID: "fb-1", Name: "Same", Email: "same@example.com"})
	fb := mustPair(t, p.facebook("EAA-1"))
	g := mustPair(t, p.google(p.googleToken("g-1", map[string]any{"email": "same@example.com"})))
	if g.User.ID == fb.User.ID {
		t.Fatalf("Google sign-in with a known email: got the Facebook user %s, want a new user", fb.User.ID)
	}
	wantRowCounts(t, p.api, 2, 2)
	wantStr(t, "google identity email", identityRow(t, p.api, authidentity.ProviderGoogle, "g-1").Email, "same@example.com")
	if u := identityRow(t, p.api, authidentity.ProviderFacebook, "fb-1").UserID.String(); u != fb.User.ID {
		t.Fatalf("facebook identity moved: got user %s, want %s", u, fb.User.ID)
	}
}

// TestProviderSignIn_NoSecretsInLogs walks successes and failures of both
// providers and checks that no token, proof or app secret reaches the log.
func TestProviderSignIn_NoSecretsInLogs(t *testing.T) {
	t.Parallel()
	p := newProvAPI(t, migration.Postgres, "PROVIDER_TIMEOUT=300ms")
	otherKey := fakeidp.ForeignKey(t)
	idTok := p.googleToken("g-1", nil)
	g := mustPair(t, p.google(idTok))
	forged := p.idp.SignWith(t, otherKey, "k1", p.googleClaims("g-2", nil))
	apitest.WantError(t, p.google(forged), http.StatusUnauthorized, "invalid_id_token")

	p.fbUser("EAA-secret-1", "fb-1")
	f := mustPair(t, p.facebook("EAA-secret-1"))
	p.graph.AddUser("EAA-secret-2", fakegraph.User{ID: "fb-2", AppID: "other"})
	apitest.WantError(t, p.facebook("EAA-secret-2"), http.StatusUnauthorized, "invalid_access_token")
	apitest.WantError(t, p.facebook("EAA-secret-3"), http.StatusUnauthorized, "invalid_access_token")
	p.graph.SetDown(true)
	apitest.WantError(t, p.facebook("EAA-secret-1"), http.StatusServiceUnavailable, "provider_unavailable")
	p.graph.SetDown(false)
	p.graph.SetDelay(2 * time.Second)
	apitest.WantError(t, p.facebook("EAA-secret-1"), http.StatusServiceUnavailable, "provider_unavailable")
	p.graph.SetDelay(0)

	p.NoSecretsIn(idTok, forged, "EAA-secret-1", "EAA-secret-2", "EAA-secret-3",
		fakegraph.Proof(fbAppSecret, "EAA-secret-1"), fbAppSecret,
		g.AccessToken, g.RefreshToken, f.AccessToken, f.RefreshToken)
}

// TestProviderSignIn_ClientBudget: each Google or Facebook sign-in or link
// may cost a call to the provider, so one client gets
// PROVIDER_SIGNINS_PER_IP_PER_HOUR tries, then 429 without the provider
// being asked.
func TestProviderSignIn_ClientBudget(t *testing.T) {
	t.Parallel()
	p := newProvAPI(t, migration.Postgres, "PROVIDER_SIGNINS_PER_IP_PER_HOUR=3", "TRUSTED_PROXIES=127.0.0.1")
	try := func(ip, path string, body map[string]string) apitest.Resp {
		b, _ := json.Marshal(body)
		return p.Request("POST", path, b, map[string]string{"X-Forwarded-For": ip})
	}
	const attacker = "203.0.113.66"
	for i := range 2 {
		apitest.WantError(t, try(attacker, "/v1/auth/facebook", map[string]string{"access_token": fmt.Sprintf("junk-%d", i)}),
			http.StatusUnauthorized, "invalid_access_token")
	}
	apitest.WantError(t, try(attacker, "/v1/auth/google", map[string]string{"id_token": "junk"}), http.StatusUnauthorized, "invalid_id_token")
	calls := p.graph.Calls()
	r := try(attacker, "/v1/auth/facebook", map[string]string{"access_token": "junk-3"})
	apitest.WantError(t, r, http.StatusTooManyRequests, "rate_limited")
	wantRetryAfter(t, r, 3600)
	if got := p.graph.Calls(); got != calls {
		t.Fatalf("Graph calls after the budget was spent: got %d more, want none", got-calls)
	}
	p.fbUser("EAA-ok", "fb-1")
	if r := try("198.51.100.1", "/v1/auth/facebook", map[string]string{"access_token": "EAA-ok"}); r.Status != http.StatusOK {
		t.Fatalf("another client: got %d %s, want 200", r.Status, r.Body)
	}
}
