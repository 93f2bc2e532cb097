package accesstoken_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/internal/accesstoken"
)

const (
	testIssuer   = "agency-test"
	testAudience = "agency-api"
	testSecret   = "0123456789abcdef0123456789abcdef"
	testTTL      = 15 * time.Minute
)

var (
	t0        = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	userID    = uuid.MustParse("0b6f2a52-9d4e-4c1a-8a57-3f1f0e4d2c11")
	sessionID = uuid.MustParse("5d0c6a3e-1b2f-4e8d-9c7a-6e5f4d3c2b1a")
	b64       = base64.RawURLEncoding
)

// clock is a fake clock the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// fixture is an ES256 issuer and an HS256 issuer sharing one clock, plus the
// ES256 private key so tests can sign tokens by hand.
type fixture struct {
	clock *clock
	es    *accesstoken.Issuer
	hs    *accesstoken.Issuer
	key   *ecdsa.PrivateKey
	kid   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	keyPEM, err := accesstoken.GenerateES256PEM()
	if err != nil {
		t.Fatalf("GenerateES256PEM: %v", err)
	}
	f := &fixture{clock: &clock{t: t0}, key: parseKey(t, keyPEM)}
	f.es = newIssuer(t, esConfig(keyPEM), f.clock)
	f.hs = newIssuer(t, hsConfig(), f.clock)
	f.kid = jwksKeys(t, f.es)[0]["kid"].(string)
	return f
}

func esConfig(keyPEM string) accesstoken.Config {
	return accesstoken.Config{Algorithm: "ES256", PrivateKey: keyPEM, Issuer: testIssuer, Audience: testAudience, TTL: testTTL}
}

func hsConfig() accesstoken.Config {
	return accesstoken.Config{Algorithm: "HS256", Secret: testSecret, Issuer: testIssuer, Audience: testAudience, TTL: testTTL}
}

func newIssuer(t *testing.T, cfg accesstoken.Config, c *clock) *accesstoken.Issuer {
	t.Helper()
	i, err := accesstoken.New(cfg, c.now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return i
}

func parseKey(t *testing.T, keyPEM string) *ecdsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode([]byte(keyPEM))
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("GenerateES256PEM: got no PKCS#8 PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("parse generated key: %v", err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("generated key: got %T, want a P-256 *ecdsa.PrivateKey", key)
	}
	return ec
}

func issue(t *testing.T, i *accesstoken.Issuer, role string) string {
	t.Helper()
	token, _, err := i.Issue(userID, sessionID, role)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return token
}

// segment decodes one JSON part (0 header, 1 payload) of a token.
func segment(t *testing.T, token string, n int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	raw, err := b64.DecodeString(parts[n])
	if err != nil {
		t.Fatalf("decode segment %d: %v", n, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("unmarshal segment %d: %v", n, err)
	}
	return m
}

func jwksKeys(t *testing.T, i *accesstoken.Issuer) []map[string]any {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(i.JWKS(), &doc); err != nil {
		t.Fatalf("unmarshal JWKS %s: %v", i.JWKS(), err)
	}
	return doc.Keys
}

// claims are valid claims for a token issued at t0, to be spoiled by a test.
func claims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer,
		"aud": testAudience,
		"sub": userID.String(),
		"sid": sessionID.String(),
		"iat": t0.Unix(),
		"exp": t0.Add(testTTL).Unix(),
		"jti": "test-jti",
	}
}

// sign signs c with the given method and key; header entries set to nil are
// removed from the default header.
func sign(t *testing.T, m jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	tok.Header["typ"] = "at+jwt"
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

func TestIssuer_RoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name   string
		issuer *accesstoken.Issuer
		alg    string
		role   string
	}{
		{name: "es256_with_role", issuer: f.es, alg: "ES256", role: "agent"},
		{name: "es256_no_role", issuer: f.es, alg: "ES256", role: ""},
		{name: "hs256_with_role", issuer: f.hs, alg: "HS256", role: "admin"},
		{name: "hs256_no_role", issuer: f.hs, alg: "HS256", role: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.t = t0
			if got := tt.issuer.Algorithm(); got != tt.alg {
				t.Fatalf("Algorithm: got %q, want %q", got, tt.alg)
			}
			token, ttl, err := tt.issuer.Issue(userID, sessionID, tt.role)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if ttl != testTTL {
				t.Errorf("ttl: got %v, want %v", ttl, testTTL)
			}
			f.clock.t = t0.Add(time.Minute)
			got, err := tt.issuer.Verify(token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := accesstoken.Claims{UserID: userID, SessionID: sessionID, Role: tt.role, IssuedAt: t0, ExpiresAt: t0.Add(testTTL)}
			if *got != want {
				t.Errorf("claims: got %+v, want %+v", *got, want)
			}
			checkHeader(t, segment(t, token, 0), tt.alg, f.kid)
			checkPayload(t, segment(t, token, 1), tt.role)
		})
	}
}

func checkHeader(t *testing.T, h map[string]any, alg, kid string) {
	t.Helper()
	if h["alg"] != alg || h["typ"] != "at+jwt" {
		t.Errorf("header alg/typ: got %v/%v, want %s/at+jwt", h["alg"], h["typ"], alg)
	}
	gotKid, present := h["kid"]
	switch {
	case alg == "HS256" && present:
		t.Errorf("header kid: got %v, want absent for HS256", gotKid)
	case alg == "ES256" && gotKid != kid:
		t.Errorf("header kid: got %v, want %s (the JWKS kid)", gotKid, kid)
	}
}

func checkPayload(t *testing.T, p map[string]any, role string) {
	t.Helper()
	if got, ok := p["aud"].(string); !ok || got != testAudience {
		t.Errorf("aud: got %#v, want the single string %q", p["aud"], testAudience)
	}
	if p["iss"] != testIssuer || p["sub"] != userID.String() || p["sid"] != sessionID.String() {
		t.Errorf("iss/sub/sid: got %v/%v/%v, want %s/%s/%s", p["iss"], p["sub"], p["sid"], testIssuer, userID, sessionID)
	}
	if iat, exp := p["iat"].(float64), p["exp"].(float64); int64(iat) != t0.Unix() || int64(exp-iat) != int64(testTTL.Seconds()) {
		t.Errorf("iat/exp: got %v/%v, want %d and iat+%v", iat, exp, t0.Unix(), testTTL)
	}
	if jti, err := b64.DecodeString(p["jti"].(string)); err != nil || len(jti) != 16 {
		t.Errorf("jti: got %v (%d bytes, err %v), want 128 random bits in base64url", p["jti"], len(jti), err)
	}
	gotRole, present := p["role"]
	switch {
	case role == "" && present:
		t.Errorf("role: got %v, want the claim absent", gotRole)
	case role != "" && gotRole != role:
		t.Errorf("role: got %v, want %q", gotRole, role)
	}
}

func TestIssuer_Issue_UniqueJTI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := segment(t, issue(t, f.es, ""), 1), segment(t, issue(t, f.es, ""), 1)
	if a["jti"] == b["jti"] {
		t.Errorf("jti: got %v twice, want a fresh one per token", a["jti"])
	}
}

func TestIssuer_Verify_Rejects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	es := jwt.SigningMethodES256
	ours := map[string]any{"kid": f.kid}

	tests := []struct {
		name   string
		issuer *accesstoken.Issuer // f.es unless set
		token  func(t *testing.T) string
		want   string // in the error message
	}{
		{name: "alg_none_by_hand", want: "unexpected signing method", token: func(t *testing.T) string {
			payload, _ := json.Marshal(claims())
			return b64.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + b64.EncodeToString(payload) + "."
		}},
		{name: "alg_none_via_library", want: "unexpected signing method", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, claims())
		}},
		{name: "alg_none_on_hs256", issuer: f.hs, want: "unexpected signing method", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, claims())
		}},
		{name: "hs256_with_public_key_pem", want: "unexpected signing method", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, pubPEM, ours, claims())
		}},
		{name: "hs256_with_public_key_der", want: "unexpected signing method", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, pubDER, ours, claims())
		}},
		{name: "es256_on_hs256", issuer: f.hs, want: "unexpected signing method", token: func(t *testing.T) string {
			return sign(t, es, f.key, nil, claims())
		}},
		{name: "hs256_other_secret", issuer: f.hs, want: "bad signature", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), nil, claims())
		}},
		{name: "other_ec_key_our_kid", want: "bad signature", token: func(t *testing.T) string {
			return sign(t, es, otherKey, ours, claims())
		}},
		{name: "other_ec_key_no_kid", want: "bad signature", token: func(t *testing.T) string {
			return sign(t, es, otherKey, nil, claims())
		}},
		{name: "wrong_kid", want: "unknown kid", token: func(t *testing.T) string {
			return sign(t, es, f.key, map[string]any{"kid": "not-our-key"}, claims())
		}},
		{name: "typ_JWT", want: "wrong typ", token: func(t *testing.T) string {
			return sign(t, es, f.key, map[string]any{"typ": "JWT", "kid": f.kid}, claims())
		}},
		{name: "typ_missing", want: "wrong typ", token: func(t *testing.T) string {
			return sign(t, es, f.key, map[string]any{"typ": nil, "kid": f.kid}, claims())
		}},
		{name: "typ_JWT_on_hs256", issuer: f.hs, want: "wrong typ", token: func(t *testing.T) string {
			return sign(t, jwt.SigningMethodHS256, []byte(testSecret), map[string]any{"typ": "JWT"}, claims())
		}},
		{name: "crit_header", want: "unsupported crit header", token: func(t *testing.T) string {
			return sign(t, es, f.key, map[string]any{"crit": []string{"exp"}}, claims())
		}},
		{name: "wrong_aud", want: "wrong audience", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "aud", "other-api"))
		}},
		{name: "missing_aud", want: "missing required claim", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "aud", nil))
		}},
		{name: "wrong_iss", want: "wrong issuer", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "iss", "evil"))
		}},
		{name: "missing_exp", want: "missing required claim", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "exp", nil))
		}},
		{name: "missing_iat", want: "missing iat", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "iat", nil))
		}},
		{name: "iat_in_future", want: "issued in the future", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "iat", t0.Add(time.Hour).Unix()))
		}},
		{name: "expired", want: "expired", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "exp", t0.Add(-31*time.Second).Unix()))
		}},
		{name: "tampered_role", want: "bad signature", token: func(t *testing.T) string {
			return tamper(t, issue(t, f.es, "client"), "role", "admin")
		}},
		{name: "tampered_role_hs256", issuer: f.hs, want: "bad signature", token: func(t *testing.T) string {
			return tamper(t, issue(t, f.hs, "client"), "role", "admin")
		}},
		{name: "sub_not_uuid", want: "sub is not a user id", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "sub", "alice"))
		}},
		{name: "sub_nil_uuid", want: "sub is not a user id", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "sub", uuid.Nil.String()))
		}},
		{name: "sub_uppercase_uuid", want: "sub is not a user id", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "sub", strings.ToUpper(userID.String())))
		}},
		{name: "aud_as_array", want: "malformed", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "aud", []string{testAudience}))
		}},
		{name: "sid_not_uuid", want: "sid is not a session id", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "sid", "s1"))
		}},
		{name: "role_not_string", want: "malformed", token: func(t *testing.T) string {
			return sign(t, es, f.key, ours, with(claims(), "role", 42))
		}},
		{name: "garbage", want: "malformed", token: func(*testing.T) string { return "garbage" }},
		{name: "garbage_three_parts", want: "malformed", token: func(*testing.T) string { return "a.b.c" }},
		{name: "empty", want: "malformed", token: func(*testing.T) string { return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.t = t0
			issuer := tt.issuer
			if issuer == nil {
				issuer = f.es
			}
			token := tt.token(t)
			got, err := issuer.Verify(token)
			if !errors.Is(err, accesstoken.ErrInvalid) {
				t.Fatalf("Verify: got (%+v, %v), want an error wrapping ErrInvalid", got, err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) {
				t.Errorf("error: got %q, want it to say %q", msg, tt.want)
			}
			if token != "" && strings.Contains(err.Error(), token) {
				t.Errorf("error: got %q, want it not to quote the token", err)
			}
		})
	}
}

// TestIssuer_Verify_HandSigned is the control for the forgeries above: the
// hand-signing helper with our key and nothing spoiled is accepted.
func TestIssuer_Verify_HandSigned(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name   string
		issuer *accesstoken.Issuer
		token  string
	}{
		{name: "es256_with_kid", issuer: f.es, token: sign(t, jwt.SigningMethodES256, f.key, map[string]any{"kid": f.kid}, claims())},
		{name: "es256_without_kid", issuer: f.es, token: sign(t, jwt.SigningMethodES256, f.key, nil, claims())},
		{name: "hs256", issuer: f.hs, token: sign(t, jwt.SigningMethodHS256, []byte(testSecret), nil, claims())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.issuer.Verify(tt.token)
			if err != nil {
				t.Fatalf("Verify: got %v, want nil", err)
			}
			if got.UserID != userID || got.SessionID != sessionID || got.Role != "" {
				t.Errorf("claims: got %+v, want user %s, session %s, no role", got, userID, sessionID)
			}
		})
	}
}

// tamper rewrites one payload claim and keeps the original signature.
func tamper(t *testing.T, token, claim string, value any) string {
	t.Helper()
	p := segment(t, token, 1)
	p[claim] = value
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	return parts[0] + "." + b64.EncodeToString(raw) + "." + parts[2]
}

func TestIssuer_Verify_Clock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	exp := t0.Add(testTTL)
	tests := []struct {
		name    string
		at      time.Time
		wantErr string // "" when the token must pass
	}{
		{name: "just_issued", at: t0},
		{name: "before_exp", at: exp.Add(-time.Second)},
		{name: "exp_plus_20s_leeway", at: exp.Add(20 * time.Second)},
		{name: "exp_plus_31s", at: exp.Add(31 * time.Second), wantErr: "expired"},
		{name: "verifier_20s_behind_issuer", at: t0.Add(-20 * time.Second)},
		{name: "verifier_31s_behind_issuer", at: t0.Add(-31 * time.Second), wantErr: "issued in the future"},
	}
	for _, tt := range tests {
		// Each case twice: a token seen for the first time, and one the
		// issuer verified before (at t0) and remembers: the clock's checks
		// must give the same answers on both paths.
		for _, seen := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/seen_before=%v", tt.name, seen), func(t *testing.T) {
				f.clock.t = t0
				token := issue(t, f.es, "")
				if seen {
					if _, err := f.es.Verify(token); err != nil {
						t.Fatalf("Verify at issue time: %v", err)
					}
				}
				f.clock.t = tt.at
				_, err := f.es.Verify(token)
				switch {
				case tt.wantErr == "" && err != nil:
					t.Errorf("Verify at %v: got %v, want nil", tt.at, err)
				case tt.wantErr != "" && (!errors.Is(err, accesstoken.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr)):
					t.Errorf("Verify at %v: got %v, want ErrInvalid saying %q", tt.at, err, tt.wantErr)
				}
			})
		}
	}
}

// TestIssuer_Verify_RememberedTokenStaysExact verifies a token, then
// presents it with one character changed at each position: none may pass on
// the strength of the remembered original (strict base64 decoding refuses
// even the unused bits of the last character), and the original still passes
// with the same claims.
func TestIssuer_Verify_RememberedTokenStaysExact(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, iss := range []*accesstoken.Issuer{f.es, f.hs} {
		token := issue(t, iss, "creator")
		want, err := iss.Verify(token)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		for pos := range len(token) {
			c := byte('A')
			if token[pos] == 'A' {
				c = 'B'
			}
			mutated := token[:pos] + string(c) + token[pos+1:]
			if _, err := iss.Verify(mutated); err == nil {
				t.Fatalf("position %d: a changed token passed", pos)
			}
		}
		got, err := iss.Verify(token)
		if err != nil || *got != *want {
			t.Fatalf("Verify again: got (%+v, %v), want (%+v, nil)", got, err, want)
		}
	}
}

func TestIssuer_Issue_NilIDs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name          string
		user, session uuid.UUID
	}{
		{name: "nil_user", user: uuid.Nil, session: sessionID},
		{name: "nil_session", user: userID, session: uuid.Nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if token, _, err := f.es.Issue(tt.user, tt.session, ""); err == nil {
				t.Errorf("Issue: got token %q, want an error", token)
			}
		})
	}
}
