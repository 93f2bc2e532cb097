package handlers_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/fakegraph"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/google/uuid"
)

// seedUsers inserts n users directly, in batches, with created_at values
// (written in zone) that are mostly distinct but include a run of 300
// equal ones (longer than a page) and 25 groups of 10 equal ones, to
// exercise the id tie-break.
func seedUsers(t testing.TB, a *api, n int, zone *time.Location) {
	t.Helper()
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	const batch = 500
	for start := 0; start < n; start += batch {
		builders := make([]*ent.UserCreate, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			at := base.Add(-time.Duration(i) * 1001 * time.Microsecond)
			switch {
			case i >= 1000 && i < 1300:
				at = base.Add(-30 * time.Minute)
			case i%10 == 0:
				at = base.Add(-time.Duration(i/100+1) * time.Hour)
			}
			at = at.In(zone)
			builders = append(builders, a.Client.User.Create().
				SetCreatedAt(at).SetUpdatedAt(at).SetFullName(fmt.Sprintf("Bulk %04d", i)))
		}
		if err := a.Client.User.CreateBulk(builders...).Exec(context.Background()); err != nil {
			t.Fatalf("seed users: %v", err)
		}
	}
}

// newestFirst returns every user id in (created_at desc, id desc) order.
func newestFirst(t testing.TB, a *api) []string {
	t.Helper()
	users, err := a.Client.User.Query().All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(users, func(x, y *ent.User) int {
		if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(y.ID.String(), x.ID.String())
	})
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID.String()
	}
	return ids
}

func TestAdminListUsers_Pagination(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("utc", func(t *testing.T) {
			t.Parallel()
			pageThroughUsers(t, d, time.UTC)
		})
		// What time.Now() writes on a server whose local zone is not UTC
		// (TZ=Asia/Kolkata), for users created by sign-in.
		t.Run("server_zone_not_utc", func(t *testing.T) {
			t.Parallel()
			pageThroughUsers(t, d, time.FixedZone("IST", 5*3600+1800))
		})
	})
}

// pageThroughUsers seeds 2500 users and pages through all of them, 200 at
// a time, checking every user comes exactly once and in order.
func pageThroughUsers(t *testing.T, d string, zone *time.Location) {
	a := newAPI(t, d)
	admin := newAdmin(t, a, "+919800000099")
	seedUsers(t, a, 2500, zone)
	want := newestFirst(t, a)
	if len(want) != 2501 {
		t.Fatalf("seeded: got %d users, want 2501", len(want))
	}
	if p := mustPage(t, listUsers(a, admin.AccessToken, nil)); len(p.Users) != 50 || p.NextCursor == nil {
		t.Fatalf("default page: got %d users (next_cursor %v), want 50 and a cursor", len(p.Users), p.NextCursor)
	}

	var got []string
	var prev *adminUser
	cursor := ""
	for page := 0; ; page++ {
		q := url.Values{"limit": {"200"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		p := mustPage(t, listUsers(a, admin.AccessToken, q))
		if page == 2 {
			// Rows created meanwhile: a newer one is behind the cursor and
			// never shows; an older one is ahead and shows on a later page.
			at := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).In(zone)
			older := a.Client.User.Create().SetCreatedAt(at).SetUpdatedAt(at).SaveX(context.Background())
			a.Client.User.Create().SaveX(context.Background())
			want = append(want, older.ID.String())
		}
		if p.NextCursor != nil && len(p.Users) != 200 {
			t.Fatalf("page %d: got %d users with a next_cursor, want 200", page, len(p.Users))
		}
		for i := range p.Users {
			u := &p.Users[i]
			if prev != nil && (u.CreatedAt.After(prev.CreatedAt) || (u.CreatedAt.Equal(prev.CreatedAt) && u.ID >= prev.ID)) {
				t.Fatalf("page %d: %s (%v) follows %s (%v), want strictly (created_at desc, id desc)",
					page, u.ID, u.CreatedAt, prev.ID, prev.CreatedAt)
			}
			prev = u
			got = append(got, u.ID)
		}
		if p.NextCursor == nil {
			break
		}
		if page > 20 {
			t.Fatalf("more than 20 pages of 200 for %d users", len(want))
		}
		cursor = *p.NextCursor
	}
	if !slices.Equal(got, want) {
		seen := map[string]int{}
		for _, id := range got {
			seen[id]++
		}
		var missing, repeated int
		for _, id := range want {
			if seen[id] == 0 {
				missing++
			}
		}
		for _, n := range seen {
			if n > 1 {
				repeated++
			}
		}
		t.Fatalf("paged listing: got %d users (%d missing, %d repeated), want %d in order", len(got), missing, repeated, len(want))
	}
}

func TestAdminListUsers_Filters(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, checkUserFilters)
}

// checkUserFilters lists users of every kind through the role and q filters.
func checkUserFilters(t *testing.T, d string) {
	p := newProvAPI(t, d)
	admin := newAdmin(t, p.api, "+919800000099")

	ajay := p.SignIn("+919811111111")
	for _, c := range []struct {
		method string
		path   string
		body   map[string]string
	}{
		{"PATCH", "/v1/me", map[string]string{"full_name": "Ajay Kumar"}},
		{"PUT", "/v1/me/role", map[string]string{"role": "creator"}},
	} {
		if r := p.Call(c.method, c.path, ajay.AccessToken, c.body); r.Status != http.StatusOK {
			t.Fatalf("%s %s: got %d %s, want 200", c.method, c.path, r.Status, r.Body)
		}
	}
	priya := mustPair(t, p.google(p.googleToken("g-priya", map[string]any{"name": "Priya S", "email": "Priya.Sharma@Example.com"})))
	p.graph.AddUser("EAA-zed", fakegraph.User{ID: "fb-zed", Name: "Zed", Email: "zed@fb.example"})
	zed := mustPair(t, p.facebook("EAA-zed"))
	if r := p.Call("PUT", "/v1/me/role", zed.AccessToken, map[string]string{"role": "brand"}); r.Status != http.StatusOK {
		t.Fatalf("PUT /v1/me/role: got %d %s, want 200", r.Status, r.Body)
	}
	names := map[string]string{ajay.User.ID: "ajay", priya.User.ID: "priya", zed.User.ID: "zed", admin.User.ID: "admin"}

	tests := []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"all", nil, []string{"admin", "ajay", "priya", "zed"}},
		{"role_creator", url.Values{"role": {"creator"}}, []string{"ajay"}},
		{"role_brand", url.Values{"role": {"brand"}}, []string{"zed"}},
		{"role_admin", url.Values{"role": {"admin"}}, []string{"admin"}},
		{"role_none", url.Values{"role": {"none"}}, []string{"priya"}},
		{"name_case_insensitive", url.Values{"q": {"AJAY"}}, []string{"ajay"}},
		{"name_inner_substring", url.Values{"q": {"kUm"}}, []string{"ajay"}},
		{"surrounding_spaces", url.Values{"q": {"  ajay  "}}, []string{"ajay"}},
		{"phone_substring", url.Values{"q": {"98111"}}, []string{"ajay"}},
		{"phone_with_plus", url.Values{"q": {"+9198111"}}, []string{"ajay"}},
		{"email_case_insensitive", url.Values{"q": {"priya.sharma@EXAMPLE"}}, []string{"priya"}},
		{"email_only_match", url.Values{"q": {"sharma@"}}, []string{"priya"}},
		{"facebook_email", url.Values{"q": {"fb.example"}}, []string{"zed"}},
		{"provider_subject_not_searched", url.Values{"q": {"g-priya"}}, nil},
		{"percent_is_literal", url.Values{"q": {"%"}}, nil},
		{"underscore_is_literal", url.Values{"q": {"_"}}, nil},
		{"role_and_q", url.Values{"role": {"creator"}, "q": {"priya"}}, nil},
		{"no_match", url.Values{"q": {"nobody"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := mustPage(t, listUsers(p.api, admin.AccessToken, tt.query))
			var got []string
			for _, u := range page.Users {
				got = append(got, names[u.ID])
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if page.NextCursor != nil {
				t.Fatalf("next_cursor: got %q, want null", *page.NextCursor)
			}
		})
	}
}

func TestAdminListUsers_BadParams(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	admin := newAdmin(t, a, "+919800000099")
	b64 := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name      string
		query     url.Values
		wantField string
	}{
		{"limit_zero", url.Values{"limit": {"0"}}, "limit"},
		{"limit_201", url.Values{"limit": {"201"}}, "limit"},
		{"limit_negative", url.Values{"limit": {"-1"}}, "limit"},
		{"limit_text", url.Values{"limit": {"x"}}, "limit"},
		{"limit_fraction", url.Values{"limit": {"1.5"}}, "limit"},
		{"cursor_not_base64", url.Values{"cursor": {"!!!"}}, "cursor"},
		{"cursor_garbage", url.Values{"cursor": {b64([]byte("garbage"))}}, "cursor"},
		{"cursor_bad_id", url.Values{"cursor": {b64([]byte("2026-01-01T00:00:00Z|nobody"))}}, "cursor"},
		{"cursor_bad_time", url.Values{"cursor": {b64([]byte("yesterday|" + uuid.NewString()))}}, "cursor"},
		{"role_unknown", url.Values{"role": {"boss"}}, "role"},
		{"role_wrong_case", url.Values{"role": {"Admin"}}, "role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := listUsers(a, admin.AccessToken, tt.query)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("got %d %s, want 400", r.Status, r.Body)
			}
			if code, field := errorOf(t, r); code != "invalid_request" || field != tt.wantField {
				t.Fatalf("got %s field %q, want invalid_request field %q", code, field, tt.wantField)
			}
		})
	}
	for _, limit := range []string{"1", "200"} {
		if p := mustPage(t, listUsers(a, admin.AccessToken, url.Values{"limit": {limit}})); len(p.Users) != 1 {
			t.Fatalf("limit=%s: got %d users, want 1", limit, len(p.Users))
		}
	}
}
