package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
)

// TestHostileText: NUL, other control characters and (in names) bidi
// overrides in free-text fields get 422 validation_failed naming the
// field, before any state changes, on both dialects alike; what a provider
// supplies is stored without them.
func TestHostileText(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("full_name", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p := a.SignIn(otpTestPhone(1))
			for _, name := range []string{"Ada\x00Lovelace", "tab\there", "new\nline", "del\x7f", "c1\u0085", "\u202egnp.exe", "iso\u2066late"} {
				apitest.WantError(t, a.Call("PATCH", "/v1/me", p.AccessToken, map[string]string{"full_name": name}),
					http.StatusUnprocessableEntity, "validation_failed")
			}
			if u := userRow(t, a, p.User.ID); u.FullName != nil {
				t.Fatalf("full_name: got %q, want unchanged (none)", *u.FullName)
			}
			if r := a.Call("PATCH", "/v1/me", p.AccessToken, map[string]string{"full_name": "Ada \u05d0 Lovelace"}); r.Status != http.StatusOK {
				t.Fatalf("a name in two scripts: got %d %s, want 200", r.Status, r.Body)
			}
		})
		t.Run("device_info_before_the_code_is_spent", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			code := a.SendCode(otpPhone)
			for _, device := range []string{"phone\x00", "bad\u0007bell"} {
				r := a.Call("POST", "/v1/auth/otp/verify", "", map[string]string{"phone": otpPhone, "code": code, "device_info": device})
				if e := apitest.WantError(t, r, http.StatusUnprocessableEntity, "validation_failed"); e.Field != "device_info" {
					t.Fatalf("field: got %q, want device_info", e.Field)
				}
			}
			if rows := otpRows(t, a, otpPhone); len(rows) != 1 || rows[0].Attempts != 0 {
				t.Fatalf("the code after refused verifies: got %d rows, want it live with no attempt spent", len(rows))
			}
			r := a.Call("POST", "/v1/auth/otp/verify", "", map[string]string{"phone": otpPhone, "code": code, "device_info": "phone"})
			if r.Status != http.StatusOK {
				t.Fatalf("verify with a clean device_info: got %d %s, want 200", r.Status, r.Body)
			}
		})
		t.Run("provider_sign_in", func(t *testing.T) {
			t.Parallel()
			p := newProvAPI(t, d)
			tok := p.googleToken("g-1", map[string]any{"name": "Mallory\x00\u202e\x1bX", "email": "m\x00@example.com"})
			r := p.Call("POST", "/v1/auth/google", "", map[string]string{"id_token": tok, "device_info": "x\x00"})
			apitest.WantError(t, r, http.StatusUnprocessableEntity, "validation_failed")
			wantRowCounts(t, p.api, 0, 0)
			pair := mustPair(t, p.google(tok))
			wantStr(t, "full_name", userRow(t, p.api, pair.User.ID).FullName, "MalloryX")
		})
		t.Run("admin_q", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			admin := newAdmin(t, a, otpTestPhone(2))
			for _, q := range []string{"a\x00b", "\xff", "tab\t"} {
				r := listUsers(a, admin.AccessToken, url.Values{"q": {q}})
				if e := apitest.WantError(t, r, http.StatusUnprocessableEntity, "validation_failed"); e.Field != "q" {
					t.Fatalf("q %q: field got %q, want q", q, e.Field)
				}
			}
			if r := listUsers(a, admin.AccessToken, url.Values{"q": {strings.Repeat("é", 3)}}); r.Status != http.StatusOK {
				t.Fatalf("q with accents: got %d %s, want 200", r.Status, r.Body)
			}
		})
	})
}

// TestStall: with a table locked, a request's database work stops at
// DB_QUERY_TIMEOUT and answers 503 unavailable, instead of waiting as long
// as the lock lasts; once the lock goes, requests succeed again.
func TestStall(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres, "DB_QUERY_TIMEOUT=500ms")
	p := a.SignIn(otpTestPhone(1))
	ctx := context.Background()
	tx, err := a.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := a.Call("GET", "/v1/me", p.AccessToken, nil)
	took := time.Since(start)
	apitest.WantError(t, r, http.StatusServiceUnavailable, "unavailable")
	if r.Header.Get("Retry-After") == "" || took > 2*time.Second {
		t.Fatalf("stalled request: answered after %v with Retry-After %q, want within 2s with one", took, r.Header.Get("Retry-After"))
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if r := a.Call("GET", "/v1/me", p.AccessToken, nil); r.Status != http.StatusOK {
		t.Fatalf("after the lock: got %d %s, want 200", r.Status, r.Body)
	}
}

// TestClientGivesUp: a client that closes the connection while its request
// waits is logged as a cancelled request at INFO, not as a failure.
func TestClientGivesUp(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres, "DB_QUERY_TIMEOUT=5s")
	p := a.SignIn(otpTestPhone(1))
	ctx := context.Background()
	tx, err := a.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", a.Server.URL+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+p.AccessToken)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the request answered although the table was locked")
	}
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(a.Logs.String(), "status=499") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	logs := a.Logs.String()
	if !strings.Contains(logs, `level=INFO msg="request cancelled by the client"`) || !strings.Contains(logs, "status=499") {
		t.Fatalf("a client that gave up: want an INFO cancelled request with status 499 in the log, got:\n%s", logs)
	}
	if strings.Contains(logs, "level=ERROR") {
		t.Fatalf("a client that gave up was logged as an error:\n%s", logs)
	}
}

// TestHostileBodies sends hostile bodies to every route that reads one:
// each gets a JSON answer below 500, and one refused with a 4xx changes
// nothing in the database.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	bodies := map[string]string{
		"array": `[]`, "null": `null`, "string": `"x"`, "number": `5`, "empty_object_nulls": `{"phone":null,"code":null}`,
		"deep":         strings.Repeat(`{"a":`, 2000) + `1` + strings.Repeat(`}`, 2000),
		"deep_array":   `{"phone":` + strings.Repeat(`[`, 3000) + strings.Repeat(`]`, 3000) + `}`,
		"huge":         `{"phone":"` + strings.Repeat("9", 60_000) + `"}`,
		"wrong_types":  `{"phone":{"x":1},"code":[1],"refresh_token":true,"id_token":1,"access_token":2,"role":3,"full_name":4,"device_info":5}`,
		"unicode_dig":  `{"phone":"+٩١٩٨٧٦٥٤٣٢١٠","code":"١٢٣٤٥٦","device_info":"d"}`,
		"nul":          "{\"phone\":\"+91987\\u000065\",\"code\":\"12\\u00003456\",\"full_name\":\"a\\u0000b\",\"device_info\":\"\\u0000\"}",
		"invalid_utf8": "{\"phone\":\"\xff\xfe\",\"full_name\":\"\xc3\x28\"}",
		"sql":          `{"phone":"'; DROP TABLE users;--","code":"1' OR '1'='1","refresh_token":"' OR 1=1--","role":"admin' --"}`,
		"script":       `{"phone":"<script>alert(1)</script>","id_token":"<img src=x onerror=alert(1)>","access_token":"{{7*7}}"}`,
		"duplicates":   `{"phone":"+919876543210","phone":"+919876543211","code":"123456","code":"654321"}`,
		"case":         `{"Phone":"+919876543210","CODE":"123456","Role":"creator"}`,
		"huge_number":  `{"phone":1e999999,"code":-0.0e-99999}`,
		"unknown":      `{"__proto__":{"admin":true},"constructor":1}`,
	}
	p := newProvAPI(t, migration.Postgres)
	me := p.SignIn(otpTestPhone(1))
	admin := newAdmin(t, p.api, otpTestPhone(2))
	routes := []struct{ method, path, bearer string }{
		{"POST", "/v1/auth/otp/send", ""}, {"POST", "/v1/auth/otp/verify", ""}, {"POST", "/v1/auth/refresh", ""},
		{"POST", "/v1/auth/logout", ""}, {"POST", "/v1/auth/google", ""}, {"POST", "/v1/auth/facebook", ""},
		{"PATCH", "/v1/me", me.AccessToken}, {"PUT", "/v1/me/role", me.AccessToken},
		{"POST", "/v1/me/identities/phone", admin.AccessToken}, {"POST", "/v1/me/identities/google", admin.AccessToken},
		{"POST", "/v1/me/identities/facebook", admin.AccessToken}, {"PUT", "/v1/admin/users/" + me.User.ID + "/role", admin.AccessToken},
	}
	before := tableSnapshot(t, p.api)
	for _, rt := range routes {
		for name, body := range bodies {
			h := map[string]string{}
			if rt.bearer != "" {
				h["Authorization"] = "Bearer " + rt.bearer
			}
			r := p.Request(rt.method, rt.path, []byte(body), h)
			if r.Status >= 500 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s %s with %s: got %d %s, want a JSON answer below 500", rt.method, rt.path, name, r.Status, r.Body)
			}
			after := tableSnapshot(t, p.api)
			if r.Status >= 400 && after != before {
				t.Errorf("%s %s with %s: refused with %d, but the database changed:\n%s\n%s", rt.method, rt.path, name, r.Status, before, after)
			}
			before = after
		}
	}
}

// tableSnapshot describes the state hostile requests must leave alone.
func tableSnapshot(t *testing.T, a *api) string {
	t.Helper()
	var s string
	err := a.DB.QueryRow(`SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM user_auth_identities) || '/' ||
		(SELECT count(*) FROM user_refresh_tokens) || '/' || (SELECT count(*) FROM phone_otps) || '/' ||
		(SELECT coalesce(string_agg(coalesce(role::text, '-') || ':' || coalesce(full_name, '-'), ',' ORDER BY id), '') FROM users)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
