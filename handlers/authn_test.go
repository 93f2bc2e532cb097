package handlers_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/accesstoken"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/golang-jwt/jwt/v5"
)

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
