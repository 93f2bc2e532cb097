package handlers

import (
	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/internal/apidocs"
)

// addRoutes lists every route of the service. Each group names the files
// of its handlers and of its tests (in this folder); each handler calls one
// method of the service named in its arguments.
func addRoutes(r *gin.Engine, d Deps) {
	r.NoRoute(notFound())
	r.NoMethod(methodNotAllowed())

	// Public: probes, keys, contract. health.go, meta.go; health_test.go, meta_test.go.
	r.GET("/healthz", healthz())
	r.HEAD("/healthz", healthz())
	r.GET("/readyz", readyz(d.DB))
	r.HEAD("/readyz", readyz(d.DB))
	r.GET("/.well-known/jwks.json", jwks(d.JWKS))
	r.GET("/openapi.yaml", openAPI(d.OpenAPI))

	// Public pages, each behind its switch (DOCS_UI, CONSOLE_UI, SCHEMA_UI), with a strict CSP.
	// pages.go, docs.go (internal/apidocs), console.go (web/), schema.go (internal/schemaviz);
	// docs_test.go, console_test.go, schema_test.go, schema_browser_test.go.
	pages := r.Group("", pageHeaders())
	if d.Pages.Docs {
		pages.GET("/docs", docsPage(d.Pages.reference))
		for _, f := range []string{"docs.css", "docs.js", "favicon.svg"} {
			pages.GET("/docs/"+f, asset(apidocs.Assets, f))
		}
	}
	if d.Pages.Console {
		pages.GET("/console", consolePage(d.Pages.CodeDelivery))
		for _, f := range []string{"console.css", "console.js", "favicon.svg"} {
			pages.GET("/console/"+f, asset(web, "web/"+f))
		}
	}
	if d.Pages.Schema != nil {
		pages.GET("/schema", schemaPage(d.Pages.Schema))
	}

	// Public: sign-in and token endpoints. auth.go, providers.go;
	// auth_otp_send_test.go, auth_otp_verify_test.go, auth_refresh_test.go,
	// logout_test.go, auth_google_test.go, auth_facebook_test.go, auth_providers_test.go.
	auth := r.Group("/v1/auth")
	auth.POST("/otp/send", otpSend(d.Phone))
	auth.POST("/otp/verify", otpVerify(d.Phone))
	auth.POST("/refresh", refresh(d.Sessions))
	auth.POST("/logout", logout(d.Sessions))
	auth.POST("/google", providerSignIn(d.Providers, authidentity.ProviderGoogle))
	auth.POST("/facebook", providerSignIn(d.Providers, authidentity.ProviderFacebook))

	// Signed in, role not required: what a new user needs to pick a role.
	// authn.go (requireAuth), me.go, audit.go; authn_test.go, me_test.go, sessions_test.go, audit_test.go.
	me := r.Group("/v1/me", requireAuth(d.Sessions))
	me.GET("", getMe(d.Users))
	me.PATCH("", patchMe(d.Users))
	me.DELETE("", deleteMe(d.Users))
	me.GET("/export", exportMe(d.Users))
	me.GET("/activity", myActivity(d.Audit))
	me.PUT("/role", setRole(d.Users))
	me.GET("/sessions", listSessions(d.Sessions))
	me.DELETE("/sessions/:id", deleteSession(d.Sessions))

	// Signed in with a role: everything else under /v1. identities.go; identities_test.go.
	withRole := r.Group("/v1", requireAuth(d.Sessions), requireRole())
	withRole.GET("/me/identities", listIdentities(d.Users))
	withRole.POST("/me/identities/phone", linkPhone(d.Identities))
	withRole.POST("/me/identities/google", linkProvider(d.Identities, authidentity.ProviderGoogle))
	withRole.POST("/me/identities/facebook", linkProvider(d.Identities, authidentity.ProviderFacebook))
	withRole.DELETE("/me/identities/:id", unlinkIdentity(d.Identities))

	// Operators: the admin role only. admin.go, audit.go; admin_test.go, admin_users_test.go,
	// audit_test.go, webhooks_test.go.
	admin := r.Group("/v1/admin", requireAuth(d.Sessions), requireAdmin())
	admin.GET("/users", adminListUsers(d.Admin))
	admin.GET("/users/:id", adminGetUser(d.Admin))
	admin.PUT("/users/:id/role", adminSetRole(d.Admin))
	admin.DELETE("/users/:id", adminDeleteUser(d.Admin))
	admin.DELETE("/users/:id/sessions", adminEndSessions(d.Admin))
	admin.GET("/audit", adminAudit(d.Audit))
	admin.GET("/webhooks/failed", adminFailedWebhooks(d.Webhooks))
	admin.POST("/webhooks/:id/retry", adminRetryWebhook(d.Webhooks))
}
