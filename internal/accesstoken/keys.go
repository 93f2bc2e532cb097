package accesstoken

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// GenerateES256PEM returns a fresh P-256 private key as PKCS#8 PEM, for dev
// mode when no key is configured.
func GenerateES256PEM() (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate ES256 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("generate ES256 key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// parseECPrivateKey reads a P-256 key from PEM text or from the PEM file the
// setting names. Errors never quote the setting: it may be key material that
// merely failed to look like PEM.
func parseECPrivateKey(setting string) (*ecdsa.PrivateKey, error) {
	text := strings.TrimSpace(setting)
	if text == "" {
		return nil, errors.New("JWT_PRIVATE_KEY: required for ES256")
	}
	if !strings.HasPrefix(text, "-----BEGIN") {
		data, err := os.ReadFile(text)
		if err != nil {
			// Drop the path from the error for the reason above.
			var pathErr *fs.PathError
			if errors.As(err, &pathErr) {
				err = pathErr.Err
			}
			return nil, fmt.Errorf("JWT_PRIVATE_KEY: not PEM text and not a readable file: %w", err)
		}
		text = string(data)
	}
	block := firstKeyBlock([]byte(text))
	if block == nil {
		return nil, errors.New("JWT_PRIVATE_KEY: no PEM private key block found")
	}
	var parsed any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("JWT_PRIVATE_KEY: not an EC P-256 key (PEM block %q)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("JWT_PRIVATE_KEY: invalid %s: %w", block.Type, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, errors.New("JWT_PRIVATE_KEY: not an EC P-256 key")
	}
	return key, nil
}

// firstKeyBlock skips the "EC PARAMETERS" block that `openssl ecparam
// -genkey` writes ahead of the key.
func firstKeyBlock(data []byte) *pem.Block {
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return nil
		}
		if block.Type != "EC PARAMETERS" {
			return block
		}
		data = rest
	}
}

// jwk is the public half of a P-256 key as a JSON Web Key (RFC 7517, 7518).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// publicJWKS returns the key set document for pub and its key id, the
// RFC 7638 thumbprint, so verifiers can pick the key after a rotation.
func publicJWKS(pub *ecdsa.PublicKey) (doc []byte, kid string, err error) {
	// Uncompressed point: 0x04 || X || Y, each coordinate left-padded to 32 bytes.
	point, err := pub.Bytes()
	if err != nil || len(point) != 65 {
		return nil, "", errors.New("JWT_PRIVATE_KEY: not an EC P-256 key")
	}
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := b64(point[1:33]), b64(point[33:])
	// RFC 7638: the required members only, in lexicographic order, no spaces.
	thumb := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	kid = b64(thumb[:])
	doc, err = json.Marshal(struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{{Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: kid, Alg: ES256, Use: "sig"}}})
	if err != nil {
		return nil, "", fmt.Errorf("marshal JWKS: %w", err)
	}
	return doc, kid, nil
}
