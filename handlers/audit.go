package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/services"
)

// auditEventJSON is one audit row as the API shows it.
type auditEventJSON struct {
	ID           int64          `json:"id"`
	Type         string         `json:"type"`
	Time         time.Time      `json:"time"`
	ActorUserID  *uuid.UUID     `json:"actor_user_id"`
	TargetUserID *uuid.UUID     `json:"target_user_id"`
	SessionID    *uuid.UUID     `json:"session_id"`
	IP           *string        `json:"ip"`
	Details      map[string]any `json:"details"`
}

// auditPageJSON is a page of audit rows, like the admin user list.
type auditPageJSON struct {
	Events     []auditEventJSON `json:"events"`
	NextCursor *string          `json:"next_cursor"`
}

func newAuditEventsJSON(rows []*ent.AuditEvent) []auditEventJSON {
	out := make([]auditEventJSON, 0, len(rows))
	for _, r := range rows {
		details := r.Details
		if details == nil {
			details = map[string]any{}
		}
		out = append(out, auditEventJSON{ID: r.ID, Type: string(r.Type), Time: r.CreatedAt.UTC(), ActorUserID: r.ActorUserID,
			TargetUserID: r.TargetUserID, SessionID: r.SessionID, IP: r.IP, Details: details})
	}
	return out
}

func writeAuditPage(c *gin.Context, page *services.AuditPage, err error) {
	if err != nil {
		writeError(c, err)
		return
	}
	out := auditPageJSON{Events: newAuditEventsJSON(page.Events)}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	c.JSON(http.StatusOK, out)
}

// pageLimit reads ?limit=; ok is false when it answered an error.
func pageLimit(c *gin.Context) (int, bool) {
	l := c.Query("limit")
	if l == "" {
		return 0, true
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 {
		writeError(c, services.ErrBadLimit)
		return 0, false
	}
	return n, true
}

// queryTime reads an RFC 3339 time parameter; ok is false when it answered an error.
func queryTime(c *gin.Context, name string) (time.Time, bool) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		writeError(c, services.ErrBadTime(name))
		return time.Time{}, false
	}
	return t, true
}

// myActivity answers the caller's own recent security events.
func myActivity(audit *services.Audit) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit, ok := pageLimit(c)
		if !ok {
			return
		}
		page, err := audit.Activity(c.Request.Context(), principal(c), limit, c.Query("cursor"))
		writeAuditPage(c, page, err)
	}
}

// adminAudit searches the audit trail.
func adminAudit(audit *services.Audit) gin.HandlerFunc {
	return func(c *gin.Context) {
		f := services.AuditFilter{Type: c.Query("type"), Cursor: c.Query("cursor")}
		var ok bool
		if f.Limit, ok = pageLimit(c); !ok {
			return
		}
		if f.Since, ok = queryTime(c, "since"); !ok {
			return
		}
		if f.Until, ok = queryTime(c, "until"); !ok {
			return
		}
		if v := c.Query("user_id"); v != "" {
			id, err := uuid.Parse(v)
			if err != nil {
				writeError(c, services.ErrBadAuditUser)
				return
			}
			f.UserID = id
		}
		page, err := audit.List(c.Request.Context(), f)
		writeAuditPage(c, page, err)
	}
}

// webhookEventJSON is a webhook event as admins see it (its body included:
// it never holds a token, code or secret).
type webhookEventJSON struct {
	ID        uuid.UUID      `json:"id"`
	Type      string         `json:"type"`
	UserID    uuid.UUID      `json:"user_id"`
	CreatedAt time.Time      `json:"created_at"`
	Status    string         `json:"status"`
	Attempts  int            `json:"attempts"`
	LastError *string        `json:"last_error"`
	Payload   map[string]any `json:"payload"`
}

type webhookPageJSON struct {
	Events     []webhookEventJSON `json:"events"`
	NextCursor *string            `json:"next_cursor"`
}

// adminFailedWebhooks lists the events that ran out of attempts.
func adminFailedWebhooks(hooks *services.Webhooks) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit, ok := pageLimit(c)
		if !ok {
			return
		}
		page, err := hooks.ListFailed(c.Request.Context(), limit, c.Query("cursor"))
		if err != nil {
			writeError(c, err)
			return
		}
		out := webhookPageJSON{Events: make([]webhookEventJSON, 0, len(page.Events))}
		for _, e := range page.Events {
			out.Events = append(out.Events, webhookEventJSON{ID: e.EventID, Type: string(e.Type), UserID: e.UserID,
				CreatedAt: e.CreatedAt.UTC(), Status: string(e.Status), Attempts: e.Attempts, LastError: e.LastError,
				Payload: payloadJSON(e.Payload)})
		}
		if page.NextCursor != "" {
			out.NextCursor = &page.NextCursor
		}
		c.JSON(http.StatusOK, out)
	}
}

// adminRetryWebhook re-queues a failed event.
func adminRetryWebhook(hooks *services.Webhooks) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := uuid.Parse(c.Param("id"))
		if err != nil {
			writeError(c, services.ErrWebhookNotFailed)
			return
		}
		if err := hooks.Retry(c.Request.Context(), principal(c), id); err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusAccepted)
	}
}

// payloadJSON is a stored webhook body as JSON (it was written by
// json.Marshal, so it parses).
func payloadJSON(body string) map[string]any {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) != nil {
		return map[string]any{}
	}
	return m
}
