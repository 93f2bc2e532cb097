package services

import (
	"context"

	"github.com/agency-platform/agency/ent"
)

// StartSession exposes open to tests: a sign-in of u without a sign-in
// method, in its own transaction. It returns the refresh token.
func (s *Sessions) StartSession(ctx context.Context, u *ent.User, device string) (string, error) {
	var pair *TokenPair
	err := s.withTx(ctx, func(tx *ent.Tx) error {
		if err := s.lockUser(ctx, tx, u.ID); err != nil {
			return err
		}
		var err error
		pair, err = s.open(ctx, tx, u, device, newSignIn{method: "test"})
		return err
	})
	if err != nil {
		return "", err
	}
	return pair.RefreshToken, nil
}
