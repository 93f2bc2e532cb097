// Package accesstoken issues and verifies the service's JWT access tokens.
//
// Tokens are short-lived RFC 9068 access tokens ("typ": "at+jwt") signed with
// ES256 (default; public key published as a JWKS) or HS256 (one shared
// secret). Verification is strict: only the configured algorithm, issuer,
// audience and typ are accepted, so a token of another kind or service (an ID
// token, a refresh token, a key-confusion forgery) never passes.
package accesstoken

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Supported signing algorithms.
const (
	ES256 = "ES256"
	HS256 = "HS256"
)

// tokenType is the header typ of an access token (RFC 9068 section 2.1).
const tokenType = "at+jwt"

// leeway absorbs clock skew between the issuing and the verifying host.
const leeway = 30 * time.Second

// minSecretBytes is the shortest HS256 secret accepted: RFC 7518 section 3.2
// asks for a key at least as long as the hash output.
const minSecretBytes = 32

// ErrInvalid is wrapped by every verification failure. Messages say what
// failed but never include the token text.
var ErrInvalid = errors.New("accesstoken: invalid token")

// Config of the issuer.
type Config struct {
	Algorithm  string        // "ES256" (the default when empty) or "HS256"
	PrivateKey string        // ES256: PEM text or a path to a PEM file; EC P-256 key, PKCS#8 or SEC1
	Secret     string        // HS256: at least 32 bytes
	Issuer     string        // iss
	Audience   string        // aud (single string)
	TTL        time.Duration // exp = iat + TTL
}

// Claims are what a verified token says.
type Claims struct {
	UserID    uuid.UUID // sub
	SessionID uuid.UUID // sid
	Role      string    // "" when the user has no role yet (claim absent)
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Issuer signs and verifies access tokens with one configured key. It is safe
// for concurrent use.
type Issuer struct {
	alg       string
	method    jwt.SigningMethod
	signKey   any // *ecdsa.PrivateKey or []byte
	verifyKey any // *ecdsa.PublicKey or []byte
	kid       string
	issuer    string
	audience  string
	ttl       time.Duration
	now       func() time.Time
	parser    *jwt.Parser
	jwks      []byte
	verified  *memo // tokens already verified in full (memo.go)
}

// tokenClaims is the JSON payload of a token.
type tokenClaims struct {
	jwt.RegisteredClaims
	// Audience shadows RegisteredClaims.Audience so that aud is written as a
	// single string: jwt.MarshalSingleStringAsArray is a package global that
	// defaults to an array, and we do not touch globals.
	Audience string `json:"aud,omitempty"`
	Sid      string `json:"sid,omitempty"`
	Role     string `json:"role,omitempty"`
}

// GetAudience makes the validator see the shadowing single-string aud.
func (c tokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	if c.Audience == "" {
		return nil, nil
	}
	return jwt.ClaimStrings{c.Audience}, nil
}

// New builds an issuer; now is the clock. Errors name the bad setting and
// never include key material.
func New(cfg Config, now func() time.Time) (*Issuer, error) {
	if now == nil {
		return nil, errors.New("accesstoken: nil clock")
	}
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("JWT_ISSUER: must not be empty")
	case cfg.Audience == "":
		return nil, errors.New("JWT_AUDIENCE: must not be empty")
	case cfg.TTL <= 0:
		return nil, errors.New("ACCESS_TOKEN_TTL: must be > 0")
	}
	i := &Issuer{issuer: cfg.Issuer, audience: cfg.Audience, ttl: cfg.TTL, now: now, verified: newMemo()}
	switch cfg.Algorithm {
	case ES256, "":
		key, err := parseECPrivateKey(cfg.PrivateKey)
		if err != nil {
			return nil, err
		}
		jwks, kid, err := publicJWKS(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		i.alg, i.method, i.signKey, i.verifyKey = ES256, jwt.SigningMethodES256, key, &key.PublicKey
		i.kid, i.jwks = kid, jwks
	case HS256:
		if len(cfg.Secret) < minSecretBytes {
			return nil, fmt.Errorf("JWT_SECRET: must be at least %d bytes", minSecretBytes)
		}
		secret := []byte(cfg.Secret)
		i.alg, i.method, i.signKey, i.verifyKey = HS256, jwt.SigningMethodHS256, secret, secret
		i.jwks = []byte(`{"keys":[]}`)
	default:
		return nil, fmt.Errorf("JWT_ALGORITHM: must be ES256 or HS256, got %q", cfg.Algorithm)
	}
	i.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{i.alg}),
		jwt.WithIssuer(i.issuer),
		jwt.WithAudience(i.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	return i, nil
}

// Algorithm returns the signing algorithm, "ES256" or "HS256".
func (i *Issuer) Algorithm() string { return i.alg }

// JWKS returns the JSON Web Key Set publishing the verification key: the
// public EC key for ES256, no keys for HS256 (the secret is never published).
func (i *Issuer) JWKS() []byte { return bytes.Clone(i.jwks) }

// Issue returns a signed token for the user's session and its lifetime. An
// empty role is left out of the token.
func (i *Issuer) Issue(userID, sessionID uuid.UUID, role string) (token string, ttl time.Duration, err error) {
	if userID == uuid.Nil || sessionID == uuid.Nil {
		return "", 0, errors.New("issue access token: nil user or session id")
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", 0, fmt.Errorf("issue access token: jti: %w", err)
	}
	iat := jwt.NewNumericDate(i.now())
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   userID.String(),
			IssuedAt:  iat,
			ExpiresAt: jwt.NewNumericDate(iat.Add(i.ttl)),
			ID:        base64.RawURLEncoding.EncodeToString(jti),
		},
		Audience: i.audience,
		Sid:      sessionID.String(),
		Role:     role,
	}
	t := jwt.NewWithClaims(i.method, claims)
	t.Header["typ"] = tokenType
	if i.kid != "" {
		t.Header["kid"] = i.kid
	}
	token, err = t.SignedString(i.signKey)
	if err != nil {
		return "", 0, fmt.Errorf("issue access token: sign: %w", err)
	}
	return token, i.ttl, nil
}

// Verify parses a token, checks its signature and claims against the
// configuration and the clock, and returns what it says. Every failure wraps
// ErrInvalid. A token verified before is recognised by its digest and only
// its times are checked again (memo.go).
func (i *Issuer) Verify(token string) (*Claims, error) {
	key := sha256.Sum256([]byte(token))
	if r, ok := i.verified.get(key); ok {
		if err := i.checkTimes(r); err != nil {
			return nil, err
		}
		c := r.claims
		return &c, nil
	}
	r, err := i.verify(token)
	if err != nil {
		return nil, err
	}
	i.verified.put(key, r)
	c := r.claims
	return &c, nil
}

// verify checks a token in full.
func (i *Issuer) verify(token string) (remembered, error) {
	var c tokenClaims
	t, err := i.parser.ParseWithClaims(token, &c, i.keyFunc)
	if err != nil {
		return remembered{}, invalid(i.reason(t, err))
	}
	userID, ok := parseUUID(c.Subject)
	if !ok {
		return remembered{}, invalid("sub is not a user id")
	}
	sessionID, ok := parseUUID(c.Sid)
	if !ok {
		return remembered{}, invalid("sid is not a session id")
	}
	if c.IssuedAt == nil {
		return remembered{}, invalid("missing iat")
	}
	r := remembered{claims: Claims{
		UserID:    userID,
		SessionID: sessionID,
		Role:      c.Role,
		IssuedAt:  c.IssuedAt.UTC(),
		ExpiresAt: c.ExpiresAt.UTC(),
	}}
	if c.NotBefore != nil {
		r.notBefore = c.NotBefore.UTC()
	}
	return r, nil
}

// Errors the key function returns; reason turns them into messages.
var (
	errWrongTyp = errors.New("wrong typ")
	errWrongKid = errors.New("unknown kid")
	errCrit     = errors.New("unsupported crit header")
)

// keyFunc checks the header fields jwt does not know about and hands back the
// verification key. The algorithm was already checked by WithValidMethods.
func (i *Issuer) keyFunc(t *jwt.Token) (any, error) {
	if typ, ok := t.Header["typ"].(string); !ok || typ != tokenType {
		return nil, errWrongTyp
	}
	// RFC 7515 section 4.1.11: extensions we do not understand must be rejected.
	if _, ok := t.Header["crit"]; ok {
		return nil, errCrit
	}
	if kid, present := t.Header["kid"]; present && i.alg == ES256 {
		if s, ok := kid.(string); !ok || s != i.kid {
			return nil, errWrongKid
		}
	}
	return i.verifyKey, nil
}

// reason names what failed without quoting jwt's messages, some of which
// echo pieces of the token (JSON syntax and type errors).
func (i *Issuer) reason(t *jwt.Token, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case t == nil || t.Header["alg"] != i.alg:
		return "unexpected signing method"
	case errors.Is(err, errWrongTyp):
		return "wrong typ"
	case errors.Is(err, errCrit):
		return "unsupported crit header"
	case errors.Is(err, errWrongKid):
		return "unknown kid"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued in the future"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "missing required claim"
	case errors.Is(err, jwt.ErrInvalidType):
		return "claim of the wrong type"
	default:
		return "rejected"
	}
}

func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalid, reason)
}

// parseUUID accepts only the canonical lowercase hyphenated form we issue and
// never the nil UUID.
func parseUUID(s string) (uuid.UUID, bool) {
	id, err := uuid.Parse(s)
	if err != nil || id == uuid.Nil || id.String() != s {
		return uuid.Nil, false
	}
	return id, true
}
