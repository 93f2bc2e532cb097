package metrics

import (
	"log/slog"
	"regexp"
	"slices"

	"github.com/agency-platform/agency/services"
)

// Observe counts one security event of the services (it is their
// services.Observer). Labels come only from attributes with a closed set
// of values (method, limit name), checked here, so no user id, phone
// number, address or token ever becomes a label value.
func (m *Metrics) Observe(event services.Event, attrs []slog.Attr) {
	if m == nil {
		return
	}
	switch event {
	case services.EventRefreshRotated:
		m.rotated.Inc()
	case services.EventRefreshGraceReplayed:
		m.graceReplay.Inc()
	case services.EventRefreshTokenReused:
		m.reused.Inc()
	case services.EventSignInSucceeded:
		m.signIns.WithLabelValues(signInMethod(attrs), resultSucceeded).Inc()
	case services.EventSignInFailed:
		m.signIns.WithLabelValues(signInMethod(attrs), resultFailed).Inc()
	case services.EventProviderUnavailable:
		m.signIns.WithLabelValues(signInMethod(attrs), resultUnavailable).Inc()
	case services.EventOTPSent:
		m.otpSent.Inc()
	case services.EventOTPSendFailed:
		m.smsFailures.Inc()
	case services.EventRateLimited:
		m.rateLimited.WithLabelValues(limitName(attrs)).Inc()
	case services.EventWebhookQueued:
		m.webhooks.WithLabelValues("queued", webhookType(attrs)).Inc()
	case services.EventWebhookRetried:
		m.webhooks.WithLabelValues("retried", webhookType(attrs)).Inc()
	case services.EventWebhookFailed:
		m.webhooks.WithLabelValues("failed", webhookType(attrs)).Inc()
	case services.EventWebhookDelivered:
		typ := webhookType(attrs)
		m.webhooks.WithLabelValues("delivered", typ).Inc()
		if v, ok := attr(attrs, "latency_seconds"); ok && v.Kind() == slog.KindFloat64 {
			m.webhookLag.WithLabelValues(typ).Observe(v.Float64())
		}
	case services.EventSessionEvicted:
		if n, ok := attr(attrs, "count"); ok && n.Kind() == slog.KindInt64 {
			m.evicted.Add(float64(n.Int64()))
		}
	}
}

// attr returns the value of the attribute named key.
func attr(attrs []slog.Attr, key string) (slog.Value, bool) {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return slog.Value{}, false
}

// webhookTypes are the event types, the closed label values of the webhook metrics.
var webhookTypes = []string{"user.created", "user.role_selected", "user.updated", "user.deleted", "identity.linked", "identity.unlinked"}

func webhookType(attrs []slog.Attr) string {
	if v, ok := attr(attrs, "type"); ok && slices.Contains(webhookTypes, v.String()) {
		return v.String()
	}
	return other
}

func signInMethod(attrs []slog.Attr) string {
	if v, ok := attr(attrs, "method"); ok && slices.Contains(signInMethods, v.String()) {
		return v.String()
	}
	return other
}

// limitNameRe is the shape of a limit name (otp_send:phone,
// otp_resend_cooldown): letters and underscores, no digits, so a number or
// an address that slipped into one is refused.
var limitNameRe = regexp.MustCompile(`^[a-z_]{1,40}(:[a-z_]{1,40})?$`)

func limitName(attrs []slog.Attr) string {
	if v, ok := attr(attrs, "limit"); ok && limitNameRe.MatchString(v.String()) {
		return v.String()
	}
	return other
}
