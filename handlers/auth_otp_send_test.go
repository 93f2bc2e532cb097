package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
)

// otpRowCount counts every phone_otps row.
func otpRowCount(t *testing.T, a *api) int {
	t.Helper()
	n, err := a.Client.PhoneOTP.Query().Count(context.Background())
	if err != nil {
		t.Fatalf("count phone_otps: %v", err)
	}
	return n
}

func TestOTPSend(t *testing.T) {
	t.Parallel()
	runOTPCases(t, []otpCase{
		{name: "ok_normalises_number", run: func(t *testing.T, a *api) {
			r := postSend(a, otpPhoneSpaced)
			var body struct {
				ExpiresIn   int `json:"expires_in"`
				ResendAfter int `json:"resend_after"`
			}
			r.JSON(t, &body)
			if r.Status != http.StatusAccepted || body.ExpiresIn != 300 || body.ResendAfter != 60 {
				t.Fatalf("got %d %s, want 202 with expires_in 300 and resend_after 60", r.Status, r.Body)
			}
			code := a.SMS.Code(t, otpPhone)
			if got := a.SMS.Count(); got != 1 {
				t.Fatalf("SMS sent: got %d, want 1", got)
			}
			rows := otpRows(t, a, otpPhone)
			if len(rows) != 1 || otpRowCount(t, a) != 1 {
				t.Fatalf("phone_otps rows for %s: got %d (of %d), want the only one", otpPhone, len(rows), otpRowCount(t, a))
			}
			if rows[0].Attempts != 0 || !rows[0].ExpiresAt.Equal(a.Clock.Now().Add(5*time.Minute)) {
				t.Fatalf("stored code: got attempts %d expires %v, want 0 and now+5m", rows[0].Attempts, rows[0].ExpiresAt)
			}
			if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(rows[0].OtpHash) || strings.Contains(rows[0].OtpHash, code) {
				t.Fatalf("otp_hash: got %q, want 64 hex chars of an HMAC, not the code", rows[0].OtpHash)
			}
		}},
		{name: "invalid_phone", run: func(t *testing.T, a *api) {
			for _, raw := range []string{"not a phone", "12345", "+91 12", "+919876543210x", otpPremiumPhone, ""} {
				apitest.WantError(t, postSend(a, raw), http.StatusBadRequest, "invalid_phone")
			}
			if got := a.SMS.Count(); got != 0 {
				t.Fatalf("SMS sent: got %d, want 0", got)
			}
			if got := otpRowCount(t, a); got != 0 {
				t.Fatalf("phone_otps rows: got %d, want 0", got)
			}
		}},
		{name: "country_not_allowed", env: []string{"SMS_ALLOWED_COUNTRIES=IN"}, run: func(t *testing.T, a *api) {
			apitest.WantError(t, postSend(a, otpUSPhone), http.StatusBadRequest, "invalid_phone")
			if a.SMS.Count() != 0 || otpRowCount(t, a) != 0 {
				t.Fatalf("after a refused country: got %d SMS and %d rows, want none", a.SMS.Count(), otpRowCount(t, a))
			}
			if r := postSend(a, otpPhone); r.Status != http.StatusAccepted {
				t.Fatalf("allowed country: got %d %s, want 202", r.Status, r.Body)
			}
		}},
		{name: "cooldown", run: func(t *testing.T, a *api) {
			a.SendCode(otpPhone)
			r := postSend(a, otpPhone)
			apitest.WantError(t, r, http.StatusTooManyRequests, "otp_resend_too_soon")
			wantRetryAfter(t, r, 60)
			a.Clock.Advance(45 * time.Second)
			r = postSend(a, otpPhone)
			apitest.WantError(t, r, http.StatusTooManyRequests, "otp_resend_too_soon")
			wantRetryAfter(t, r, 15)
			if got := a.SMS.Count(); got != 1 {
				t.Fatalf("SMS sent: got %d, want 1", got)
			}
		}},
		{name: "resend_replaces_code", run: func(t *testing.T, a *api) {
			old := a.SendCode(otpPhone)
			a.Clock.Advance(60 * time.Second)
			fresh := a.SendCode(otpPhone)
			for fresh == old { // one chance in a million
				a.Clock.Advance(60 * time.Second)
				fresh = a.SendCode(otpPhone)
			}
			if n := len(otpRows(t, a, otpPhone)); n != 1 {
				t.Fatalf("phone_otps rows after a resend: got %d, want 1", n)
			}
			apitest.WantError(t, postVerify(a, otpPhone, old), http.StatusUnauthorized, "invalid_otp")
			if r := postVerify(a, otpPhone, fresh); r.Status != http.StatusOK {
				t.Fatalf("new code: got %d %s, want 200", r.Status, r.Body)
			}
		}},
		{name: "per_number_limit", run: func(t *testing.T, a *api) {
			for i := range 5 {
				if r := postSend(a, otpPhone); r.Status != http.StatusAccepted {
					t.Fatalf("send %d: got %d %s, want 202", i+1, r.Status, r.Body)
				}
				a.Clock.Advance(61 * time.Second)
			}
			r := postSend(a, otpPhone)
			apitest.WantError(t, r, http.StatusTooManyRequests, "rate_limited")
			wantRetryAfter(t, r, 3600)
			if got := a.SMS.Count(); got != 5 {
				t.Fatalf("SMS sent: got %d, want 5", got)
			}
			if r := postSend(a, otpOtherPhone); r.Status != http.StatusAccepted {
				t.Fatalf("another number: got %d %s, want 202", r.Status, r.Body)
			}
		}},
		{name: "per_ip_limit", env: []string{"OTP_MAX_SENDS_PER_IP_PER_HOUR=3"}, run: func(t *testing.T, a *api) {
			for i := range 3 {
				if r := postSend(a, otpTestPhone(i)); r.Status != http.StatusAccepted {
					t.Fatalf("send %d: got %d %s, want 202", i+1, r.Status, r.Body)
				}
			}
			r := postSend(a, otpTestPhone(3))
			apitest.WantError(t, r, http.StatusTooManyRequests, "rate_limited")
			wantRetryAfter(t, r, 3600)
			if got := a.SMS.Count(); got != 3 {
				t.Fatalf("SMS sent: got %d, want 3", got)
			}
			if n := len(otpRows(t, a, otpTestPhone(3))); n != 0 {
				t.Fatalf("phone_otps rows for the refused number: got %d, want 0", n)
			}
		}},
		{name: "same_answer_with_and_without_account", run: func(t *testing.T, a *api) {
			a.SignIn(otpPhone)
			known, unknown := postSend(a, otpPhone), postSend(a, otpOtherPhone)
			if known.Status != http.StatusAccepted || unknown.Status != known.Status || string(known.Body) != string(unknown.Body) {
				t.Fatalf("got %d %s for a user's number and %d %s for a new one, want the same 202",
					known.Status, known.Body, unknown.Status, unknown.Body)
			}
			for _, h := range []string{"Content-Type", "Content-Length", "Retry-After"} {
				if known.Header.Get(h) != unknown.Header.Get(h) {
					t.Fatalf("header %s: got %q and %q, want the same", h, known.Header.Get(h), unknown.Header.Get(h))
				}
			}
		}},
		{name: "sms_failure_leaves_nothing", run: func(t *testing.T, a *api) {
			a.SMS.Set(true, false)
			apitest.WantError(t, postSend(a, otpPhone), http.StatusBadGateway, "sms_failed")
			if n := len(otpRows(t, a, otpPhone)); n != 0 {
				t.Fatalf("phone_otps rows after a failed SMS: got %d, want 0", n)
			}
			a.SMS.Set(false, false)
			code := a.SendCode(otpPhone) // at once: no cooldown was left
			if r := postVerify(a, otpPhone, code); r.Status != http.StatusOK {
				t.Fatalf("verify after the retry: got %d %s, want 200", r.Status, r.Body)
			}
		}},
		{name: "sms_failures_use_no_quota", env: []string{"OTP_MAX_SENDS_PER_HOUR=2", "OTP_MAX_SENDS_PER_IP_PER_HOUR=2"},
			run: func(t *testing.T, a *api) {
				a.SMS.Set(true, false)
				for range 3 {
					apitest.WantError(t, postSend(a, otpPhone), http.StatusBadGateway, "sms_failed")
				}
				a.SMS.Set(false, false)
				a.SendCode(otpPhone) // 1 of 2: the failures were refunded
				a.Clock.Advance(a.Config.OTP.ResendCooldown)
				a.SendCode(otpPhone) // 2 of 2
				a.Clock.Advance(a.Config.OTP.ResendCooldown)
				apitest.WantError(t, postSend(a, otpPhone), http.StatusTooManyRequests, "rate_limited")
			}},
		{name: "sms_hang_times_out_and_keeps_the_code", env: []string{"SMS_TIMEOUT=200ms"}, run: func(t *testing.T, a *api) {
			a.SMS.Set(false, true)
			start := time.Now()
			apitest.WantError(t, postSend(a, otpPhone), http.StatusBadGateway, "sms_failed")
			if took := time.Since(start); took > time.Second {
				t.Fatalf("a hanging sender: got an answer after %v, want within 1s", took)
			}
			// A timeout is no verdict: the SMS may still arrive, so its code
			// stays valid and the cooldown stays.
			if n := len(otpRows(t, a, otpPhone)); n != 1 {
				t.Fatalf("phone_otps rows after a timed-out SMS: got %d, want the code kept", n)
			}
			a.SMS.Set(false, false)
			r := postSend(a, otpPhone)
			apitest.WantError(t, r, http.StatusTooManyRequests, "otp_resend_too_soon")
			wantRetryAfter(t, r, 60)
			a.Clock.Advance(a.Config.OTP.ResendCooldown)
			a.SendCode(otpPhone)
		}},
		{name: "sms_provider_down_keeps_limits", env: []string{"OTP_MAX_SENDS_PER_HOUR=3"}, run: func(t *testing.T, a *api) {
			a.SMS.SetDown(true)
			apitest.WantError(t, postSend(a, otpPhone), http.StatusBadGateway, "sms_failed")
			for range 5 { // retried at once: the cooldown holds
				apitest.WantError(t, postSend(a, otpPhone), http.StatusTooManyRequests, "otp_resend_too_soon")
			}
			for range 2 {
				a.Clock.Advance(a.Config.OTP.ResendCooldown)
				apitest.WantError(t, postSend(a, otpPhone), http.StatusBadGateway, "sms_failed")
			}
			a.Clock.Advance(a.Config.OTP.ResendCooldown)
			apitest.WantError(t, postSend(a, otpPhone), http.StatusTooManyRequests, "rate_limited")
		}},
		{name: "test_number", env: []string{"SMS_TEST_OTPS=+15555550100=123456"},
			run: func(t *testing.T, a *api) {
				const testPhone = "+15555550100"
				if r := postSend(a, testPhone); r.Status != http.StatusAccepted {
					t.Fatalf("send: got %d %s, want 202", r.Status, r.Body)
				}
				if got := a.SMS.Count(); got != 0 {
					t.Fatalf("SMS sent to a test number: got %d, want 0", got)
				}
				apitest.WantError(t, postVerify(a, testPhone, "654321"), http.StatusUnauthorized, "invalid_otp")
				if r := postVerify(a, testPhone, "123456"); r.Status != http.StatusOK {
					t.Fatalf("fixed code: got %d %s, want 200", r.Status, r.Body)
				}
			}},
		{name: "test_number_valid", env: []string{"SMS_TEST_OTPS=+919812345678=123456"}, run: func(t *testing.T, a *api) {
			// The same feature with a number the phone library accepts.
			r := postSend(a, "+91 98123 45678")
			if r.Status != http.StatusAccepted {
				t.Fatalf("send: got %d %s, want 202", r.Status, r.Body)
			}
			if got := a.SMS.Count(); got != 0 {
				t.Fatalf("SMS sent to a test number: got %d, want 0", got)
			}
			if n := len(otpRows(t, a, "+919812345678")); n != 1 {
				t.Fatalf("phone_otps rows: got %d, want 1", n)
			}
			apitest.WantError(t, postVerify(a, "+919812345678", "654321"), http.StatusUnauthorized, "invalid_otp")
			if r := postVerify(a, "+919812345678", "123456"); r.Status != http.StatusOK {
				t.Fatalf("fixed code: got %d %s, want 200", r.Status, r.Body)
			}
		}},
	})
}

// TestOTPSendConcurrent races sends for one number: however many arrive at
// once, one code is stored and one SMS goes out.
func TestOTPSendConcurrent(t *testing.T) {
	t.Parallel()
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		a := newAPI(t, d, "OTP_MAX_SENDS_PER_IP_PER_HOUR=1000")
		for i := range 5 {
			num := otpTestPhone(i)
			before := a.SMS.Count()
			status := make([]int, 10)
			errCode := make([]string, 10)
			apitest.Release(10, func(j int) {
				r := postSend(a, num)
				status[j], errCode[j] = r.Status, r.ErrCode()
			})
			accepted := 0
			for j, s := range status {
				switch {
				case s == http.StatusAccepted:
					accepted++
				case s != http.StatusTooManyRequests || (errCode[j] != "otp_resend_too_soon" && errCode[j] != "rate_limited"):
					t.Fatalf("round %d: got %d %s, want 202 or 429", i, s, errCode[j])
				}
			}
			if accepted != 1 || a.SMS.Count()-before != 1 || len(otpRows(t, a, num)) != 1 {
				t.Fatalf("round %d: got %d accepted, %d SMS, %d rows, want 1 of each",
					i, accepted, a.SMS.Count()-before, len(otpRows(t, a, num)))
			}
			if r := postVerify(a, num, a.SMS.Code(t, num)); r.Status != http.StatusOK {
				t.Fatalf("round %d: the SMS'd code: got %d %s, want 200", i, r.Status, r.Body)
			}
		}
	})
}

// TestOTPSend_WebhookOutcomes drives the real webhook sender: an answer
// after the timeout and a 500 are no verdict (the code and the cooldown
// stay, nothing is sent again at once), a 400 is a refusal (refunded, a
// retry goes out at once).
func TestOTPSend_WebhookOutcomes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		status  int
		delay   time.Duration
		refused bool
	}{
		{name: "answers_after_the_timeout", status: http.StatusOK, delay: 700 * time.Millisecond},
		{name: "answers_500", status: http.StatusInternalServerError},
		{name: "answers_400", status: http.StatusBadRequest, refused: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int32
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				time.Sleep(tt.delay)
				w.WriteHeader(tt.status)
			}))
			t.Cleanup(hook.Close)
			a := &api{apitest.NewConfiguredSMS(t, migration.Postgres, "SMS_PROVIDER=webhook",
				"SMS_WEBHOOK_URL="+hook.URL, "SMS_TIMEOUT=200ms")}
			for range 4 {
				r := postSend(a, otpPhone)
				if r.Status != http.StatusBadGateway && r.Status != http.StatusTooManyRequests {
					t.Fatalf("send: got %d %s, want 502 sms_failed or 429", r.Status, r.Body)
				}
			}
			want := int32(1)
			if tt.refused {
				want = 4
			}
			if got := hits.Load(); got != want {
				t.Fatalf("webhook calls for 4 sends within the cooldown: got %d, want %d", got, want)
			}
			if rows := otpRows(t, a, otpPhone); (len(rows) == 1) == tt.refused {
				t.Fatalf("phone_otps rows: got %d, want a code kept only when there was no verdict", len(rows))
			}
		})
	}
}
