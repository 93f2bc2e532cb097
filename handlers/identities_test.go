package handlers_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/google/uuid"
)

// wrongCode returns a six-digit code different from code.
func wrongCode(code string) string {
	b := []byte(code)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}

func TestLinkPhone(t *testing.T) {
	t.Parallel()
	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		me := p.withRole("g-1")
		if r := p.Call("POST", "/v1/auth/otp/send", "", map[string]string{"phone": "+91 98000-00001"}); r.Status != http.StatusAccepted {
			t.Fatalf("send code: got %d %s, want 202", r.Status, r.Body)
		}
		code := p.SMS.Code(t, "+919800000001")
		id := mustLink(t, p.link(me.AccessToken, "phone", map[string]string{"phone": "+91 98000-00001", "code": code}))
		if id.Provider != "phone" || id.ProviderID != "+919800000001" || id.Email != nil {
			t.Fatalf("identity: got %+v, want phone +919800000001 without email", id)
		}
		if u := identityRow(t, p.api, authidentity.ProviderPhone, "+919800000001").UserID.String(); u != me.User.ID {
			t.Fatalf("phone identity user: got %s, want %s", u, me.User.ID)
		}
		// The number now signs in to the same user.
		p.Clock.Advance(p.Config.OTP.ResendCooldown)
		if got := p.SignIn("+919800000001").User.ID; got != me.User.ID {
			t.Fatalf("phone sign-in after linking: got user %s, want %s", got, me.User.ID)
		}
		wantRowCounts(t, p.api, 1, 2)
	})
	t.Run("wrong_code", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		me := p.withRole("g-1")
		code := p.SendCode("+919800000001")
		apitest.WantError(t, p.link(me.AccessToken, "phone", map[string]string{"phone": "+919800000001", "code": wrongCode(code)}),
			http.StatusUnauthorized, "invalid_otp")
		wantRowCounts(t, p.api, 1, 1)
	})
	t.Run("held_by_another_user", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		other := p.SignIn("+919800000001")
		me := p.withRole("g-1")
		code := p.SendCode("+919800000001")
		apitest.WantError(t, p.link(me.AccessToken, "phone", map[string]string{"phone": "+919800000001", "code": code}),
			http.StatusConflict, "identity_in_use")
		if u := identityRow(t, p.api, authidentity.ProviderPhone, "+919800000001").UserID.String(); u != other.User.ID {
			t.Fatalf("phone identity user: got %s, want it to stay with %s", u, other.User.ID)
		}
		wantRowCounts(t, p.api, 2, 2)
	})
}

// providerCase drives the same linking rules for Google and Facebook.
type providerCase struct {
	kind     string
	provider authidentity.Provider
	// account returns a fresh token of provider account id.
	account func(p *provAPI, id string) string
	signIn  func(p *provAPI, token string) apitest.Resp
	link    func(p *provAPI, bearer, token string) apitest.Resp
	badCode string
}

var providerCases = []providerCase{
	{
		kind: "google", provider: authidentity.ProviderGoogle, badCode: "invalid_id_token",
		account: func(p *provAPI, id string) string { return p.googleToken(id, nil) },
		signIn:  (*provAPI).google,
		link:    (*provAPI).linkGoogle,
	},
	{
		kind: "facebook", provider: authidentity.ProviderFacebook, badCode: "invalid_access_token",
		account: func(p *provAPI, id string) string {
			tok := "EAA-" + id
			p.fbUser(tok, id)
			return tok
		},
		signIn: (*provAPI).facebook,
		link:   (*provAPI).linkFacebook,
	},
}

func TestLinkProvider(t *testing.T) {
	t.Parallel()
	for _, pc := range providerCases {
		t.Run(pc.kind, func(t *testing.T) {
			t.Parallel()
			t.Run("ok", func(t *testing.T) {
				t.Parallel()
				p := newProvAPI(t, migration.Postgres)
				me := p.withRole("owner")
				id := mustLink(t, pc.link(p, me.AccessToken, pc.account(p, "acct-1")))
				if id.Provider != pc.kind || id.ProviderID != "acct-1" || id.Email == nil {
					t.Fatalf("identity: got %+v, want %s acct-1 with an email", id, pc.kind)
				}
				if got := mustPair(t, pc.signIn(p, pc.account(p, "acct-1"))).User.ID; got != me.User.ID {
					t.Fatalf("sign-in with the linked account: got user %s, want %s", got, me.User.ID)
				}
				wantRowCounts(t, p.api, 1, 2)
			})
			t.Run("held_by_another_user", func(t *testing.T) {
				t.Parallel()
				p := newProvAPI(t, migration.Postgres)
				other := mustPair(t, pc.signIn(p, pc.account(p, "acct-1")))
				me := p.withRole("owner")
				apitest.WantError(t, pc.link(p, me.AccessToken, pc.account(p, "acct-1")), http.StatusConflict, "identity_in_use")
				if u := identityRow(t, p.api, pc.provider, "acct-1").UserID.String(); u != other.User.ID {
					t.Fatalf("identity user: got %s, want it to stay with %s", u, other.User.ID)
				}
				wantRowCounts(t, p.api, 2, 2)
			})
			t.Run("callers_own_identity", func(t *testing.T) {
				t.Parallel()
				p := newProvAPI(t, migration.Postgres)
				me := p.withRole("owner")
				mustLink(t, pc.link(p, me.AccessToken, pc.account(p, "acct-1")))
				apitest.WantError(t, pc.link(p, me.AccessToken, pc.account(p, "acct-1")), http.StatusConflict, "identity_in_use")
				wantRowCounts(t, p.api, 1, 2)
			})
			t.Run("invalid_token", func(t *testing.T) {
				t.Parallel()
				p := newProvAPI(t, migration.Postgres)
				me := p.withRole("owner")
				apitest.WantError(t, pc.link(p, me.AccessToken, "forged"), http.StatusUnauthorized, pc.badCode)
				wantRowCounts(t, p.api, 1, 1)
			})
			t.Run("device_info_is_unknown_here", func(t *testing.T) {
				t.Parallel()
				p := newProvAPI(t, migration.Postgres)
				me := p.withRole("owner")
				body := map[string]string{"id_token": "x", "access_token": "x", "device_info": "phone"}
				delete(body, map[string]string{"google": "access_token", "facebook": "id_token"}[pc.kind])
				r := p.link(me.AccessToken, pc.kind, body)
				if code, field := errorOf(t, r); r.Status != http.StatusBadRequest || code != "invalid_request" || field != "device_info" {
					t.Fatalf("got %d %s field %q, want 400 invalid_request field device_info", r.Status, code, field)
				}
			})
		})
	}
}

func TestLink_Reauth(t *testing.T) {
	t.Parallel()
	t.Run("refreshing_does_not_renew_the_window", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		me := p.withRole("owner")
		p.Clock.Advance(11 * time.Minute)
		fresh := p.mustRefresh(me.RefreshToken)
		code := p.SendCode("+919800000001")
		apitest.WantError(t, p.linkGoogle(fresh.AccessToken, p.googleToken("acct-g", nil)), http.StatusForbidden, "reauth_required")
		apitest.WantError(t, p.linkFacebook(fresh.AccessToken, p.fbUserToken("acct-f")), http.StatusForbidden, "reauth_required")
		apitest.WantError(t, p.link(fresh.AccessToken, "phone", map[string]string{"phone": "+919800000001", "code": code}),
			http.StatusForbidden, "reauth_required")
		wantRowCounts(t, p.api, 1, 1)

		// Signing in again opens a new window; the refused phone link did
		// not spend the code.
		again := mustPair(t, p.google(p.googleToken("owner", nil)))
		mustLink(t, p.linkGoogle(again.AccessToken, p.googleToken("acct-g", nil)))
		mustLink(t, p.link(again.AccessToken, "phone", map[string]string{"phone": "+919800000001", "code": code}))
		wantRowCounts(t, p.api, 1, 3)
	})
	t.Run("within_ten_minutes", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		me := p.withRole("owner")
		p.Clock.Advance(10 * time.Minute)
		mustLink(t, p.linkGoogle(me.AccessToken, p.googleToken("acct-g", nil)))
	})
}

func TestLink_RoleRequired(t *testing.T) {
	t.Parallel()
	p := newProvAPI(t, migration.Postgres)
	me := mustPair(t, p.google(p.googleToken("owner", nil)))
	own := identityRow(t, p.api, authidentity.ProviderGoogle, "owner").ID.String()
	code := p.SendCode("+919800000001")
	tests := []struct {
		name string
		call func() apitest.Resp
	}{
		{"link_phone", func() apitest.Resp {
			return p.link(me.AccessToken, "phone", map[string]string{"phone": "+919800000001", "code": code})
		}},
		{"link_google", func() apitest.Resp { return p.linkGoogle(me.AccessToken, p.googleToken("acct-g", nil)) }},
		{"link_facebook", func() apitest.Resp { return p.linkFacebook(me.AccessToken, p.fbUserToken("acct-f")) }},
		{"unlink", func() apitest.Resp { return p.unlink(me.AccessToken, own) }},
		{"list", func() apitest.Resp { return p.Call("GET", "/v1/me/identities", me.AccessToken, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apitest.WantError(t, tt.call(), http.StatusForbidden, "role_required")
		})
	}
	wantRowCounts(t, p.api, 1, 1)
}

func newTally(n int) *statusTally {
	return &statusTally{status: make([]int, n), codes: make([]string, n)}
}

func TestLink_Concurrent(t *testing.T) {
	t.Parallel()
	t.Run("same_user_same_google_account", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		for round := range 3 {
			me := p.withRole("owner-" + string(rune('a'+round)))
			sub := "acct-" + string(rune('a'+round))
			tok := p.googleToken(sub, nil)
			tally := newTally(10)
			apitest.Release(10, func(i int) { tally.record(i, p.linkGoogle(me.AccessToken, tok)) })
			tally.want(t, http.StatusCreated, http.StatusConflict, "identity_in_use")
			if u := identityRow(t, p.api, authidentity.ProviderGoogle, sub).UserID.String(); u != me.User.ID {
				t.Fatalf("round %d: identity user: got %s, want %s", round, u, me.User.ID)
			}
			if n := userIdentityCount(t, p.api, me.User.ID); n != 2 {
				t.Fatalf("round %d: identities of the user: got %d, want 2", round, n)
			}
		}
	})
	t.Run("two_users_same_facebook_account", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		for round := range 5 {
			users := []apitest.Tokens{p.withRole("u1-" + string(rune('a'+round))), p.withRole("u2-" + string(rune('a'+round)))}
			tok := p.fbUserToken("fb-" + string(rune('a'+round)))
			tally := newTally(2)
			apitest.Release(2, func(i int) { tally.record(i, p.linkFacebook(users[i].AccessToken, tok)) })
			tally.want(t, http.StatusCreated, http.StatusConflict, "identity_in_use")
			winner := users[slices.Index(tally.status, http.StatusCreated)].User.ID
			if u := identityRow(t, p.api, authidentity.ProviderFacebook, "fb-"+string(rune('a'+round))).UserID.String(); u != winner {
				t.Fatalf("round %d: identity user: got %s, want the winner %s", round, u, winner)
			}
		}
	})
}

func TestUnlinkIdentity(t *testing.T) {
	t.Parallel()
	t.Run("two_then_last", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		me := p.withRole("owner")
		fb := mustLink(t, p.linkFacebook(me.AccessToken, p.fbUserToken("acct-f")))
		r := p.unlink(me.AccessToken, fb.ID)
		if r.Status != http.StatusNoContent {
			t.Fatalf("unlink one of two: got %d %s, want 204", r.Status, r.Body)
		}
		left := p.myIdentities(me.AccessToken)
		if len(left) != 1 || left[0].Provider != "google" {
			t.Fatalf("identities after unlink: got %+v, want the google one", left)
		}
		apitest.WantError(t, p.unlink(me.AccessToken, left[0].ID), http.StatusConflict, "last_identity")
		if n := userIdentityCount(t, p.api, me.User.ID); n != 1 {
			t.Fatalf("identities after refusing the last: got %d, want 1", n)
		}
	})
	t.Run("not_the_callers", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		other := p.SignIn("+919800000001")
		me := p.withRole("owner")
		mustLink(t, p.linkFacebook(me.AccessToken, p.fbUserToken("acct-f")))
		theirs := identityRow(t, p.api, authidentity.ProviderPhone, "+919800000001").ID.String()
		for _, id := range []string{theirs, uuid.NewString(), "not-a-uuid"} {
			apitest.WantError(t, p.unlink(me.AccessToken, id), http.StatusNotFound, "not_found")
		}
		if n := userIdentityCount(t, p.api, other.User.ID); n != 1 {
			t.Fatalf("the other user's identities: got %d, want 1", n)
		}
		if n := userIdentityCount(t, p.api, me.User.ID); n != 2 {
			t.Fatalf("the caller's identities: got %d, want 2", n)
		}
	})
	t.Run("concurrent_unlink_of_both", func(t *testing.T) {
		t.Parallel()
		p := newProvAPI(t, migration.Postgres)
		for round := range 5 {
			me := p.withRole("owner-" + string(rune('a'+round)))
			mustLink(t, p.linkFacebook(me.AccessToken, p.fbUserToken("acct-"+string(rune('a'+round)))))
			ids := p.myIdentities(me.AccessToken)
			if len(ids) != 2 {
				t.Fatalf("round %d: identities before: got %d, want 2", round, len(ids))
			}
			tally := newTally(2)
			apitest.Release(2, func(i int) { tally.record(i, p.unlink(me.AccessToken, ids[i].ID)) })
			tally.want(t, http.StatusNoContent, http.StatusConflict, "last_identity")
			if n := userIdentityCount(t, p.api, me.User.ID); n != 1 {
				t.Fatalf("round %d: identities after: got %d, want 1", round, n)
			}
		}
	})
}

func TestIdentities_ListedOnMe(t *testing.T) {
	t.Parallel()
	p := newProvAPI(t, migration.Postgres)
	me := p.withRole("owner")
	mustLink(t, p.linkFacebook(me.AccessToken, p.fbUserToken("acct-f")))
	code := p.SendCode("+919800000001")
	mustLink(t, p.link(me.AccessToken, "phone", map[string]string{"phone": "+919800000001", "code": code}))

	providerIDs := func(ids []linkedIdentity) []string {
		var out []string
		for _, id := range ids {
			out = append(out, id.Provider+":"+id.ProviderID)
		}
		slices.Sort(out)
		return out
	}
	want := []string{"facebook:acct-f", "google:owner", "phone:+919800000001"}
	if got := providerIDs(p.myIdentities(me.AccessToken)); !slices.Equal(got, want) {
		t.Fatalf("GET /v1/me identities: got %v, want %v", got, want)
	}
	r := p.Call("GET", "/v1/me/identities", me.AccessToken, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /v1/me/identities: got %d %s, want 200", r.Status, r.Body)
	}
	var list []linkedIdentity
	r.JSON(t, &list)
	if got := providerIDs(list); !slices.Equal(got, want) {
		t.Fatalf("GET /v1/me/identities: got %v, want %v", got, want)
	}
}
