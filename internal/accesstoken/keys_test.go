package accesstoken_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agency-platform/agency/internal/accesstoken"
)

func TestNew(t *testing.T) {
	t.Parallel()
	keyPEM, err := accesstoken.GenerateES256PEM()
	if err != nil {
		t.Fatal(err)
	}
	sec1DER, err := x509.MarshalECPrivateKey(parseKey(t, keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	// openssl ecparam -genkey writes an EC PARAMETERS block before the key.
	sec1PEM := "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + pemOf("EC PRIVATE KEY", sec1DER)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "jwt.pem")
	if err := os.WriteFile(keyFile, []byte(keyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	es := esConfig

	tests := []struct {
		name    string
		cfg     accesstoken.Config
		wantAlg string
		wantErr string // "" for success
	}{
		{name: "pkcs8_text", cfg: es(keyPEM), wantAlg: "ES256"},
		{name: "pkcs8_text_with_whitespace", cfg: es("\n  " + keyPEM + "\n"), wantAlg: "ES256"},
		{name: "sec1_text_after_ec_parameters", cfg: es(sec1PEM), wantAlg: "ES256"},
		{name: "pem_file_path", cfg: es(keyFile), wantAlg: "ES256"},
		{name: "algorithm_defaults_to_es256", cfg: func() accesstoken.Config { c := es(keyPEM); c.Algorithm = ""; return c }(), wantAlg: "ES256"},
		{name: "hs256", cfg: hsConfig(), wantAlg: "HS256"},
		{name: "missing_key", cfg: es(""), wantErr: "JWT_PRIVATE_KEY: required"},
		{name: "missing_file", cfg: es(filepath.Join(dir, "nope.pem")), wantErr: "JWT_PRIVATE_KEY: not PEM text and not a readable file"},
		{name: "bad_pem", cfg: es("-----BEGIN PRIVATE KEY-----\n!!!not base64!!!\n-----END PRIVATE KEY-----\n"), wantErr: "JWT_PRIVATE_KEY: no PEM private key block"},
		{name: "bad_der", cfg: es(pemOf("PRIVATE KEY", []byte("not a key"))), wantErr: "JWT_PRIVATE_KEY: invalid PRIVATE KEY"},
		{name: "rsa_pkcs8", cfg: es(pkcs8PEM(t, rsaKey)), wantErr: "JWT_PRIVATE_KEY: not an EC P-256 key"},
		{name: "rsa_pkcs1", cfg: es(pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))), wantErr: "JWT_PRIVATE_KEY: not an EC P-256 key"},
		{name: "ec_p384", cfg: es(pkcs8PEM(t, p384)), wantErr: "JWT_PRIVATE_KEY: not an EC P-256 key"},
		{name: "short_secret", cfg: func() accesstoken.Config { c := hsConfig(); c.Secret = "too-short-s3cret"; return c }(), wantErr: "JWT_SECRET: must be at least 32 bytes"},
		{name: "bad_algorithm", cfg: func() accesstoken.Config { c := hsConfig(); c.Algorithm = "RS256"; return c }(), wantErr: "JWT_ALGORITHM:"},
		{name: "no_issuer", cfg: func() accesstoken.Config { c := hsConfig(); c.Issuer = ""; return c }(), wantErr: "JWT_ISSUER:"},
		{name: "no_audience", cfg: func() accesstoken.Config { c := hsConfig(); c.Audience = ""; return c }(), wantErr: "JWT_AUDIENCE:"},
		{name: "zero_ttl", cfg: func() accesstoken.Config { c := hsConfig(); c.TTL = 0; return c }(), wantErr: "ACCESS_TOKEN_TTL:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: t0}
			i, err := accesstoken.New(tt.cfg, c.now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New: got error %v, want one containing %q", err, tt.wantErr)
				}
				checkNoSecrets(t, err.Error(), tt.cfg)
				return
			}
			if err != nil {
				t.Fatalf("New: got %v, want nil", err)
			}
			if got := i.Algorithm(); got != tt.wantAlg {
				t.Errorf("Algorithm: got %q, want %q", got, tt.wantAlg)
			}
			if _, err := i.Verify(issue(t, i, "")); err != nil {
				t.Errorf("Verify own token: got %v, want nil", err)
			}
		})
	}
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkcs8PEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

// checkNoSecrets fails if msg quotes the configured key, secret or key path.
func checkNoSecrets(t *testing.T, msg string, cfg accesstoken.Config) {
	t.Helper()
	for _, s := range []string{cfg.PrivateKey, cfg.Secret} {
		for _, line := range strings.Split(s, "\n") {
			if len(line) >= 8 && strings.Contains(msg, line) {
				t.Errorf("error %q quotes configured key material %q", msg, line)
			}
		}
	}
}

func TestIssuer_JWKS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	keys := jwksKeys(t, f.es)
	if len(keys) != 1 {
		t.Fatalf("JWKS keys: got %d, want 1", len(keys))
	}
	k := keys[0]
	if _, ok := k["d"]; ok {
		t.Fatalf("JWKS: got a private \"d\" member, want public parts only")
	}
	want := map[string]any{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig"}
	for name, v := range want {
		if k[name] != v {
			t.Errorf("JWKS %s: got %v, want %v", name, k[name], v)
		}
	}
	if len(k) != 7 {
		t.Errorf("JWKS members: got %v, want exactly kty crv x y kid alg use", k)
	}
	pub := jwkPublicKey(t, k)
	if !pub.Equal(&f.key.PublicKey) {
		t.Errorf("JWKS key: got a different public key than the configured one")
	}
	if got, want := k["kid"], thumbprint(k); got != want {
		t.Errorf("JWKS kid: got %v, want RFC 7638 thumbprint %s", got, want)
	}

	token := issue(t, f.es, "agent")
	parsed, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(f.clock.now))
	if err != nil || !parsed.Valid {
		t.Fatalf("verify issued token with the JWKS key: got %v, want valid", err)
	}
	if got := parsed.Header["kid"]; got != k["kid"] {
		t.Errorf("token kid: got %v, want JWKS kid %v", got, k["kid"])
	}

	if got := string(f.hs.JWKS()); got != `{"keys":[]}` {
		t.Errorf("HS256 JWKS: got %s, want {\"keys\":[]}", got)
	}
}

// TestIssuer_JWKS_Padding uses a key whose X or Y starts with a zero byte,
// which must still be encoded as 32 bytes.
func TestIssuer_JWKS_Padding(t *testing.T) {
	t.Parallel()
	var key *ecdsa.PrivateKey
	for n := 0; key == nil && n < 5000; n++ {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if point, _ := k.PublicKey.Bytes(); point[1] == 0 || point[33] == 0 {
			key = k
		}
	}
	if key == nil {
		t.Skip("no key with a leading zero coordinate byte found")
	}
	i := newIssuer(t, esConfig(pkcs8PEM(t, key)), &clock{t: t0})
	k := jwksKeys(t, i)[0]
	if pub := jwkPublicKey(t, k); !pub.Equal(&key.PublicKey) {
		t.Errorf("JWKS key: got a different public key than the configured one")
	}
}

// jwkPublicKey rebuilds a P-256 public key from a JWK's x and y.
func jwkPublicKey(t *testing.T, k map[string]any) *ecdsa.PublicKey {
	t.Helper()
	point := []byte{4}
	for _, name := range []string{"x", "y"} {
		s, _ := k[name].(string)
		c, err := b64.DecodeString(s)
		if err != nil || len(c) != 32 {
			t.Fatalf("JWKS %s: got %q (%d bytes, err %v), want 32 bytes of unpadded base64url", name, s, len(c), err)
		}
		point = append(point, c...)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		t.Fatalf("JWKS x/y: got an invalid P-256 point: %v", err)
	}
	return pub
}

// thumbprint computes the RFC 7638 thumbprint independently: json.Marshal
// of a map writes sorted keys and no whitespace.
func thumbprint(k map[string]any) string {
	raw, _ := json.Marshal(map[string]any{"crv": k["crv"], "kty": k["kty"], "x": k["x"], "y": k["y"]})
	sum := sha256.Sum256(raw)
	return b64.EncodeToString(sum[:])
}
