package handlers

import "github.com/gin-gonic/gin"

// addRoutes lists every route of the service.
func addRoutes(r *gin.Engine, d Deps) {
	r.NoRoute(notFound())
	r.NoMethod(methodNotAllowed())

	// Probes for orchestrators and load balancers.
	r.GET("/healthz", healthz())
	r.GET("/readyz", readyz(d.DB))
}
