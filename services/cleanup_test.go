package services_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent/auditevent"
	"github.com/agency-platform/agency/ent/phoneotp"
	"github.com/agency-platform/agency/ent/session"
	"github.com/agency-platform/agency/ent/webhookevent"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/testdb"
	"github.com/agency-platform/agency/services"
)

func TestCleanup_Run(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	u := db.Client.User.Create().SaveX(ctx)
	for i, exp := range []time.Duration{-time.Hour, -time.Second, time.Second, time.Hour} {
		db.Client.PhoneOTP.Create().SetPhoneNumber("+1555000000" + string(rune('0'+i))).SetOtpHash("h").SetExpiresAt(now.Add(exp)).SaveX(ctx)
		db.Client.Session.Create().SetUser(u).SetTokenHash("h" + string(rune('0'+i))).SetExpiresAt(now.Add(exp)).SaveX(ctx)
		db.Client.RateLimit.Create().SetKey("k").SetWindowStart(now.Add(exp - time.Hour)).SetCount(1).SetExpiresAt(now.Add(exp)).SaveX(ctx)
	}
	res, err := services.NewCleanup(services.NewBase(database.NewDriver(db.DB, migration.Postgres), func() time.Time { return now }, nil), services.CleanupConfig{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.OTPs != 2 || res.Sessions != 2 || res.Counters != 2 || res.Skipped {
		t.Fatalf("got %+v, want 2 OTPs, 2 sessions and 2 counters deleted", res)
	}
	if n := db.Client.PhoneOTP.Query().Where(phoneotp.ExpiresAtGT(now)).CountX(ctx); n != 2 {
		t.Fatalf("live OTPs left: got %d, want 2", n)
	}
	if n := db.Client.Session.Query().Where(session.ExpiresAtGT(now)).CountX(ctx); n != 2 {
		t.Fatalf("live sessions left: got %d, want 2", n)
	}
	if n := db.Client.PhoneOTP.Query().CountX(ctx) + db.Client.Session.Query().CountX(ctx); n != 4 {
		t.Fatalf("rows left: got %d, want 4", n)
	}
}

// TestCleanup_OneInstanceAtATime holds the cleanup lock in a transaction,
// as a second instance mid-run would, and checks this run steps aside.
func TestCleanup_OneInstanceAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	now := time.Now()
	db.Client.PhoneOTP.Create().SetPhoneNumber("+15550000000").SetOtpHash("h").SetExpiresAt(now.Add(-time.Hour)).SaveX(ctx)
	other, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('agency_cleanup'))"); err != nil {
		t.Fatal(err)
	}
	c := services.NewCleanup(services.NewBase(database.NewDriver(db.DB, migration.Postgres), func() time.Time { return now }, nil), services.CleanupConfig{})
	res, err := c.Run(ctx)
	if err != nil || !res.Skipped || res.OTPs != 0 {
		t.Fatalf("while locked: got %+v, %v; want skipped", res, err)
	}
	other.Rollback()
	res, err = c.Run(ctx)
	if err != nil || res.Skipped || res.OTPs != 1 {
		t.Fatalf("after unlock: got %+v, %v; want 1 OTP deleted", res, err)
	}
}

// TestCleanup_History deletes audit rows past AUDIT_RETENTION and finished
// webhook events past WEBHOOK_RETENTION, never a pending event.
func TestCleanup_History(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	const retention = 400 * 24 * time.Hour
	for _, age := range []time.Duration{retention + time.Hour, retention + time.Second, retention - time.Second, time.Hour} {
		db.Client.AuditEvent.Create().SetType(auditevent.TypeSigninSucceeded).SetCreatedAt(now.Add(-age)).SaveX(ctx)
	}
	old := now.Add(-31 * 24 * time.Hour)
	for _, status := range []webhookevent.Status{webhookevent.StatusDelivered, webhookevent.StatusFailed, webhookevent.StatusPending} {
		for _, at := range []time.Time{old, now.Add(-time.Hour)} {
			db.Client.WebhookEvent.Create().SetType(webhookevent.TypeUserCreated).SetUserID(uuid.New()).SetPayload("{}").
				SetStatus(status).SetCreatedAt(at).SetNextAttemptAt(at).SaveX(ctx)
		}
	}
	c := services.NewCleanup(services.NewBase(database.NewDriver(db.DB, migration.Postgres), func() time.Time { return now }, nil),
		services.CleanupConfig{AuditRetention: retention, WebhookRetention: 30 * 24 * time.Hour})
	res, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Audit != 2 || res.Webhooks != 2 {
		t.Fatalf("got %+v, want 2 audit rows and 2 webhook events deleted", res)
	}
	if n := db.Client.AuditEvent.Query().Where(auditevent.CreatedAtLT(now.Add(-retention))).CountX(ctx); n != 0 {
		t.Fatalf("audit rows past retention left: %d", n)
	}
	if n := db.Client.WebhookEvent.Query().Where(webhookevent.StatusEQ(webhookevent.StatusPending)).CountX(ctx); n != 2 {
		t.Fatalf("pending events left: got %d, want 2 (never deleted)", n)
	}
}
