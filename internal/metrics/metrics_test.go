package metrics

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/services"
)

// TestMetrics_LabelsAreBounded: a label value outside its closed set
// (an unknown method, a limit name carrying a number or an address) is
// counted as "other", never as itself.
func TestMetrics_LabelsAreBounded(t *testing.T) {
	t.Parallel()
	m := New(nil)
	m.Observe(services.EventRateLimited, []slog.Attr{slog.String("limit", "otp_send:phone:+919812345670")})
	m.Observe(services.EventRateLimited, []slog.Attr{slog.String("limit", "provider_signin:ip:203.0.113.9")})
	m.Observe(services.EventRateLimited, []slog.Attr{slog.String("limit", "otp_fail:ip"), slog.String("phone", "+91******3210")})
	m.Observe(services.EventSignInSucceeded, []slog.Attr{slog.String("method", "+919812345670"), slog.String("user_id", "u-1")})
	m.Observe(services.EventSessionEvicted, []slog.Attr{slog.String("user_id", "u-1"), slog.Int("count", 3)})
	m.ObserveRequest("BREW", Unmatched, http.StatusMethodNotAllowed, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	scrape := rec.Body.String()
	for _, want := range []string{
		`agency_rate_limited_total{limit="other"} 2`,
		`agency_rate_limited_total{limit="otp_fail:ip"} 1`,
		`agency_signins_total{method="other",result="succeeded"} 1`,
		`agency_sessions_evicted_total 3`,
		`agency_http_requests_total{method="other",route="unmatched",status="405"} 1`,
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("scrape: no %s", want)
		}
	}
	for _, line := range strings.Split(scrape, "\n") {
		series, _, _ := strings.Cut(line, "} ") // the name and labels, not the value
		for _, leak := range []string{"9812345670", "203.0.113", "u-1", "BREW", "3210"} {
			if strings.Contains(series, "{") && strings.Contains(series, leak) {
				t.Fatalf("scrape carries %q: %s", leak, line)
			}
		}
	}
}

// TestMetrics_Nil: a nil *Metrics counts nothing and does not panic.
func TestMetrics_Nil(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.Observe(services.EventOTPSent, nil)
	m.ObserveRequest("GET", "/healthz", http.StatusOK, time.Millisecond)
}
