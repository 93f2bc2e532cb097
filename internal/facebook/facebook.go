// Package facebook verifies Facebook Login user access tokens against the Graph API.
//
// A client-side login hands us a user access token; Verify asks Graph
// whether that token was issued to our app for a user (debug_token) and
// then reads the profile with it (/me). Tokens, the app secret and the
// appsecret_proof travel in query strings, as Graph requires, so no error
// returned here ever quotes a URL, a Graph error message or a response body.
package facebook

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agency-platform/agency/internal/upstream"
)

// maxTokenLen bounds the token we forward. Graph user tokens are a few
// hundred bytes; anything far longer is not a token and would only bloat
// the request line.
const maxTokenLen = 4096

// Config configures a Verifier.
type Config struct {
	// GraphURL is the versioned Graph base URL, e.g.
	// "https://graph.facebook.com/v19.0"; a trailing slash is ignored.
	GraphURL string
	// AppID is the app that tokens must have been issued to.
	AppID string
	// AppSecret builds the app access token and the appsecret_proof.
	AppSecret string
	// Timeout bounds one whole Verify (both Graph calls); zero means only
	// the caller's context bounds it.
	Timeout time.Duration
	// HTTPClient is optional; nil uses http.DefaultClient.
	HTTPClient *http.Client
}

// Verifier checks user access tokens. It is safe for concurrent use.
type Verifier struct {
	graphURL  string
	appID     string
	appSecret string
	timeout   time.Duration
	client    *http.Client
	now       func() time.Time
}

// New returns a Verifier. now decides token expiry; nil means time.Now.
// A Verifier with an empty app id or secret is valid but disabled.
func New(cfg Config, now func() time.Time) *Verifier {
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{
		graphURL:  strings.TrimRight(cfg.GraphURL, "/"),
		appID:     cfg.AppID,
		appSecret: cfg.AppSecret,
		timeout:   cfg.Timeout,
		client:    client,
		now:       now,
	}
}

// Enabled reports whether Facebook sign-in is configured.
func (v *Verifier) Enabled() bool {
	return v.appID != "" && v.appSecret != ""
}

// Verify returns the identity behind accessToken if Graph confirms it is a
// valid, unexpired user token issued to our app. Errors wrap upstream.ErrDisabled,
// upstream.ErrInvalid or upstream.ErrUnavailable.
func (v *Verifier) Verify(ctx context.Context, accessToken string) (*upstream.Identity, error) {
	if !v.Enabled() {
		return nil, fmt.Errorf("facebook: %w", upstream.ErrDisabled)
	}
	if accessToken == "" || len(accessToken) > maxTokenLen {
		return nil, fmt.Errorf("facebook: %w: empty or oversized token", upstream.ErrInvalid)
	}
	if v.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, v.timeout)
		defer cancel()
	}
	userID, err := v.debugToken(ctx, accessToken)
	if err != nil {
		return nil, err
	}
	id, err := v.me(ctx, accessToken)
	if err != nil {
		return nil, err
	}
	// /me answers for whoever the token belongs to now; it must be the user
	// debug_token vouched for, or we would sign in someone unchecked.
	if id.Subject != userID {
		return nil, fmt.Errorf("facebook: %w: me: user id differs from debug_token", upstream.ErrInvalid)
	}
	return id, nil
}

// debugTokenData is the "data" object of a debug_token answer. Ids are
// graphIDs because old Graph versions sent them as numbers.
type debugTokenData struct {
	AppID     graphID     `json:"app_id"`
	Type      string      `json:"type"`
	IsValid   bool        `json:"is_valid"`
	ExpiresAt int64       `json:"expires_at"`
	UserID    graphID     `json:"user_id"`
	Error     *graphError `json:"error"`
}

// debugToken asks Graph, with our app access token, who token was issued
// to, and returns the user id once every claim checks out.
func (v *Verifier) debugToken(ctx context.Context, token string) (string, error) {
	q := url.Values{
		"input_token":  {token},
		"access_token": {v.appID + "|" + v.appSecret},
	}
	var resp struct {
		Data *debugTokenData `json:"data"`
	}
	if err := v.get(ctx, "debug_token", "/debug_token", q, &resp); err != nil {
		return "", err
	}
	d := resp.Data
	switch {
	case d == nil:
		return "", fmt.Errorf("facebook: %w: debug_token: answer has no data", upstream.ErrUnavailable)
	case !d.IsValid:
		return "", fmt.Errorf("facebook: %w: debug_token: not valid%s", upstream.ErrInvalid, d.Error.describe())
	case string(d.AppID) != v.appID:
		return "", fmt.Errorf("facebook: %w: debug_token: issued to another app", upstream.ErrInvalid)
	case d.Type != "USER":
		return "", fmt.Errorf("facebook: %w: debug_token: type %q, want USER", upstream.ErrInvalid, d.Type)
	case d.ExpiresAt != 0 && d.ExpiresAt <= v.now().Unix():
		return "", fmt.Errorf("facebook: %w: debug_token: expired", upstream.ErrInvalid)
	case d.UserID == "":
		return "", fmt.Errorf("facebook: %w: debug_token: no user id", upstream.ErrInvalid)
	}
	return string(d.UserID), nil
}

// meFields asks for the large picture so avatars are not upscaled from 50px.
const meFields = "id,name,email,picture.type(large)"

// me reads the profile with the user's own token. The appsecret_proof
// proves the call comes from our server, so a leaked token alone cannot be
// replayed through our app id.
func (v *Verifier) me(ctx context.Context, token string) (*upstream.Identity, error) {
	q := url.Values{
		"fields":          {meFields},
		"access_token":    {token},
		"appsecret_proof": {appSecretProof(v.appSecret, token)},
	}
	var resp struct {
		ID      graphID `json:"id"`
		Name    string  `json:"name"`
		Email   string  `json:"email"`
		Picture struct {
			Data struct {
				URL string `json:"url"`
			} `json:"data"`
		} `json:"picture"`
	}
	if err := v.get(ctx, "me", "/me", q, &resp); err != nil {
		return nil, err
	}
	// Graph returns only an email the person has confirmed with Facebook.
	return &upstream.Identity{
		Subject:       string(resp.ID),
		Name:          resp.Name,
		Email:         resp.Email,
		EmailVerified: resp.Email != "",
		Picture:       resp.Picture.Data.URL,
	}, nil
}
