package handlers_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/google/uuid"
)

func TestRefresh_Rotation(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("old_token_dies_grace_returns_same_token", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p0 := a.SignIn("+919876543210")
			p1 := a.mustRefresh(p0.RefreshToken)
			if p1.RefreshToken == p0.RefreshToken || p1.AccessToken == "" {
				t.Fatal("refresh did not rotate the token")
			}
			a.Clock.Advance(5 * time.Second) // a lost response, retried within REFRESH_REUSE_GRACE
			retry := a.mustRefresh(p0.RefreshToken)
			if retry.RefreshToken != p1.RefreshToken {
				t.Fatal("a retry within the grace window got a different refresh token, want the current one")
			}
			p2 := a.mustRefresh(p1.RefreshToken)
			if p2.RefreshToken == p1.RefreshToken {
				t.Fatal("second rotation returned the same token")
			}
		})
		t.Run("reuse_after_grace_revokes_session", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p0 := a.SignIn("+919876543210")
			p1 := a.mustRefresh(p0.RefreshToken)
			a.Clock.Advance(11 * time.Second)
			apitest.WantError(t, a.Refresh(p0.RefreshToken), http.StatusUnauthorized, "refresh_token_reused")
			apitest.WantError(t, a.Refresh(p1.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
			if r := a.Call("GET", "/v1/me", p1.AccessToken, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("access token of a revoked session: got %d, want 401", r.Status)
			}
			if !strings.Contains(a.Logs.String(), "event=refresh_token_reused") {
				t.Fatal("reuse was not logged as a security event")
			}
		})
		t.Run("older_ancestor_revokes_session", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p0 := a.SignIn("+919876543210")
			p := p0
			for range 3 {
				a.Clock.Advance(time.Minute)
				p = a.mustRefresh(p.RefreshToken)
			}
			apitest.WantError(t, a.Refresh(p0.RefreshToken), http.StatusUnauthorized, "refresh_token_reused")
			apitest.WantError(t, a.Refresh(p.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		})
		t.Run("reuse_detected_after_restart", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p0 := a.SignIn("+919876543210")
			a.mustRefresh(p0.RefreshToken)
			a.Clock.Advance(time.Minute)
			a.Restart()
			apitest.WantError(t, a.Refresh(p0.RefreshToken), http.StatusUnauthorized, "refresh_token_reused")
		})
		t.Run("forged_secret_does_not_revoke", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p0 := a.SignIn("+919876543210")
			forged := []byte(otherSecret(p0.RefreshToken)) // same session id and generation, another secret
			apitest.WantError(t, a.Refresh(string(forged)), http.StatusUnauthorized, "invalid_refresh_token")
			a.mustRefresh(p0.RefreshToken) // the session survived
		})
		t.Run("ancestor_far_back_revokes_session", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p0 := a.SignIn("+919876543210")
			p := p0
			for range 100 {
				a.Clock.Advance(time.Minute)
				p = a.mustRefresh(p.RefreshToken)
			}
			apitest.WantError(t, a.Refresh(p0.RefreshToken), http.StatusUnauthorized, "refresh_token_reused")
			apitest.WantError(t, a.Refresh(p.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		})
		t.Run("untagged_token_from_before_tags_still_refreshes", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p0 := a.SignIn("+919876543210")
			raw, err := base64.RawURLEncoding.DecodeString(p0.RefreshToken)
			if err != nil || len(raw) != 72 {
				t.Fatalf("refresh token: %d bytes (err %v), want 72", len(raw), err)
			}
			untagged := base64.RawURLEncoding.EncodeToString(raw[:56]) // the format issued before tags
			p1 := a.mustRefresh(untagged)
			if len(p1.RefreshToken) != len(p0.RefreshToken) {
				t.Fatalf("rotated token: got %d characters, want the tagged form's %d", len(p1.RefreshToken), len(p0.RefreshToken))
			}
			a.Clock.Advance(time.Minute)
			apitest.WantError(t, a.Refresh(untagged), http.StatusUnauthorized, "refresh_token_reused")
		})
		t.Run("garbage", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			for _, tok := range []string{"", "x", strings.Repeat("A", 75), uuid.NewString()} {
				apitest.WantError(t, a.Refresh(tok), http.StatusUnauthorized, "invalid_refresh_token")
			}
		})
	})
}

func TestRefresh_Expiry(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("idle_expiry", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d)
			p := a.SignIn("+919876543210")
			a.Clock.Advance(a.Config.Sessions.RefreshTokenTTL + time.Second)
			apitest.WantError(t, a.Refresh(p.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		})
		t.Run("refresh_moves_idle_expiry_but_not_past_max_age", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d, "REFRESH_TOKEN_TTL=1h", "SESSION_MAX_AGE=2h")
			p := a.SignIn("+919876543210")
			sessionStart := a.Clock.Now().Add(-a.Config.OTP.ResendCooldown) // signIn advanced the clock
			for range 2 {
				a.Clock.Advance(50 * time.Minute)
				p = a.mustRefresh(p.RefreshToken)
			}
			row := a.Client.Session.Query().OnlyX(t.Context())
			if want := sessionStart.Add(2 * time.Hour); !row.ExpiresAt.Equal(want) {
				t.Fatalf("expires_at: got %v, want the absolute limit %v", row.ExpiresAt.UTC(), want)
			}
			a.Clock.Advance(21 * time.Minute) // past the absolute limit, within the idle TTL
			apitest.WantError(t, a.Refresh(p.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		})
	})
}

// TestRefresh_Concurrent sends 50 refreshes of one token at once: exactly
// one rotation happens, and every caller gets that same new token.
func TestRefresh_Concurrent(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		a := newAPI(t, d)
		for round := range 5 {
			p := a.SignIn("+919876543210")
			results := make([]apitest.Resp, 50)
			apitest.Release(50, func(i int) { results[i] = a.Refresh(p.RefreshToken) })
			distinct := map[string]bool{}
			for i, r := range results {
				if r.Status != http.StatusOK {
					t.Fatalf("round %d, refresh %d: got %d %s, want 200 (same token within the grace window)", round, i, r.Status, r.Body)
				}
				var got apitest.Tokens
				r.JSON(t, &got)
				distinct[got.RefreshToken] = true
			}
			if len(distinct) != 1 {
				t.Fatalf("round %d: got %d different live refresh apitest.Tokens, want 1", round, len(distinct))
			}
			sid := sessionOf(t, a, p.AccessToken)
			if gen := a.Client.Session.GetX(t.Context(), sid).Generation; gen != 1 {
				t.Fatalf("round %d: generation got %d, want 1 rotation", round, gen)
			}
		}
	})
}

// sessionOf returns the session id of an access token (its "current" session).
func sessionOf(t *testing.T, a *api, access string) uuid.UUID {
	t.Helper()
	var sessions []struct {
		ID      uuid.UUID `json:"id"`
		Current bool      `json:"current"`
	}
	a.Call("GET", "/v1/me/sessions", access, nil).JSON(t, &sessions)
	for _, s := range sessions {
		if s.Current {
			return s.ID
		}
	}
	t.Fatal("no current session")
	return uuid.Nil
}

// TestRefresh_RacingLogout races a refresh against a logout of the same
// session: whatever the order, no working token is left behind.
func TestRefresh_RacingLogout(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		a := newAPI(t, d, manySends...)
		for round := range 20 {
			p := a.SignIn("+919876543210")
			var (
				mu        sync.Mutex
				refreshed apitest.Resp
			)
			apitest.Release(2, func(i int) {
				if i == 0 {
					r := a.Refresh(p.RefreshToken)
					mu.Lock()
					refreshed = r
					mu.Unlock()
					return
				}
				if r := a.Call("POST", "/v1/auth/logout", p.AccessToken, nil); r.Status != http.StatusNoContent && r.Status != http.StatusUnauthorized {
					t.Errorf("round %d: logout got %d %s", round, r.Status, r.Body)
				}
			})
			if refreshed.Status == http.StatusOK {
				var np apitest.Tokens
				refreshed.JSON(t, &np)
				apitest.WantError(t, a.Refresh(np.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
				if r := a.Call("GET", "/v1/me", np.AccessToken, nil); r.Status != http.StatusUnauthorized {
					t.Fatalf("round %d: access token from a refresh that raced logout: got %d, want 401", round, r.Status)
				}
			}
			if n := a.Client.Session.Query().CountX(t.Context()); n != 0 {
				t.Fatalf("round %d: got %d sessions after logout, want 0", round, n)
			}
		}
	})
}

// TestRefresh_SecretChange: after REFRESH_TOKEN_SECRET changes, a session's
// current refresh token still refreshes (its stored hash proves it); only
// replays of older tokens lose reuse detection (they are refused).
func TestRefresh_SecretChange(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	p0 := a.SignIn("+919876543210")
	p1 := a.mustRefresh(p0.RefreshToken)
	a.Clock.Advance(time.Minute)
	b := &api{a.API}
	b.Config.Sessions.RefreshTokenSecret = "another-refresh-secret-0123456789abc"
	b.Restart()
	p2 := b.mustRefresh(p1.RefreshToken)
	a.Clock.Advance(time.Minute)
	b.mustRefresh(p2.RefreshToken)
	apitest.WantError(t, b.Refresh(p0.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
}

// TestRefresh_CatchesUpASessionSetBack: the database loses a session's
// latest rotations (a failover to an asynchronous standby, a restore): the
// client's token, issued after what the database holds, still refreshes,
// once, to the token after it; a token from the lost future that the
// server never issued (another secret, or a wrong tag) is refused and the
// session lives on; a set-back further than 64 rotations is refused.
func TestRefresh_CatchesUpASessionSetBack(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		a := newAPI(t, d)
		p0 := a.SignIn("+919876543210")
		p1 := a.mustRefresh(p0.RefreshToken)
		sid := uuid.MustParse(sidOf(t, p1.AccessToken))
		saved, err := a.Client.Session.Get(context.Background(), sid)
		if err != nil {
			t.Fatal(err)
		}
		p := p1
		for range 3 {
			a.Clock.Advance(time.Minute)
			p = a.mustRefresh(p.RefreshToken)
		}
		// The database goes back to the session as it was after p1.
		if err := a.Client.Session.UpdateOneID(sid).SetGeneration(saved.Generation).SetTokenHash(saved.TokenHash).
			SetNillablePreviousTokenHash(saved.PreviousTokenHash).SetNillableRotatedAt(saved.RotatedAt).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		apitest.WantError(t, a.Refresh(otherSecret(p.RefreshToken)), http.StatusUnauthorized, "invalid_refresh_token")
		next := a.mustRefresh(p.RefreshToken)
		if next.RefreshToken == p.RefreshToken {
			t.Fatal("catching up returned the same token")
		}
		if !strings.Contains(a.Logs.String(), "event=refresh_caught_up") || !strings.Contains(a.Logs.String(), "lost_rotations=3") {
			t.Fatalf("the catch-up was not logged with the lost rotations:\n%s", a.Logs)
		}
		a.Clock.Advance(time.Minute)
		after := a.mustRefresh(next.RefreshToken)
		if r := a.Call("GET", "/v1/me", after.AccessToken, nil); r.Status != http.StatusOK {
			t.Fatalf("who-am-I after catching up: got %d", r.Status)
		}
		// Past the grace window, the token the client caught up from is an
		// ancestor like any other: presenting it again is reuse.
		a.Clock.Advance(time.Minute)
		apitest.WantError(t, a.Refresh(p.RefreshToken), http.StatusUnauthorized, "refresh_token_reused")

		// More than 64 rotations lost: refused, the session kept.
		q0 := a.SignIn("+919876543211")
		qsid := uuid.MustParse(sidOf(t, q0.AccessToken))
		qsaved, err := a.Client.Session.Get(context.Background(), qsid)
		if err != nil {
			t.Fatal(err)
		}
		q := q0
		for range 65 {
			q = a.mustRefresh(q.RefreshToken)
		}
		if err := a.Client.Session.UpdateOneID(qsid).SetGeneration(qsaved.Generation).SetTokenHash(qsaved.TokenHash).
			ClearPreviousTokenHash().ClearRotatedAt().Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		apitest.WantError(t, a.Refresh(q.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
	})
}
