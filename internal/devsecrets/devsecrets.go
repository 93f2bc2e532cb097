// Package devsecrets keeps the secrets development mode generates in one
// file beside the embedded database, so a restart keeps sessions and
// access tokens valid. Production never uses it: there every secret must
// be configured.
package devsecrets

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/agency-platform/agency/internal/accesstoken"
)

// Secrets are the generated development secrets.
type Secrets struct {
	OTPSecret          string `json:"otp_secret"`
	RefreshTokenSecret string `json:"refresh_token_secret"`
	JWTSecret          string `json:"jwt_secret"`
	JWTPrivateKey      string `json:"jwt_private_key"`
}

// LoadOrCreate reads the file at path, generating (and saving, mode 0600)
// whatever is missing.
func LoadOrCreate(path string) (*Secrets, error) {
	var s Secrets
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("dev secrets: read %s: %w", path, err)
	default:
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("dev secrets: %s is not valid JSON; delete it to regenerate", path)
		}
	}
	changed := false
	for _, f := range []*string{&s.OTPSecret, &s.RefreshTokenSecret, &s.JWTSecret} {
		if *f == "" {
			if *f, err = random(); err != nil {
				return nil, err
			}
			changed = true
		}
	}
	if s.JWTPrivateKey == "" {
		if s.JWTPrivateKey, err = accesstoken.GenerateES256PEM(); err != nil {
			return nil, err
		}
		changed = true
	}
	if changed {
		if err := save(path, &s); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

func random() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("dev secrets: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func save(path string, s *Secrets) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("dev secrets: %w", err)
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("dev secrets: write %s: %w", path, err)
	}
	return nil
}
