package google_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/fakeidp"
	"github.com/agency-platform/agency/internal/google"
	"github.com/agency-platform/agency/internal/upstream"
)

const (
	webClient = "web-client"
	iosClient = "ios-client"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is the injected clock: tokens are judged at t0, whatever the wall
// time.
func clock() time.Time { return t0 }

// newVerifier trusts idp, with no floor between key fetches (see
// TestVerifier_KeyRefreshFloor for the floor).
func newVerifier(idp *fakeidp.Server, timeout time.Duration) *google.Verifier {
	return google.New(google.Config{
		IssuerURL:      idp.URL,
		ClientIDs:      []string{webClient, iosClient},
		Timeout:        timeout,
		MinKeyRefresh:  -1,
		DiscoveryRetry: -1,
	}, clock)
}

// TestVerifier_SharedDiscovery: while the issuer hangs, concurrent first
// calls share one discovery and each answers within its timeout (not n
// timeouts for the n-th); a failure is answered from memory for
// DiscoveryRetry, then the issuer is asked again.
func TestVerifier_SharedDiscovery(t *testing.T) {
	t.Parallel()
	idp := fakeidp.New(t)
	now := t0
	var mu sync.Mutex
	v := google.New(google.Config{IssuerURL: idp.URL, ClientIDs: []string{webClient}, Timeout: 300 * time.Millisecond,
		DiscoveryRetry: time.Second}, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	tok := idp.Token(t, idp.Claims("user-1", webClient, t0))
	idp.SetDelay(3 * time.Second)
	var wg sync.WaitGroup
	took := make([]time.Duration, 8)
	for i := range took {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, upstream.ErrUnavailable) {
				t.Errorf("call %d with the issuer hanging: got %v, want unavailable", i, err)
			}
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i, d := range took {
		if d > 1500*time.Millisecond {
			t.Errorf("call %d of 8 answered after %v, want within its own 300ms timeout", i, d)
		}
	}
	if got := idp.Discoveries(); got != 1 {
		t.Errorf("discovery requests for 8 concurrent calls: got %d, want 1", got)
	}
	idp.SetDelay(0)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, upstream.ErrUnavailable) {
		t.Errorf("within DiscoveryRetry of the failure: got %v, want the remembered unavailable", err)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	mustVerify(t, v, tok)
}

// TestVerifier_KeyRefreshFloor: tokens with unknown key ids cost at most
// one JWKS fetch per MinKeyRefresh, however many arrive; a real rotation is
// picked up once the floor has passed.
func TestVerifier_KeyRefreshFloor(t *testing.T) {
	t.Parallel()
	idp := fakeidp.New(t)
	now := t0
	var mu sync.Mutex
	v := google.New(google.Config{IssuerURL: idp.URL, ClientIDs: []string{webClient}, Timeout: 2 * time.Second,
		MinKeyRefresh: 30 * time.Second}, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	claims := idp.Claims("user-1", webClient, t0)
	mustVerify(t, v, idp.Token(t, claims))
	before := idp.JWKSFetches()
	for i := range 30 {
		_, err := v.Verify(context.Background(), idp.SignWith(t, fakeidp.ForeignKey(t), fmt.Sprintf("made-up-%d", i), claims))
		if !errors.Is(err, upstream.ErrInvalid) {
			t.Fatalf("token %d with an unknown kid: got %v, want %v", i, err, upstream.ErrInvalid)
		}
		advance(time.Second)
	}
	if got := idp.JWKSFetches() - before; got > 1 {
		t.Fatalf("JWKS fetches for 30 unknown kids in 30s: got %d, want at most 1", got)
	}
	idp.RotateKey(t)
	advance(30 * time.Second)
	mustVerify(t, v, idp.Token(t, claims))
}

func TestVerifier_Verify(t *testing.T) {
	t.Parallel()
	idp := fakeidp.New(t)
	v := newVerifier(idp, 2*time.Second)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// with returns the default claims for user-1 with edits applied; a nil
	// value deletes the claim.
	with := func(edits map[string]any) map[string]any {
		c := idp.Claims("user-1", webClient, t0)
		for k, val := range edits {
			if val == nil {
				delete(c, k)
			} else {
				c[k] = val
			}
		}
		return c
	}
	bareIssuer := strings.TrimPrefix(idp.URL, "http://")
	okIdentity := &upstream.Identity{
		Subject:       "user-1",
		Email:         "user-1@example.com",
		EmailVerified: true,
		Name:          "Test User",
		Picture:       "https://example.com/p.png",
	}
	notVerified := *okIdentity
	notVerified.EmailVerified = false

	tests := []struct {
		name    string
		token   string
		want    *upstream.Identity
		wantErr error
	}{
		{name: "ok", token: idp.Token(t, with(nil)), want: okIdentity},
		{name: "ok_iss_without_scheme", token: idp.Token(t, with(map[string]any{"iss": bareIssuer})), want: okIdentity},
		{name: "ok_second_client_in_aud_list", token: idp.Token(t, with(map[string]any{"aud": []string{"someone-else", iosClient}, "azp": iosClient})), want: okIdentity},
		{name: "ok_azp_another_of_ours", token: idp.Token(t, with(map[string]any{"azp": iosClient})), want: okIdentity},
		{name: "aud_list_without_azp", token: idp.Token(t, with(map[string]any{"aud": []string{"someone-else", iosClient}})), wantErr: upstream.ErrInvalid},
		{name: "azp_foreign", token: idp.Token(t, with(map[string]any{"azp": "someone-else"})), wantErr: upstream.ErrInvalid},
		{name: "aud_list_azp_foreign", token: idp.Token(t, with(map[string]any{"aud": []string{"someone-else", iosClient}, "azp": "someone-else"})), wantErr: upstream.ErrInvalid},
		{name: "ok_iat_within_skew", token: idp.Token(t, with(map[string]any{"iat": t0.Add(4 * time.Minute).Unix()})), want: okIdentity},
		{name: "iat_a_day_ahead", token: idp.Token(t, with(map[string]any{"iat": t0.Add(24 * time.Hour).Unix()})), wantErr: upstream.ErrInvalid},
		{name: "iat_minutes_ahead", token: idp.Token(t, with(map[string]any{"iat": t0.Add(6 * time.Minute).Unix()})), wantErr: upstream.ErrInvalid},
		{name: "email_verified_string_true", token: idp.Token(t, with(map[string]any{"email_verified": "true"})), want: okIdentity},
		{name: "email_verified_string_false", token: idp.Token(t, with(map[string]any{"email_verified": "false"})), want: &notVerified},
		{name: "email_verified_not_bool", token: idp.Token(t, with(map[string]any{"email_verified": 1})), wantErr: upstream.ErrInvalid},
		{name: "wrong_key_same_kid", token: idp.SignWith(t, otherKey, "k1", with(nil)), wantErr: upstream.ErrInvalid},
		{name: "unknown_kid", token: idp.SignWith(t, otherKey, "k9", with(nil)), wantErr: upstream.ErrInvalid},
		{name: "wrong_aud", token: idp.Token(t, with(map[string]any{"aud": "someone-else"})), wantErr: upstream.ErrInvalid},
		{name: "empty_aud", token: idp.Token(t, with(map[string]any{"aud": ""})), wantErr: upstream.ErrInvalid},
		{name: "missing_aud", token: idp.Token(t, with(map[string]any{"aud": nil})), wantErr: upstream.ErrInvalid},
		{name: "wrong_iss", token: idp.Token(t, with(map[string]any{"iss": "https://evil.example.com"})), wantErr: upstream.ErrInvalid},
		{name: "iss_with_other_scheme", token: idp.Token(t, with(map[string]any{"iss": "https://" + bareIssuer})), wantErr: upstream.ErrInvalid},
		{name: "missing_sub", token: idp.Token(t, with(map[string]any{"sub": nil})), wantErr: upstream.ErrInvalid},
		{name: "expired", token: idp.Token(t, with(map[string]any{"exp": t0.Add(-time.Second).Unix()})), wantErr: upstream.ErrInvalid},
		{name: "missing_exp", token: idp.Token(t, with(map[string]any{"exp": nil})), wantErr: upstream.ErrInvalid},
		{name: "alg_none", token: rawJWT(t, map[string]any{"alg": "none", "typ": "JWT"}, with(nil), nil), wantErr: upstream.ErrInvalid},
		{name: "hs256", token: hs256(t, "k1", with(nil)), wantErr: upstream.ErrInvalid},
		{name: "garbage", token: "garbage-not-a-jwt-zq7", wantErr: upstream.ErrInvalid},
		{name: "empty", token: "", wantErr: upstream.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got error %v, want %v", err, tt.wantErr)
				}
				if tt.token != "" && strings.Contains(err.Error(), tt.token) {
					t.Errorf("got error %q, want it without the token text", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if *got != *tt.want {
				t.Errorf("got %+v, want %+v", *got, *tt.want)
			}
		})
	}
}

func TestVerifier_Disabled(t *testing.T) {
	t.Parallel()
	idp := fakeidp.New(t)
	tok := idp.Token(t, idp.Claims("user-1", webClient, t0))
	for _, ids := range [][]string{nil, {}, {""}} {
		v := google.New(google.Config{IssuerURL: idp.URL, ClientIDs: ids}, clock)
		if v.Enabled() {
			t.Errorf("client ids %q: got Enabled true, want false", ids)
		}
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, upstream.ErrDisabled) {
			t.Errorf("client ids %q: got error %v, want %v", ids, err, upstream.ErrDisabled)
		}
	}
	if got := idp.JWKSFetches(); got != 0 {
		t.Errorf("got %d JWKS fetches, want 0", got)
	}
}

func TestVerifier_KeyRotation(t *testing.T) {
	t.Parallel()
	idp := fakeidp.New(t)
	v := newVerifier(idp, 2*time.Second)
	claims := idp.Claims("user-1", webClient, t0)
	mustVerify(t, v, idp.Token(t, claims))
	before := idp.JWKSFetches()

	kid := idp.RotateKey(t)
	if kid == "k1" {
		t.Fatalf("got kid %q after rotation, want a new one", kid)
	}
	mustVerify(t, v, idp.Token(t, claims))
	if got := idp.JWKSFetches(); got <= before {
		t.Errorf("got %d JWKS fetches, want more than %d (refetch on unknown kid)", got, before)
	}
}

func TestVerifier_IssuerDown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// prepare runs before the issuer goes down and returns the token to
		// verify while it is down.
		prepare func(t *testing.T, idp *fakeidp.Server, v *google.Verifier) string
	}{
		{"discovery", func(t *testing.T, idp *fakeidp.Server, v *google.Verifier) string {
			return idp.Token(t, idp.Claims("user-1", webClient, t0))
		}},
		{"jwks", func(t *testing.T, idp *fakeidp.Server, v *google.Verifier) string {
			mustVerify(t, v, idp.Token(t, idp.Claims("user-1", webClient, t0)))
			idp.RotateKey(t) // the next token's kid forces a JWKS refetch
			return idp.Token(t, idp.Claims("user-1", webClient, t0))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := fakeidp.New(t)
			v := newVerifier(idp, 2*time.Second)
			tok := tt.prepare(t, idp, v)

			idp.SetDown(true)
			if _, err := v.Verify(context.Background(), tok); !errors.Is(err, upstream.ErrUnavailable) {
				t.Fatalf("issuer down: got error %v, want %v", err, upstream.ErrUnavailable)
			}
			idp.SetDown(false)
			// go-oidc hands a failed JWKS fetch's error to calls that join it
			// in the instant before it forgets it, so the first call after
			// recovery may still be unavailable, but never invalid.
			var err error
			for range 1000 {
				if _, err = v.Verify(context.Background(), tok); !errors.Is(err, upstream.ErrUnavailable) {
					break
				}
				runtime.Gosched()
			}
			if err != nil {
				t.Fatalf("issuer back up: got error %v, want nil (failure not cached)", err)
			}
		})
	}
}

func TestVerifier_SlowIssuer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, idp *fakeidp.Server, v *google.Verifier) string
	}{
		{"discovery", func(t *testing.T, idp *fakeidp.Server, v *google.Verifier) string {
			return idp.Token(t, idp.Claims("user-1", webClient, t0))
		}},
		{"jwks", func(t *testing.T, idp *fakeidp.Server, v *google.Verifier) string {
			mustVerify(t, v, idp.Token(t, idp.Claims("user-1", webClient, t0)))
			idp.RotateKey(t)
			return idp.Token(t, idp.Claims("user-1", webClient, t0))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := fakeidp.New(t)
			v := newVerifier(idp, 200*time.Millisecond)
			tok := tt.prepare(t, idp, v)

			idp.SetDelay(2 * time.Second)
			start := time.Now()
			_, err := v.Verify(context.Background(), tok)
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("got Verify taking %v, want under 1s", elapsed)
			}
			if !errors.Is(err, upstream.ErrUnavailable) {
				t.Errorf("got error %v, want %v", err, upstream.ErrUnavailable)
			}
		})
	}
}

func mustVerify(t *testing.T, v *google.Verifier, tok string) {
	t.Helper()
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
}

// rawJWT assembles a compact JWT from a header, claims and signature bytes,
// for tokens the fake issuer would never sign.
func rawJWT(t *testing.T, header, claims map[string]any, sig []byte) string {
	t.Helper()
	return signingInput(t, header, claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func signingInput(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
}

// hs256 signs with a shared secret, as an attacker would to slip past an
// RS256-only verifier.
func hs256(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	header := map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}
	mac := hmac.New(sha256.New, []byte("shared-secret"))
	mac.Write([]byte(signingInput(t, header, claims)))
	return rawJWT(t, header, claims, mac.Sum(nil))
}
