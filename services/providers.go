package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/internal/upstream"
)

// Provider sign-in errors.
var (
	ErrInvalidIDToken      = NewError(KindUnauthenticated, CodeInvalidIDToken, "the Google ID token is not valid")
	ErrInvalidAccessToken  = NewError(KindUnauthenticated, CodeInvalidAccessToken, "the Facebook access token is not valid")
	ErrProviderDisabled    = NewError(KindNotImplemented, CodeProviderDisabled, "this sign-in method is not configured")
	ErrProviderUnavailable = NewError(KindUnavailable, CodeProviderUnavailable, "the sign-in provider did not answer; try again")
)

// Verifier checks a provider token (Google ID token, Facebook access
// token); internal/google and internal/facebook have the real ones.
// Failures follow the upstream contract (disabled, invalid, unavailable).
type Verifier interface {
	Verify(ctx context.Context, token string) (*upstream.Identity, error)
}

// ProviderAuth signs users in with Google or Facebook.
type ProviderAuth struct {
	Base
	signer    signer
	verifiers map[authidentity.Provider]Verifier
	limits    *limiter
	// perClient bounds one client's tries per hour: each may cost a call to
	// the provider (and its quota), so junk tokens must not be free.
	perClient int
}

// NewProviderAuth returns the Google/Facebook sign-in service; perClient
// is PROVIDER_SIGNINS_PER_IP_PER_HOUR.
func NewProviderAuth(base Base, sessions *Sessions, google, facebook Verifier, perClient int) *ProviderAuth {
	return &ProviderAuth{Base: base, signer: signer{Base: base, sessions: sessions},
		verifiers: map[authidentity.Provider]Verifier{authidentity.ProviderGoogle: google, authidentity.ProviderFacebook: facebook},
		limits:    newLimiter(base), perClient: perClient}
}

// SignIn verifies token with provider and signs its owner in.
func (a *ProviderAuth) SignIn(ctx context.Context, provider authidentity.Provider, token, device, clientIP string) (*TokenPair, error) {
	ext, err := a.verify(ctx, provider, token, clientIP)
	if err != nil {
		return nil, err
	}
	return a.signer.signIn(ctx, *ext, device)
}

// verify checks token and maps the verifier's answer to service errors.
// Every try counts against the client's hourly budget, before the provider
// is asked.
func (a *ProviderAuth) verify(ctx context.Context, provider authidentity.Provider, token, clientIP string) (*external, error) {
	v := a.verifiers[provider]
	if v == nil {
		return nil, ErrProviderDisabled
	}
	key := "provider_signin:ip:" + clientKey(clientIP)
	ok, wait, err := a.limits.take(ctx, key, a.perClient, hourly)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, refused(ctx, a.events, key, wait, slog.String("method", string(provider)))
	}
	invalid := ErrInvalidAccessToken
	if provider == authidentity.ProviderGoogle {
		invalid = ErrInvalidIDToken
	}
	id, err := v.Verify(ctx, token)
	if err == nil && (id == nil || id.Subject == "") {
		err = fmt.Errorf("%s: %w: no subject", provider, upstream.ErrInvalid)
	}
	if err != nil {
		answer := upstreamFailure(err, invalid, ErrProviderUnavailable)
		switch answer {
		case ErrProviderUnavailable:
			a.events.log(ctx, EventProviderUnavailable, slog.String("method", string(provider)), slog.String("err", err.Error()))
		case invalid:
			a.events.log(ctx, EventSignInFailed, slog.String("method", string(provider)), slog.String("reason", "token_rejected"))
		}
		return nil, answer
	}
	ext := &external{provider: provider, id: id.Subject, name: id.Name, picture: id.Picture}
	if email := cleanName(id.Email); email != "" && id.EmailVerified {
		email = truncateRunes(email, 255)
		ext.email = &email
	}
	return ext, nil
}

// upstreamFailure is the one mapping from the upstream contract to what the
// client is told: a provider that is not configured is ErrProviderDisabled,
// no verdict is unavailable, and anything else (a verdict against the input,
// or an error outside the contract) is invalid.
func upstreamFailure(err error, invalid, unavailable *Error) *Error {
	switch {
	case errors.Is(err, upstream.ErrDisabled):
		return ErrProviderDisabled
	case errors.Is(err, upstream.ErrUnavailable):
		return unavailable
	}
	return invalid
}
