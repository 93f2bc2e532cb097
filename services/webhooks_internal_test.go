package services

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent/webhookevent"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/testdb"
)

// TestRetryDelay: the first retry comes within a minute, each wait
// doubles (±20% jitter), and the 11 waits of 12 attempts add up to about a
// day (22.7 h without jitter).
func TestRetryDelay(t *testing.T) {
	t.Parallel()
	for range 200 {
		var total time.Duration
		for n := 1; n <= 11; n++ {
			d := retryDelay(n)
			base := retryBase << (n - 1)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("wait after attempt %d: got %s, want %s ±20%%", n, d, base)
			}
			total += d
		}
		if first := retryDelay(1); first > time.Minute {
			t.Fatalf("first retry after %s, want within a minute", first)
		}
		if total < 18*time.Hour || total > 28*time.Hour {
			t.Fatalf("12 attempts span %s, want about a day", total)
		}
	}
	if d := retryDelay(40); d > retryMaxDelay*12/10 {
		t.Fatalf("wait after attempt 40: got %s, want at most %s (+20%%)", d, retryMaxDelay)
	}
}

// TestClaim_ChecksAgain: an event found due, then tried by another
// instance and scheduled for a retry before this one claims it, is not
// claimed (it would be sent again before its time).
func TestClaim_ChecksAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.New(t)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	w := NewWebhooks(NewBase(database.NewDriver(db.DB, "postgres"), func() time.Time { return now }, nil),
		WebhookConfig{URL: "http://127.0.0.1:1/", Timeout: time.Second, MaxAttempts: 3}, NewOutbox())
	e := db.Client.WebhookEvent.Create().SetType(webhookevent.TypeUserCreated).SetUserID(uuid.New()).SetPayload("{}").
		SetCreatedAt(now).SetNextAttemptAt(now).SaveX(ctx)
	// Found due by this instance; meanwhile another tried it and scheduled a retry.
	db.Client.WebhookEvent.UpdateOneID(e.ID).SetAttempts(1).SetNextAttemptAt(now.Add(40 * time.Second)).ExecX(ctx)
	_, mine, err := w.claim(ctx, []int64{e.ID}, now)
	if err != nil || len(mine) != 0 {
		t.Fatalf("claim of an event no longer due: got %d events, %v; want none", len(mine), err)
	}
	_, mine, err = w.claim(ctx, []int64{e.ID}, now.Add(41*time.Second))
	if err != nil || len(mine) != 1 || mine[0].Attempts != 2 {
		t.Fatalf("claim once due: got %v, %v; want the event with its second attempt", mine, err)
	}
}
