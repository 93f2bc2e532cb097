package services

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/predicate"
	"github.com/agency-platform/agency/ent/webhookevent"
)

// Webhook delivery. Events are rows of webhook_events, written by the
// change's own transaction (journal.go). Any instance may deliver any
// event; the database decides who does:
//
//   - An event is claimed by one conditional UPDATE (pending, due, lease
//     free) that sets a lease (locked_until = now + 2 × WEBHOOK_TIMEOUT)
//     and a claim id: of two instances, one matches. The HTTP attempt is
//     abandoned at WEBHOOK_TIMEOUT, well inside the lease, so no two
//     instances deliver an event at the same moment.
//   - Only the claim that holds the lease records the outcome. A crash
//     mid-delivery leaves the lease to expire; the event is then claimed
//     again and redelivered (at least once: receivers deduplicate on
//     webhook-id).
//   - Only a user's oldest pending event is ever claimable (headOfUser), so
//     a user's events go out in the order they were written. Every change
//     that queues an event holds the user's row lock, so that order is the
//     order the changes committed in.

// WebhookConfig configures delivery.
type WebhookConfig struct {
	URL         string        // WEBHOOK_URL; empty: nothing is queued or sent
	Secret      []byte        // WEBHOOK_SECRET, decoded (whsec_ + base64)
	Timeout     time.Duration // WEBHOOK_TIMEOUT: one attempt's limit
	MaxAttempts int           // WEBHOOK_MAX_ATTEMPTS: then the event is failed
	Poll        time.Duration // how often an idle deliverer looks for due events
}

// Outbox wakes this instance's deliverer when a transaction has queued
// events, so they go out at once rather than at the next poll. It holds no
// state instances share: the events are in the database.
type Outbox struct{ ch chan struct{} }

// NewOutbox returns an outbox signal.
func NewOutbox() *Outbox { return &Outbox{ch: make(chan struct{}, 1)} }

func (o *Outbox) wake() {
	select {
	case o.ch <- struct{}{}:
	default:
	}
}

// WithOutbox returns b queuing webhook events (WEBHOOK_URL is set) and
// waking o's deliverer after each commit that queued some.
func (b Base) WithOutbox(o *Outbox) Base {
	b.outbox = o
	return b
}

// Webhook errors.
var ErrWebhookNotFailed = NewError(KindNotFound, CodeNotFound, "no failed webhook event with this id")

// Delivery pacing.
const (
	leaseFactor   = 2                // a lease lasts this many WEBHOOK_TIMEOUTs
	retryBase     = 40 * time.Second // first retry after 32-48 s; doubles each time
	retryMaxDelay = 12 * time.Hour
	deliverBatch  = 64 // events (of distinct users) attempted at once
)

// Webhooks delivers the outbox and lets admins see and re-queue failed events.
type Webhooks struct {
	Base
	cfg    WebhookConfig
	client *http.Client
	signal *Outbox
}

// NewWebhooks returns the deliverer; signal is the Outbox of base (nil
// when webhooks are off).
func NewWebhooks(base Base, cfg WebhookConfig, signal *Outbox) *Webhooks {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = deliverBatch // a pass's connections are kept for the next
	client := &http.Client{
		Timeout:       cfg.Timeout,
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Webhooks{Base: base, cfg: cfg, client: client, signal: signal}
}

// Run delivers due events until ctx ends: at once when this instance
// queued one, else every Poll (events another instance queued, retries).
func (w *Webhooks) Run(ctx context.Context, log *slog.Logger) {
	if w.cfg.URL == "" || w.signal == nil {
		return
	}
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		n, err := w.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("webhook delivery", "err", err)
		}
		if n == deliverBatch && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.signal.ch:
		}
	}
}

// DeliverDue claims the due events (each its user's oldest pending one)
// and attempts them concurrently; it returns how many it attempted. One
// pass is four statements whatever the batch: find the due heads, claim
// them (one UPDATE), read back which this instance got, and mark the
// delivered ones; only failures are recorded one by one.
func (w *Webhooks) DeliverDue(ctx context.Context) (int, error) {
	now := w.now()
	due, err := w.db.WebhookEvent.Query().
		Where(webhookevent.StatusEQ(webhookevent.StatusPending), webhookevent.NextAttemptAtLTE(now), leaseFree(now), headOfUser()).
		Order(webhookevent.ByID()).Limit(deliverBatch).IDs(ctx)
	if err != nil || len(due) == 0 {
		return 0, wrapErr(err, "webhooks: find due events")
	}
	claim, mine, err := w.claim(ctx, due, now)
	if err != nil || len(mine) == 0 {
		return 0, err
	}
	delivered := make([]bool, len(mine))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for i, e := range mine {
		wg.Go(func() {
			failure := w.send(ctx, e)
			if delivered[i] = failure == ""; delivered[i] {
				return
			}
			if err := w.failed(ctx, e, claim, failure); err != nil {
				mu.Lock()
				firstErr = cmp.Or(firstErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return len(mine), cmp.Or(firstErr, w.delivered(ctx, mine, delivered, claim))
}

// claim takes the lease of the events ids for one attempt each, counting
// the attempt, in one conditional UPDATE, and returns the events this
// instance got. The UPDATE checks again what the search found (pending,
// due, lease free): meanwhile another instance may have claimed an event,
// or tried it and scheduled its retry.
func (w *Webhooks) claim(ctx context.Context, ids []int64, now time.Time) (uuid.UUID, []*ent.WebhookEvent, error) {
	claim := uuid.New()
	n, err := w.db.WebhookEvent.Update().
		Where(webhookevent.IDIn(ids...), webhookevent.StatusEQ(webhookevent.StatusPending), webhookevent.NextAttemptAtLTE(now), leaseFree(now)).
		SetLockedUntil(now.Add(leaseFactor * w.cfg.Timeout)).SetClaim(claim).AddAttempts(1).
		Save(ctx)
	if err != nil || n == 0 {
		return claim, nil, wrapErr(err, "webhooks: claim events")
	}
	mine, err := w.db.WebhookEvent.Query().Where(webhookevent.Claim(claim)).Order(webhookevent.ByID()).All(ctx)
	return claim, mine, wrapErr(err, "webhooks: read claimed events")
}

// delivered marks the delivered events of a pass, in one UPDATE.
func (w *Webhooks) delivered(ctx context.Context, events []*ent.WebhookEvent, ok []bool, claim uuid.UUID) error {
	now := w.now()
	var ids []int64
	for i, e := range events {
		if ok[i] {
			ids = append(ids, e.ID)
			w.events.count(EventWebhookDelivered, slog.String("type", string(e.Type)),
				slog.Float64("latency_seconds", now.Sub(e.CreatedAt).Seconds()))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := w.db.WebhookEvent.Update().Where(webhookevent.IDIn(ids...), webhookevent.Claim(claim)).
		SetStatus(webhookevent.StatusDelivered).SetDeliveredAt(now).ClearLastError().ClearLockedUntil().ClearClaim().
		Save(context.WithoutCancel(ctx))
	return wrapErr(err, "webhooks: record deliveries")
}

// leaseFree matches events no attempt holds (never claimed, or the
// holder's lease expired: it crashed or hung).
func leaseFree(now time.Time) predicate.WebhookEvent {
	return webhookevent.Or(webhookevent.LockedUntilIsNil(), webhookevent.LockedUntilLT(now))
}

// headOfUser matches an event only when no earlier event of its user is
// pending: a user's events go out one at a time, in order.
func headOfUser() predicate.WebhookEvent {
	return func(s *entsql.Selector) {
		t := entsql.Table(webhookevent.Table).As("earlier")
		s.Where(entsql.NotExists(entsql.Select(t.C(webhookevent.FieldID)).From(t).Where(entsql.And(
			entsql.ColumnsEQ(t.C(webhookevent.FieldUserID), s.C(webhookevent.FieldUserID)),
			entsql.ColumnsLT(t.C(webhookevent.FieldID), s.C(webhookevent.FieldID)),
			entsql.EQ(t.C(webhookevent.FieldStatus), string(webhookevent.StatusPending))))))
	}
}

// failed records a failed attempt of e under claim: retried later, or
// failed for good after the last attempt; an attempt cut short by this
// instance shutting down is handed back untried instead.
func (w *Webhooks) failed(ctx context.Context, e *ent.WebhookEvent, claim uuid.UUID, failure string) error {
	now := w.now()
	upd := w.db.WebhookEvent.Update().Where(webhookevent.ID(e.ID), webhookevent.Claim(claim)).
		ClearLockedUntil().ClearClaim()
	typ := slog.String("type", string(e.Type))
	switch {
	case ctx.Err() != nil:
		// Shutting down (a deploy): hand the event back untried, for the
		// next instance to send at once, rather than count a failure.
		upd.AddAttempts(-1)
	case e.Attempts >= w.cfg.MaxAttempts:
		upd.SetStatus(webhookevent.StatusFailed).SetLastError(failure)
		w.events.log(ctx, EventWebhookFailed, typ, slog.String("event_id", e.EventID.String()),
			slog.Int("attempts", e.Attempts), slog.String("error", failure))
	default:
		upd.SetNextAttemptAt(now.Add(retryDelay(e.Attempts))).SetLastError(failure)
		w.events.count(EventWebhookRetried, typ)
	}
	if _, err := upd.Save(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("webhooks: record failure: %w", err)
	}
	return nil
}

// retryDelay is the wait after the n-th failed attempt: 40 s doubling each
// time, ±20% jitter so a receiver coming back is not hit by every event at
// once; 12 attempts span about a day.
func retryDelay(n int) time.Duration {
	d := retryBase << min(n-1, 20)
	d = min(d, retryMaxDelay)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// send POSTs e to WEBHOOK_URL as the Standard Webhooks specification says
// and returns "" for a 2xx, else a short reason ("status 500", "timeout").
func (w *Webhooks) send(ctx context.Context, e *ent.WebhookEvent) string {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader([]byte(e.Payload)))
	if err != nil {
		return "bad WEBHOOK_URL"
	}
	id, ts := e.EventID.String(), strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "agency-webhooks")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", Sign(w.cfg.Secret, id, ts, []byte(e.Payload)))
	res, err := w.client.Do(req)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "timeout"
	case err != nil:
		return "connection failed"
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 == 2 {
		return ""
	}
	return "status " + strconv.Itoa(res.StatusCode)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// Sign is a Standard Webhooks signature: "v1," and the base64 HMAC-SHA256
// of "id.timestamp.body" under the secret.
func Sign(secret []byte, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// FailedPage is one page of failed events, newest first.
type FailedPage struct {
	Events     []*ent.WebhookEvent
	NextCursor string
}

// ListFailed pages through the events that ran out of attempts, newest first.
func (w *Webhooks) ListFailed(ctx context.Context, limit int, cursor string) (*FailedPage, error) {
	limit, after, err := pageArgs(limit, cursor)
	if err != nil {
		return nil, err
	}
	q := w.db.WebhookEvent.Query().Where(webhookevent.StatusEQ(webhookevent.StatusFailed))
	if after > 0 {
		q.Where(webhookevent.IDLT(after))
	}
	rows, err := q.Order(webhookevent.ByID(entsql.OrderDesc())).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhooks: list failed: %w", err)
	}
	page := &FailedPage{}
	page.Events, page.NextCursor = cutPage(rows, limit, func(e *ent.WebhookEvent) int64 { return e.ID })
	return page, nil
}

// Retry puts a failed event back in the queue with a fresh set of attempts.
func (w *Webhooks) Retry(ctx context.Context, admin *Principal, eventID uuid.UUID) error {
	var e *ent.WebhookEvent
	err := w.recordTx(ctx, func(tx *ent.Tx, j *journal) error {
		n, err := tx.WebhookEvent.Update().
			Where(webhookevent.EventID(eventID), webhookevent.StatusEQ(webhookevent.StatusFailed)).
			SetStatus(webhookevent.StatusPending).SetAttempts(0).SetNextAttemptAt(w.now()).ClearLastError().
			Save(ctx)
		if err != nil {
			return fmt.Errorf("webhooks: retry: %w", err)
		}
		if n == 0 {
			return ErrWebhookNotFailed
		}
		if e, err = tx.WebhookEvent.Query().Where(webhookevent.EventID(eventID)).Only(ctx); err != nil {
			return fmt.Errorf("webhooks: retry: %w", err)
		}
		j.audit(auditAdminWebhookRetried, admin.User.ID, e.UserID, admin.SessionID,
			map[string]any{"event_id": eventID.String(), "event_type": string(e.Type)})
		return nil
	})
	if err != nil {
		return err
	}
	w.events.log(ctx, EventAdminWebhookRetried, slog.String("admin_id", admin.User.ID.String()), slog.String("event_id", eventID.String()))
	if w.signal != nil {
		w.signal.wake()
	}
	return nil
}
