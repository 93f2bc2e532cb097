package handlers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent/session"
	"github.com/agency-platform/agency/internal/accesstoken"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
)

// jwtB64 is the base64 flavour of JWT segments.
var jwtB64 = base64.RawURLEncoding

// signedToken signs claims under header (alg comes from method) with key.
func signedToken(t *testing.T, method jwt.SigningMethod, header, claims map[string]any, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	for k, v := range header {
		if k != "alg" {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return s
}

// serverKey is the service's real signing key.
func serverKey(t *testing.T, a *api) *ecdsa.PrivateKey {
	t.Helper()
	key, err := jwt.ParseECPrivateKeyFromPEM([]byte(a.Config.JWT.PrivateKey))
	if err != nil {
		t.Fatalf("parse JWT_PRIVATE_KEY: %v", err)
	}
	return key
}

// withEntry returns a copy of m with k set to v.
func withEntry(m map[string]any, k string, v any) map[string]any {
	c := make(map[string]any, len(m)+1)
	for key, val := range m {
		c[key] = val
	}
	c[k] = v
	return c
}

// sidOf is the session id an access token names.
func sidOf(t *testing.T, token string) string {
	t.Helper()
	sid, _ := accessClaims(t, token)["sid"].(string)
	if sid == "" {
		t.Fatalf("access token without sid")
	}
	return sid
}

// wantUnauthorized fails unless r is 401 unauthorized with a Bearer challenge.
func wantUnauthorized(t *testing.T, r apitest.Resp) {
	t.Helper()
	apitest.WantError(t, r, http.StatusUnauthorized, "unauthorized")
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
		t.Fatalf("WWW-Authenticate: got %q, want a Bearer challenge", h)
	}
}

// getMeWith calls GET /v1/me with a raw Authorization header ("" sends none).
func getMeWith(a *api, authorization string) apitest.Resp {
	a.T.Helper()
	h := map[string]string{}
	if authorization != "" {
		h["Authorization"] = authorization
	}
	return a.Request("GET", "/v1/me", nil, h)
}

func TestAccessTokenForgeries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// auth builds the Authorization header from the real pair p.
		auth func(t *testing.T, a *api, p apitest.Tokens) string
		ok   bool // controls: the forging machinery itself yields a valid token
	}{
		{name: "control_real_token", ok: true, auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			return "Bearer " + p.AccessToken
		}},
		{name: "control_resigned", ok: true, auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			return "Bearer " + signedToken(t, jwt.SigningMethodES256, tokenHeader(t, p.AccessToken), accessClaims(t, p.AccessToken), serverKey(t, a))
		}},
		{name: "control_within_leeway", ok: true, auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			advanceToAfterIssue(t, a, p.AccessToken, 15*time.Minute+29*time.Second)
			return "Bearer " + p.AccessToken
		}},
		{name: "alg_none", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			h, _ := json.Marshal(withEntry(tokenHeader(t, p.AccessToken), "alg", "none"))
			payload := strings.Split(p.AccessToken, ".")[1]
			return "Bearer " + jwtB64.EncodeToString(h) + "." + payload + "."
		}},
		{name: "alg_none_with_signature", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			parts := strings.Split(p.AccessToken, ".")
			h, _ := json.Marshal(withEntry(tokenHeader(t, p.AccessToken), "alg", "none"))
			return "Bearer " + jwtB64.EncodeToString(h) + "." + parts[1] + "." + parts[2]
		}},
		{name: "hs256_with_public_key", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			der, err := x509.MarshalPKIXPublicKey(&serverKey(t, a).PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return "Bearer " + signedToken(t, jwt.SigningMethodHS256, tokenHeader(t, p.AccessToken), accessClaims(t, p.AccessToken), pub)
		}},
		{name: "wrong_typ", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			return "Bearer " + signedToken(t, jwt.SigningMethodES256, withEntry(tokenHeader(t, p.AccessToken), "typ", "JWT"),
				accessClaims(t, p.AccessToken), serverKey(t, a))
		}},
		{name: "no_typ", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(accessClaims(t, p.AccessToken)))
			delete(tok.Header, "typ")
			tok.Header["kid"] = tokenHeader(t, p.AccessToken)["kid"]
			s, err := tok.SignedString(serverKey(t, a))
			if err != nil {
				t.Fatal(err)
			}
			return "Bearer " + s
		}},
		{name: "wrong_aud", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			return "Bearer " + signedToken(t, jwt.SigningMethodES256, tokenHeader(t, p.AccessToken),
				withEntry(accessClaims(t, p.AccessToken), "aud", "another-service"), serverKey(t, a))
		}},
		{name: "wrong_iss", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			return "Bearer " + signedToken(t, jwt.SigningMethodES256, tokenHeader(t, p.AccessToken),
				withEntry(accessClaims(t, p.AccessToken), "iss", "https://evil.example"), serverKey(t, a))
		}},
		{name: "unknown_kid", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			return "Bearer " + signedToken(t, jwt.SigningMethodES256, withEntry(tokenHeader(t, p.AccessToken), "kid", "another-key"),
				accessClaims(t, p.AccessToken), serverKey(t, a))
		}},
		{name: "issued_in_future", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			now := a.Clock.Now().Unix()
			c := withEntry(withEntry(accessClaims(t, p.AccessToken), "iat", now+600), "exp", now+1500)
			return "Bearer " + signedToken(t, jwt.SigningMethodES256, tokenHeader(t, p.AccessToken), c, serverKey(t, a))
		}},
		{name: "other_key_same_kid", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			pemText, err := accesstoken.GenerateES256PEM()
			if err != nil {
				t.Fatal(err)
			}
			other, err := jwt.ParseECPrivateKeyFromPEM([]byte(pemText))
			if err != nil {
				t.Fatal(err)
			}
			return "Bearer " + signedToken(t, jwt.SigningMethodES256, tokenHeader(t, p.AccessToken), accessClaims(t, p.AccessToken), other)
		}},
		{name: "other_users_sid", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			other := a.SignIn("+919812345679")
			return "Bearer " + signedToken(t, jwt.SigningMethodES256, tokenHeader(t, p.AccessToken),
				withEntry(accessClaims(t, p.AccessToken), "sid", sidOf(t, other.AccessToken)), serverKey(t, a))
		}},
		{name: "expired", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			advanceToAfterIssue(t, a, p.AccessToken, 15*time.Minute+31*time.Second)
			return "Bearer " + p.AccessToken
		}},
		{name: "tampered_payload", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			parts := strings.Split(p.AccessToken, ".")
			c, _ := json.Marshal(withEntry(accessClaims(t, p.AccessToken), "role", "admin"))
			return "Bearer " + parts[0] + "." + jwtB64.EncodeToString(c) + "." + parts[2]
		}},
		{name: "tampered_signature", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			parts := strings.Split(p.AccessToken, ".")
			sig, _ := jwtB64.DecodeString(parts[2])
			sig[len(sig)/2] ^= 1
			return "Bearer " + parts[0] + "." + parts[1] + "." + jwtB64.EncodeToString(sig)
		}},
		{name: "missing_bearer_prefix", auth: func(t *testing.T, a *api, p apitest.Tokens) string { return p.AccessToken }},
		{name: "basic_scheme", auth: func(t *testing.T, a *api, p apitest.Tokens) string { return "Basic " + p.AccessToken }},
		{name: "empty_token", auth: func(t *testing.T, a *api, p apitest.Tokens) string { return "Bearer " }},
		{name: "no_header", auth: func(t *testing.T, a *api, p apitest.Tokens) string { return "" }},
		{name: "refresh_token_as_bearer", auth: func(t *testing.T, a *api, p apitest.Tokens) string { return "Bearer " + p.RefreshToken }},
		{name: "session_deleted", auth: func(t *testing.T, a *api, p apitest.Tokens) string {
			if r := a.Call("DELETE", "/v1/me/sessions/"+sidOf(t, p.AccessToken), p.AccessToken, nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete own session: got %d %s, want 204", r.Status, r.Body)
			}
			return "Bearer " + p.AccessToken
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, migration.Postgres)
			p := a.SignIn("+919812345670")
			r := getMeWith(a, tc.auth(t, a, p))
			if tc.ok {
				if r.Status != http.StatusOK {
					t.Fatalf("got %d %s, want 200", r.Status, r.Body)
				}
				return
			}
			wantUnauthorized(t, r)
		})
	}
}

// advanceToAfterIssue moves the clock to d after the token's iat.
func advanceToAfterIssue(t *testing.T, a *api, token string, d time.Duration) {
	t.Helper()
	n, ok := accessClaims(t, token)["iat"].(json.Number)
	iat, err := n.Int64()
	if !ok || err != nil {
		t.Fatalf("token iat: got %v, want a number", accessClaims(t, token)["iat"])
	}
	a.Clock.Advance(time.Unix(iat, 0).Add(d).Sub(a.Clock.Now()))
}

// sessionJSON is one entry of GET /v1/me/sessions.
type sessionEntry struct {
	ID         string    `json:"id"`
	DeviceInfo *string   `json:"device_info"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

// listSessions returns the caller's sessions.
func listSessions(t *testing.T, a *api, bearer string) []sessionEntry {
	t.Helper()
	r := a.Call("GET", "/v1/me/sessions", bearer, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("list sessions: got %d %s, want 200", r.Status, r.Body)
	}
	var s []sessionEntry
	r.JSON(t, &s)
	return s
}

// storedSessions lists a user's session ids in the database, sorted.
func storedSessions(t *testing.T, a *api, userID string) []string {
	t.Helper()
	ids, err := a.Client.Session.Query().Where(session.UserID(uuid.MustParse(userID))).IDs(context.Background())
	if err != nil {
		t.Fatalf("query sessions: %v", err)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, id.String())
	}
	slices.Sort(out)
	return out
}

const (
	tokPhoneA = "+919812345670"
	tokPhoneB = "+919812345671"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("list_marks_current", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p1, p2 := a.SignIn(tokPhoneA), a.SignIn(tokPhoneA)
			for _, p := range []apitest.Tokens{p1, p2} {
				s := listSessions(t, a, p.AccessToken)
				if len(s) != 2 {
					t.Fatalf("sessions: got %d, want 2", len(s))
				}
				var current []string
				for _, e := range s {
					if e.Current {
						current = append(current, e.ID)
					}
					if e.DeviceInfo == nil || *e.DeviceInfo != "test device" || !e.ExpiresAt.After(e.CreatedAt) {
						t.Fatalf("session %+v: want device \"test device\" and an expiry after creation", e)
					}
				}
				if len(current) != 1 || current[0] != sidOf(t, p.AccessToken) {
					t.Fatalf("current: got %v, want only %s", current, sidOf(t, p.AccessToken))
				}
			}
		})
		t.Run("delete_other_users_session", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			pa, pb := a.SignIn(tokPhoneA), a.SignIn(tokPhoneB)
			apitest.WantError(t, a.Call("DELETE", "/v1/me/sessions/"+sidOf(t, pb.AccessToken), pa.AccessToken, nil), http.StatusNotFound, "not_found")
			if got := storedSessions(t, a, pb.User.ID); len(got) != 1 {
				t.Fatalf("the other user's sessions: got %v, want 1 left", got)
			}
			if r := a.Call("GET", "/v1/me", pb.AccessToken, nil); r.Status != http.StatusOK {
				t.Fatalf("the other user: got %d, want 200", r.Status)
			}
		})
		t.Run("delete_unknown", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p := a.SignIn(tokPhoneA)
			for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
				apitest.WantError(t, a.Call("DELETE", "/v1/me/sessions/"+id, p.AccessToken, nil), http.StatusNotFound, "not_found")
			}
			if got := storedSessions(t, a, p.User.ID); len(got) != 1 {
				t.Fatalf("sessions: got %v, want 1", got)
			}
		})
		t.Run("delete_own_other_session", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p1, p2 := a.SignIn(tokPhoneA), a.SignIn(tokPhoneA)
			if r := a.Call("DELETE", "/v1/me/sessions/"+sidOf(t, p1.AccessToken), p2.AccessToken, nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete: got %d %s, want 204", r.Status, r.Body)
			}
			apitest.WantError(t, a.Refresh(p1.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
			wantUnauthorized(t, a.Call("GET", "/v1/me", p1.AccessToken, nil))
			if got := storedSessions(t, a, p2.User.ID); !slices.Equal(got, []string{sidOf(t, p2.AccessToken)}) {
				t.Fatalf("sessions: got %v, want only %s", got, sidOf(t, p2.AccessToken))
			}
			if r := a.Refresh(p2.RefreshToken); r.Status != http.StatusOK {
				t.Fatalf("the remaining session's refresh: got %d %s, want 200", r.Status, r.Body)
			}
		})
	})
}

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
			wantUnauthorized(t, a.Call("POST", logout, p.AccessToken, nil))
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
			for _, tok := range []string{"garbage", p.RefreshToken[:len(p.RefreshToken)-2] + "AA"} {
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
