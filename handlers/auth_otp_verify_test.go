package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/ent/session"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/google/uuid"
)

// otherCode is a well-formed code different from code.
func otherCode(code string) string {
	n, _ := strconv.Atoi(code)
	return fmt.Sprintf("%06d", (n+1)%1_000_000)
}

func TestOTPVerify(t *testing.T) {
	t.Parallel()
	runOTPCases(t, []otpCase{
		{name: "ok_creates_user", run: func(t *testing.T, a *api) {
			code := a.SendCode(otpPhone)
			r := postVerify(a, otpPhone, code)
			var p apitest.Tokens
			r.JSON(t, &p)
			if r.Status != http.StatusOK || p.TokenType != "Bearer" || p.AccessToken == "" || p.RefreshToken == "" || p.User.Role != nil || !p.User.NeedsRole {
				t.Fatalf("got %d %s, want 200 with a token pair for a user without role", r.Status, r.Body)
			}
			ctx := context.Background()
			users, err := a.Client.User.Query().WithIdentities().All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(users) != 1 || users[0].ID.String() != p.User.ID || users[0].Role != nil {
				t.Fatalf("users: got %+v, want one user %s with role NULL", users, p.User.ID)
			}
			ids := users[0].Edges.Identities
			if len(ids) != 1 || ids[0].Provider != authidentity.ProviderPhone || ids[0].ProviderID != otpPhone {
				t.Fatalf("identities: got %+v, want one phone identity %s", ids, otpPhone)
			}
			if n := len(otpRows(t, a, otpPhone)); n != 0 {
				t.Fatalf("phone_otps rows after sign-in: got %d, want 0 (a code is deleted when used)", n)
			}
			if n := otpSessionCount(t, a, users[0].ID); n != 1 {
				t.Fatalf("sessions: got %d, want 1", n)
			}
		}},
		{name: "second_sign_in_same_user", run: func(t *testing.T, a *api) {
			first, second := a.SignIn(otpPhone), a.SignIn(otpPhone)
			if first.User.ID != second.User.ID {
				t.Fatalf("user ids: got %s and %s, want the same", first.User.ID, second.User.ID)
			}
			if n, _ := a.Client.User.Query().Count(context.Background()); n != 1 {
				t.Fatalf("users: got %d, want 1", n)
			}
			if n := otpSessionCount(t, a, uuid.MustParse(first.User.ID)); n != 2 {
				t.Fatalf("sessions: got %d, want 2", n)
			}
		}},
		{name: "wrong_code", run: func(t *testing.T, a *api) {
			code := a.SendCode(otpPhone)
			apitest.WantError(t, postVerify(a, otpPhone, otherCode(code)), http.StatusUnauthorized, "invalid_otp")
			rows := otpRows(t, a, otpPhone)
			if len(rows) != 1 || rows[0].Attempts != 1 {
				t.Fatalf("after a wrong code: got %d rows, want 1 with attempts 1", len(rows))
			}
			if n, _ := a.Client.User.Query().Count(context.Background()); n != 0 {
				t.Fatalf("users: got %d, want 0", n)
			}
		}},
		{name: "any_equivalent_format", run: func(t *testing.T, a *api) {
			code := a.SendCode(otpPhone)
			if r := postVerify(a, otpPhoneSpaced, code); r.Status != http.StatusOK {
				t.Fatalf("verify with %q: got %d %s, want 200", otpPhoneSpaced, r.Status, r.Body)
			}
		}},
		{name: "never_sent", run: func(t *testing.T, a *api) {
			apitest.WantError(t, postVerify(a, otpPhone, "123456"), http.StatusUnauthorized, "invalid_otp")
		}},
		{name: "expired", run: func(t *testing.T, a *api) {
			code := a.SendCode(otpPhone)
			a.Clock.Advance(5*time.Minute + time.Second)
			apitest.WantError(t, postVerify(a, otpPhone, code), http.StatusUnauthorized, "invalid_otp")
		}},
		{name: "valid_until_expiry", run: func(t *testing.T, a *api) {
			code := a.SendCode(otpPhone)
			a.Clock.Advance(5*time.Minute - time.Second)
			if r := postVerify(a, otpPhone, code); r.Status != http.StatusOK {
				t.Fatalf("a second before expiry: got %d %s, want 200", r.Status, r.Body)
			}
		}},
		{name: "used_twice", run: func(t *testing.T, a *api) {
			code := a.SendCode(otpPhone)
			if r := postVerify(a, otpPhone, code); r.Status != http.StatusOK {
				t.Fatalf("first use: got %d %s, want 200", r.Status, r.Body)
			}
			if n := len(otpRows(t, a, otpPhone)); n != 0 {
				t.Fatalf("phone_otps rows after use: got %d, want 0", n)
			}
			apitest.WantError(t, postVerify(a, otpPhone, code), http.StatusUnauthorized, "invalid_otp")
		}},
		{name: "attempts_exceeded", run: func(t *testing.T, a *api) {
			code := a.SendCode(otpPhone)
			for range 5 {
				apitest.WantError(t, postVerify(a, otpPhone, otherCode(code)), http.StatusUnauthorized, "invalid_otp")
			}
			apitest.WantError(t, postVerify(a, otpPhone, code), http.StatusUnauthorized, "otp_attempts_exceeded")
		}},
		{name: "daily_failure_budget", env: []string{"OTP_MAX_FAILURES_PER_DAY=3"}, run: func(t *testing.T, a *api) {
			code := a.SendCode(otpPhone)
			for range 2 {
				apitest.WantError(t, postVerify(a, otpPhone, otherCode(code)), http.StatusUnauthorized, "invalid_otp")
			}
			a.Clock.Advance(60 * time.Second)
			code = a.SendCode(otpPhone) // a fresh code does not reset the budget
			apitest.WantError(t, postVerify(a, otpPhone, otherCode(code)), http.StatusUnauthorized, "invalid_otp")
			r := postVerify(a, otpPhone, code)
			apitest.WantError(t, r, http.StatusTooManyRequests, "rate_limited")
			wantRetryAfter(t, r, 24*3600)
			if n, _ := a.Client.User.Query().Count(context.Background()); n != 0 {
				t.Fatalf("users: got %d, want 0", n)
			}
		}},
		{name: "malformed_code", run: func(t *testing.T, a *api) {
			code := a.SendCode(otpPhone)
			for _, bad := range []string{"12345", "abcdef", code + "0", " " + code[1:]} {
				apitest.WantError(t, postVerify(a, otpPhone, bad), http.StatusUnauthorized, "invalid_otp")
			}
			if r := postVerify(a, otpPhone, code); r.Status != http.StatusOK {
				t.Fatalf("right code after 4 malformed ones: got %d %s, want 200", r.Status, r.Body)
			}
		}},
	})
}

// otpSessionCount counts a user's sessions.
func otpSessionCount(t *testing.T, a *api, userID uuid.UUID) int {
	t.Helper()
	n, err := a.Client.Session.Query().Where(session.UserID(userID)).Count(context.Background())
	if err != nil {
		t.Fatalf("count sessions: %v", err)
	}
	return n
}

// TestOTPVerifyConcurrent races verifies of one code, each race on a fresh
// number, five times per dialect.
func TestOTPVerifyConcurrent(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("one_code_one_sign_in", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d, "OTP_MAX_VERIFY_FAILURES_PER_IP_PER_HOUR=1000")
			for i := range 5 {
				num := otpTestPhone(i)
				code := a.SendCode(num)
				status := make([]int, 20)
				errCode := make([]string, 20)
				apitest.Release(20, func(j int) {
					r := postVerify(a, num, code)
					status[j], errCode[j] = r.Status, r.ErrCode()
				})
				ok := 0
				for j, s := range status {
					switch {
					case s == http.StatusOK:
						ok++
					case s != http.StatusUnauthorized || (errCode[j] != "invalid_otp" && errCode[j] != "otp_attempts_exceeded"):
						t.Fatalf("round %d: got %d %s, want 200 or 401 invalid_otp/otp_attempts_exceeded\n%s", i, s, errCode[j], a.Logs)
					}
				}
				if ok != 1 {
					t.Fatalf("round %d: got %d sign-ins (statuses %v), want exactly 1", i, ok, status)
				}
				ids, err := a.Client.AuthIdentity.Query().
					Where(authidentity.ProviderEQ(authidentity.ProviderPhone), authidentity.ProviderID(num)).
					QueryUser().IDs(context.Background())
				if err != nil || len(ids) != 1 {
					t.Fatalf("round %d: users for %s: got %v (%v), want 1", i, num, ids, err)
				}
				if n := otpSessionCount(t, a, ids[0]); n != 1 {
					t.Fatalf("round %d: sessions: got %d, want 1", i, n)
				}
				if n := len(otpRows(t, a, num)); n != 0 {
					t.Fatalf("round %d: phone_otps rows: got %d, want 0", i, n)
				}
			}
		})
		t.Run("parallel_wrong_guesses", func(t *testing.T) {
			t.Parallel()
			// The daily budget is raised so that it does not answer first:
			// this case is about the per-code attempts counter.
			a := newAPI(t, d, "OTP_MAX_ATTEMPTS=5", "OTP_MAX_FAILURES_PER_DAY=1000", "OTP_MAX_VERIFY_FAILURES_PER_IP_PER_HOUR=1000")
			for i := range 5 {
				num := otpTestPhone(i)
				code := a.SendCode(num)
				wrong := otherCode(code)
				status := make([]int, 20)
				apitest.Release(20, func(j int) { status[j] = postVerify(a, num, wrong).Status })
				for _, s := range status {
					if s != http.StatusUnauthorized {
						t.Fatalf("round %d: got statuses %v, want all 401", i, status)
					}
				}
				rows := otpRows(t, a, num)
				if len(rows) != 1 || rows[0].Attempts != 5 {
					got := -1
					if len(rows) == 1 {
						got = rows[0].Attempts
					}
					t.Fatalf("round %d: attempts: got %d (%d rows), want exactly 5", i, got, len(rows))
				}
				apitest.WantError(t, postVerify(a, num, code), http.StatusUnauthorized, "otp_attempts_exceeded")
			}
		})
	})
}

// TestOTPLogs walks send, verify and refresh, then reads the captured log:
// security events are there, secrets and the plain number are not.
func TestOTPLogs(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	r := postSend(a, otpPhoneSpaced)
	if r.Status != http.StatusAccepted {
		t.Fatalf("send: got %d %s, want 202", r.Status, r.Body)
	}
	code := a.SMS.Code(t, otpPhone)
	apitest.WantError(t, postVerify(a, otpPhone, otherCode(code)), http.StatusUnauthorized, "invalid_otp")
	r = postVerify(a, otpPhone, code)
	var p, q apitest.Tokens
	r.JSON(t, &p)
	if r.Status != http.StatusOK {
		t.Fatalf("verify: got %d %s, want 200", r.Status, r.Body)
	}
	r = a.Refresh(p.RefreshToken)
	r.JSON(t, &q)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: got %d %s, want 200", r.Status, r.Body)
	}
	keyBody := strings.Join(strings.Split(strings.TrimSpace(a.Config.JWT.PrivateKey), "\n")[1:2], "")
	a.NoSecretsIn(code, otherCode(code), p.AccessToken, p.RefreshToken, q.AccessToken, q.RefreshToken,
		a.Config.OTP.Secret, a.Config.Sessions.RefreshTokenSecret, keyBody)
	logs := a.Logs.String()
	for _, plain := range []string{otpPhone, "9876543210", otpPhoneSpaced} {
		if strings.Contains(logs, plain) {
			t.Fatalf("the unmasked number %q reached the log", plain)
		}
	}
	for _, want := range []string{"msg=security_event event=otp_sent", "msg=security_event event=signin_succeeded",
		"msg=security_event event=signin_failed", "phone=" + otpPhoneMasked} {
		if !strings.Contains(logs, want) {
			t.Fatalf("log: %q is missing from\n%s", want, logs)
		}
	}
}

// verifyFrom posts a code for phone as the client at ip (X-Forwarded-For;
// the test service trusts the loopback proxy).
func verifyFrom(a *api, ip, phone, code string) apitest.Resp {
	a.T.Helper()
	body, _ := json.Marshal(map[string]string{"phone": phone, "code": code})
	return a.Request("POST", "/v1/auth/otp/verify", body, map[string]string{"X-Forwarded-For": ip})
}

// TestOTPLockOut: nobody can lock a number out by guessing at it while its
// owner asked for no code; a client's wrong codes are budgeted per IP; a
// locked number gets no SMS; the daily budget slides over midnight.
func TestOTPLockOut(t *testing.T) {
	t.Parallel()
	const trusted = "TRUSTED_PROXIES=127.0.0.1"
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		t.Run("guesses_without_a_code_lock_nothing", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d, trusted, "SMS_TEST_OTPS=+15555550100=123456")
			for _, num := range []string{otpPhone, "+15555550100"} {
				for i := range 25 {
					apitest.WantError(t, verifyFrom(a, fmt.Sprintf("198.51.100.%d", i), num, "000000"), http.StatusUnauthorized, "invalid_otp")
				}
			}
			code := a.SendCode(otpPhone)
			if r := postVerify(a, otpPhone, code); r.Status != http.StatusOK {
				t.Fatalf("the owner after 25 guesses at no code: got %d %s, want 200", r.Status, r.Body)
			}
			postSend(a, "+15555550100")
			if r := postVerify(a, "+15555550100", "123456"); r.Status != http.StatusOK {
				t.Fatalf("the review account after 25 guesses: got %d %s, want 200", r.Status, r.Body)
			}
		})
		t.Run("client_budget", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d, trusted, "OTP_MAX_VERIFY_FAILURES_PER_IP_PER_HOUR=3")
			codes := make([]string, 5)
			for i := range codes {
				codes[i] = a.SendCode(otpTestPhone(i))
			}
			const attacker = "2001:db8:7:7::1"
			for i := range 3 {
				apitest.WantError(t, verifyFrom(a, attacker, otpTestPhone(i), otherCode(codes[i])), http.StatusUnauthorized, "invalid_otp")
			}
			// Spent: even a right code from that client is refused, uncompared.
			r := verifyFrom(a, "2001:db8:7:7::2", otpTestPhone(3), codes[3])
			apitest.WantError(t, r, http.StatusTooManyRequests, "rate_limited")
			wantRetryAfter(t, r, 2*3600) // a sliding hour remembers a burst for up to two
			if r := verifyFrom(a, "203.0.113.5", otpTestPhone(3), codes[3]); r.Status != http.StatusOK {
				t.Fatalf("another client: got %d %s, want 200", r.Status, r.Body)
			}
		})
		t.Run("locked_number_gets_no_sms", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d, "OTP_MAX_FAILURES_PER_DAY=3")
			code := a.SendCode(otpPhone)
			for range 3 {
				apitest.WantError(t, postVerify(a, otpPhone, otherCode(code)), http.StatusUnauthorized, "invalid_otp")
			}
			a.Clock.Advance(a.Config.OTP.ResendCooldown)
			sent := a.SMS.Count()
			r := postSend(a, otpPhone)
			apitest.WantError(t, r, http.StatusTooManyRequests, "rate_limited")
			wantRetryAfter(t, r, 2*86400)
			if a.SMS.Count() != sent {
				t.Fatal("an SMS went to a locked number")
			}
		})
		t.Run("daily_budget_slides_over_midnight", func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, d, "OTP_MAX_FAILURES_PER_DAY=3")
			a.Clock.Advance(11*time.Hour + 58*time.Minute) // 23:58 UTC
			code := a.SendCode(otpPhone)
			for range 3 {
				apitest.WantError(t, postVerify(a, otpPhone, otherCode(code)), http.StatusUnauthorized, "invalid_otp")
			}
			a.Clock.Advance(3 * time.Minute) // 00:01: a new UTC day, not a new 24 hours
			apitest.WantError(t, postVerify(a, otpPhone, code), http.StatusTooManyRequests, "rate_limited")
			a.Clock.Advance(24 * time.Hour)
			code = a.SendCode(otpPhone)
			if r := postVerify(a, otpPhone, code); r.Status != http.StatusOK {
				t.Fatalf("a day later: got %d %s, want 200", r.Status, r.Body)
			}
		})
	})
}
