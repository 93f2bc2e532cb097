package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/internal/facebook"
	"github.com/agency-platform/agency/internal/google"
	"github.com/agency-platform/agency/services"
)

// The adapters below turn the Google and Facebook clients into the
// services' Verifier interface, mapping their sentinel errors.

type googleVerifier struct{ v *google.Verifier }

func (g googleVerifier) Verify(ctx context.Context, token string) (*services.ProviderIdentity, error) {
	id, err := g.v.Verify(ctx, token)
	if err != nil {
		return nil, mapVerifierError(err, google.ErrDisabled, google.ErrUnavailable)
	}
	return &services.ProviderIdentity{Subject: id.Subject, Email: id.Email, EmailVerified: id.EmailVerified,
		Name: id.Name, Picture: id.Picture}, nil
}

type facebookVerifier struct{ v *facebook.Verifier }

func (f facebookVerifier) Verify(ctx context.Context, token string) (*services.ProviderIdentity, error) {
	id, err := f.v.Verify(ctx, token)
	if err != nil {
		return nil, mapVerifierError(err, facebook.ErrDisabled, facebook.ErrUnavailable)
	}
	// Graph returns only an email the person has confirmed with Facebook.
	return &services.ProviderIdentity{Subject: id.UserID, Email: id.Email, EmailVerified: id.Email != "",
		Name: id.Name, Picture: id.Picture}, nil
}

func mapVerifierError(err, disabled, unavailable error) error {
	switch {
	case errors.Is(err, disabled):
		return services.ErrVerifierDisabled
	case errors.Is(err, unavailable):
		return fmt.Errorf("%w: %w", services.ErrVerifierUnavailable, err)
	}
	return fmt.Errorf("%w: %w", services.ErrVerifierInvalid, err)
}

// newVerifiers builds the Google and Facebook verifiers from the config.
func newVerifiers(cfg *config.Config, now func() time.Time) (services.Verifier, services.Verifier) {
	g := google.New(google.Config{IssuerURL: cfg.Google.IssuerURL, ClientIDs: cfg.Google.ClientIDs, Timeout: cfg.ProviderTimeout}, now)
	f := facebook.New(facebook.Config{GraphURL: cfg.Facebook.GraphURL, AppID: cfg.Facebook.AppID,
		AppSecret: cfg.Facebook.AppSecret, Timeout: cfg.ProviderTimeout}, now)
	return googleVerifier{g}, facebookVerifier{f}
}
