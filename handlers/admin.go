package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/services"
)

// requireAdmin refuses every caller without the admin role.
func requireAdmin() gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := services.RequireAdmin(principal(c)); err != nil {
			writeError(c, err)
			return
		}
		c.Next()
	}
}

type adminUserJSON struct {
	userJSON
	Identities []identityJSON `json:"identities"`
}

type adminUserDetailJSON struct {
	adminUserJSON
	SessionCount int `json:"session_count"`
}

type userPageJSON struct {
	Users      []adminUserJSON `json:"users"`
	NextCursor *string         `json:"next_cursor"`
}

func adminListUsers(admin *services.Admin) gin.HandlerFunc {
	return func(c *gin.Context) {
		f := services.UserFilter{Role: c.Query("role"), Query: c.Query("q"), Cursor: c.Query("cursor")}
		var ok bool
		if f.Limit, ok = pageLimit(c); !ok {
			return
		}
		page, err := admin.ListUsers(c.Request.Context(), f)
		if err != nil {
			writeError(c, err)
			return
		}
		out := userPageJSON{Users: make([]adminUserJSON, 0, len(page.Users))}
		for _, u := range page.Users {
			out.Users = append(out.Users, adminUserJSON{userJSON: newUserJSON(u), Identities: newIdentitiesJSON(u.Edges.Identities)})
		}
		if page.NextCursor != "" {
			out.NextCursor = &page.NextCursor
		}
		c.JSON(http.StatusOK, out)
	}
}

// userID parses the :id path parameter; a malformed id is not found.
func userID(c *gin.Context) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		writeError(c, services.ErrUserNotFound)
		return uuid.Nil, false
	}
	return id, true
}

func writeUserDetail(c *gin.Context, d *services.UserDetail, err error) {
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, adminUserDetailJSON{
		adminUserJSON: adminUserJSON{userJSON: newUserJSON(d.User), Identities: newIdentitiesJSON(d.User.Edges.Identities)},
		SessionCount:  d.Sessions,
	})
}

func adminGetUser(admin *services.Admin) gin.HandlerFunc {
	return func(c *gin.Context) {
		if id, ok := userID(c); ok {
			d, err := admin.GetUser(c.Request.Context(), id)
			writeUserDetail(c, d, err)
		}
	}
}

func adminSetRole(admin *services.Admin) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := userID(c)
		if !ok {
			return
		}
		var req setRoleRequest
		if !bindJSON(c, &req) {
			return
		}
		if !requireFields(c, field{"role", req.Role}) {
			return
		}
		d, err := admin.SetRole(c.Request.Context(), principal(c), id, *req.Role)
		writeUserDetail(c, d, err)
	}
}

func adminDeleteUser(admin *services.Admin) gin.HandlerFunc {
	return func(c *gin.Context) {
		if id, ok := userID(c); ok {
			writeNoContent(c, admin.DeleteUser(c.Request.Context(), principal(c), id))
		}
	}
}

func adminEndSessions(admin *services.Admin) gin.HandlerFunc {
	return func(c *gin.Context) {
		if id, ok := userID(c); ok {
			writeNoContent(c, admin.EndSessions(c.Request.Context(), principal(c), id))
		}
	}
}

// writeNoContent answers 204, or the error.
func writeNoContent(c *gin.Context, err error) {
	if err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
