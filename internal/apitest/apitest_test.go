package apitest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

const specPath = "../../openapi.yaml"

// recorder is a testing.TB that records Errorf and Fatalf calls instead of
// failing, so tests can assert that CheckResponse reports a mismatch.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.TB.FailNow()
}

func newRecorder(t *testing.T) *recorder { return &recorder{TB: t} }

const (
	userJSON = `{"id":"0b8f6a6e-3f0c-4f7e-9a53-3f5f0f1c2d4e","role":null,"full_name":null,` +
		`"profile_picture_url":null,"needs_role":true,` +
		`"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05.123456Z"}`
	tokenPairJSON = `{"access_token":"eyJhbGciOiJFUzI1NiJ9.e30.sig","token_type":"Bearer","expires_in":900,` +
		`"refresh_token":"rt_abc","user":` + userJSON + `}`
	errorJSON = `{"error":{"code":"invalid_otp","message":"the code is wrong or expired","request_id":"abc123"}}`
)

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json; charset=utf-8"}}
}

func TestLoad_ValidatesTheSpec(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if got, want := doc.OpenAPI, "3.0.3"; got != want {
		t.Errorf("openapi version: got %q, want %q", got, want)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Summary == "" || op.Description == "" || len(op.Tags) == 0 {
				t.Errorf("%s %s: want operationId, summary, description and tags", method, path)
			}
			if op.Responses.Status(http.StatusInternalServerError) == nil {
				t.Errorf("%s %s: 500 is not documented", method, path)
			}
			if op.RequestBody != nil {
				for _, code := range []int{400, 413, 415} {
					if op.Responses.Status(code) == nil {
						t.Errorf("%s %s has a body, but %d is not documented", method, path, code)
					}
				}
			}
			if op.Security != nil && len(*op.Security) > 0 && op.Responses.Status(http.StatusUnauthorized) == nil {
				t.Errorf("%s %s takes a bearer token, but 401 is not documented", method, path)
			}
		}
	}
}

func TestLoad_Caches(t *testing.T) {
	t.Parallel()
	a, b := Load(t, specPath), Load(t, "./"+specPath)
	if a != b {
		t.Errorf("got two loads of one file, want one shared *Spec")
	}
}

func TestSpec_CheckResponse(t *testing.T) {
	t.Parallel()
	spec := Load(t, specPath)
	yamlBody, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		method  string
		target  string
		status  int
		header  http.Header
		body    string
		wantErr string // substring of the reported failure; "" means it must pass
	}{
		{name: "ok_token_pair", method: "POST", target: "http://example.com:1234/v1/auth/otp/verify",
			status: 200, header: jsonHeader(), body: tokenPairJSON},
		{name: "ok_error_body", method: "POST", target: "/v1/auth/otp/verify",
			status: 401, header: jsonHeader(), body: errorJSON},
		{name: "ok_no_content", method: "DELETE", target: "/v1/me/sessions/0b8f6a6e-3f0c-4f7e-9a53-3f5f0f1c2d4e",
			status: 204},
		{name: "ok_logout_with_query", method: "POST", target: "/v1/auth/logout?scope=global", status: 204},
		{name: "ok_yaml", method: "GET", target: "/openapi.yaml",
			status: 200, header: http.Header{"Content-Type": {"application/yaml"}}, body: string(yamlBody)},
		{name: "ok_retry_after", method: "POST", target: "/v1/auth/otp/send", status: 429,
			header: http.Header{"Content-Type": {"application/json"}, "Retry-After": {"42"}},
			body:   `{"error":{"code":"otp_resend_too_soon","message":"wait"}}`},
		{name: "extra_property", method: "POST", target: "/v1/auth/otp/verify",
			status: 200, header: jsonHeader(), body: strings.Replace(tokenPairJSON, `"expires_in"`, `"scope":"x","expires_in"`, 1),
			wantErr: "scope"},
		{name: "extra_property_in_error", method: "POST", target: "/v1/auth/otp/verify",
			status: 401, header: jsonHeader(), body: `{"error":{"code":"invalid_otp","message":"m","detail":"x"}}`,
			wantErr: "detail"},
		{name: "missing_required", method: "POST", target: "/v1/auth/refresh",
			status: 200, header: jsonHeader(), body: strings.Replace(tokenPairJSON, `"token_type":"Bearer",`, "", 1),
			wantErr: "token_type"},
		{name: "bad_uuid", method: "POST", target: "/v1/auth/refresh",
			status: 200, header: jsonHeader(), body: strings.Replace(tokenPairJSON, "0b8f6a6e-3f0c", "not-a-uuid", 1),
			wantErr: "uuid"},
		{name: "ok_role_set", method: "PUT", target: "/v1/me/role", status: 200, header: jsonHeader(),
			body: strings.Replace(strings.Replace(tokenPairJSON, `"role":null`, `"role":"creator"`, 1), `"needs_role":true`, `"needs_role":false`, 1)},
		{name: "bad_user_role", method: "PUT", target: "/v1/me/role", status: 200, header: jsonHeader(),
			body: strings.Replace(tokenPairJSON, `"role":null`, `"role":"superuser"`, 1), wantErr: `"/user/role"`},
		{name: "bad_provider", method: "GET", target: "/v1/me/identities", status: 200, header: jsonHeader(),
			body:    `[{"id":"0b8f6a6e-3f0c-4f7e-9a53-3f5f0f1c2d4e","provider":"twitter","provider_id":"1","email":null,"created_at":"2025-01-02T03:04:05Z"}]`,
			wantErr: `"/0/provider"`},
		{name: "undocumented_status", method: "POST", target: "/v1/auth/otp/verify",
			status: http.StatusTeapot, header: jsonHeader(), body: errorJSON, wantErr: "status is not supported"},
		{name: "undocumented_path", method: "GET", target: "/v1/nope",
			status: 200, header: jsonHeader(), body: `{}`, wantErr: "route not documented"},
		{name: "undocumented_method", method: "PUT", target: "/v1/me",
			status: 204, wantErr: "route not documented"},
		{name: "body_on_no_content", method: "POST", target: "/v1/auth/logout",
			status: 204, header: jsonHeader(), body: `{}`, wantErr: "has a body"},
		{name: "undocumented_media_type", method: "GET", target: "/healthz",
			status: 200, header: http.Header{"Content-Type": {"text/plain"}}, body: "ok", wantErr: "text/plain"},
		{name: "bad_header", method: "POST", target: "/v1/auth/otp/send", status: 429,
			header:  http.Header{"Content-Type": {"application/json"}, "Retry-After": {"soon"}},
			body:    `{"error":{"code":"rate_limited","message":"wait"}}`,
			wantErr: "Retry-After"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t)
			req := httptest.NewRequest(tt.method, tt.target, nil)
			spec.CheckResponse(rec, req, tt.status, tt.header, []byte(tt.body))
			if tt.wantErr == "" {
				if len(rec.errors) != 0 {
					t.Errorf("got failures %q, want none", rec.errors)
				}
				return
			}
			if len(rec.errors) != 1 {
				t.Fatalf("got %d failures %q, want 1", len(rec.errors), rec.errors)
			}
			msg := rec.errors[0]
			for _, want := range []string{tt.wantErr, tt.method, req.URL.Path, fmt.Sprint(tt.status)} {
				if !strings.Contains(msg, want) {
					t.Errorf("got failure %q, want it to mention %q", msg, want)
				}
			}
		})
	}
}

func TestSpec_CheckResponse_TruncatesBody(t *testing.T) {
	t.Parallel()
	spec := Load(t, specPath)
	rec := newRecorder(t)
	body := `{"status":"ok","pad":"` + strings.Repeat("x", 2000) + `"}`
	spec.CheckResponse(rec, httptest.NewRequest("GET", "/healthz", nil), 200, jsonHeader(), []byte(body))
	if len(rec.errors) != 1 {
		t.Fatalf("got %d failures, want 1", len(rec.errors))
	}
	if strings.Contains(rec.errors[0], strings.Repeat("x", 600)) {
		t.Errorf("got the whole body in the failure, want it cut to %d bytes", maxBodyInError)
	}
}

func TestSpec_CheckResponse_Concurrent(t *testing.T) {
	t.Parallel()
	spec := Load(t, specPath)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rec := newRecorder(t)
			spec.CheckResponse(rec, httptest.NewRequest("POST", "/v1/auth/otp/verify", nil), 200, jsonHeader(), []byte(tokenPairJSON))
			spec.CheckResponse(rec, httptest.NewRequest("POST", "/v1/auth/otp/verify", nil), 401, jsonHeader(), []byte(errorJSON))
			if len(rec.errors) != 0 {
				t.Errorf("got failures %q, want none", rec.errors)
			}
		}()
	}
	close(start)
	wg.Wait()
}
