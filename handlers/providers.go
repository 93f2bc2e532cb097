package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/services"
)

// providerRequest is the body of Google and Facebook sign-in and linking:
// the provider's token under its own name. Only the fields a route
// accepts are decoded; any other is an unknown field (400).
type providerRequest interface {
	token() field
	device() *string
}

type googleSignInRequest struct {
	IDToken    *string `json:"id_token"`
	DeviceInfo *string `json:"device_info"`
}

func (r *googleSignInRequest) token() field    { return field{"id_token", r.IDToken} }
func (r *googleSignInRequest) device() *string { return r.DeviceInfo }

type facebookSignInRequest struct {
	AccessToken *string `json:"access_token"`
	DeviceInfo  *string `json:"device_info"`
}

func (r *facebookSignInRequest) token() field    { return field{"access_token", r.AccessToken} }
func (r *facebookSignInRequest) device() *string { return r.DeviceInfo }

type googleLinkRequest struct {
	IDToken *string `json:"id_token"`
}

func (r *googleLinkRequest) token() field    { return field{"id_token", r.IDToken} }
func (r *googleLinkRequest) device() *string { return nil }

type facebookLinkRequest struct {
	AccessToken *string `json:"access_token"`
}

func (r *facebookLinkRequest) token() field    { return field{"access_token", r.AccessToken} }
func (r *facebookLinkRequest) device() *string { return nil }

// newProviderRequest returns the body type of a provider route.
func newProviderRequest(provider authidentity.Provider, signIn bool) providerRequest {
	switch {
	case provider == authidentity.ProviderGoogle && signIn:
		return &googleSignInRequest{}
	case provider == authidentity.ProviderGoogle:
		return &googleLinkRequest{}
	case signIn:
		return &facebookSignInRequest{}
	}
	return &facebookLinkRequest{}
}

// bindProvider decodes a provider body and returns it with its token.
func bindProvider(c *gin.Context, provider authidentity.Provider, signIn bool) (providerRequest, string, bool) {
	req := newProviderRequest(provider, signIn)
	if !bindJSON(c, req) || !requireFields(c, req.token()) {
		return nil, "", false
	}
	return req, *req.token().value, true
}

func providerSignIn(auth *services.ProviderAuth, provider authidentity.Provider) gin.HandlerFunc {
	return func(c *gin.Context) {
		req, token, ok := bindProvider(c, provider, true)
		if !ok {
			return
		}
		device, err := deviceInfo(c, req.device())
		if err != nil {
			writeError(c, err)
			return
		}
		pair, err := auth.SignIn(c.Request.Context(), provider, token, device, c.ClientIP())
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, newTokenPairJSON(pair))
	}
}
