package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent/auditevent"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
)

// auditTypes is the closed list of audit types (openapi.yaml's AuditType).
var auditTypes = []string{"user_created", "signin_succeeded", "role_set", "profile_updated", "identity_linked",
	"identity_unlinked", "session_revoked", "session_evicted", "logout", "refresh_token_reused", "user_deleted",
	"admin_granted", "admin_role_set", "admin_user_deleted", "admin_sessions_ended", "admin_webhook_retried"}

// auditEvent is one row as the audit endpoints answer it.
type auditEvent struct {
	ID           int64          `json:"id"`
	Type         string         `json:"type"`
	Time         time.Time      `json:"time"`
	ActorUserID  *string        `json:"actor_user_id"`
	TargetUserID *string        `json:"target_user_id"`
	SessionID    *string        `json:"session_id"`
	IP           *string        `json:"ip"`
	Details      map[string]any `json:"details"`
}

type auditPage struct {
	Events     []auditEvent `json:"events"`
	NextCursor *string      `json:"next_cursor"`
}

// auditList calls GET path?q and decodes the page.
func auditList(t testing.TB, a *api, path, bearer string, q url.Values) auditPage {
	t.Helper()
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	r := a.Call("GET", path, bearer, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: got %d %s, want 200", path, r.Status, r.Body)
	}
	var p auditPage
	r.JSON(t, &p)
	return p
}

// allAudit walks every page of GET /v1/admin/audit?q, newest first.
func allAudit(t testing.TB, a *api, bearer string, q url.Values, limit int) []auditEvent {
	t.Helper()
	var all []auditEvent
	q.Set("limit", strconv.Itoa(limit))
	for {
		p := auditList(t, a, "/v1/admin/audit", bearer, q)
		if len(p.Events) > limit {
			t.Fatalf("page of %d rows, limit %d", len(p.Events), limit)
		}
		all = append(all, p.Events...)
		if p.NextCursor == nil {
			return all
		}
		q.Set("cursor", *p.NextCursor)
	}
}

func pstr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestAudit_EveryType makes every kind of change through the API and the
// command line and finds each one's row, with its actor, target, session
// and the client's /24, on both dialects.
func TestAudit_EveryType(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		a := newAPI(t, d, "MAX_SESSIONS_PER_USER=2")
		admin := newAdmin(t, a, otpTestPhone(1)) // user_created, signin_succeeded, admin_granted
		u := setRole(t, a, a.SignIn(otpTestPhone(2)))
		if r := a.Call("PATCH", "/v1/me", u.AccessToken, map[string]string{"full_name": "Secret Name"}); r.Status != http.StatusOK {
			t.Fatalf("PATCH /v1/me: got %d %s", r.Status, r.Body)
		}
		linked := mustLink(t, a.Call("POST", "/v1/me/identities/phone", u.AccessToken,
			map[string]string{"phone": otpTestPhone(3), "code": a.SendCode(otpTestPhone(3))}))
		if r := a.Call("DELETE", "/v1/me/identities/"+linked.ID, u.AccessToken, nil); r.Status != http.StatusNoContent {
			t.Fatalf("unlink: got %d %s", r.Status, r.Body)
		}
		a.Clock.Advance(a.Config.OTP.ResendCooldown)
		second := a.SignIn(otpTestPhone(2))
		a.Clock.Advance(a.Config.OTP.ResendCooldown)
		third := a.SignIn(otpTestPhone(2)) // evicts u's first session
		if r := a.Call("DELETE", "/v1/me/sessions/"+sidOf(t, second.AccessToken), third.AccessToken, nil); r.Status != http.StatusNoContent {
			t.Fatalf("revoke: got %d %s", r.Status, r.Body)
		}
		a.mustRefresh(third.RefreshToken)
		a.Clock.Advance(a.Config.Sessions.RefreshReuseGrace + time.Second)
		apitest.WantError(t, a.Refresh(third.RefreshToken), http.StatusUnauthorized, "refresh_token_reused")
		a.Clock.Advance(a.Config.OTP.ResendCooldown)
		last := a.SignIn(otpTestPhone(2))
		if r := a.Call("POST", "/v1/auth/logout", last.AccessToken, nil); r.Status != http.StatusNoContent {
			t.Fatalf("logout: got %d %s", r.Status, r.Body)
		}
		target := a.SignIn(otpTestPhone(4))
		for _, c := range []struct{ method, path string }{
			{"PUT", "/v1/admin/users/" + target.User.ID + "/role"},
			{"DELETE", "/v1/admin/users/" + target.User.ID + "/sessions"},
			{"DELETE", "/v1/admin/users/" + target.User.ID},
		} {
			if r := a.Call(c.method, c.path, admin.AccessToken, map[string]string{"role": "brand"}); r.Status/100 != 2 {
				t.Fatalf("%s %s: got %d %s", c.method, c.path, r.Status, r.Body)
			}
		}
		leaver := a.SignIn(otpTestPhone(5))
		if r := a.Call("DELETE", "/v1/me", leaver.AccessToken, nil); r.Status != http.StatusNoContent {
			t.Fatalf("DELETE /v1/me: got %d %s", r.Status, r.Body)
		}

		rows := allAudit(t, a, admin.AccessToken, url.Values{}, 7)
		if n := a.Client.AuditEvent.Query().CountX(context.Background()); n != len(rows) {
			t.Fatalf("paged %d rows, the table holds %d", len(rows), n)
		}
		for i := 1; i < len(rows); i++ {
			if rows[i].ID >= rows[i-1].ID {
				t.Fatalf("rows not newest first: %d after %d", rows[i].ID, rows[i-1].ID)
			}
		}
		byType := map[string][]auditEvent{}
		for _, r := range rows {
			byType[r.Type] = append(byType[r.Type], r)
		}
		for _, typ := range auditTypes {
			if auditevent.TypeValidator(auditevent.Type(typ)) != nil {
				t.Fatalf("%s is not an audit type", typ)
			}
			if typ == "admin_webhook_retried" {
				continue // TestWebhooks_FailedThenRequeued
			}
			if len(byType[typ]) == 0 {
				t.Errorf("no %s row", typ)
			}
		}
		one := func(typ, target string) auditEvent {
			t.Helper()
			for _, r := range byType[typ] {
				if pstr(r.TargetUserID) == target {
					return r
				}
			}
			t.Fatalf("no %s row for %s in %+v", typ, target, byType[typ])
			return auditEvent{}
		}
		if r := one("role_set", u.User.ID); pstr(r.ActorUserID) != u.User.ID || r.Details["new"] != "creator" || r.Details["old"] != nil ||
			pstr(r.SessionID) != sidOf(t, u.AccessToken) || pstr(r.IP) != "127.0.0.0/24" {
			t.Errorf("role_set: got %+v", r)
		}
		if r := one("profile_updated", u.User.ID); !slices.Equal(anyStrings(r.Details["fields"]), []string{"full_name"}) {
			t.Errorf("profile_updated: got %+v, want fields [full_name]", r)
		}
		if r := one("identity_linked", u.User.ID); r.Details["provider"] != "phone" || r.Details["identity_id"] != linked.ID {
			t.Errorf("identity_linked: got %+v", r)
		}
		if r := one("session_evicted", u.User.ID); r.Details["count"] != float64(1) || pstr(r.SessionID) != sidOf(t, third.AccessToken) {
			t.Errorf("session_evicted: got %+v", r)
		}
		if r := one("refresh_token_reused", u.User.ID); r.ActorUserID != nil || pstr(r.SessionID) != sidOf(t, third.AccessToken) {
			t.Errorf("refresh_token_reused: got %+v", r)
		}
		if r := one("logout", u.User.ID); r.Details["scope"] != "current" || pstr(r.SessionID) != sidOf(t, last.AccessToken) {
			t.Errorf("logout: got %+v", r)
		}
		if r := one("admin_role_set", target.User.ID); pstr(r.ActorUserID) != admin.User.ID || r.Details["new"] != "brand" {
			t.Errorf("admin_role_set: got %+v", r)
		}
		if r := one("admin_granted", admin.User.ID); r.ActorUserID != nil || r.IP != nil || r.Details["actor"] != "cli" {
			t.Errorf("admin_granted: got %+v", r)
		}
		one("admin_user_deleted", target.User.ID)
		one("user_deleted", leaver.User.ID) // outlives the user
		if strings.Contains(a.Logs.String(), "Secret Name") {
			t.Error("the new name reached the log")
		}
		for _, r := range rows {
			if strings.Contains(mustJSON(t, r.Details), "Secret Name") {
				t.Errorf("%s details hold the new name: %v", r.Type, r.Details)
			}
		}
	})
}

func anyStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestAudit_Filters pages with every filter, and refuses bad parameters.
func TestAudit_Filters(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	admin := newAdmin(t, a, otpTestPhone(1))
	var users []apitest.Tokens
	for i := range 5 {
		a.Clock.Advance(time.Minute)
		users = append(users, setRole(t, a, a.SignIn(otpTestPhone(10+i))))
	}
	signIns := allAudit(t, a, admin.AccessToken, url.Values{"type": {"signin_succeeded"}}, 2)
	if len(signIns) != 6 {
		t.Fatalf("signin_succeeded rows: got %d, want 6", len(signIns))
	}
	mine := allAudit(t, a, admin.AccessToken, url.Values{"user_id": {users[2].User.ID}}, 1)
	var types []string
	for _, r := range mine {
		types = append(types, r.Type)
	}
	if !slices.Equal(types, []string{"role_set", "signin_succeeded", "user_created"}) {
		t.Fatalf("rows of one user, newest first: got %v", types)
	}
	created := allAudit(t, a, admin.AccessToken, url.Values{"type": {"user_created"}}, 50)
	when := map[string]time.Time{}
	for _, r := range created {
		when[pstr(r.TargetUserID)] = r.Time
	}
	window := allAudit(t, a, admin.AccessToken, url.Values{"type": {"user_created"},
		"since": {when[users[1].User.ID].Format(time.RFC3339Nano)}, "until": {when[users[3].User.ID].Format(time.RFC3339Nano)}}, 50)
	if len(window) != 2 || pstr(window[0].TargetUserID) != users[2].User.ID || pstr(window[1].TargetUserID) != users[1].User.ID {
		t.Fatalf("users created in [user 1, user 3): got %+v, want users 2 and 1", window)
	}
	for _, c := range []struct{ q, field string }{
		{"type=signin", "type"}, {"user_id=nope", "user_id"}, {"since=yesterday", "since"},
		{"since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z", "until"}, {"limit=0", "limit"}, {"limit=201", "limit"},
		{"cursor=!!", "cursor"}, {"cursor=MA", "cursor"},
	} {
		e := apitest.WantError(t, a.Call("GET", "/v1/admin/audit?"+c.q, admin.AccessToken, nil), http.StatusBadRequest, "invalid_request")
		if e.Field != c.field {
			t.Errorf("%s: got field %q, want %q", c.q, e.Field, c.field)
		}
	}
	apitest.WantError(t, a.Call("GET", "/v1/admin/audit", users[0].AccessToken, nil), http.StatusForbidden, "forbidden")
}

// TestAudit_MyActivity shows a user their own rows only, newest first,
// before and after a role is chosen, and puts them in the export.
func TestAudit_MyActivity(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		a := newAPI(t, d)
		me := a.SignIn(otpTestPhone(1))
		other := a.SignIn(otpTestPhone(2))
		setRole(t, a, other)
		page := auditList(t, a, "/v1/me/activity", me.AccessToken, nil) // no role yet
		if len(page.Events) != 2 || page.Events[0].Type != "signin_succeeded" || page.Events[1].Type != "user_created" || page.NextCursor != nil {
			t.Fatalf("activity before a role: got %+v", page)
		}
		me = setRole(t, a, me)
		first := auditList(t, a, "/v1/me/activity", me.AccessToken, url.Values{"limit": {"2"}})
		if len(first.Events) != 2 || first.Events[0].Type != "role_set" || first.NextCursor == nil {
			t.Fatalf("first page: got %+v", first)
		}
		rest := auditList(t, a, "/v1/me/activity", me.AccessToken, url.Values{"limit": {"2"}, "cursor": {*first.NextCursor}})
		if len(rest.Events) != 1 || rest.Events[0].Type != "user_created" || rest.NextCursor != nil {
			t.Fatalf("second page: got %+v", rest)
		}
		for _, r := range append(first.Events, rest.Events...) {
			if pstr(r.TargetUserID) != me.User.ID {
				t.Fatalf("another user's row in my activity: %+v", r)
			}
		}
		r := a.Call("GET", "/v1/me/export", me.AccessToken, nil)
		var export struct {
			Activity []auditEvent `json:"activity"`
		}
		r.JSON(t, &export)
		if len(export.Activity) != 3 || export.Activity[0].Type != "user_created" || export.Activity[2].Type != "role_set" {
			t.Fatalf("export activity, oldest first: got %+v", export.Activity)
		}
		apitest.WantError(t, a.Call("GET", "/v1/me/activity?limit=x", me.AccessToken, nil), http.StatusBadRequest, "invalid_request")
	})
}

// refuseInserts makes every INSERT into table fail until the test ends,
// as a database error in the middle of a transaction would.
func refuseInserts(t *testing.T, a *api, table string) {
	t.Helper()
	ctx := context.Background()
	stmts := []string{`CREATE TRIGGER refuse_insert BEFORE INSERT ON ` + table + ` BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`}
	drop := []string{`DROP TRIGGER refuse_insert`}
	if a.Dialect == migration.Postgres {
		stmts = []string{
			`CREATE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`,
			`CREATE TRIGGER refuse_insert BEFORE INSERT ON ` + table + ` FOR EACH ROW EXECUTE FUNCTION refuse_insert()`,
		}
		drop = []string{`DROP TRIGGER refuse_insert ON ` + table, `DROP FUNCTION refuse_insert()`}
	}
	for _, s := range stmts {
		if _, err := a.DB.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, s := range drop {
			if _, err := a.DB.ExecContext(ctx, s); err != nil {
				t.Error(err)
			}
		}
	})
}

// TestAudit_RolledBack: when the audit row or the webhook event cannot be
// written, the change it describes does not happen either, and nothing of
// it remains.
func TestAudit_RolledBack(t *testing.T) {
	t.Parallel()
	for _, table := range []string{"audit_events", "webhook_events"} {
		t.Run(table, func(t *testing.T) {
			t.Parallel()
			rolledBack(t, table)
		})
	}
}

func rolledBack(t *testing.T, table string) {
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		recv := apitest.NewReceiver(t)
		a := newAPI(t, d, "WEBHOOK_URL="+recv.URL, "WEBHOOK_SECRET="+apitest.WebhookSecret)
		me := a.SignIn(otpTestPhone(1))
		ctx := context.Background()
		audits, hooks := a.Client.AuditEvent.Query().CountX(ctx), a.Client.WebhookEvent.Query().CountX(ctx)
		if audits != 2 || hooks != 1 {
			t.Fatalf("after a first sign-in: got %d audit rows and %d webhook events, want 2 and 1", audits, hooks)
		}
		refuseInserts(t, a, table)
		if r := a.Call("PUT", "/v1/me/role", me.AccessToken, map[string]string{"role": "creator"}); r.Status != http.StatusInternalServerError {
			t.Fatalf("%s refused, PUT /v1/me/role: got %d %s, want 500", table, r.Status, r.Body)
		}
		if r := a.Call("DELETE", "/v1/me", me.AccessToken, nil); r.Status != http.StatusInternalServerError {
			t.Fatalf("%s refused, DELETE /v1/me: got %d %s, want 500", table, r.Status, r.Body)
		}
		if r := a.Call("PATCH", "/v1/me", me.AccessToken, map[string]string{"full_name": "Refused"}); r.Status != http.StatusInternalServerError {
			t.Fatalf("%s refused, PATCH /v1/me: got %d %s, want 500", table, r.Status, r.Body)
		}
		a.Clock.Advance(a.Config.OTP.ResendCooldown)
		if r := postVerify(a, otpTestPhone(2), a.SendCode(otpTestPhone(2))); r.Status != http.StatusInternalServerError {
			t.Fatalf("%s refused, a new user's sign-in: got %d %s, want 500", table, r.Status, r.Body)
		}
		if table == "audit_events" { // logout queues no webhook event
			if r := a.Call("POST", "/v1/auth/logout", me.AccessToken, nil); r.Status != http.StatusInternalServerError {
				t.Fatalf("%s refused, logout: got %d %s, want 500", table, r.Status, r.Body)
			}
			if r := postVerify(a, otpTestPhone(1), a.SendCode(otpTestPhone(1))); r.Status != http.StatusInternalServerError {
				t.Fatalf("%s refused, a known user's sign-in: got %d %s, want 500", table, r.Status, r.Body)
			}
		}
		if u := userRow(t, a, me.User.ID); u.Role != nil || u.FullName != nil {
			t.Fatalf("changes made although their journal was refused: role %v, name %v", u.Role, u.FullName)
		}
		if users, sessions := a.Client.User.Query().CountX(ctx), a.Client.Session.Query().CountX(ctx); users != 1 || sessions != 1 {
			t.Fatalf("after refused sign-ins and logout: %d users, %d sessions; want 1 and 1", users, sessions)
		}
		if n := a.Client.AuditEvent.Query().CountX(ctx); n != audits {
			t.Fatalf("audit rows: got %d, want %d", n, audits)
		}
		if n := a.Client.WebhookEvent.Query().CountX(ctx); n != hooks {
			t.Fatalf("webhook events: got %d, want %d", n, hooks)
		}
	})
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
