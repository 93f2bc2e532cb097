// Package fakeidp is a local OpenID Connect issuer for tests: it serves
// discovery and a JWKS and signs ID tokens with its own RSA key.
package fakeidp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Server is a running fake issuer. URL is its issuer identifier and base URL
// (http://127.0.0.1:port, no trailing slash).
type Server struct {
	URL string

	mu      sync.Mutex
	key     *rsa.PrivateKey
	kid     string
	kids    int // keys generated so far, for the next kid
	delay   time.Duration
	down    bool
	fetches int
	// discoveries counts requests for the discovery document, answered or not.
	discoveries int
}

// Discoveries returns how many times the discovery document was asked for.
func (s *Server) Discoveries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.discoveries
}

// New starts a fake issuer with one RSA-2048 key, kid "k1". It is closed in
// t.Cleanup.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	s.RotateKey(t)
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Token signs claims, given verbatim, with the current key (RS256, header kid
// set to the current kid).
func (s *Server) Token(t testing.TB, claims map[string]any) string {
	t.Helper()
	s.mu.Lock()
	key, kid := s.key, s.kid
	s.mu.Unlock()
	return s.SignWith(t, key, kid, claims)
}

// Claims returns a valid claim set for sub and aud issued at now and
// expiring an hour later; callers edit the map to build bad tokens.
func (s *Server) Claims(sub, aud string, now time.Time) map[string]any {
	return map[string]any{
		"iss":            s.URL,
		"aud":            aud,
		"sub":            sub,
		"iat":            now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
		"email":          sub + "@example.com",
		"email_verified": true,
		"name":           "Test User",
		"picture":        "https://example.com/p.png",
	}
}

// SignWith signs claims with an arbitrary key and kid, to forge tokens the
// issuer never issued.
func (s *Server) SignWith(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}
	signingInput := encodeSegment(t, header) + "." + encodeSegment(t, claims)
	sum := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// RotateKey replaces the signing key with a new one under a new kid; the old
// key disappears from the JWKS. It returns the new kid.
func (s *Server) RotateKey(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	n := s.kids
	s.mu.Unlock()
	key := stock.key(t, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kids++
	s.key, s.kid = key, fmt.Sprintf("k%d", s.kids)
	return s.kid
}

// ForeignKey is an RSA-2048 key no fake issuer ever signs with or
// publishes, for forging tokens.
func ForeignKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	return stock.key(t, -1)
}

// keyStock generates RSA keys once per process: the n-th key of every
// fake issuer is the same (they are separate issuers, trusted by separate
// verifiers), so a test suite pays for a few keys instead of one per test.
// Generating an RSA-2048 key costs about 50 ms of CPU.
type keyStock struct {
	mu      sync.Mutex
	keys    map[int]*rsa.PrivateKey
	pending map[int]*sync.Once
}

var stock = keyStock{keys: map[int]*rsa.PrivateKey{}, pending: map[int]*sync.Once{}}

// key returns key number n (-1: the foreign key), generating it on first use.
func (k *keyStock) key(t testing.TB, n int) *rsa.PrivateKey {
	t.Helper()
	k.mu.Lock()
	once, ok := k.pending[n]
	if !ok {
		once = &sync.Once{}
		k.pending[n] = once
	}
	k.mu.Unlock()
	once.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(fmt.Sprintf("fakeidp: generate rsa key: %v", err))
		}
		k.mu.Lock()
		k.keys[n] = key
		k.mu.Unlock()
	})
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys[n]
}

// SetDelay makes every response wait d first (or until the client gives up).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetDown makes the issuer answer 503 to everything while down is true.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// JWKSFetches reports how many times the JWKS was served.
func (s *Server) JWKSFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delay, down := s.delay, s.down
	if r.URL.Path == "/.well-known/openid-configuration" {
		s.discoveries++
	}
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if down {
		http.Error(w, "issuer down", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		writeJSON(w, map[string]any{
			"issuer":                                s.URL,
			"authorization_endpoint":                s.URL + "/auth",
			"token_endpoint":                        s.URL + "/token",
			"jwks_uri":                              s.URL + "/jwks",
			"response_types_supported":              []string{"code", "id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	case "/jwks":
		writeJSON(w, s.jwks())
	default:
		http.NotFound(w, r)
	}
}

// jwks returns the public half of the current key and counts the fetch.
func (s *Server) jwks() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches++
	pub := s.key.PublicKey
	return map[string]any{"keys": []map[string]any{{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": s.kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func encodeSegment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode jwt segment: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
