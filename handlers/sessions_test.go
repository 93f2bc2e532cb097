package handlers_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/google/uuid"
)

func TestDeviceLimit_EvictsOldest(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		a := newAPI(t, d, manySends...)
		var pairs []apitest.Tokens
		for range 7 {
			pairs = append(pairs, a.SignIn("+919876543210"))
		}
		if n := a.Client.Session.Query().CountX(t.Context()); n != 5 {
			t.Fatalf("sessions: got %d, want MAX_SESSIONS_PER_USER = 5", n)
		}
		for i, p := range pairs {
			r := a.Refresh(p.RefreshToken)
			if evicted := i < 2; evicted != (r.Status == http.StatusUnauthorized) {
				t.Fatalf("sign-in %d: refresh got %d, want evicted=%v (oldest first)", i, r.Status, evicted)
			}
		}
		if !strings.Contains(a.Logs.String(), "event=session_evicted") {
			t.Fatal("eviction was not logged")
		}
	})
}

// sessionJSON is one entry of GET /v1/me/sessions.
type sessionEntry struct {
	ID         string    `json:"id"`
	DeviceInfo *string   `json:"device_info"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

// listSessions returns the caller's sessions.
func listSessions(t *testing.T, a *api, bearer string) []sessionEntry {
	t.Helper()
	r := a.Call("GET", "/v1/me/sessions", bearer, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("list sessions: got %d %s, want 200", r.Status, r.Body)
	}
	var s []sessionEntry
	r.JSON(t, &s)
	return s
}

func TestSessions(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("list_marks_current", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p1, p2 := a.SignIn(tokPhoneA), a.SignIn(tokPhoneA)
			for _, p := range []apitest.Tokens{p1, p2} {
				s := listSessions(t, a, p.AccessToken)
				if len(s) != 2 {
					t.Fatalf("sessions: got %d, want 2", len(s))
				}
				var current []string
				for _, e := range s {
					if e.Current {
						current = append(current, e.ID)
					}
					if e.DeviceInfo == nil || *e.DeviceInfo != "test device" || !e.ExpiresAt.After(e.CreatedAt) {
						t.Fatalf("session %+v: want device \"test device\" and an expiry after creation", e)
					}
				}
				if len(current) != 1 || current[0] != sidOf(t, p.AccessToken) {
					t.Fatalf("current: got %v, want only %s", current, sidOf(t, p.AccessToken))
				}
			}
		})
		t.Run("delete_other_users_session", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			pa, pb := a.SignIn(tokPhoneA), a.SignIn(tokPhoneB)
			apitest.WantError(t, a.Call("DELETE", "/v1/me/sessions/"+sidOf(t, pb.AccessToken), pa.AccessToken, nil), http.StatusNotFound, "not_found")
			if got := storedSessions(t, a, pb.User.ID); len(got) != 1 {
				t.Fatalf("the other user's sessions: got %v, want 1 left", got)
			}
			if r := a.Call("GET", "/v1/me", pb.AccessToken, nil); r.Status != http.StatusOK {
				t.Fatalf("the other user: got %d, want 200", r.Status)
			}
		})
		t.Run("delete_unknown", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p := a.SignIn(tokPhoneA)
			for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
				apitest.WantError(t, a.Call("DELETE", "/v1/me/sessions/"+id, p.AccessToken, nil), http.StatusNotFound, "not_found")
			}
			if got := storedSessions(t, a, p.User.ID); len(got) != 1 {
				t.Fatalf("sessions: got %v, want 1", got)
			}
		})
		t.Run("delete_own_other_session", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p1, p2 := a.SignIn(tokPhoneA), a.SignIn(tokPhoneA)
			if r := a.Call("DELETE", "/v1/me/sessions/"+sidOf(t, p1.AccessToken), p2.AccessToken, nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete: got %d %s, want 204", r.Status, r.Body)
			}
			apitest.WantError(t, a.Refresh(p1.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
			wantUnauthorized(t, a.Call("GET", "/v1/me", p1.AccessToken, nil))
			if got := storedSessions(t, a, p2.User.ID); !slices.Equal(got, []string{sidOf(t, p2.AccessToken)}) {
				t.Fatalf("sessions: got %v, want only %s", got, sidOf(t, p2.AccessToken))
			}
			if r := a.Refresh(p2.RefreshToken); r.Status != http.StatusOK {
				t.Fatalf("the remaining session's refresh: got %d %s, want 200", r.Status, r.Body)
			}
		})
	})
}
