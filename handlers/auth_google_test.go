package handlers_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/fakeidp"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/golang-jwt/jwt/v5"
)

func TestGoogleSignIn(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("ok_creates_user_and_identity", func(t *testing.T) {
			t.Parallel()
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
			if ident.LastUsedAt == nil || !ident.LastUsedAt.Equal(p.Clock.Now()) {
				t.Fatalf("last_used_at: got %v, want %v", ident.LastUsedAt, p.Clock.Now())
			}
			wantRowCounts(t, p.api, 1, 1)
			if r := p.Call("GET", "/v1/me", pair.AccessToken, nil); r.Status != http.StatusOK {
				t.Fatalf("GET /v1/me with the new pair: got %d %s, want 200", r.Status, r.Body)
			}
		})
		t.Run("unsafe_picture_not_used", func(t *testing.T) {
			t.Parallel()
			p := newProvAPI(t, d)
			pair := mustPair(t, p.google(p.googleToken("g-1", map[string]any{"picture": "javascript:alert(1)"})))
			if u := userRow(t, p.api, pair.User.ID); u.ProfilePictureURL != nil {
				t.Fatalf("profile_picture_url: got %q, want NULL for a non-http(s) URL", *u.ProfilePictureURL)
			}
		})
		t.Run("unverified_email_not_stored", func(t *testing.T) {
			t.Parallel()
			p := newProvAPI(t, d)
			mustPair(t, p.google(p.googleToken("g-1", map[string]any{"email_verified": false})))
			if ident := identityRow(t, p.api, authidentity.ProviderGoogle, "g-1"); ident.Email != nil {
				t.Fatalf("identity email: got %q, want NULL (email_verified false)", *ident.Email)
			}
		})
	})
}

func TestGoogleSignIn_Returning(t *testing.T) {
	t.Parallel()
	t.Run("same_sub_same_user_last_used_updated", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		first := mustPair(t, p.google(p.googleToken("g-1", nil)))
		p.Clock.Advance(30 * time.Minute)
		second := mustPair(t, p.google(p.googleToken("g-1", nil)))
		if second.User.ID != first.User.ID {
			t.Fatalf("second sign-in: got user %s, want %s", second.User.ID, first.User.ID)
		}
		ident := identityRow(t, p.api, authidentity.ProviderGoogle, "g-1")
		if ident.LastUsedAt == nil || !ident.LastUsedAt.Equal(p.Clock.Now()) {
			t.Fatalf("last_used_at: got %v, want %v", ident.LastUsedAt, p.Clock.Now())
		}
		wantRowCounts(t, p.api, 1, 1)
	})
	t.Run("prefill_only_where_empty", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		// First sign-in: no name, no picture, unverified email.
		first := mustPair(t, p.google(p.googleToken("g-1", map[string]any{"name": nil, "picture": nil, "email_verified": false})))
		u := userRow(t, p.api, first.User.ID)
		if u.FullName != nil || u.ProfilePictureURL != nil {
			t.Fatalf("profile: got %s / %s, want both NULL", strOrNil(u.FullName), strOrNil(u.ProfilePictureURL))
		}
		if r := p.Call("PATCH", "/v1/me", first.AccessToken, map[string]string{"full_name": "Chosen Name"}); r.Status != http.StatusOK {
			t.Fatalf("PATCH /v1/me: got %d %s, want 200", r.Status, r.Body)
		}
		p.Clock.Advance(time.Minute)
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
	t.Parallel()
	otherKey := fakeidp.ForeignKey(t)
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
			now := p.Clock.Now()
			return p.googleToken("g-1", map[string]any{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Minute).Unix()})
		}},
		{"expired_by_clock", func(t *testing.T, p *provAPI) string {
			tok := p.googleToken("g-1", nil)
			p.Clock.Advance(61 * time.Minute) // exp is an hour after issue
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
			t.Parallel()
			p := newProvAPI(t, migration.Postgres)
			apitest.WantError(t, p.google(tt.token(t, p)), http.StatusUnauthorized, "invalid_id_token")
			wantRowCounts(t, p.api, 0, 0)
		})
	}
}

// TestGoogleSignIn_Audiences: every configured client id (web, iOS,
// Android) is accepted as the audience, and both spellings of the issuer.
func TestGoogleSignIn_Audiences(t *testing.T) {
	t.Parallel()
	p := newProvAPI(t, migration.Postgres, "GOOGLE_CLIENT_IDS=ios.apps.test, "+googleClientID+" ,android.apps.test")
	bareIssuer := strings.TrimPrefix(p.idp.URL, "http://")
	tests := []struct {
		name  string
		edits map[string]any
	}{
		{"web", nil},
		{"ios", map[string]any{"aud": "ios.apps.test"}},
		{"android", map[string]any{"aud": "android.apps.test"}},
		{"aud_list", map[string]any{"aud": []string{"someone-else", "android.apps.test"}, "azp": "android.apps.test"}},
		{"android_app_azp", map[string]any{"azp": "android.apps.test"}},
		{"iss_without_scheme", map[string]any{"iss": bareIssuer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustPair(t, p.google(p.googleToken("g-1", tt.edits)))
		})
	}
	for _, edits := range []map[string]any{
		{"aud": []string{"someone-else"}},
		{"aud": []string{"someone-else", "android.apps.test"}}, // several audiences, no azp
		{"azp": "someone-else"},
		{"iat": p.Clock.Now().Add(24 * time.Hour).Unix()},
	} {
		apitest.WantError(t, p.google(p.googleToken("g-1", edits)), http.StatusUnauthorized, "invalid_id_token")
	}
	wantRowCounts(t, p.api, 1, 1)
}

func TestGoogleSignIn_KeyRotation(t *testing.T) {
	t.Parallel()
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
	p.Clock.Advance(p.Config.Google.JWKSMinRefresh) // past the refetch floor
	second := mustPair(t, p.google(p.googleToken("g-1", nil)))
	if second.User.ID != first.User.ID {
		t.Fatalf("after rotation: got user %s, want %s", second.User.ID, first.User.ID)
	}
	if got := p.idp.JWKSFetches(); got != 2 {
		t.Fatalf("JWKS fetches after an unknown kid: got %d, want 2", got)
	}
	// The retired key is no longer in the JWKS: its tokens are refused.
	apitest.WantError(t, p.google(oldTok), http.StatusUnauthorized, "invalid_id_token")
}

// TestGoogleSignIn_ConcurrentFirst signs one new Google account in ten
// times at once: every call succeeds, with one user and one identity.
func TestGoogleSignIn_ConcurrentFirst(t *testing.T) {
	t.Parallel()
	p := newProvAPI(t, migration.Postgres, "MAX_SESSIONS_PER_USER=20")
	mustPair(t, p.google(p.googleToken("warm-up", nil))) // discovery and JWKS out of the way
	for round := range 3 {
		sub := "g-race-" + string(rune('a'+round))
		tok := p.googleToken(sub, nil)
		status := make([]int, 10)
		users := make([]string, 10)
		apitest.Release(10, func(i int) {
			r := p.google(tok)
			status[i] = r.Status
			if r.Status == http.StatusOK {
				var pair apitest.Tokens
				if err := json.Unmarshal(r.Body, &pair); err == nil {
					users[i] = pair.User.ID
				}
			}
		})
		for i := range 10 {
			if status[i] != http.StatusOK {
				t.Fatalf("round %d: got statuses %v, want all 200\n%s", round, status, p.Logs.String())
			}
			if users[i] != users[0] {
				t.Fatalf("round %d: got users %v, want one user", round, users)
			}
		}
		n, err := p.Client.AuthIdentity.Query().Where(authidentity.ProviderID(sub)).Count(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("round %d: identities for %s: got %d (%v), want 1", round, sub, n, err)
		}
		wantRowCounts(t, p.api, round+2, round+2)
	}
}

// TestGoogleSignIn_UnknownKeyIDsCostOneFetch: tokens with made-up key ids
// (forged, or from another issuer) cost at most one JWKS fetch per
// GOOGLE_JWKS_MIN_REFRESH, however many arrive.
func TestGoogleSignIn_UnknownKeyIDsCostOneFetch(t *testing.T) {
	t.Parallel()
	p := newProvAPI(t, migration.Postgres)
	mustPair(t, p.google(p.googleToken("g-1", nil)))
	before := p.idp.JWKSFetches()
	for i := range 30 {
		forged := p.idp.SignWith(t, fakeidp.ForeignKey(t), fmt.Sprintf("kid-%d", i), p.googleClaims("g-1", nil))
		apitest.WantError(t, p.google(forged), http.StatusUnauthorized, "invalid_id_token")
		p.Clock.Advance(500 * time.Millisecond)
	}
	if got := p.idp.JWKSFetches() - before; got > 1 {
		t.Fatalf("JWKS fetches for 30 unknown key ids in 15s: got %d, want at most 1", got)
	}
}
