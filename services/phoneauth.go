package services

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/ent/phoneotp"
	"github.com/agency-platform/agency/ent/predicate"
	"github.com/agency-platform/agency/ent/ratelimit"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/phone"
	"github.com/agency-platform/agency/internal/upstream"
)

// Phone sign-in errors.
var (
	ErrInvalidPhone        = NewError(KindInvalid, CodeInvalidPhone, "the phone number is not valid for SMS sign-in")
	ErrInvalidOTP          = NewError(KindUnauthenticated, CodeInvalidOTP, "the code is wrong or expired")
	ErrOTPAttemptsExceeded = NewError(KindUnauthenticated, CodeOTPAttemptsExceeded, "too many wrong codes; request a new code")
	ErrSMSFailed           = NewError(KindUpstream, CodeSMSFailed, "the SMS could not be sent; try again")
	ErrResendTooSoon       = NewError(KindRateLimited, CodeOTPResendTooSoon, "wait before asking for another code")
	ErrRateLimited         = NewError(KindRateLimited, CodeRateLimited, "too many requests; try again later")
)

// OTPConfig holds the OTP rules.
type OTPConfig struct {
	TTL                  time.Duration
	ResendCooldown       time.Duration
	MaxSendsPerHour      int
	MaxSendsPerIPPerHour int
	MaxAttempts          int
	MaxFailuresPerDay    int
	// MaxVerifyFailuresPerIPPerHour is the wrong codes one client may try per hour.
	MaxVerifyFailuresPerIPPerHour int
	SendTimeout                   time.Duration
	Secret                        []byte            // OTP_SECRET: key of the stored HMAC
	AllowedCountries              []string          // empty: all
	TestCodes                     map[string]string // E.164 → fixed code, never sent
}

// SMSSender delivers a code by SMS; internal/sms has the real senders.
// Failures follow the upstream contract: upstream.ErrInvalid when the
// message was refused for good, upstream.ErrUnavailable when there is no
// verdict. A sender never puts the code into an error.
type SMSSender interface {
	Send(ctx context.Context, to, code string) error
}

// PhoneAuth signs users in with a 6-digit code sent by SMS.
type PhoneAuth struct {
	Base
	sender SMSSender
	signer signer
	limits *limiter
	cfg    OTPConfig
}

// NewPhoneAuth returns the phone sign-in service.
func NewPhoneAuth(base Base, sender SMSSender, sessions *Sessions, cfg OTPConfig) *PhoneAuth {
	return &PhoneAuth{Base: base, sender: sender, signer: signer{Base: base, sessions: sessions},
		limits: newLimiter(base), cfg: cfg}
}

// SendResult tells the client how long the code lives and when it may ask again.
type SendResult struct {
	ExpiresIn   time.Duration
	ResendAfter time.Duration
}

// Send issues a fresh code for rawPhone, replacing any earlier one, and
// sends it. The answer does not depend on whether the number has an
// account. Limits (cooldown, per number, per client IP) live in the
// database. When the provider refuses the message for good
// (upstream.ErrInvalid), the code is deleted and the counts refunded, so
// nothing is spent on an SMS that was never sent. Any other failure (a
// timeout, a 5xx) has no verdict and the SMS may still arrive: the code
// stays valid and the cooldown and counts stay spent, so a failing
// provider cannot be used to send again and again.
func (a *PhoneAuth) Send(ctx context.Context, rawPhone, clientIP string) (*SendResult, error) {
	num, err := a.normalize(rawPhone, a.cfg.AllowedCountries)
	if err != nil {
		return nil, err
	}
	// A number locked by its failure budget gets no SMS: its code could not
	// be used anyway.
	if err := a.checkBudgets(ctx, num, a.numberFailures(num)); err != nil {
		return nil, err
	}
	if err := a.checkCooldown(ctx, num); err != nil {
		return nil, err
	}
	ipKey, phoneKey := "otp_send:ip:"+clientKey(clientIP), "otp_send:phone:"+num
	if err := a.take(ctx, ipKey, a.cfg.MaxSendsPerIPPerHour, hourly, num); err != nil {
		return nil, err
	}
	if err := a.take(ctx, phoneKey, a.cfg.MaxSendsPerHour, hourly, num); err != nil {
		a.refundAfter(err, ipKey)
		return nil, err
	}
	code, fixed := a.cfg.TestCodes[num]
	if !fixed {
		if code, err = randomCode(); err != nil {
			return nil, fmt.Errorf("send otp: %w", err)
		}
	}
	hash := a.hashCode(num, code)
	if err := a.store(ctx, num, hash); err != nil {
		a.refundAfter(err, ipKey, phoneKey)
		return nil, err
	}
	if !fixed {
		sctx, cancel := context.WithTimeout(ctx, a.cfg.SendTimeout)
		err = a.sender.Send(sctx, num, code)
		cancel()
		if err != nil {
			a.events.log(ctx, EventOTPSendFailed, slog.String("phone", phone.Mask(num)), slog.String("err", err.Error()),
				slog.Bool("refused", errors.Is(err, upstream.ErrInvalid)))
			if errors.Is(err, upstream.ErrInvalid) {
				a.unstore(num, hash)
				a.refund(ipKey, phoneKey)
			}
			return nil, upstreamFailure(err, ErrSMSFailed, ErrSMSFailed)
		}
	}
	a.events.log(ctx, EventOTPSent, slog.String("phone", phone.Mask(num)), slog.Bool("test_number", fixed))
	return &SendResult{ExpiresIn: a.cfg.TTL, ResendAfter: a.cfg.ResendCooldown}, nil
}

// normalize returns the E.164 form of rawPhone. Numbers listed in
// SMS_TEST_OTPS are taken as written (separators removed) without the
// validity, type and country checks: review accounts often use reserved
// ranges such as +1 555 555 01xx that real-number rules refuse.
func (a *PhoneAuth) normalize(rawPhone string, allowed []string) (string, error) {
	if len(a.cfg.TestCodes) > 0 {
		compact := strings.Map(func(r rune) rune {
			if strings.ContainsRune(" -.()", r) {
				return -1
			}
			return r
		}, rawPhone)
		if _, ok := a.cfg.TestCodes[compact]; ok {
			return compact, nil
		}
	}
	num, err := phone.Normalize(rawPhone, allowed)
	if err != nil {
		return "", ErrInvalidPhone
	}
	return num, nil
}

// checkCooldown refuses a resend while the live code is younger than the cooldown.
func (a *PhoneAuth) checkCooldown(ctx context.Context, num string) error {
	otp, err := a.db.PhoneOTP.Query().Where(phoneotp.PhoneNumber(num)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("send otp: %w", err)
	}
	if wait := otp.CreatedAt.Add(a.cfg.ResendCooldown).Sub(a.now()); wait > 0 {
		return a.tooSoon(ctx, num, wait)
	}
	return nil
}

func (a *PhoneAuth) tooSoon(ctx context.Context, num string, wait time.Duration) error {
	a.events.log(ctx, EventRateLimited, slog.String("limit", "otp_resend_cooldown"), slog.String("phone", phone.Mask(num)))
	return ErrResendTooSoon.RetryIn(wait)
}

// take counts one event against a limit, refusing when it is used up.
func (a *PhoneAuth) take(ctx context.Context, key string, limit int, window span, num string) error {
	ok, wait, err := a.limits.take(ctx, key, limit, window)
	if err != nil {
		return err
	}
	if !ok {
		return a.rateLimited(ctx, key, num, wait)
	}
	return nil
}

func (a *PhoneAuth) rateLimited(ctx context.Context, key, num string, wait time.Duration) error {
	return refused(ctx, a.events, key, wait, slog.String("phone", phone.Mask(num)))
}

// checkBudgets refuses, without counting, when one of the budgets is spent.
func (a *PhoneAuth) checkBudgets(ctx context.Context, num string, budgets ...budget) error {
	full, wait, err := a.limits.firstFull(ctx, budgets...)
	if err != nil {
		return err
	}
	if full != nil {
		return a.rateLimited(ctx, full.key, num, wait)
	}
	return nil
}

// The failure budgets: wrong codes for one number in any 24 hours, and for
// one client (IPv4 address or IPv6 /64) in any hour.
func (a *PhoneAuth) numberFailures(num string) budget {
	return budget{key: "otp_fail:phone:" + num, limit: a.cfg.MaxFailuresPerDay, window: slidingDaily}
}

func (a *PhoneAuth) clientFailures(ip string) budget {
	return budget{key: "otp_fail:ip:" + clientKey(ip), limit: a.cfg.MaxVerifyFailuresPerIPPerHour, window: slidingHourly}
}

// store writes the code as the number's only live code. The unique index on
// phone_number makes this one upsert; its WHERE keeps the cooldown even
// against a concurrent send that passed checkCooldown at the same moment
// (the upsert then returns no row).
func (a *PhoneAuth) store(ctx context.Context, num, hash string) error {
	now := a.now()
	err := a.db.PhoneOTP.Create().
		SetPhoneNumber(num).
		SetOtpHash(hash).
		SetExpiresAt(now.Add(a.cfg.TTL)).
		SetCreatedAt(now).
		SetAttempts(0).
		OnConflict(
			entsql.ConflictColumns(phoneotp.FieldPhoneNumber),
			entsql.ResolveWith(func(u *entsql.UpdateSet) {
				u.SetExcluded(phoneotp.FieldOtpHash)
				u.SetExcluded(phoneotp.FieldExpiresAt)
				u.SetExcluded(phoneotp.FieldCreatedAt)
				u.SetExcluded(phoneotp.FieldAttempts)
			}),
			entsql.UpdateWhere(entsql.LTE(phoneotp.FieldCreatedAt, now.Add(-a.cfg.ResendCooldown))),
		).
		Exec(ctx)
	if !errors.Is(err, sql.ErrNoRows) {
		return wrapErr(err, "store otp")
	}
	// The row was kept: a concurrent send stored a code within the cooldown.
	stored, err := a.db.PhoneOTP.Query().Where(phoneotp.PhoneNumber(num)).Only(ctx)
	if err != nil {
		return fmt.Errorf("store otp: %w", err)
	}
	return a.tooSoon(ctx, num, stored.CreatedAt.Add(a.cfg.ResendCooldown).Sub(now))
}

// refund gives back send counts of a request that sent nothing, so a
// failing SMS provider does not use up a number's hourly sends. It runs
// even if the request was cancelled; a failed refund only costs a count.
func (a *PhoneAuth) refund(keys ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, k := range keys {
		_ = a.limits.refund(ctx, k, hourly)
	}
}

// refundAfter refunds keys after a request failed with err: at once, or,
// when the database did not answer (the refund would wait as long again),
// in the background, so the client gets its 503 now and the counts come
// back when the database does.
func (a *PhoneAuth) refundAfter(err error, keys ...string) {
	if database.ConnectionLost(err) {
		go a.refund(keys...)
		return
	}
	a.refund(keys...)
}

// unstore deletes the code just stored (the SMS failed), unless a newer
// one replaced it meanwhile. It runs even if the request was cancelled.
func (a *PhoneAuth) unstore(num, hash string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = a.db.PhoneOTP.Delete().Where(phoneotp.PhoneNumber(num), phoneotp.OtpHash(hash)).Exec(ctx)
}

// hashCode is the stored form of a code: HMAC-SHA256 under OTP_SECRET,
// bound to the number so a row cannot be replayed for another number.
func (a *PhoneAuth) hashCode(num, code string) string {
	m := hmac.New(sha256.New, a.cfg.Secret)
	m.Write([]byte(num))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// randomCode draws a uniform 6-digit code from crypto/rand.
func randomCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// Verify checks a code and signs the number's user in, creating the user
// (role NULL) and its phone identity on first sign-in. It reads top to
// bottom: spend the code (consume, below), then the sign-in core
// (signin.go), which opens the session (sessions.go).
func (a *PhoneAuth) Verify(ctx context.Context, rawPhone, code, device, clientIP string) (*TokenPair, error) {
	num, err := a.consume(ctx, rawPhone, code, clientIP)
	if err != nil {
		return nil, err
	}
	return a.signer.signIn(ctx, external{
		provider: authidentity.ProviderPhone, id: num, logAttrs: []slog.Attr{slog.String("phone", phone.Mask(num))},
	}, device)
}

// consume checks the code for rawPhone and, if it matches, deletes it, so
// it works once. It returns the E.164 number.
//
// Each try first takes one attempt with a conditional UPDATE (attempts <
// max), then spends the code with a DELETE matching its hash; so parallel
// guesses cannot get more comparisons than OTP_MAX_ATTEMPTS, and of
// parallel verifies of one code exactly one DELETE removes the row. The
// hash is an HMAC under OTP_SECRET, so comparing it in the database leaks
// nothing through timing.
//
// Failures are counted against two budgets: the client's (per IP, hourly)
// and the number's (daily), both sliding. Each try is counted against both
// before its code is compared (limiter.reserve), so parallel tries, on any
// number of instances, get no more comparisons than the budgets allow; a
// try that turns out right, or finds no live code to guess (see
// noAttempt), is given back. Once either budget is spent, every try is
// refused before any code is compared.
func (a *PhoneAuth) consume(ctx context.Context, rawPhone, code, clientIP string) (string, error) {
	num, err := a.normalize(rawPhone, nil)
	if err != nil {
		return "", err
	}
	r, full, wait, err := a.limits.reserve(ctx, a.clientFailures(clientIP), a.numberFailures(num))
	switch {
	case err != nil:
		return "", err
	case full != nil:
		return "", a.rateLimited(ctx, full.key, num, wait)
	}
	now := a.now()
	live := []predicate.PhoneOTP{phoneotp.PhoneNumber(num), phoneotp.ExpiresAtGT(now)}
	took, spent, err := a.spend(ctx, num, a.hashCode(num, code), validCode(code), now, r)
	switch {
	case err != nil:
		return "", err // counted: the code may have been compared
	case !took:
		return "", a.noAttempt(ctx, live, r, num)
	case spent:
		return num, nil
	case a.dialect == Postgres:
		// Compared under the row's lock: a wrong code, never a lost race.
		return "", a.failed(ctx, num, ErrInvalidOTP)
	}
	return "", a.wrongCode(ctx, r, num)
}

// spend takes one attempt at num's live code (attempts < max) and, when
// the code's hash is hash, deletes the code and gives back r (the failure
// counted in advance): took says an attempt was taken (or the code spent),
// spent that the code matched and is gone.
//
// On PostgreSQL this is one statement: a DELETE of the row if it is live
// with attempts left and hash matches, and otherwise an UPDATE taking an
// attempt on the same conditions. A guess is compared on the row as it is
// when the statement locks it (PostgreSQL re-checks a row another
// transaction changed meanwhile), so however many guesses run in parallel,
// only those that took an attempt (or spent the code) were compared, and
// a guess without an attempt gets the same answer whatever it was. SQLite
// runs the UPDATE, then the DELETE; its transactions are serialised.
func (a *PhoneAuth) spend(ctx context.Context, num, hash string, valid bool, now time.Time, r reservation) (took, spent bool, err error) {
	live := []predicate.PhoneOTP{phoneotp.PhoneNumber(num), phoneotp.ExpiresAtGT(now), phoneotp.AttemptsLT(a.cfg.MaxAttempts)}
	if a.dialect != Postgres {
		n, err := a.db.PhoneOTP.Update().Where(live...).AddAttempts(1).Save(ctx)
		if err != nil || n == 0 {
			return false, false, wrapErr(err, "verify otp: take attempt")
		}
		if !valid {
			return true, false, nil
		}
		n, err = a.db.PhoneOTP.Delete().Where(phoneotp.PhoneNumber(num), phoneotp.ExpiresAtGT(now), phoneotp.OtpHash(hash)).Exec(ctx)
		if err != nil || n == 0 {
			return true, false, wrapErr(err, "verify otp: consume")
		}
		return true, true, a.limits.release(ctx, r)
	}
	return a.spendAtomically(ctx, live, hash, r)
}

// spendAtomically is spend's statement on PostgreSQL:
//
//	WITH spent AS (DELETE FROM phone_otps WHERE <live> AND otp_hash = $h RETURNING id),
//	     took AS (UPDATE phone_otps SET attempts = attempts + 1
//	              WHERE <live> AND NOT EXISTS (SELECT 1 FROM spent) RETURNING id),
//	     released AS (UPDATE auth_rate_limits SET count = count - 1
//	              WHERE <r's rows> AND EXISTS (SELECT 1 FROM spent))
//	SELECT id, id IN (SELECT id FROM spent) AS spent FROM phone_otps
//	WHERE id IN (SELECT id FROM spent UNION ALL SELECT id FROM took)
//
// (the final SELECT reads the row as it was before the statement).
func (a *PhoneAuth) spendAtomically(ctx context.Context, live []predicate.PhoneOTP, hash string, r reservation) (took, spent bool, err error) {
	where := func(extra ...predicate.PhoneOTP) *entsql.Predicate {
		sel := entsql.Select().From(entsql.Table(phoneotp.Table))
		for _, p := range append(live, extra...) {
			p(sel)
		}
		return sel.P()
	}
	del := entsql.Delete(phoneotp.Table).Where(where(phoneotp.OtpHash(hash)))
	upd := entsql.Update(phoneotp.Table).Add(phoneotp.FieldAttempts, 1).
		Where(entsql.And(where(), entsql.Not(entsql.Exists(entsql.Select().From(entsql.Table(spentCTE)))))).
		Returning(phoneotp.FieldID)
	var release *entsql.UpdateBuilder
	if len(r.keys) > 0 {
		rows := entsql.Select().From(entsql.Table(ratelimit.Table))
		r.releasePredicate(string(Postgres))(rows)
		release = entsql.Update(ratelimit.Table).Add(ratelimit.FieldCount, -1).
			Where(entsql.And(rows.P(), entsql.Exists(entsql.Select().From(entsql.Table(spentCTE)))))
	}
	var rows []struct {
		ID    uuid.UUID `sql:"id"`
		Spent bool      `sql:"spent"`
	}
	err = a.db.PhoneOTP.Query().Modify(func(sel *entsql.Selector) {
		sel.Prefix(entsql.ExprFunc(func(b *entsql.Builder) {
			b.WriteString("WITH ").Ident(spentCTE).WriteString(" AS (").Join(del).WriteString(" RETURNING ").Ident(phoneotp.FieldID).
				WriteString("), ").Ident(tookCTE).WriteString(" AS (").Join(upd).WriteString(")")
			if release != nil {
				b.WriteString(", ").Ident(releasedCTE).WriteString(" AS (").Join(release).WriteString(")")
			}
		}))
		ids := func(cte string) *entsql.Selector { return entsql.Select(phoneotp.FieldID).From(entsql.Table(cte)) }
		sel.Select(sel.C(phoneotp.FieldID))
		sel.AppendSelectExprAs(entsql.In(sel.C(phoneotp.FieldID), ids(spentCTE)), "spent")
		sel.Where(entsql.Or(entsql.In(sel.C(phoneotp.FieldID), ids(spentCTE)), entsql.In(sel.C(phoneotp.FieldID), ids(tookCTE))))
	}).Scan(ctx, &rows)
	if err != nil {
		return false, false, fmt.Errorf("verify otp: %w", err)
	}
	if len(rows) == 0 {
		return false, false, nil
	}
	return true, rows[0].Spent, nil
}

// The names of spendAtomically's WITH queries.
const (
	spentCTE    = "spent"
	tookCTE     = "took"
	releasedCTE = "released"
)

// noAttempt explains a try that got no attempt: the number's live code has
// used them all (a failure against both budgets, counted already), or it
// has none. A guess at a number with no live code can win nothing, so its
// count r is given back: nobody can lock a number out while its owner
// asked for no code, and a try that lost the code to a parallel request is
// no failure.
func (a *PhoneAuth) noAttempt(ctx context.Context, live []predicate.PhoneOTP, r reservation, num string) error {
	exists, err := a.db.PhoneOTP.Query().Where(live...).Exist(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("verify otp: %w", err)
	case exists:
		return a.failed(ctx, num, ErrOTPAttemptsExceeded)
	}
	if err := a.limits.release(ctx, r); err != nil {
		return err
	}
	return a.failed(ctx, num, ErrInvalidOTP)
}

// wrongCode answers a try whose code did not spend the live code (SQLite).
// It is a failure, unless the row is gone: then a parallel request spent
// the code first, this try was no guess against it, and r is given back.
func (a *PhoneAuth) wrongCode(ctx context.Context, r reservation, num string) error {
	exists, err := a.db.PhoneOTP.Query().Where(phoneotp.PhoneNumber(num)).Exist(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("verify otp: %w", err)
	case !exists:
		if err := a.limits.release(ctx, r); err != nil {
			return err
		}
		return ErrInvalidOTP
	}
	return a.failed(ctx, num, ErrInvalidOTP)
}

// failed logs a failed verification (counted against the budgets before
// its code was compared).
func (a *PhoneAuth) failed(ctx context.Context, num string, cause *Error) error {
	a.events.log(ctx, EventSignInFailed, slog.String("method", "phone"), slog.String("phone", phone.Mask(num)), slog.String("reason", string(cause.Code)))
	return cause
}

func validCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
