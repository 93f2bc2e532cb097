package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
)

// scrape is a parsed Prometheus text exposition.
type scrape map[string]*dto.MetricFamily

func parseScrape(t *testing.T, text string) scrape {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse scrape: %v\n%s", err, text)
	}
	return fams
}

// value sums the series of family name whose labels include the pairs
// given (key, value, key, value...): a counter's or gauge's value, a
// histogram's count.
func (s scrape) value(t *testing.T, name string, pairs ...string) float64 {
	t.Helper()
	fam, ok := s[name]
	if !ok {
		t.Fatalf("scrape: no family %s", name)
	}
	var sum float64
	for _, m := range fam.Metric {
		if !hasLabels(m, pairs) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.Label {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (s scrape) want(t *testing.T, want float64, name string, pairs ...string) {
	t.Helper()
	if got := s.value(t, name, pairs...); got != want {
		t.Errorf("%s%v: got %v, want %v", name, pairs, got, want)
	}
}

// TestMetrics_Families walks a phone sign-in (twice, evicting the first
// session), a refresh, a grace replay, a reuse, a failed code, two refused
// sends and a few routes, then reads the scrape: every family counts what
// happened, routes are labelled by template, and no label value carries a
// phone number, user id, session id or token.
func TestMetrics_Families(t *testing.T) {
	t.Parallel()
	const otherPhone = "+919812345672"
	a := newAPI(t, migration.Postgres, "OTP_MAX_SENDS_PER_HOUR=2", "MAX_SESSIONS_PER_USER=1")
	p1 := a.SignIn(tokPhoneA)
	p2 := a.SignIn(tokPhoneA) // the device limit evicts p1's session
	if r := postSend(a, tokPhoneA); r.Status != http.StatusTooManyRequests {
		t.Fatalf("third send in the hour: got %d %s, want 429", r.Status, r.Body)
	}
	code := a.SendCode(otherPhone)
	if r := postSend(a, otherPhone); r.Status != http.StatusTooManyRequests {
		t.Fatalf("resend within the cooldown: got %d %s, want 429", r.Status, r.Body)
	}
	if r := postVerify(a, otherPhone, wrongOTP(code)); r.Status == http.StatusOK {
		t.Fatalf("wrong code: got 200, want a refusal")
	}
	p3 := a.mustRefresh(p2.RefreshToken)
	if r := a.Refresh(p2.RefreshToken); r.Status != http.StatusOK {
		t.Fatalf("retry within the grace window: got %d %s, want 200", r.Status, r.Body)
	}
	missing := uuid.NewString()
	apitest.WantError(t, a.Call("DELETE", "/v1/me/sessions/"+missing, p3.AccessToken, nil), http.StatusNotFound, "not_found")
	a.Clock.Advance(a.Config.Sessions.RefreshReuseGrace + 1)
	apitest.WantError(t, a.Refresh(p2.RefreshToken), http.StatusUnauthorized, "refresh_token_reused")
	publicMetricsIsNotFound(t, a)

	s := parseScrape(t, a.Scrape())
	s.want(t, 2, "agency_signins_total", "method", "phone", "result", "succeeded")
	s.want(t, 1, "agency_signins_total", "method", "phone", "result", "failed")
	s.want(t, 0, "agency_signins_total", "method", "google", "result", "succeeded")
	s.want(t, 3, "agency_otp_sent_total")
	s.want(t, 0, "agency_sms_send_failures_total")
	s.want(t, 1, "agency_refresh_total", "result", "rotated")
	s.want(t, 1, "agency_refresh_total", "result", "grace_replay")
	s.want(t, 1, "agency_refresh_total", "result", "reuse_detected")
	s.want(t, 1, "agency_rate_limited_total", "limit", "otp_send:phone")
	s.want(t, 1, "agency_rate_limited_total", "limit", "otp_resend_cooldown")
	s.want(t, 1, "agency_sessions_evicted_total")

	s.want(t, 3, "agency_http_requests_total", "method", "POST", "route", "/v1/auth/otp/send", "status", "202")
	s.want(t, 2, "agency_http_requests_total", "method", "POST", "route", "/v1/auth/otp/send", "status", "429")
	s.want(t, 2, "agency_http_requests_total", "method", "POST", "route", "/v1/auth/refresh", "status", "200")
	s.want(t, 1, "agency_http_requests_total", "method", "POST", "route", "/v1/auth/refresh", "status", "401")
	s.want(t, 1, "agency_http_requests_total", "method", "DELETE", "route", "/v1/me/sessions/:id", "status", "404")
	s.want(t, 1, "agency_http_requests_total", "method", "GET", "route", "unmatched", "status", "404")
	s.want(t, 1, "agency_http_request_duration_seconds", "method", "DELETE", "route", "/v1/me/sessions/:id", "status", "404")

	if s.value(t, "go_sql_open_connections", "db_name", "agency") < 1 {
		t.Errorf("go_sql_open_connections: got none open, want the pool's")
	}
	for _, name := range []string{"go_sql_in_use_connections", "go_sql_wait_count_total", "go_sql_wait_duration_seconds_total",
		"go_goroutines", "process_cpu_seconds_total"} {
		s.value(t, name) // fails when the family is missing
	}

	secrets := []string{tokPhoneA, strings.TrimPrefix(tokPhoneA, "+"), otherPhone[3:], p1.User.ID, sidOf(t, p1.AccessToken),
		sidOf(t, p3.AccessToken), missing, p1.RefreshToken, p2.RefreshToken, p3.RefreshToken, p3.AccessToken}
	for name, fam := range s {
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				for _, secret := range secrets {
					if strings.Contains(l.GetValue(), secret) {
						t.Fatalf("%s label %s=%q carries a user's number, id or token", name, l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
}

// publicMetricsIsNotFound fails unless the public router answers GET
// /metrics with the JSON 404 of any unknown path: metrics live on their
// own listener only.
func publicMetricsIsNotFound(t *testing.T, a *api) {
	t.Helper()
	r := rawRequest(t, a, "GET", "/metrics", nil)
	apitest.WantError(t, r, http.StatusNotFound, "not_found")
	if strings.Contains(string(r.Body), "agency_") {
		t.Fatalf("the public router served metrics: %s", r.Body)
	}
}

// wrongOTP is a six-digit code other than code.
func wrongOTP(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}
