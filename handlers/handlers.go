// Package handlers is the HTTP face of the service: a Gin engine, every
// route in routes.go, one file per resource, and errors.go as the only
// place where a service error becomes an HTTP status.
package handlers

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/internal/metrics"
	"github.com/agency-platform/agency/services"
)

// Pinger answers whether the database is reachable (a SELECT 1).
type Pinger interface {
	PingContext(ctx context.Context) error
}

// Deps are what the handlers need from the rest of the program.
type Deps struct {
	Logger *slog.Logger
	// DB is pinged by /readyz.
	DB Pinger
	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed; none
	// by default, so the client IP is the TCP peer.
	TrustedProxies []string
	Sessions       *services.Sessions
	Phone          *services.PhoneAuth
	Users          *services.Users
	Providers      *services.ProviderAuth
	Identities     *services.Identities
	Admin          *services.Admin
	Audit          *services.Audit
	Webhooks       *services.Webhooks
	// JWKS is the public key set document; OpenAPI the contract (YAML).
	JWKS    []byte
	OpenAPI []byte
	// Pages are the HTML pages beside the API (/docs, /console) and their switches.
	Pages Pages
	// Metrics count every request (nil: none); CORSAllowedOrigins are the
	// browser origins cors.go lets call the API (none: CORS off).
	Metrics            *metrics.Metrics
	CORSAllowedOrigins []string
}

// New builds the router: request id, metrics, recovery, request log, CORS
// and body limit around every route listed in routes.go.
func New(d Deps) (http.Handler, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// A path is exact: /v1/me/ is a JSON 404, not an HTML redirect.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.ContextWithFallback = true
	if err := r.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, err
	}
	if err := d.Pages.prepare(d.OpenAPI); err != nil {
		return nil, err
	}
	r.Use(requestID(), requestMetrics(d.Metrics), recovery(d.Logger), requestLog(d.Logger), securityHeaders(),
		cors(d.CORSAllowedOrigins), limitAuthHeader(), limitBody(maxBodyBytes))
	addRoutes(r, d)
	return r, nil
}
