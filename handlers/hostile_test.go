package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/agency-platform/agency/internal/apitest"
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
