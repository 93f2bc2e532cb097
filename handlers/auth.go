package handlers

import (
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/agency-platform/agency/services"
)

// maxDeviceInfo is the longest device label kept (characters).
const maxDeviceInfo = 255

type otpSendRequest struct {
	Phone *string `json:"phone"`
}

type otpSendResponse struct {
	ExpiresIn   int `json:"expires_in"`
	ResendAfter int `json:"resend_after"`
}

func otpSend(phone *services.PhoneAuth) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req otpSendRequest
		if !bindJSON(c, &req) {
			return
		}
		if !requireFields(c, field{"phone", req.Phone}) {
			return
		}
		res, err := phone.Send(c.Request.Context(), *req.Phone, c.ClientIP())
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusAccepted, otpSendResponse{
			ExpiresIn: int(res.ExpiresIn / time.Second), ResendAfter: int(res.ResendAfter / time.Second),
		})
	}
}

type otpVerifyRequest struct {
	Phone      *string `json:"phone"`
	Code       *string `json:"code"`
	DeviceInfo *string `json:"device_info"`
}

func otpVerify(phone *services.PhoneAuth) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req otpVerifyRequest
		if !bindJSON(c, &req) {
			return
		}
		if !requireFields(c, field{"phone", req.Phone}, field{"code", req.Code}) {
			return
		}
		device, err := deviceInfo(c, req.DeviceInfo)
		if err != nil {
			writeError(c, err)
			return
		}
		pair, err := phone.Verify(c.Request.Context(), *req.Phone, *req.Code, device, c.ClientIP())
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, newTokenPairJSON(pair))
	}
}

// deviceInfo is the client's label for the session, else its User-Agent
// (cut to 255 characters).
func deviceInfo(c *gin.Context, given *string) (string, error) {
	if given != nil {
		if utf8.RuneCountInString(*given) > maxDeviceInfo {
			return "", services.ErrValidationFailed.OnField("device_info", "device_info must be at most 255 characters")
		}
		if err := services.CheckText("device_info", *given); err != nil {
			return "", err
		}
		return *given, nil
	}
	ua := []rune(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(c.GetHeader("User-Agent"), "")))
	if len(ua) > maxDeviceInfo {
		ua = ua[:maxDeviceInfo]
	}
	return string(ua), nil
}

type refreshRequest struct {
	RefreshToken *string `json:"refresh_token"`
}

func refresh(sessions *services.Sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req refreshRequest
		if !bindJSON(c, &req) {
			return
		}
		if !requireFields(c, field{"refresh_token", req.RefreshToken}) {
			return
		}
		pair, err := sessions.Refresh(c.Request.Context(), *req.RefreshToken)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, newTokenPairJSON(pair))
	}
}

// logout ends the bearer's session (scope current, others or global), or,
// without a bearer token, the session of the refresh token in the body.
// With a bearer token the body is not used: the verified access token
// names the session.
func logout(sessions *services.Sessions) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, scope := c.Request.Context(), c.Query("scope")
		if token, ok := bearerToken(c); ok {
			writeNoContent(c, sessions.LogoutAccessToken(ctx, token, scope))
			return
		}
		if err := services.CheckLogoutScope(scope); err != nil {
			writeError(c, err)
			return
		}
		if !hasBody(c) {
			writeError(c, services.ErrUnauthorized)
			return
		}
		var req refreshRequest
		if !bindJSON(c, &req) {
			return
		}
		if !requireFields(c, field{"refresh_token", req.RefreshToken}) {
			return
		}
		writeNoContent(c, sessions.LogoutRefreshToken(ctx, *req.RefreshToken, scope))
	}
}
