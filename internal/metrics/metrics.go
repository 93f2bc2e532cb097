// Package metrics holds the service's Prometheus collectors on a registry
// of its own (never the global default), so every instance, and every
// parallel test, counts apart. The HTTP layer reports requests to it, the
// services report through their security events (Observe), and Handler
// serves it on the separate metrics listener.
package metrics

import (
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agency-platform/agency/services"
)

// Unmatched is the route label of a request no route matched: the raw path
// is never a label (unbounded, and it may carry ids).
const Unmatched = "unmatched"

// signInMethods and signInResults are the closed label values of
// agency_signins_total; anything else counts as "other".
var (
	signInMethods = []string{"phone", "google", "facebook"}
	signInResults = []string{resultSucceeded, resultFailed, resultUnavailable}
)

const (
	resultSucceeded   = "succeeded"
	resultFailed      = "failed"
	resultUnavailable = string(services.EventProviderUnavailable)
	other             = "other"
)

// Metrics are the collectors of one service instance. A nil *Metrics
// counts nothing.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	signIns     *prometheus.CounterVec
	otpSent     prometheus.Counter
	smsFailures prometheus.Counter
	refresh     *prometheus.CounterVec
	rotated     prometheus.Counter // refresh{result="rotated"}, resolved once: the hot path
	graceReplay prometheus.Counter
	reused      prometheus.Counter
	rateLimited *prometheus.CounterVec
	evicted     prometheus.Counter
	webhooks    *prometheus.CounterVec   // by outcome and event type
	webhookLag  *prometheus.HistogramVec // change committed → receiver's 2xx
}

// New returns the collectors on a fresh registry, with the Go runtime, the
// process and, when db is not nil, the pool statistics of db.
func New(db *sql.DB) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		reg.MustRegister(collectors.NewDBStatsCollector(db, "agency"))
	}
	f := factory{reg}
	m := &Metrics{
		reg: reg,
		requests: f.counterVec("agency_http_requests_total",
			"HTTP requests answered, by method, route template and status.", "method", "route", "status"),
		duration: f.histogramVec("agency_http_request_duration_seconds",
			"Time to answer an HTTP request, by method, route template and status.", "method", "route", "status"),
		signIns: f.counterVec("agency_signins_total",
			"Sign-in attempts by method (phone, google, facebook) and result (succeeded, failed, provider_unavailable).", "method", "result"),
		otpSent:     f.counter("agency_otp_sent_total", "One-time codes issued (sent by SMS, or fixed for a test number)."),
		smsFailures: f.counter("agency_sms_send_failures_total", "SMS sends that failed or that the provider refused."),
		refresh: f.counterVec("agency_refresh_total",
			"Refresh token uses by result: rotated, grace_replay (a retry answered with the current token), reuse_detected (the session was ended).", "result"),
		rateLimited: f.counterVec("agency_rate_limited_total",
			"Requests refused by a rate limit or the resend cooldown, by limit name.", "limit"),
		evicted: f.counter("agency_sessions_evicted_total", "Sessions ended because the user signed in on more devices than allowed."),
		webhooks: f.counterVec("agency_webhook_events_total",
			"Webhook events by outcome (queued: written with its change by this instance; delivered; retried: an attempt failed and another is scheduled; failed: out of attempts) and event type.", "outcome", "type"),
		webhookLag: f.reg2histogram("agency_webhook_delivery_latency_seconds",
			"Time from an event's change to its delivery (the receiver's 2xx), retries included, by event type.", "type"),
	}
	m.rotated = m.refresh.WithLabelValues("rotated")
	m.graceReplay = m.refresh.WithLabelValues("grace_replay")
	m.reused = m.refresh.WithLabelValues("reuse_detected")
	for _, typ := range webhookTypes {
		for _, outcome := range []string{"queued", "delivered", "retried", "failed"} {
			m.webhooks.WithLabelValues(outcome, typ)
		}
	}
	// Every known series starts at 0, so a rate over it exists before the first event.
	for _, method := range signInMethods {
		for _, result := range signInResults {
			m.signIns.WithLabelValues(method, result)
		}
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest counts one answered HTTP request. route is the matched
// route template (Unmatched when none matched).
func (m *Metrics) ObserveRequest(method, route string, status int, took time.Duration) {
	if m == nil {
		return
	}
	labels := []string{httpMethod(method), route, strconv.Itoa(status)}
	m.requests.WithLabelValues(labels...).Inc()
	m.duration.WithLabelValues(labels...).Observe(took.Seconds())
}

// httpMethod bounds the method label: a client may send any token as a
// method, and each would make a series.
func httpMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return other
}

// factory registers each collector it makes on one registry.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

// reg2histogram is a histogram with buckets from 10 ms to about 1 day, for
// a delay that retries can stretch.
func (f factory) reg2histogram(name, help string, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help,
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600}}, labels)
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: prometheus.DefBuckets}, labels)
	f.reg.MustRegister(h)
	return h
}
