package handlers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/services"
)

func getMe(users *services.Users) gin.HandlerFunc {
	return func(c *gin.Context) {
		u := users.Me(principal(c))
		c.JSON(http.StatusOK, meJSON{userJSON: newUserJSON(u), Identities: newIdentitiesJSON(u.Edges.Identities)})
	}
}

// exportJSON is GET /v1/me/export's body.
type exportJSON struct {
	ExportedAt time.Time      `json:"exported_at"`
	User       userJSON       `json:"user"`
	Identities []identityJSON `json:"identities"`
	Sessions   []sessionJSON  `json:"sessions"`
	// Activity is the user's audit rows, oldest first.
	Activity []auditEventJSON `json:"activity"`
}

// exportMe answers the signed-in user's data as a JSON file to save.
func exportMe(users *services.Users) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principal(c)
		e, err := users.Export(c.Request.Context(), p)
		if err != nil {
			writeError(c, err)
			return
		}
		c.Header("Content-Disposition", `attachment; filename="agency-account-`+e.User.ID.String()+`.json"`)
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, exportJSON{ExportedAt: e.ExportedAt.UTC(), User: newUserJSON(e.User),
			Identities: newIdentitiesJSON(e.User.Edges.Identities), Sessions: newSessionsJSON(e.Sessions, p.SessionID),
			Activity: newAuditEventsJSON(e.Activity)})
	}
}

// deleteMe deletes the signed-in user's account (allowed before a role is
// chosen: a user must always be able to leave).
func deleteMe(users *services.Users) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := users.DeleteMe(c.Request.Context(), principal(c)); err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

type patchMeRequest struct {
	FullName          *string `json:"full_name"`
	ProfilePictureURL *string `json:"profile_picture_url"`
}

func patchMe(users *services.Users) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req patchMeRequest
		if !bindJSON(c, &req) {
			return
		}
		u, err := users.UpdateProfile(c.Request.Context(), principal(c), services.ProfileUpdate{
			FullName: req.FullName, ProfilePictureURL: req.ProfilePictureURL,
		})
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, newUserJSON(u))
	}
}

type setRoleRequest struct {
	Role *string `json:"role"`
}

func setRole(users *services.Users) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req setRoleRequest
		if !bindJSON(c, &req) {
			return
		}
		if !requireFields(c, field{"role", req.Role}) {
			return
		}
		pair, err := users.SetRole(c.Request.Context(), principal(c), *req.Role)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, newTokenPairJSON(pair))
	}
}

func listSessions(sessions *services.Sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principal(c)
		rows, err := sessions.List(c.Request.Context(), p)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, newSessionsJSON(rows, p.SessionID))
	}
}

func deleteSession(sessions *services.Sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := uuid.Parse(c.Param("id"))
		if err != nil {
			writeError(c, services.ErrSessionNotFound)
			return
		}
		if err := sessions.Revoke(c.Request.Context(), principal(c), id); err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

func listIdentities(users *services.Users) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, newIdentitiesJSON(users.Me(principal(c)).Edges.Identities))
	}
}
