package services

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/auditevent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/ent/webhookevent"
	"github.com/agency-platform/agency/internal/phone"
)

// ReauthWindow is how recent the session's sign-in must be to link a new
// sign-in method: a stolen long-lived session cannot add an attacker's
// account to the victim's user.
const ReauthWindow = 10 * time.Minute

// Identity errors.
var (
	ErrIdentityInUse    = NewError(KindConflict, CodeIdentityInUse, "this sign-in method already belongs to an account")
	ErrLastIdentity     = NewError(KindConflict, CodeLastIdentity, "the last sign-in method cannot be removed")
	ErrReauthRequired   = NewError(KindForbidden, CodeReauthRequired, "sign in again (within the last 10 minutes) to change sign-in methods or delete the account")
	ErrIdentityNotFound = NewError(KindNotFound, CodeNotFound, "no such sign-in method")
)

// Identities links and unlinks the sign-in methods of the signed-in user.
type Identities struct {
	Base
	phone     *PhoneAuth
	providers *ProviderAuth
}

// NewIdentities returns the linking service; phone and providers check the
// code or token that proves a method.
func NewIdentities(base Base, phone *PhoneAuth, providers *ProviderAuth) *Identities {
	return &Identities{Base: base, phone: phone, providers: providers}
}

// LinkPhone links a phone number proven by a code from /v1/auth/otp/send.
func (s *Identities) LinkPhone(ctx context.Context, p *Principal, rawPhone, code, clientIP string) (*ent.AuthIdentity, error) {
	if err := s.recentSignIn(ctx, p); err != nil {
		return nil, err
	}
	num, err := s.phone.consume(ctx, rawPhone, code, clientIP)
	if err != nil {
		return nil, err
	}
	return s.link(ctx, p, external{provider: authidentity.ProviderPhone, id: num,
		logAttrs: []slog.Attr{slog.String("phone", phone.Mask(num))}})
}

// LinkProvider links a Google or Facebook account proven by its token.
func (s *Identities) LinkProvider(ctx context.Context, p *Principal, provider authidentity.Provider, token, clientIP string) (*ent.AuthIdentity, error) {
	if err := s.recentSignIn(ctx, p); err != nil {
		return nil, err
	}
	ext, err := s.providers.verify(ctx, provider, token, clientIP)
	if err != nil {
		return nil, err
	}
	return s.link(ctx, p, *ext)
}

// recentSignIn requires the caller's session to have signed in within
// ReauthWindow (linking a sign-in method, deleting the account).
func (b Base) recentSignIn(ctx context.Context, p *Principal) error {
	sess, err := b.db.Session.Get(ctx, p.SessionID)
	if err != nil {
		return notFoundAs(err, ErrUnauthorized, "reauth: load session")
	}
	if b.now().Sub(sess.CreatedAt) > ReauthWindow {
		return ErrReauthRequired
	}
	return nil
}

// link inserts the identity; the unique (provider, provider_id) index
// decides between concurrent or conflicting links. The user's row is
// locked first, as every change that queues a webhook event does, so the
// user's events are written in the order their changes commit.
func (s *Identities) link(ctx context.Context, p *Principal, ext external) (*ent.AuthIdentity, error) {
	var ident *ent.AuthIdentity
	err := s.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		if err := s.lockUser(ctx, tx, p.User.ID); err != nil {
			return err
		}
		var err error
		ident, err = tx.AuthIdentity.Create().
			SetUserID(p.User.ID).SetProvider(ext.provider).SetProviderID(ext.id).SetNillableEmail(ext.email).
			SetCreatedAt(s.now()).
			Save(ctx)
		if ent.IsConstraintError(err) {
			return ErrIdentityInUse
		}
		if err != nil {
			return fmt.Errorf("link identity: %w", err)
		}
		journalIdentity(j, p, auditIdentityLinked, webhookevent.TypeIdentityLinked, ident)
		return nil
	})
	if err != nil {
		return nil, err
	}
	attrs := append([]slog.Attr{slog.String("user_id", p.User.ID.String()), slog.String("method", string(ext.provider))}, ext.logAttrs...)
	s.events.log(ctx, EventIdentityLinked, attrs...)
	return ident, nil
}

// journalIdentity records a link or unlink of ident by the caller.
func journalIdentity(j *journal, p *Principal, a auditevent.Type, h webhookevent.Type, ident *ent.AuthIdentity) {
	details := map[string]any{"identity_id": ident.ID.String(), "provider": string(ident.Provider)}
	j.audit(a, p.User.ID, p.User.ID, p.SessionID, details)
	j.hook(h, p.User.ID, details)
}

// Unlink removes one of the caller's sign-in methods, never the last one.
// The user's row is locked so two concurrent unlinks cannot both pass the
// count and leave the user with none.
func (s *Identities) Unlink(ctx context.Context, p *Principal, id uuid.UUID) error {
	err := s.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		if err := s.lockUser(ctx, tx, p.User.ID); err != nil {
			return err
		}
		mine, err := tx.AuthIdentity.Query().Where(authidentity.UserID(p.User.ID)).All(ctx)
		if err != nil {
			return fmt.Errorf("unlink: %w", err)
		}
		var found *ent.AuthIdentity
		for _, m := range mine {
			if m.ID == id {
				found = m
			}
		}
		switch {
		case found == nil:
			return ErrIdentityNotFound
		case len(mine) == 1:
			return ErrLastIdentity
		}
		journalIdentity(j, p, auditIdentityUnlinked, webhookevent.TypeIdentityUnlinked, found)
		return tx.AuthIdentity.DeleteOneID(id).Exec(ctx)
	})
	if err != nil {
		return err
	}
	s.events.log(ctx, EventIdentityUnlinked, slog.String("user_id", p.User.ID.String()), slog.String("identity_id", id.String()))
	return nil
}
