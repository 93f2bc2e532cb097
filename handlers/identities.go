package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/services"
)

type linkPhoneRequest struct {
	Phone *string `json:"phone"`
	Code  *string `json:"code"`
}

func linkPhone(ids *services.Identities) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req linkPhoneRequest
		if !bindJSON(c, &req) {
			return
		}
		if !requireFields(c, field{"phone", req.Phone}, field{"code", req.Code}) {
			return
		}
		ident, err := ids.LinkPhone(c.Request.Context(), principal(c), *req.Phone, *req.Code, c.ClientIP())
		writeIdentity(c, ident, err)
	}
}

func linkProvider(ids *services.Identities, provider authidentity.Provider) gin.HandlerFunc {
	return func(c *gin.Context) {
		_, token, ok := bindProvider(c, provider, false)
		if !ok {
			return
		}
		ident, err := ids.LinkProvider(c.Request.Context(), principal(c), provider, token, c.ClientIP())
		writeIdentity(c, ident, err)
	}
}

// writeIdentity answers a link: 201 with the new identity, or the error.
func writeIdentity(c *gin.Context, ident *ent.AuthIdentity, err error) {
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, newIdentitiesJSON([]*ent.AuthIdentity{ident})[0])
}

func unlinkIdentity(ids *services.Identities) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := uuid.Parse(c.Param("id"))
		if err != nil {
			writeError(c, services.ErrIdentityNotFound)
			return
		}
		if err := ids.Unlink(c.Request.Context(), principal(c), id); err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}
