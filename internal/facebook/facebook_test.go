package facebook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/facebook"
	"github.com/agency-platform/agency/internal/fakegraph"
	"github.com/agency-platform/agency/internal/upstream"
)

const (
	testAppID     = "1234567890"
	testAppSecret = "app-secret-5f1c9e"
)

// testNow is the injected clock; the fake has none, so expiry is decided
// by the verifier against this instant only.
var testNow = time.Unix(1_700_000_000, 0)

func clock() time.Time { return testNow }

func newVerifier(graphURL, secret string, timeout time.Duration) *facebook.Verifier {
	return facebook.New(facebook.Config{
		GraphURL:  graphURL,
		AppID:     testAppID,
		AppSecret: secret,
		Timeout:   timeout,
	}, clock)
}

// assertNoLeak fails if err's text holds the token, an app secret, a proof
// or a query parameter name (the sign of a quoted URL).
func assertNoLeak(t *testing.T, err error, token string, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	forbidden := []string{"input_token", "access_token", "appsecret_proof"}
	if token != "" {
		forbidden = append(forbidden, token)
	}
	for _, s := range secrets {
		forbidden = append(forbidden, s, fakegraph.Proof(s, token))
	}
	for _, f := range forbidden {
		if strings.Contains(msg, f) {
			t.Errorf("error %q contains %q, want no token, secret, proof or URL", msg, f)
		}
	}
}

func TestVerifier_Verify(t *testing.T) {
	full := fakegraph.User{
		ID: "10215241773831025", Name: "Asha Rao", Email: "asha@example.com",
		Picture: "https://pics.example/asha-large.jpg",
	}
	with := func(edit func(u *fakegraph.User)) *fakegraph.User {
		u := full
		edit(&u)
		return &u
	}
	tests := []struct {
		name      string
		user      *fakegraph.User // registered for the case's token; nil: unknown token
		token     string          // default "EAAtoken-" + name
		noToken   bool            // call Verify with ""
		secret    string          // the verifier's app secret; default testAppSecret
		urlSuffix string          // appended to the fake's URL
		down      bool
		want      *upstream.Identity
		wantErr   error
		wantCalls int // -1: don't check
	}{
		{
			name: "ok", user: &full, wantCalls: 2,
			want: &upstream.Identity{Subject: full.ID, Name: full.Name, Email: full.Email, EmailVerified: true, Picture: full.Picture},
		},
		{
			name: "ok_without_email", user: with(func(u *fakegraph.User) { u.Email = "" }), wantCalls: 2,
			want: &upstream.Identity{Subject: full.ID, Name: full.Name, Picture: full.Picture},
		},
		{
			name: "ok_expires_later", user: with(func(u *fakegraph.User) { u.ExpiresAt = testNow.Unix() + 3600 }), wantCalls: 2,
			want: &upstream.Identity{Subject: full.ID, Name: full.Name, Email: full.Email, EmailVerified: true, Picture: full.Picture},
		},
		{
			name: "ok_versioned_url_trailing_slash", user: &full, urlSuffix: "/v19.0/", wantCalls: 2,
			want: &upstream.Identity{Subject: full.ID, Name: full.Name, Email: full.Email, EmailVerified: true, Picture: full.Picture},
		},
		{name: "other_app", user: with(func(u *fakegraph.User) { u.AppID = "999999" }), wantErr: upstream.ErrInvalid, wantCalls: 1},
		{name: "page_token", user: with(func(u *fakegraph.User) { u.Type = "PAGE" }), wantErr: upstream.ErrInvalid, wantCalls: 1},
		{name: "expired", user: with(func(u *fakegraph.User) { u.ExpiresAt = testNow.Unix() - 1 }), wantErr: upstream.ErrInvalid, wantCalls: 1},
		{name: "expires_now", user: with(func(u *fakegraph.User) { u.ExpiresAt = testNow.Unix() }), wantErr: upstream.ErrInvalid, wantCalls: 1},
		{name: "not_valid", user: with(func(u *fakegraph.User) { u.Invalid = true }), wantErr: upstream.ErrInvalid, wantCalls: 1},
		{name: "no_user_id", user: with(func(u *fakegraph.User) { u.ID = "" }), wantErr: upstream.ErrInvalid, wantCalls: 1},
		{name: "unknown_token", wantErr: upstream.ErrInvalid, wantCalls: 1},
		{name: "user_id_mismatch", user: with(func(u *fakegraph.User) { u.MeID = "99999" }), wantErr: upstream.ErrInvalid, wantCalls: 2},
		{name: "wrong_app_secret", user: &full, secret: "not-the-app-secret", wantErr: upstream.ErrInvalid, wantCalls: 1},
		{name: "empty_token", user: &full, noToken: true, wantErr: upstream.ErrInvalid, wantCalls: 0},
		{name: "oversized_token", user: &full, token: strings.Repeat("A", 5000), wantErr: upstream.ErrInvalid, wantCalls: 0},
		{name: "down", user: &full, down: true, wantErr: upstream.ErrUnavailable, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := fakegraph.New(t, testAppID, testAppSecret)
			token := cmpOr(tt.token, "EAAtoken-"+tt.name)
			if tt.noToken {
				token = ""
			}
			if tt.user != nil {
				fake.AddUser(token, *tt.user)
			}
			fake.SetDown(tt.down)
			secret := cmpOr(tt.secret, testAppSecret)
			v := newVerifier(fake.URL+tt.urlSuffix, secret, 5*time.Second)

			got, err := v.Verify(context.Background(), token)

			if !errors.Is(err, tt.wantErr) || (err != nil && tt.wantErr == nil) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			assertNoLeak(t, err, token, testAppSecret, secret)
			if tt.want != nil && (got == nil || *got != *tt.want) {
				t.Errorf("got identity %+v, want %+v", got, tt.want)
			}
			if tt.wantErr != nil && got != nil {
				t.Errorf("got identity %+v with error, want nil", got)
			}
			if n := fake.Calls(); n != tt.wantCalls {
				t.Errorf("got %d graph calls, want %d", n, tt.wantCalls)
			}
		})
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestVerifier_VerifySlowGraph(t *testing.T) {
	fake := fakegraph.New(t, testAppID, testAppSecret)
	fake.AddUser("EAAtoken-slow", fakegraph.User{ID: "42", Name: "Slow"})
	fake.SetDelay(2 * time.Second)
	v := newVerifier(fake.URL, testAppSecret, 200*time.Millisecond)

	start := time.Now()
	_, err := v.Verify(context.Background(), "EAAtoken-slow")
	elapsed := time.Since(start)

	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Fatalf("got error %v, want %v", err, upstream.ErrUnavailable)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got error %v, want it to wrap context.DeadlineExceeded", err)
	}
	if elapsed > time.Second {
		t.Errorf("got Verify returning after %v, want under 1s", elapsed)
	}
	assertNoLeak(t, err, "EAAtoken-slow", testAppSecret)
}

func TestVerifier_VerifyUnreachable(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	v := newVerifier(closed.URL, testAppSecret, time.Second)

	_, err := v.Verify(context.Background(), "EAAtoken-unreachable")

	if !errors.Is(err, upstream.ErrUnavailable) {
		t.Fatalf("got error %v, want %v", err, upstream.ErrUnavailable)
	}
	assertNoLeak(t, err, "EAAtoken-unreachable", testAppSecret)
}

func TestVerifier_VerifyDisabled(t *testing.T) {
	fake := fakegraph.New(t, testAppID, testAppSecret)
	tests := []struct {
		name       string
		id, secret string
	}{
		{name: "no_app_id", secret: testAppSecret},
		{name: "no_app_secret", id: testAppID},
		{name: "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := facebook.New(facebook.Config{GraphURL: fake.URL, AppID: tt.id, AppSecret: tt.secret}, clock)
			if v.Enabled() {
				t.Errorf("got Enabled() true, want false")
			}
			// An empty token too: disabled is reported before anything else.
			for _, token := range []string{"EAAtoken-disabled", ""} {
				if _, err := v.Verify(context.Background(), token); !errors.Is(err, upstream.ErrDisabled) {
					t.Errorf("Verify(%q): got error %v, want %v", token, err, upstream.ErrDisabled)
				}
			}
		})
	}
	if n := fake.Calls(); n != 0 {
		t.Errorf("got %d graph calls, want 0", n)
	}
	if !newVerifier(fake.URL, testAppSecret, 0).Enabled() {
		t.Errorf("got Enabled() false with app id and secret, want true")
	}
}

// TestVerifier_VerifyGraphAnswers covers answers the fake never gives:
// Graph's odd shapes and things that are not Graph at all.
func TestVerifier_VerifyGraphAnswers(t *testing.T) {
	const token = "EAAtoken-answers"
	const meOK = `{"id":"42","name":"N","picture":{"data":{"url":"https://p.example/42"}}}`
	tests := []struct {
		name    string
		status  int
		body    string // debug_token's answer; /me always answers meOK
		wantErr error
	}{
		{name: "numeric_ids", status: 200, body: `{"data":{"app_id":1234567890,"type":"USER","is_valid":true,"expires_at":0,"user_id":42}}`},
		{name: "html_200", status: 200, body: `<html>oops</html>`, wantErr: upstream.ErrUnavailable},
		{name: "no_data", status: 200, body: `{}`, wantErr: upstream.ErrUnavailable},
		{name: "server_error", status: 500, body: `{"error":{"message":"boom","type":"OAuthException","code":1}}`, wantErr: upstream.ErrUnavailable},
		{name: "bad_gateway_html", status: 502, body: `<html>bad gateway</html>`, wantErr: upstream.ErrUnavailable},
		{name: "not_graph_404", status: 404, body: `<html>not found</html>`, wantErr: upstream.ErrUnavailable},
		{name: "too_many_requests", status: 429, body: `{}`, wantErr: upstream.ErrUnavailable},
		{name: "rate_limited_400", status: 400, body: `{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","code":4,"is_transient":true}}`, wantErr: upstream.ErrUnavailable},
		{
			name: "oauth_error_quoting_token", status: 400, wantErr: upstream.ErrInvalid,
			body: `{"error":{"message":"Malformed access token ` + token + `","type":"OAuthException","code":190,"fbtrace_id":"T1"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/me" {
					_, _ = io.WriteString(w, meOK)
					return
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			v := newVerifier(srv.URL, testAppSecret, 5*time.Second)

			got, err := v.Verify(context.Background(), token)

			if !errors.Is(err, tt.wantErr) || (err != nil && tt.wantErr == nil) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			assertNoLeak(t, err, token, testAppSecret)
			if tt.wantErr == nil && got.Subject != "42" {
				t.Errorf("got user id %q, want %q", got.Subject, "42")
			}
		})
	}
}
