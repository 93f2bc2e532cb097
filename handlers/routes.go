package handlers

import (
	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/ent/authidentity"
)

// addRoutes lists every route of the service.
func addRoutes(r *gin.Engine, d Deps) {
	r.NoRoute(notFound())
	r.NoMethod(methodNotAllowed())

	// Public: probes, keys, contract.
	r.GET("/healthz", healthz())
	r.GET("/readyz", readyz(d.DB))
	r.GET("/.well-known/jwks.json", jwks(d.JWKS))
	r.GET("/openapi.yaml", openAPI(d.OpenAPI))

	// Public: sign-in and token endpoints.
	auth := r.Group("/v1/auth")
	auth.POST("/otp/send", otpSend(d.Phone))
	auth.POST("/otp/verify", otpVerify(d.Phone))
	auth.POST("/refresh", refresh(d.Sessions))
	auth.POST("/logout", logout(d.Sessions))
	auth.POST("/google", providerSignIn(d.Providers, authidentity.ProviderGoogle))
	auth.POST("/facebook", providerSignIn(d.Providers, authidentity.ProviderFacebook))

	// Signed in, role not required: what a new user needs to pick a role.
	me := r.Group("/v1/me", requireAuth(d.Sessions))
	me.GET("", getMe(d.Users))
	me.PATCH("", patchMe(d.Users))
	me.PUT("/role", setRole(d.Users))
	me.GET("/sessions", listSessions(d.Sessions))
	me.DELETE("/sessions/:id", deleteSession(d.Sessions))

	// Signed in with a role: everything else under /v1.
	withRole := r.Group("/v1", requireAuth(d.Sessions), requireRole())
	withRole.GET("/me/identities", listIdentities(d.Users))
	withRole.POST("/me/identities/phone", linkPhone(d.Identities))
	withRole.POST("/me/identities/google", linkProvider(d.Identities, authidentity.ProviderGoogle))
	withRole.POST("/me/identities/facebook", linkProvider(d.Identities, authidentity.ProviderFacebook))
	withRole.DELETE("/me/identities/:id", unlinkIdentity(d.Identities))

	// Operators: the admin role only.
	admin := r.Group("/v1/admin", requireAuth(d.Sessions), requireAdmin())
	admin.GET("/users", adminListUsers(d.Admin))
	admin.GET("/users/:id", adminGetUser(d.Admin))
	admin.PUT("/users/:id/role", adminSetRole(d.Admin))
	admin.DELETE("/users/:id", adminDeleteUser(d.Admin))
	admin.DELETE("/users/:id/sessions", adminEndSessions(d.Admin))
}
