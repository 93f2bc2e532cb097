package services

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
)

// What a provider verifier reports when it does not return an identity.
// Adapters around the Google and Facebook clients map their errors to these.
var (
	ErrVerifierDisabled    = errors.New("provider not configured")
	ErrVerifierUnavailable = errors.New("provider unreachable")
	ErrVerifierInvalid     = errors.New("token rejected")
)

// Provider sign-in errors.
var (
	ErrInvalidIDToken      = NewError(KindUnauthenticated, CodeInvalidIDToken, "the Google ID token is not valid")
	ErrInvalidAccessToken  = NewError(KindUnauthenticated, CodeInvalidAccessToken, "the Facebook access token is not valid")
	ErrProviderDisabled    = NewError(KindNotImplemented, CodeProviderDisabled, "this sign-in method is not configured")
	ErrProviderUnavailable = NewError(KindUnavailable, CodeProviderUnavailable, "the sign-in provider did not answer; try again")
)

// ProviderIdentity is who a provider says the token's owner is.
type ProviderIdentity struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name, Picture string
}

// Verifier checks a provider token (Google ID token, Facebook access token).
type Verifier interface {
	Verify(ctx context.Context, token string) (*ProviderIdentity, error)
}

// ProviderAuth signs users in with Google or Facebook.
type ProviderAuth struct {
	db        *ent.Client
	sessions  *Sessions
	verifiers map[authidentity.Provider]Verifier
	now       func() time.Time
	events    *Events
}

// NewProviderAuth returns the Google/Facebook sign-in service.
func NewProviderAuth(db *ent.Client, sessions *Sessions, google, facebook Verifier, now func() time.Time, events *Events) *ProviderAuth {
	return &ProviderAuth{db: db, sessions: sessions, now: now, events: events,
		verifiers: map[authidentity.Provider]Verifier{authidentity.ProviderGoogle: google, authidentity.ProviderFacebook: facebook}}
}

// SignIn verifies token with provider and signs its owner in.
func (a *ProviderAuth) SignIn(ctx context.Context, provider authidentity.Provider, token, device string) (*TokenPair, error) {
	ext, err := a.verify(ctx, provider, token)
	if err != nil {
		return nil, err
	}
	return signInWith(ctx, a.db, a.sessions, a.events, a.now, *ext, device)
}

// verify checks token and maps the verifier's answer to service errors.
func (a *ProviderAuth) verify(ctx context.Context, provider authidentity.Provider, token string) (*external, error) {
	v := a.verifiers[provider]
	if v == nil {
		return nil, ErrProviderDisabled
	}
	id, err := v.Verify(ctx, token)
	switch {
	case errors.Is(err, ErrVerifierDisabled):
		return nil, ErrProviderDisabled
	case errors.Is(err, ErrVerifierUnavailable):
		a.events.log(ctx, EventProviderUnavailable, slog.String("method", string(provider)), slog.String("err", err.Error()))
		return nil, ErrProviderUnavailable
	case err != nil || id == nil || id.Subject == "":
		a.events.log(ctx, EventSignInFailed, slog.String("method", string(provider)), slog.String("reason", "token_rejected"))
		if provider == authidentity.ProviderGoogle {
			return nil, ErrInvalidIDToken
		}
		return nil, ErrInvalidAccessToken
	}
	ext := &external{provider: provider, id: id.Subject, name: id.Name, picture: id.Picture}
	if id.Email != "" && id.EmailVerified {
		email := truncateRunes(id.Email, 255)
		ext.email = &email
	}
	return ext, nil
}
