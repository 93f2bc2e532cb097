package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/services"
)

// providerSignInRequest is the body of Google and Facebook sign-in: the
// provider's token under its own name (id_token or access_token).
type providerSignInRequest struct {
	IDToken     *string `json:"id_token"`
	AccessToken *string `json:"access_token"`
	DeviceInfo  *string `json:"device_info"`
}

// tokenField is the body field holding each provider's token.
var tokenField = map[authidentity.Provider]string{
	authidentity.ProviderGoogle:   "id_token",
	authidentity.ProviderFacebook: "access_token",
}

// providerToken binds a provider body and returns its token; the other
// provider's field is an unknown field.
func providerToken(c *gin.Context, provider authidentity.Provider, req *providerSignInRequest) (string, bool) {
	if !bindJSON(c, req) {
		return "", false
	}
	token, other := req.IDToken, req.AccessToken
	if provider == authidentity.ProviderFacebook {
		token, other = req.AccessToken, req.IDToken
	}
	if other != nil {
		otherName := tokenField[authidentity.ProviderGoogle]
		if provider == authidentity.ProviderGoogle {
			otherName = tokenField[authidentity.ProviderFacebook]
		}
		writeError(c, invalidRequest(otherName, "unknown field "+otherName))
		return "", false
	}
	if err := required(tokenField[provider], token); err != nil {
		writeError(c, err)
		return "", false
	}
	return *token, true
}

func providerSignIn(auth *services.ProviderAuth, provider authidentity.Provider) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req providerSignInRequest
		token, ok := providerToken(c, provider, &req)
		if !ok {
			return
		}
		device, err := deviceInfo(c, req.DeviceInfo)
		if err != nil {
			writeError(c, err)
			return
		}
		pair, err := auth.SignIn(c.Request.Context(), provider, token, device)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, newTokenPairJSON(pair))
	}
}
