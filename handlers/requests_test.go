package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent/user"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
)

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	const send, me = "/v1/auth/otp/send", "/v1/me"
	big := []byte(`{"phone":"` + strings.Repeat("1", 70_000) + `"}`)
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		header map[string]string
		signIn bool // send a valid bearer token
		status int
		code   string
		field  string // "-": not checked
	}{
		{name: "text_plain", method: "POST", path: send, body: []byte(`{"phone":"+919876543210"}`),
			header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: "unsupported_media_type", field: "-"},
		{name: "no_content_type", method: "POST", path: send, body: []byte(`{"phone":"+919876543210"}`),
			header: map[string]string{"Content-Type": ""}, status: 415, code: "unsupported_media_type", field: "-"},
		{name: "json_with_charset", method: "POST", path: send, body: []byte(`{"phone":"+919876543210"}`),
			header: map[string]string{"Content-Type": "application/json; charset=utf-8"}, status: 202},
		{name: "malformed_json", method: "POST", path: send, body: []byte(`{"phone":`), status: 400, code: "invalid_request", field: ""},
		{name: "not_an_object", method: "POST", path: send, body: []byte(`["+919876543210"]`), status: 400, code: "invalid_request", field: "-"},
		{name: "unknown_field", method: "POST", path: send, body: []byte(`{"phone":"+919876543210","x":1}`), status: 400, code: "invalid_request", field: "x"},
		{name: "wrong_type", method: "POST", path: send, body: []byte(`{"phone":5}`), status: 400, code: "invalid_request", field: "phone"},
		{name: "missing_phone", method: "POST", path: send, body: []byte(`{}`), status: 400, code: "invalid_request", field: "phone"},
		{name: "null_phone", method: "POST", path: send, body: []byte(`{"phone":null}`), status: 400, code: "invalid_request", field: "phone"},
		{name: "verify_missing_code", method: "POST", path: "/v1/auth/otp/verify", body: []byte(`{"phone":"+919876543210"}`),
			status: 400, code: "invalid_request", field: "code"},
		{name: "body_too_large", method: "POST", path: send, body: big, status: 413, code: "body_too_large", field: "-"},
		{name: "empty_body", method: "POST", path: send, body: []byte{}, status: 400, code: "invalid_request", field: "-"},
		{name: "two_objects", method: "POST", path: send, body: []byte(`{"phone":"+919876543210"}{"phone":"+919876543211"}`),
			status: 400, code: "invalid_request", field: "-"},
		{name: "trailing_garbage", method: "POST", path: send, body: []byte(`{"phone":"+919876543210"} x`),
			status: 400, code: "invalid_request", field: "-"},
		{name: "auth_header_too_long", method: "GET", path: me,
			header: map[string]string{"Authorization": "Bearer " + strings.Repeat("a", 9000)}, status: 400, code: "invalid_request", field: "-"},
		{name: "auth_header_too_long_signed_in", method: "GET", path: me, signIn: true,
			header: map[string]string{"X-Pad": "x"}, status: 400, code: "invalid_request", field: "-"},
		{name: "patch_me_unknown_field", method: "PATCH", path: me, signIn: true, body: []byte(`{"role":"admin"}`),
			status: 400, code: "invalid_request", field: "role"},
		{name: "patch_me_wrong_type", method: "PATCH", path: me, signIn: true, body: []byte(`{"full_name":7}`),
			status: 400, code: "invalid_request", field: "full_name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, migration.Postgres)
			header := map[string]string{}
			if tc.signIn {
				p := a.SignIn("+919812345670")
				header["Authorization"] = "Bearer " + p.AccessToken
				if tc.name == "auth_header_too_long_signed_in" {
					// A real token padded past 8 KiB (inner spaces, which the
					// bearer parser would trim) is refused before parsing.
					header["Authorization"] = "Bearer" + strings.Repeat(" ", 9000) + p.AccessToken
				}
			}
			for k, v := range tc.header {
				header[k] = v
			}
			sent := a.SMS.Count()
			r := a.Request(tc.method, tc.path, tc.body, header)
			if r.Status != tc.status {
				t.Fatalf("got %d %s, want %d", r.Status, r.Body, tc.status)
			}
			if tc.code == "" {
				return
			}
			code, field := errorOf(t, r)
			if code != tc.code || (tc.field != "-" && field != tc.field) {
				t.Fatalf("got code %q field %q, want %q %q", code, field, tc.code, tc.field)
			}
			if tc.path == send && a.SMS.Count() != sent {
				t.Fatalf("SMS sent: got %d, want none for a refused request", a.SMS.Count()-sent)
			}
		})
	}
}

// TestRequestBodyTooLargeChunked sends an oversized body without a
// Content-Length, so only the reader's cap can catch it.
func TestRequestBodyTooLargeChunked(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	body := io.MultiReader(strings.NewReader(`{"phone":"`), strings.NewReader(strings.Repeat("1", 70_000)), strings.NewReader(`"}`))
	req, err := http.NewRequest("POST", a.Server.URL+"/v1/auth/otp/send", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a.Spec.CheckResponse(t, req, res.StatusCode, res.Header, b)
	r := apitest.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
	apitest.WantError(t, r, http.StatusRequestEntityTooLarge, "body_too_large")
}

// meUser is the User part of GET/PATCH /v1/me.
type meUser struct {
	ID                string    `json:"id"`
	Role              *string   `json:"role"`
	FullName          *string   `json:"full_name"`
	ProfilePictureURL *string   `json:"profile_picture_url"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func TestProfileUpdate(t *testing.T) {
	t.Parallel()
	longURL := func(n int) string { return "https://img.example/" + strings.Repeat("a", n-len("https://img.example/")) }
	tests := []struct {
		name  string
		body  map[string]string
		field string // "": accepted
	}{
		{name: "empty_name", body: map[string]string{"full_name": ""}, field: "full_name"},
		{name: "name_256", body: map[string]string{"full_name": strings.Repeat("n", 256)}, field: "full_name"},
		{name: "ftp_url", body: map[string]string{"profile_picture_url": "ftp://x"}, field: "profile_picture_url"},
		{name: "url_without_host", body: map[string]string{"profile_picture_url": "https://"}, field: "profile_picture_url"},
		{name: "url_2049", body: map[string]string{"profile_picture_url": longURL(2049)}, field: "profile_picture_url"},
		{name: "bad_url_with_good_name", body: map[string]string{"full_name": "Asha", "profile_picture_url": "javascript:alert(1)"}, field: "profile_picture_url"},
		{name: "valid", body: map[string]string{"full_name": "Asha Rao", "profile_picture_url": "https://img.example/a.png"}},
		{name: "valid_at_limits", body: map[string]string{"full_name": strings.Repeat("n", 255), "profile_picture_url": longURL(2048)}},
		{name: "valid_multibyte_name", body: map[string]string{"full_name": strings.Repeat("अ", 100)}},
		{name: "valid_name_only", body: map[string]string{"full_name": "Ravi"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, migration.Postgres)
			p := a.SignIn("+919812345670")
			var before, after, got meUser
			a.Call("GET", "/v1/me", p.AccessToken, nil).JSON(t, &before)
			a.Clock.Advance(time.Minute) // updated_at must move whichever clock stamps it
			r := a.Call("PATCH", "/v1/me", p.AccessToken, tc.body)
			a.Call("GET", "/v1/me", p.AccessToken, nil).JSON(t, &after)
			if tc.field != "" {
				if r.Status != http.StatusUnprocessableEntity && !(tc.field == "-" && r.Status == http.StatusBadRequest) {
					t.Fatalf("got %d %s, want 422", r.Status, r.Body)
				}
				if code, field := errorOf(t, r); tc.field != "-" && (code != "validation_failed" || field != tc.field) {
					t.Fatalf("got %s field %q, want validation_failed field %q", code, field, tc.field)
				}
				if after.FullName != nil || after.ProfilePictureURL != nil || !after.UpdatedAt.Equal(before.UpdatedAt) {
					t.Fatalf("a refused update changed the user: got %+v, want %+v", after, before)
				}
				return
			}
			r.JSON(t, &got)
			if r.Status != http.StatusOK {
				t.Fatalf("got %d %s, want 200\n%s", r.Status, r.Body, a.Logs)
			}
			for _, u := range []meUser{got, after} {
				if !sameOptional(u.FullName, tc.body, "full_name") || !sameOptional(u.ProfilePictureURL, tc.body, "profile_picture_url") {
					t.Fatalf("got %+v, want the values of %v", u, tc.body)
				}
			}
			if !got.UpdatedAt.After(before.UpdatedAt) || !got.CreatedAt.Equal(before.CreatedAt) || got.ID != before.ID {
				t.Fatalf("timestamps: got created %v updated %v, had created %v updated %v; want updated_at moved only",
					got.CreatedAt, got.UpdatedAt, before.CreatedAt, before.UpdatedAt)
			}
		})
	}
}

// sameOptional reports whether got carries body[key], or is nil when the
// body did not set key.
func sameOptional(got *string, body map[string]string, key string) bool {
	want, ok := body[key]
	if !ok {
		return got == nil
	}
	return got != nil && *got == want
}

func TestRoleSet(t *testing.T) {
	t.Parallel()
	t.Run("invalid_roles", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, migration.Postgres)
		p := a.SignIn("+919812345670")
		for _, role := range []string{"admin", "boss", "", "Creator", " creator"} {
			apitest.WantError(t, a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]string{"role": role}),
				http.StatusUnprocessableEntity, "invalid_role")
		}
		apitest.WantError(t, a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]any{}), http.StatusBadRequest, "invalid_request")
		var me meUser
		a.Call("GET", "/v1/me", p.AccessToken, nil).JSON(t, &me)
		if me.Role != nil {
			t.Fatalf("role after refused sets: got %q, want null", *me.Role)
		}
	})
	t.Run("set_once", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, migration.Postgres)
		p := a.SignIn("+919812345670")
		r := a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]string{"role": "brand"})
		var q apitest.Tokens
		r.JSON(t, &q)
		if r.Status != http.StatusOK || q.User.Role == nil || *q.User.Role != "brand" || q.User.NeedsRole {
			t.Fatalf("first set: got %d %s, want 200 with role brand", r.Status, r.Body)
		}
		if claims := accessClaims(t, q.AccessToken); claims["role"] != "brand" {
			t.Fatalf("access token role claim: got %v, want brand", claims["role"])
		}
		apitest.WantError(t, a.Call("PUT", "/v1/me/role", q.AccessToken, map[string]string{"role": "creator"}),
			http.StatusConflict, "role_already_set")
		apitest.WantError(t, a.Call("PUT", "/v1/me/role", q.AccessToken, map[string]string{"role": "brand"}),
			http.StatusConflict, "role_already_set")
		u, err := a.Client.User.Get(context.Background(), uuid.MustParse(p.User.ID))
		if err != nil || u.Role == nil || *u.Role != user.RoleBrand {
			t.Fatalf("stored role: got %v (%v), want brand", u, err)
		}
	})
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("race", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			for i := range 10 {
				p := a.SignIn(otpTestPhone(i))
				roles := []string{"creator", "gifter"}
				status := make([]int, 2)
				errCode := make([]string, 2)
				apitest.Release(2, func(j int) {
					r := a.Call("PUT", "/v1/me/role", p.AccessToken, map[string]string{"role": roles[j]})
					status[j], errCode[j] = r.Status, r.ErrCode()
				})
				winner := -1
				for j := range 2 {
					if status[j] == http.StatusOK {
						winner = j
					} else if status[j] != http.StatusConflict || errCode[j] != "role_already_set" {
						t.Fatalf("round %d: got %v %v, want one 200 and one 409 role_already_set", i, status, errCode)
					}
				}
				if winner < 0 || status[0] == status[1] {
					t.Fatalf("round %d: got %v %v, want one 200 and one 409", i, status, errCode)
				}
				u, err := a.Client.User.Get(context.Background(), uuid.MustParse(p.User.ID))
				if err != nil || u.Role == nil || string(*u.Role) != roles[winner] {
					t.Fatalf("round %d: stored role: got %v (%v), want %s", i, u, err, roles[winner])
				}
			}
		})
	})
}

// accessClaims decodes (without verifying) the payload of a JWT.
func accessClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token: got %d parts, want 3", len(parts))
	}
	b, err := jwtB64.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode token payload: %v", err)
	}
	var c map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode token payload: %v", err)
	}
	return c
}

// TestRequestRouting calls undocumented routes directly: the spec
// validator would reject them.
func TestRequestRouting(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/v1/nope", http.StatusNotFound, "not_found"},
		{"POST", "/nope", http.StatusNotFound, "not_found"},
		{"GET", "/v1/auth/otp/send", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"DELETE", "/v1/me", http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		req, _ := http.NewRequest(tc.method, a.Server.URL+tc.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		r := apitest.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %s: Content-Type got %q, want JSON", tc.method, tc.path, ct)
		}
		if r.Status != tc.status || r.ErrCode() != tc.code {
			t.Fatalf("%s %s: got %d %s, want %d %s", tc.method, tc.path, r.Status, b, tc.status, tc.code)
		}
	}
}

func TestProxyClientIP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     []string
		allowed int // of three sends from three forwarded addresses
	}{
		{name: "untrusted_by_default", allowed: 2},
		{name: "trusted_loopback", env: []string{"TRUSTED_PROXIES=127.0.0.1"}, allowed: 3},
		{name: "trusted_cidr", env: []string{"TRUSTED_PROXIES=127.0.0.0/8"}, allowed: 3},
		{name: "other_proxy_trusted", env: []string{"TRUSTED_PROXIES=10.0.0.0/8"}, allowed: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, migration.Postgres, append([]string{"OTP_MAX_SENDS_PER_IP_PER_HOUR=2"}, tc.env...)...)
			for i, xff := range []string{"203.0.113.1", "203.0.113.2", "198.51.100.7, 203.0.113.3"} {
				body, _ := json.Marshal(map[string]string{"phone": otpTestPhone(i)})
				r := a.Request("POST", "/v1/auth/otp/send", body, map[string]string{"X-Forwarded-For": xff})
				if i < tc.allowed {
					if r.Status != http.StatusAccepted {
						t.Fatalf("send %d (X-Forwarded-For %s): got %d %s, want 202", i+1, xff, r.Status, r.Body)
					}
					continue
				}
				apitest.WantError(t, r, http.StatusTooManyRequests, "rate_limited")
			}
		})
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	r := a.Call("GET", "/.well-known/jwks.json", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("got %d %s, want 200", r.Status, r.Body)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	r.JSON(t, &set)
	if len(set.Keys) != 1 {
		t.Fatalf("keys: got %d, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] == "" || k["kid"] == nil || k["x"] == nil || k["y"] == nil {
		t.Fatalf("key: got %v, want a P-256 ES256 signing key with a kid", k)
	}
	if _, ok := k["d"]; ok {
		t.Fatalf("the JWKS publishes the private part d")
	}
	// The kid is the one the issued apitest.Tokens carry.
	p := a.SignIn("+919812345670")
	if h := tokenHeader(t, p.AccessToken); h["kid"] != k["kid"] || h["alg"] != "ES256" || h["typ"] != "at+jwt" {
		t.Fatalf("token header: got %v, want kid %v, alg ES256, typ at+jwt", h, k["kid"])
	}
}

// tokenHeader decodes (without verifying) the header of a JWT.
func tokenHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	b, err := jwtB64.DecodeString(head)
	if err != nil {
		t.Fatalf("decode token header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("decode token header: %v", err)
	}
	return h
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	r := a.Call("GET", "/openapi.yaml", "", nil)
	if r.Status != http.StatusOK || !bytes.HasPrefix(r.Body, []byte("openapi:")) {
		t.Fatalf("got %d %.40q, want 200 and a body starting with openapi:", r.Status, r.Body)
	}
	want, err := os.ReadFile(apitest.SpecPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Body, want) {
		t.Fatalf("the served spec differs from openapi.yaml")
	}
}
