package handlers

import (
	"time"

	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/services"
)

// Response types: explicit, matching openapi.yaml; Ent structs are never
// serialised directly.

type userJSON struct {
	ID                uuid.UUID `json:"id"`
	Role              *string   `json:"role"`
	FullName          *string   `json:"full_name"`
	ProfilePictureURL *string   `json:"profile_picture_url"`
	NeedsRole         bool      `json:"needs_role"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func newUserJSON(u *ent.User) userJSON {
	var role *string
	if u.Role != nil {
		r := string(*u.Role)
		role = &r
	}
	return userJSON{
		ID: u.ID, Role: role, FullName: u.FullName, ProfilePictureURL: u.ProfilePictureURL,
		NeedsRole: role == nil, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
}

type tokenPairJSON struct {
	AccessToken  string   `json:"access_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int      `json:"expires_in"`
	RefreshToken string   `json:"refresh_token"`
	User         userJSON `json:"user"`
}

func newTokenPairJSON(p *services.TokenPair) tokenPairJSON {
	return tokenPairJSON{
		AccessToken: p.AccessToken, TokenType: "Bearer", ExpiresIn: int(p.ExpiresIn / time.Second),
		RefreshToken: p.RefreshToken, User: newUserJSON(p.User),
	}
}

type identityJSON struct {
	ID         uuid.UUID `json:"id"`
	Provider   string    `json:"provider"`
	ProviderID string    `json:"provider_id"`
	Email      *string   `json:"email"`
	CreatedAt  time.Time `json:"created_at"`
}

func newIdentitiesJSON(ids []*ent.AuthIdentity) []identityJSON {
	out := make([]identityJSON, 0, len(ids))
	for _, i := range ids {
		out = append(out, identityJSON{ID: i.ID, Provider: string(i.Provider), ProviderID: i.ProviderID, Email: i.Email, CreatedAt: i.CreatedAt.UTC()})
	}
	return out
}

type meJSON struct {
	userJSON
	Identities []identityJSON `json:"identities"`
}

type sessionJSON struct {
	ID         uuid.UUID `json:"id"`
	DeviceInfo *string   `json:"device_info"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

func newSessionsJSON(rows []*ent.Session, current uuid.UUID) []sessionJSON {
	out := make([]sessionJSON, 0, len(rows))
	for _, r := range rows {
		out = append(out, sessionJSON{ID: r.ID, DeviceInfo: r.DeviceInfo, CreatedAt: r.CreatedAt.UTC(),
			LastUsedAt: r.LastUsedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), Current: r.ID == current})
	}
	return out
}
