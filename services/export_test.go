package services

import (
	"context"

	"github.com/agency-platform/agency/ent"
)

// StartSession exposes start to tests: a sign-in of u without a sign-in
// method, in its own transaction. It returns the refresh token.
func (s *Sessions) StartSession(ctx context.Context, u *ent.User, device string) (string, error) {
	var tok refreshToken
	err := withTx(ctx, s.db, func(tx *ent.Tx) error {
		var err error
		tok, err = s.start(ctx, tx, u, device)
		return err
	})
	return tok.String(), err
}
