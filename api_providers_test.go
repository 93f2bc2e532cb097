package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/internal/fakegraph"
	"github.com/agency-platform/agency/internal/fakeidp"
	"github.com/agency-platform/agency/internal/migration"
)

// The provider tests run the service against a local fake Google issuer
// (discovery, JWKS, RS256 ID tokens) and a local fake Graph API.

const (
	googleClientID = "web-client.apps.googleusercontent.test"
	fbAppID        = "424242"
	fbAppSecret    = "fb-app-secret-never-logged-0123456789"
)

// provAPI is a running service with both sign-in providers configured.
type provAPI struct {
	*api
	idp   *fakeidp.Server
	graph *fakegraph.Server
}

// newProvAPI starts the service on dialect d with Google and Facebook
// pointed at fresh fakes; env entries win over that configuration.
func newProvAPI(t testing.TB, d string, env ...string) *provAPI {
	t.Helper()
	idp := fakeidp.New(t)
	graph := fakegraph.New(t, fbAppID, fbAppSecret)
	base := []string{
		"GOOGLE_ISSUER_URL=" + idp.URL,
		"GOOGLE_CLIENT_IDS=" + googleClientID,
		"FACEBOOK_GRAPH_URL=" + graph.URL + "/v19.0",
		"FACEBOOK_APP_ID=" + fbAppID,
		"FACEBOOK_APP_SECRET=" + fbAppSecret,
	}
	return &provAPI{api: newAPI(t, d, append(base, env...)...), idp: idp, graph: graph}
}

// googleToken is an ID token of the fake issuer for sub, issued now (by the
// service's clock), with edits applied to the claims; a nil value deletes one.
func (p *provAPI) googleToken(sub string, edits map[string]any) string {
	p.t.Helper()
	return p.idp.Token(p.t, p.googleClaims(sub, edits))
}

func (p *provAPI) googleClaims(sub string, edits map[string]any) map[string]any {
	c := p.idp.Claims(sub, googleClientID, p.clock.Now())
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// fbUser registers token with the fake Graph as Facebook user id, with a
// name, a confirmed email and a picture.
func (p *provAPI) fbUser(token, id string) fakegraph.User {
	u := fakegraph.User{ID: id, Name: "FB " + id, Email: id + "@fb.example", Picture: "https://fb.example/" + id + ".jpg"}
	p.graph.AddUser(token, u)
	return u
}

func (p *provAPI) google(idToken string) resp {
	p.t.Helper()
	return p.call("POST", "/v1/auth/google", "", map[string]string{"id_token": idToken})
}

func (p *provAPI) facebook(accessToken string) resp {
	p.t.Helper()
	return p.call("POST", "/v1/auth/facebook", "", map[string]string{"access_token": accessToken})
}

// mustPair fails unless r is a 200 token pair, and returns it.
func mustPair(t testing.TB, r resp) tokens {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("sign-in: got %d %s, want 200", r.Status, r.Body)
	}
	var p tokens
	r.JSON(t, &p)
	if p.AccessToken == "" || p.RefreshToken == "" || p.User.ID == "" {
		t.Fatalf("sign-in: incomplete token pair %s", r.Body)
	}
	return p
}

// identityRow returns the stored identity (provider, providerID), failing if
// there is none.
func identityRow(t testing.TB, a *api, provider authidentity.Provider, providerID string) *ent.AuthIdentity {
	t.Helper()
	row, err := a.client.AuthIdentity.Query().
		Where(authidentity.ProviderEQ(provider), authidentity.ProviderID(providerID)).Only(context.Background())
	if err != nil {
		t.Fatalf("identity (%s, %s): %v", provider, providerID, err)
	}
	return row
}

// userRow returns the stored user with id.
func userRow(t testing.TB, a *api, id string) *ent.User {
	t.Helper()
	u, err := a.client.User.Get(context.Background(), uuid.MustParse(id))
	if err != nil {
		t.Fatalf("user %s: %v", id, err)
	}
	return u
}

// rowCounts returns the numbers of users and identities stored.
func rowCounts(t testing.TB, a *api) (users, identities int) {
	t.Helper()
	ctx := context.Background()
	users, err := a.client.User.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	identities, err = a.client.AuthIdentity.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return users, identities
}

func wantRowCounts(t testing.TB, a *api, users, identities int) {
	t.Helper()
	if u, i := rowCounts(t, a); u != users || i != identities {
		t.Fatalf("rows: got %d users and %d identities, want %d and %d", u, i, users, identities)
	}
}

func strOrNil(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func wantStr(t testing.TB, what string, got *string, want string) {
	t.Helper()
	if got == nil || *got != want {
		t.Fatalf("%s: got %s, want %q", what, strOrNil(got), want)
	}
}

func TestGoogleSignIn(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d string) {
		t.Run("ok_creates_user_and_identity", func(t *testing.T) {
			p := newProvAPI(t, d)
			pair := mustPair(t, p.google(p.googleToken("g-1", nil)))
			if pair.User.Role != nil || !pair.User.NeedsRole {
				t.Fatalf("new user: got role %s needs_role %v, want null and true", strOrNil(pair.User.Role), pair.User.NeedsRole)
			}
			u := userRow(t, p.api, pair.User.ID)
			wantStr(t, "full_name", u.FullName, "Test User")
			wantStr(t, "profile_picture_url", u.ProfilePictureURL, "https://example.com/p.png")
			ident := identityRow(t, p.api, authidentity.ProviderGoogle, "g-1")
			if ident.UserID.String() != pair.User.ID {
				t.Fatalf("identity user: got %s, want %s", ident.UserID, pair.User.ID)
			}
			wantStr(t, "identity email", ident.Email, "g-1@example.com")
			if ident.LastUsedAt == nil || !ident.LastUsedAt.Equal(p.clock.Now()) {
				t.Fatalf("last_used_at: got %v, want %v", ident.LastUsedAt, p.clock.Now())
			}
			wantRowCounts(t, p.api, 1, 1)
			if r := p.call("GET", "/v1/me", pair.AccessToken, nil); r.Status != http.StatusOK {
				t.Fatalf("GET /v1/me with the new pair: got %d %s, want 200", r.Status, r.Body)
			}
		})
		t.Run("unsafe_picture_not_used", func(t *testing.T) {
			p := newProvAPI(t, d)
			pair := mustPair(t, p.google(p.googleToken("g-1", map[string]any{"picture": "javascript:alert(1)"})))
			if u := userRow(t, p.api, pair.User.ID); u.ProfilePictureURL != nil {
				t.Fatalf("profile_picture_url: got %q, want NULL for a non-http(s) URL", *u.ProfilePictureURL)
			}
		})
		t.Run("unverified_email_not_stored", func(t *testing.T) {
			p := newProvAPI(t, d)
			mustPair(t, p.google(p.googleToken("g-1", map[string]any{"email_verified": false})))
			if ident := identityRow(t, p.api, authidentity.ProviderGoogle, "g-1"); ident.Email != nil {
				t.Fatalf("identity email: got %q, want NULL (email_verified false)", *ident.Email)
			}
		})
	})
}

func TestGoogleSignIn_Returning(t *testing.T) {
	t.Run("same_sub_same_user_last_used_updated", func(t *testing.T) {
		p := newProvAPI(t, migration.Postgres)
		first := mustPair(t, p.google(p.googleToken("g-1", nil)))
		p.clock.Advance(30 * time.Minute)
		second := mustPair(t, p.google(p.googleToken("g-1", nil)))
		if second.User.ID != first.User.ID {
			t.Fatalf("second sign-in: got user %s, want %s", second.User.ID, first.User.ID)
		}
		ident := identityRow(t, p.api, authidentity.ProviderGoogle, "g-1")
		if ident.LastUsedAt == nil || !ident.LastUsedAt.Equal(p.clock.Now()) {
			t.Fatalf("last_used_at: got %v, want %v", ident.LastUsedAt, p.clock.Now())
		}
		wantRowCounts(t, p.api, 1, 1)
	})
	t.Run("prefill_only_where_empty", func(t *testing.T) {
		p := newProvAPI(t, migration.Postgres)
		// First sign-in: no name, no picture, unverified email.
		first := mustPair(t, p.google(p.googleToken("g-1", map[string]any{"name": nil, "picture": nil, "email_verified": false})))
		u := userRow(t, p.api, first.User.ID)
		if u.FullName != nil || u.ProfilePictureURL != nil {
			t.Fatalf("profile: got %s / %s, want both NULL", strOrNil(u.FullName), strOrNil(u.ProfilePictureURL))
		}
		if r := p.call("PATCH", "/v1/me", first.AccessToken, map[string]string{"full_name": "Chosen Name"}); r.Status != http.StatusOK {
			t.Fatalf("PATCH /v1/me: got %d %s, want 200", r.Status, r.Body)
		}
		p.clock.Advance(time.Minute)
		mustPair(t, p.google(p.googleToken("g-1", map[string]any{"name": "Google Name"})))
		u = userRow(t, p.api, first.User.ID)
		wantStr(t, "full_name (set by the user)", u.FullName, "Chosen Name")
		wantStr(t, "profile_picture_url (was empty)", u.ProfilePictureURL, "https://example.com/p.png")
		wantStr(t, "identity email (was empty, now verified)", identityRow(t, p.api, authidentity.ProviderGoogle, "g-1").Email, "g-1@example.com")
	})
}

// googleNone builds an unsigned token (alg none) over claims.
func googleNone(t testing.TB, claims map[string]any) string {
	t.Helper()
	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return seg(map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"}) + "." + seg(claims) + "."
}

func TestGoogleSignIn_Forgeries(t *testing.T) {
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token func(t *testing.T, p *provAPI) string
	}{
		{"wrong_key_same_kid", func(t *testing.T, p *provAPI) string {
			return p.idp.SignWith(t, otherKey, "k1", p.googleClaims("g-1", nil))
		}},
		{"unknown_kid", func(t *testing.T, p *provAPI) string {
			return p.idp.SignWith(t, otherKey, "k9", p.googleClaims("g-1", nil))
		}},
		{"wrong_aud", func(t *testing.T, p *provAPI) string {
			return p.googleToken("g-1", map[string]any{"aud": "other-client"})
		}},
		{"empty_aud", func(t *testing.T, p *provAPI) string { return p.googleToken("g-1", map[string]any{"aud": ""}) }},
		{"wrong_iss", func(t *testing.T, p *provAPI) string {
			return p.googleToken("g-1", map[string]any{"iss": "https://accounts.evil.example"})
		}},
		{"expired", func(t *testing.T, p *provAPI) string {
			now := p.clock.Now()
			return p.googleToken("g-1", map[string]any{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Minute).Unix()})
		}},
		{"expired_by_clock", func(t *testing.T, p *provAPI) string {
			tok := p.googleToken("g-1", nil)
			p.clock.Advance(61 * time.Minute) // exp is an hour after issue
			return tok
		}},
		{"no_sub", func(t *testing.T, p *provAPI) string { return p.googleToken("g-1", map[string]any{"sub": nil}) }},
		{"alg_none", func(t *testing.T, p *provAPI) string { return googleNone(t, p.googleClaims("g-1", nil)) }},
		{"alg_hs256", func(t *testing.T, p *provAPI) string {
			return signedToken(t, jwt.SigningMethodHS256, map[string]any{"kid": "k1"}, p.googleClaims("g-1", nil), []byte("k1"))
		}},
		{"garbage", func(*testing.T, *provAPI) string { return "not.a.jwt" }},
		{"empty", func(*testing.T, *provAPI) string { return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvAPI(t, migration.Postgres)
			wantAPIError(t, p.google(tt.token(t, p)), http.StatusUnauthorized, "invalid_id_token")
			wantRowCounts(t, p.api, 0, 0)
		})
	}
}

// TestGoogleSignIn_Audiences: every configured client id (web, iOS,
// Android) is accepted as the audience, and both spellings of the issuer.
func TestGoogleSignIn_Audiences(t *testing.T) {
	p := newProvAPI(t, migration.Postgres, "GOOGLE_CLIENT_IDS=ios.apps.test, "+googleClientID+" ,android.apps.test")
	bareIssuer := strings.TrimPrefix(p.idp.URL, "http://")
	tests := []struct {
		name  string
		edits map[string]any
	}{
		{"web", nil},
		{"ios", map[string]any{"aud": "ios.apps.test"}},
		{"android", map[string]any{"aud": "android.apps.test"}},
		{"aud_list", map[string]any{"aud": []string{"someone-else", "android.apps.test"}}},
		{"iss_without_scheme", map[string]any{"iss": bareIssuer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustPair(t, p.google(p.googleToken("g-1", tt.edits)))
		})
	}
	wantAPIError(t, p.google(p.googleToken("g-1", map[string]any{"aud": []string{"someone-else"}})),
		http.StatusUnauthorized, "invalid_id_token")
	wantRowCounts(t, p.api, 1, 1)
}

func TestGoogleSignIn_KeyRotation(t *testing.T) {
	p := newProvAPI(t, migration.Postgres)
	oldTok := p.googleToken("g-1", nil)
	first := mustPair(t, p.google(oldTok))
	if got := p.idp.JWKSFetches(); got != 1 {
		t.Fatalf("JWKS fetches after the first sign-in: got %d, want 1", got)
	}
	mustPair(t, p.google(p.googleToken("g-1", nil))) // cached key
	if got := p.idp.JWKSFetches(); got != 1 {
		t.Fatalf("JWKS fetches with a known kid: got %d, want 1 (cached)", got)
	}
	if kid := p.idp.RotateKey(t); kid != "k2" {
		t.Fatalf("rotated kid: got %s, want k2", kid)
	}
	second := mustPair(t, p.google(p.googleToken("g-1", nil)))
	if second.User.ID != first.User.ID {
		t.Fatalf("after rotation: got user %s, want %s", second.User.ID, first.User.ID)
	}
	if got := p.idp.JWKSFetches(); got != 2 {
		t.Fatalf("JWKS fetches after an unknown kid: got %d, want 2", got)
	}
	// The retired key is no longer in the JWKS: its tokens are refused.
	wantAPIError(t, p.google(oldTok), http.StatusUnauthorized, "invalid_id_token")
}

func TestProviderAvailability(t *testing.T) {
	t.Run("google_disabled", func(t *testing.T) {
		p := newProvAPI(t, migration.Postgres, "GOOGLE_CLIENT_IDS=")
		wantAPIError(t, p.google(p.googleToken("g-1", nil)), http.StatusNotImplemented, "provider_disabled")
		if n := p.idp.JWKSFetches(); n != 0 {
			t.Fatalf("JWKS fetches while disabled: got %d, want 0", n)
		}
	})
	t.Run("google_issuer_down_then_back", func(t *testing.T) {
		p := newProvAPI(t, migration.Postgres)
		p.idp.SetDown(true)
		wantAPIError(t, p.google(p.googleToken("g-1", nil)), http.StatusServiceUnavailable, "provider_unavailable")
		p.idp.SetDown(false) // a failed discovery is not cached
		mustPair(t, p.google(p.googleToken("g-1", nil)))
	})
	t.Run("google_down_on_key_refetch", func(t *testing.T) {
		p := newProvAPI(t, migration.Postgres)
		mustPair(t, p.google(p.googleToken("g-1", nil)))
		p.idp.RotateKey(t)
		p.idp.SetDown(true)
		wantAPIError(t, p.google(p.googleToken("g-1", nil)), http.StatusServiceUnavailable, "provider_unavailable")
	})
	t.Run("google_slow", func(t *testing.T) {
		p := newProvAPI(t, migration.Postgres, "PROVIDER_TIMEOUT=300ms")
		p.idp.SetDelay(2 * time.Second)
		start := time.Now()
		wantAPIError(t, p.google(p.googleToken("g-1", nil)), http.StatusServiceUnavailable, "provider_unavailable")
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Fatalf("slow issuer: answered after %v, want within 1.5s (PROVIDER_TIMEOUT=300ms)", took)
		}
	})
	t.Run("google_slow_key_refetch", func(t *testing.T) {
		p := newProvAPI(t, migration.Postgres, "PROVIDER_TIMEOUT=300ms")
		mustPair(t, p.google(p.googleToken("g-1", nil)))
		p.idp.RotateKey(t)
		p.idp.SetDelay(2 * time.Second)
		start := time.Now()
		wantAPIError(t, p.google(p.googleToken("g-1", nil)), http.StatusServiceUnavailable, "provider_unavailable")
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Fatalf("slow JWKS: answered after %v, want within 1.5s (PROVIDER_TIMEOUT=300ms)", took)
		}
	})
	t.Run("facebook_disabled", func(t *testing.T) {
		for _, env := range [][]string{
			{"FACEBOOK_APP_ID=", "FACEBOOK_APP_SECRET="},
			{"FACEBOOK_APP_SECRET="},
			{"FACEBOOK_APP_ID="},
		} {
			p := newProvAPI(t, migration.Postgres, env...)
			p.fbUser("EAA-1", "fb-1")
			wantAPIError(t, p.facebook("EAA-1"), http.StatusNotImplemented, "provider_disabled")
			if n := p.graph.Calls(); n != 0 {
				t.Fatalf("%v: Graph calls while disabled: got %d, want 0", env, n)
			}
		}
	})
	t.Run("facebook_graph_down", func(t *testing.T) {
		p := newProvAPI(t, migration.Postgres)
		p.fbUser("EAA-1", "fb-1")
		p.graph.SetDown(true)
		wantAPIError(t, p.facebook("EAA-1"), http.StatusServiceUnavailable, "provider_unavailable")
		wantRowCounts(t, p.api, 0, 0)
	})
	t.Run("facebook_slow", func(t *testing.T) {
		p := newProvAPI(t, migration.Postgres, "PROVIDER_TIMEOUT=300ms")
		p.fbUser("EAA-1", "fb-1")
		p.graph.SetDelay(2 * time.Second)
		start := time.Now()
		wantAPIError(t, p.facebook("EAA-1"), http.StatusServiceUnavailable, "provider_unavailable")
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Fatalf("slow Graph: answered after %v, want within 1.5s (PROVIDER_TIMEOUT=300ms)", took)
		}
	})
}

func TestProviderSignIn_WrongTokenField(t *testing.T) {
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
			r := p.call("POST", tt.path, "", tt.body)
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

func TestFacebookSignIn(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d string) {
		t.Run("ok_creates_user_and_identity", func(t *testing.T) {
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
		p := newProvAPI(t, migration.Postgres)
		p.graph.AddUser("EAA-1", fakegraph.User{ID: "fb-1", Name: "No Mail"})
		mustPair(t, p.facebook("EAA-1"))
		if ident := identityRow(t, p.api, authidentity.ProviderFacebook, "fb-1"); ident.Email != nil {
			t.Fatalf("identity email: got %q, want NULL", *ident.Email)
		}
	})
	t.Run("expiring_later_ok", func(t *testing.T) {
		p := newProvAPI(t, migration.Postgres)
		p.graph.AddUser("EAA-1", fakegraph.User{ID: "fb-1", ExpiresAt: p.clock.Now().Add(time.Hour).Unix()})
		mustPair(t, p.facebook("EAA-1"))
	})
}

func TestFacebookSignIn_Rejected(t *testing.T) {
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
			p := newProvAPI(t, migration.Postgres)
			if u := tt.user(p.clock.Now()); u != nil {
				p.graph.AddUser(tt.token, *u)
			}
			wantAPIError(t, p.facebook(tt.token), http.StatusUnauthorized, "invalid_access_token")
			wantRowCounts(t, p.api, 0, 0)
		})
	}
}

// TestProviderSignIn_NeverLinksByEmail: a Google account whose verified
// email equals an existing Facebook identity's email gets its own user.
func TestProviderSignIn_NeverLinksByEmail(t *testing.T) {
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

// TestGoogleSignIn_ConcurrentFirst signs one new Google account in ten
// times at once: every call succeeds, with one user and one identity.
func TestGoogleSignIn_ConcurrentFirst(t *testing.T) {
	p := newProvAPI(t, migration.Postgres, "MAX_SESSIONS_PER_USER=20")
	mustPair(t, p.google(p.googleToken("warm-up", nil))) // discovery and JWKS out of the way
	for round := range 3 {
		sub := "g-race-" + string(rune('a'+round))
		tok := p.googleToken(sub, nil)
		status := make([]int, 10)
		users := make([]string, 10)
		release(10, func(i int) {
			r := p.google(tok)
			status[i] = r.Status
			if r.Status == http.StatusOK {
				var pair tokens
				if err := json.Unmarshal(r.Body, &pair); err == nil {
					users[i] = pair.User.ID
				}
			}
		})
		for i := range 10 {
			if status[i] != http.StatusOK {
				t.Fatalf("round %d: got statuses %v, want all 200", round, status)
			}
			if users[i] != users[0] {
				t.Fatalf("round %d: got users %v, want one user", round, users)
			}
		}
		n, err := p.client.AuthIdentity.Query().Where(authidentity.ProviderID(sub)).Count(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("round %d: identities for %s: got %d (%v), want 1", round, sub, n, err)
		}
		wantRowCounts(t, p.api, round+2, round+2)
	}
}

// TestProviderSignIn_NoSecretsInLogs walks successes and failures of both
// providers and checks that no token, proof or app secret reaches the log.
func TestProviderSignIn_NoSecretsInLogs(t *testing.T) {
	p := newProvAPI(t, migration.Postgres, "PROVIDER_TIMEOUT=300ms")
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idTok := p.googleToken("g-1", nil)
	g := mustPair(t, p.google(idTok))
	forged := p.idp.SignWith(t, otherKey, "k1", p.googleClaims("g-2", nil))
	wantAPIError(t, p.google(forged), http.StatusUnauthorized, "invalid_id_token")

	p.fbUser("EAA-secret-1", "fb-1")
	f := mustPair(t, p.facebook("EAA-secret-1"))
	p.graph.AddUser("EAA-secret-2", fakegraph.User{ID: "fb-2", AppID: "other"})
	wantAPIError(t, p.facebook("EAA-secret-2"), http.StatusUnauthorized, "invalid_access_token")
	wantAPIError(t, p.facebook("EAA-secret-3"), http.StatusUnauthorized, "invalid_access_token")
	p.graph.SetDown(true)
	wantAPIError(t, p.facebook("EAA-secret-1"), http.StatusServiceUnavailable, "provider_unavailable")
	p.graph.SetDown(false)
	p.graph.SetDelay(2 * time.Second)
	wantAPIError(t, p.facebook("EAA-secret-1"), http.StatusServiceUnavailable, "provider_unavailable")
	p.graph.SetDelay(0)

	p.noSecretsIn(idTok, forged, "EAA-secret-1", "EAA-secret-2", "EAA-secret-3",
		fakegraph.Proof(fbAppSecret, "EAA-secret-1"), fbAppSecret,
		g.AccessToken, g.RefreshToken, f.AccessToken, f.RefreshToken)
}
