package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

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
		// Strict JSON: exact keys, each once, an object and nothing else.
		{name: "key_in_other_case", method: "POST", path: send, body: []byte(`{"PHONE":"+919876543210"}`),
			status: 400, code: "invalid_request", field: "PHONE"},
		{name: "duplicate_key", method: "POST", path: send, body: []byte(`{"phone":"+919876543210","phone":"+919876543211"}`),
			status: 400, code: "invalid_request", field: "phone"},
		{name: "null_body", method: "POST", path: send, body: []byte(`null`), status: 400, code: "invalid_request", field: ""},
		{name: "patch_me_null_body", method: "PATCH", path: me, signIn: true, body: []byte(`null`), status: 400, code: "invalid_request", field: ""},
		{name: "string_body", method: "POST", path: send, body: []byte(`"+919876543210"`), status: 400, code: "invalid_request", field: ""},
		{name: "invalid_utf8_value", method: "POST", path: send, body: []byte("{\"phone\":\"+9198765\xff43210\"}"),
			status: 400, code: "invalid_request", field: "phone"},
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
			if msg := r.ErrorBody().Message; strings.Contains(msg, "handlers.") || strings.Contains(msg, "*") || strings.Contains(msg, "struct") {
				t.Fatalf("message %q names Go types, want API words", msg)
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
		{"PUT", "/v1/me", http.StatusMethodNotAllowed, "method_not_allowed"},
		// Paths are exact: no redirect to the spelling that exists.
		{"GET", "/v1/me/", http.StatusNotFound, "not_found"},
		{"POST", "/v1/auth/refresh/", http.StatusNotFound, "not_found"},
		{"GET", "/healthz/", http.StatusNotFound, "not_found"},
		{"GET", "/V1/me", http.StatusNotFound, "not_found"},
	} {
		req, _ := http.NewRequest(tc.method, a.Server.URL+tc.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil && res.Request.URL.Path != tc.path {
			t.Errorf("%s %s: redirected to %s, want an answer at the path asked", tc.method, tc.path, res.Request.URL.Path)
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		r := apitest.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %s: Content-Type got %q, want JSON", tc.method, tc.path, ct)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options: got %q, want nosniff", tc.method, tc.path, got)
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

// TestTrustedProxies_AnyAddressWarns: trusting every address as a proxy
// lets any client pick the IP its limits count, so the start says so.
func TestTrustedProxies_AnyAddressWarns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		proxies string
		warn    bool
	}{
		{"0.0.0.0/0", true},
		{"10.0.0.0/8,::/0", true},
		{"10.0.0.0/8,192.168.1.1", false},
	} {
		a := newAPI(t, migration.SQLite, "TRUSTED_PROXIES="+tt.proxies)
		if got := strings.Contains(a.Logs.String(), "TRUSTED_PROXIES covers every address"); got != tt.warn {
			t.Errorf("TRUSTED_PROXIES=%s: warning logged %v, want %v", tt.proxies, got, tt.warn)
		}
	}
}

// TestHeaders: API responses (tokens, personal data, errors) are never
// cached; nothing is content-sniffed; paths are exact (a JSON 404, not a
// redirect); HEAD answers on the probes.
func TestHeaders(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	p := a.SignIn(otpTestPhone(1))
	for _, tt := range []struct {
		name    string
		r       apitest.Resp
		noStore bool
	}{
		{"otp_send", postSend(a, otpTestPhone(2)), true},
		{"refresh", a.Refresh(p.RefreshToken), true},
		{"me", a.Call("GET", "/v1/me", p.AccessToken, nil), true},
		{"unauthorized", a.Call("GET", "/v1/me", "", nil), true},
		{"admin_forbidden", a.Call("GET", "/v1/admin/users", p.AccessToken, nil), true},
		{"healthz", a.Call("GET", "/healthz", "", nil), false},
		{"jwks", a.Call("GET", "/.well-known/jwks.json", "", nil), false},
	} {
		if got := tt.r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options: got %q, want nosniff", tt.name, got)
		}
		if !tt.noStore {
			continue
		}
		if cc, pragma := tt.r.Header.Get("Cache-Control"), tt.r.Header.Get("Pragma"); cc != "no-store" || pragma != "no-cache" {
			t.Errorf("%s: Cache-Control %q, Pragma %q; want no-store and no-cache", tt.name, cc, pragma)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := a.Request("HEAD", path, nil, nil); r.Status != http.StatusOK || len(r.Body) != 0 {
			t.Errorf("HEAD %s: got %d with %d body bytes, want 200 and no body", path, r.Status, len(r.Body))
		}
	}
}

// TestIPv6ClientsCountedBy64: per-IP budgets count an IPv6 client by its
// /64 network, which one subscriber usually holds whole.
func TestIPv6ClientsCountedBy64(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres, "OTP_MAX_SENDS_PER_IP_PER_HOUR=2", "TRUSTED_PROXIES=127.0.0.1")
	send := func(i int, xff string) apitest.Resp {
		body, _ := json.Marshal(map[string]string{"phone": otpTestPhone(i)})
		return a.Request("POST", "/v1/auth/otp/send", body, map[string]string{"X-Forwarded-For": xff})
	}
	for i, xff := range []string{"2001:db8:1:2::1", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"} {
		if r := send(i, xff); r.Status != http.StatusAccepted {
			t.Fatalf("send %d from %s: got %d %s, want 202", i+1, xff, r.Status, r.Body)
		}
	}
	apitest.WantError(t, send(2, "2001:db8:1:2:ffff::9"), http.StatusTooManyRequests, "rate_limited")
	// Another /64 has its own budget; an IPv4-mapped address counts as IPv4.
	if r := send(3, "2001:db8:1:3::1"); r.Status != http.StatusAccepted {
		t.Fatalf("send from another /64: got %d %s, want 202", r.Status, r.Body)
	}
	for i, xff := range []string{"203.0.113.9", "::ffff:203.0.113.9"} {
		if r := send(4+i, xff); r.Status != http.StatusAccepted {
			t.Fatalf("send %d from %s: got %d %s, want 202", i+1, xff, r.Status, r.Body)
		}
	}
	apitest.WantError(t, send(6, "203.0.113.9"), http.StatusTooManyRequests, "rate_limited")
}
