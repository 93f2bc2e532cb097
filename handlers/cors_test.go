package handlers_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
)

const (
	corsOrigin      = "https://app.example.com"
	corsOtherOrigin = "https://evil.example.com"
)

// rawRequest sends a request the spec does not document (a preflight, an
// unknown path) without validating the answer against openapi.yaml.
func rawRequest(t *testing.T, a *api, method, path string, header map[string]string) apitest.Resp {
	t.Helper()
	req, err := http.NewRequest(method, a.Server.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return apitest.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// preflight sends the OPTIONS a browser sends before a cross-origin method.
func preflight(t *testing.T, a *api, path, origin, method string) apitest.Resp {
	t.Helper()
	return rawRequest(t, a, "OPTIONS", path, map[string]string{
		"Origin": origin, "Access-Control-Request-Method": method,
		"Access-Control-Request-Headers": "authorization, content-type",
	})
}

// corsHeaders are the Access-Control-* headers of a response.
func corsHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out = append(out, k+": "+h.Get(k))
		}
	}
	slices.Sort(out)
	return out
}

// wantNoCORS fails if r carries any Access-Control-* header.
func wantNoCORS(t *testing.T, r apitest.Resp) {
	t.Helper()
	if got := corsHeaders(r.Header); len(got) > 0 {
		t.Fatalf("got CORS headers %v, want none", got)
	}
}

// wantList fails unless the comma list in header key holds every one of want.
func wantList(t *testing.T, h http.Header, key string, want ...string) {
	t.Helper()
	var got []string
	for _, v := range strings.Split(strings.Join(h.Values(key), ","), ",") {
		got = append(got, strings.TrimSpace(v))
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.EqualFold(g, w) }) {
			t.Fatalf("%s: got %q, want it to list %s", key, got, w)
		}
	}
}

// wantAllowed fails unless r is a preflight answer allowing origin to call
// exactly the methods listed.
func wantAllowed(t *testing.T, r apitest.Resp, origin string, methods ...string) {
	t.Helper()
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("preflight: got %d %s, want 204 without a body", r.Status, r.Body)
	}
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Fatalf("Access-Control-Allow-Origin: got %q, want %q", got, origin)
	}
	got := strings.Split(r.Header.Get("Access-Control-Allow-Methods"), ", ")
	slices.Sort(got)
	slices.Sort(methods)
	if !slices.Equal(got, methods) {
		t.Fatalf("Access-Control-Allow-Methods: got %v, want %v", got, methods)
	}
	wantList(t, r.Header, "Access-Control-Allow-Headers", "Content-Type", "Authorization", "X-Request-ID")
	wantList(t, r.Header, "Vary", "Origin")
	if r.Header.Get("Access-Control-Max-Age") == "" {
		t.Fatal("Access-Control-Max-Age: missing")
	}
	if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "" {
		t.Fatalf("Access-Control-Allow-Credentials: got %q, want none (bearer tokens, no cookies)", got)
	}
}

// wantRefused fails unless r is a preflight answer that allows nothing.
func wantRefused(t *testing.T, r apitest.Resp) {
	t.Helper()
	if r.Status != http.StatusNoContent {
		t.Fatalf("preflight: got %d %s, want 204", r.Status, r.Body)
	}
	wantNoCORS(t, r)
}

// wantCORSRead fails unless the response r lets a page of origin read it.
func wantCORSRead(t *testing.T, r apitest.Resp, origin string) {
	t.Helper()
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Fatalf("Access-Control-Allow-Origin: got %q, want %q", got, origin)
	}
	wantList(t, r.Header, "Vary", "Origin")
	wantList(t, r.Header, "Access-Control-Expose-Headers", "X-Request-ID", "Retry-After")
	if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "" {
		t.Fatalf("Access-Control-Allow-Credentials: got %q, want none", got)
	}
}

func TestCORS_AllowedOrigins(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres, "CORS_ALLOWED_ORIGINS="+corsOrigin+",http://localhost:3000")
	session := "/v1/me/sessions/" + uuid.NewString()
	t.Run("preflight", func(t *testing.T) {
		wantAllowed(t, preflight(t, a, "/v1/me", corsOrigin, "PATCH"), corsOrigin, "GET", "PATCH", "DELETE")
		wantAllowed(t, preflight(t, a, "/v1/auth/otp/send", corsOrigin, "POST"), corsOrigin, "POST")
		wantAllowed(t, preflight(t, a, session, corsOrigin, "DELETE"), corsOrigin, "DELETE")
		wantAllowed(t, preflight(t, a, "/healthz", "http://localhost:3000", "GET"), "http://localhost:3000", "GET", "HEAD")
	})
	t.Run("preflight_other_origin", func(t *testing.T) {
		wantRefused(t, preflight(t, a, "/v1/me", corsOtherOrigin, "GET"))
		// Origins match exactly: no case folding, no prefix, no port change.
		for _, o := range []string{"https://APP.example.com", corsOrigin + ".evil.example", "https://app.example.com:8443", "null"} {
			wantRefused(t, preflight(t, a, "/v1/me", o, "GET"))
		}
	})
	t.Run("preflight_method_the_route_lacks", func(t *testing.T) {
		wantRefused(t, preflight(t, a, "/v1/me", corsOrigin, "PUT"))
		wantRefused(t, preflight(t, a, "/v1/auth/otp/send", corsOrigin, "GET"))
	})
	t.Run("preflight_unknown_path", func(t *testing.T) {
		wantRefused(t, preflight(t, a, "/v1/nope", corsOrigin, "GET"))
		wantRefused(t, preflight(t, a, "/metrics", corsOrigin, "GET"))
	})
	t.Run("request", func(t *testing.T) {
		r := a.Request("GET", "/healthz", nil, map[string]string{"Origin": corsOrigin})
		if r.Status != http.StatusOK {
			t.Fatalf("GET /healthz: got %d, want 200", r.Status)
		}
		wantCORSRead(t, r, corsOrigin)
		// Errors are readable too, so the app can show them.
		r = a.Request("GET", "/v1/me", nil, map[string]string{"Origin": corsOrigin})
		wantUnauthorized(t, r)
		wantCORSRead(t, r, corsOrigin)
	})
	t.Run("request_other_origin", func(t *testing.T) {
		r := a.Request("GET", "/healthz", nil, map[string]string{"Origin": corsOtherOrigin})
		if r.Status != http.StatusOK {
			t.Fatalf("GET /healthz: got %d, want 200", r.Status)
		}
		wantNoCORS(t, r)
		wantNoCORS(t, a.Request("GET", "/healthz", nil, nil))
	})
	t.Run("options_is_not_a_preflight_without_a_method", func(t *testing.T) {
		r := rawRequest(t, a, "OPTIONS", "/v1/me", map[string]string{"Origin": corsOrigin})
		apitest.WantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	})
}

// TestCORS_AnyOrigin: "*" (refused in production) lets every origin call,
// answered with the literal "*".
func TestCORS_AnyOrigin(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres, "CORS_ALLOWED_ORIGINS=*")
	wantAllowed(t, preflight(t, a, "/v1/auth/refresh", corsOtherOrigin, "POST"), "*", "POST")
	wantRefused(t, preflight(t, a, "/v1/auth/refresh", corsOtherOrigin, "GET"))
	wantCORSRead(t, a.Request("GET", "/healthz", nil, map[string]string{"Origin": "http://localhost:5173"}), "*")
	wantNoCORS(t, a.Request("GET", "/healthz", nil, nil))
}

// TestCORS_Off: with no origins configured nothing changes: a preflight is
// the JSON 405 of any method a path lacks, and no response carries CORS
// headers.
func TestCORS_Off(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	r := preflight(t, a, "/v1/me", corsOrigin, "GET")
	apitest.WantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	wantNoCORS(t, r)
	wantNoCORS(t, a.Request("GET", "/healthz", nil, map[string]string{"Origin": corsOrigin}))
}
