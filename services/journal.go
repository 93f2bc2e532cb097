package services

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/auditevent"
	"github.com/agency-platform/agency/ent/webhookevent"
)

// A journal is what a transaction writes beside the change it makes: the
// audit rows describing it and the webhook events announcing it. Both are
// written inside the change's transaction, so they exist if and only if
// the change committed (see Base.writeJournal and journal.statements).

// journal collects the audit rows and webhook events of one change.
type journal struct {
	audits []auditRow
	hooks  []hookRow
}

// auditRow is one audit_events row before it is written.
type auditRow struct {
	typ                    auditevent.Type
	actor, target, session uuid.UUID // uuid.Nil: none
	details                map[string]any
}

// hookRow is one webhook event before it is written: the user it is about
// and its data (user_id is added).
type hookRow struct {
	typ  webhookevent.Type
	user uuid.UUID
	data map[string]any
}

// audit adds an audit row.
func (j *journal) audit(typ auditevent.Type, actor, target, session uuid.UUID, details map[string]any) {
	j.audits = append(j.audits, auditRow{typ: typ, actor: actor, target: target, session: session, details: details})
}

// hook adds a webhook event about user.
func (j *journal) hook(typ webhookevent.Type, user uuid.UUID, data map[string]any) {
	j.hooks = append(j.hooks, hookRow{typ: typ, user: user, data: data})
}

type clientIPKey struct{}

// WithClientIP tags ctx with the client's address, which audit rows keep
// truncated to its network (see auditNetwork).
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// auditNetwork is the client's network as the audit trail keeps it: IPv4
// /24, IPv6 /48, enough to tell a country or provider and not a household.
func auditNetwork(ctx context.Context) *string {
	raw, _ := ctx.Value(clientIPKey{}).(string)
	addr, err := netip.ParseAddr(raw)
	if err != nil {
		return nil
	}
	addr = addr.Unmap()
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return nil
	}
	s := p.String()
	return &s
}

// nilUUID is id, or nil for uuid.Nil.
func nilUUID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// webhookBody is a webhook event's JSON body (Standard Webhooks' payload
// shape): type, when it happened, and data naming the user.
func webhookBody(h hookRow, at time.Time) (string, error) {
	data := make(map[string]any, len(h.data)+1)
	for k, v := range h.data {
		data[k] = v
	}
	data["user_id"] = h.user.String()
	b, err := json.Marshal(map[string]any{"type": string(h.typ), "timestamp": at.UTC().Format(time.RFC3339Nano), "data": data})
	return string(b), err
}

// writeJournal writes j inside tx: one INSERT for the audit rows, one for
// the webhook events (only when webhooks are on), on either dialect.
func (b Base) writeJournal(ctx context.Context, tx *ent.Tx, j *journal) error {
	if j == nil {
		return nil
	}
	qs, err := b.journalStatements(ctx, j)
	if err != nil {
		return err
	}
	for _, q := range qs {
		query, args := q.Query()
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("write journal: %w", err)
		}
	}
	tx.OnCommit(b.afterCommit(b.outboxHooks(j)))
	return nil
}

// journalStatements returns j's INSERTs, built with Ent's SQL builder
// (the details go as JSON text: Ent's own JSON parameter is bytes, which
// lib/pq's binary parameters hand to jsonb as its binary format). A caller
// that sends them itself with others in one round trip (PostgreSQL's
// sign-in, see Sessions.open) registers afterCommit itself.
func (b Base) journalStatements(ctx context.Context, j *journal) ([]entsql.Querier, error) {
	now := b.now()
	ip := auditNetwork(ctx)
	var qs []entsql.Querier
	if len(j.audits) > 0 {
		ins := entsql.Dialect(string(b.dialect)).Insert(auditevent.Table).Columns(auditevent.FieldCreatedAt, auditevent.FieldType, auditevent.FieldActorUserID,
			auditevent.FieldTargetUserID, auditevent.FieldSessionID, auditevent.FieldIP, auditevent.FieldDetails)
		for _, a := range j.audits {
			if a.details == nil {
				a.details = map[string]any{}
			}
			details, err := json.Marshal(a.details)
			if err != nil {
				return nil, fmt.Errorf("audit details: %w", err)
			}
			ins.Values(now, string(a.typ), nilUUID(a.actor), nilUUID(a.target), nilUUID(a.session), ip, string(details))
		}
		qs = append(qs, ins)
	}
	if hooks := b.outboxHooks(j); len(hooks) > 0 {
		ins := entsql.Dialect(string(b.dialect)).Insert(webhookevent.Table).Columns(webhookevent.FieldEventID, webhookevent.FieldType, webhookevent.FieldUserID,
			webhookevent.FieldPayload, webhookevent.FieldCreatedAt, webhookevent.FieldStatus, webhookevent.FieldAttempts,
			webhookevent.FieldNextAttemptAt)
		for _, h := range hooks {
			body, err := webhookBody(h, now)
			if err != nil {
				return nil, fmt.Errorf("webhook body: %w", err)
			}
			ins.Values(uuid.New(), string(h.typ), h.user, body, now, string(webhookevent.StatusPending), 0, now)
		}
		qs = append(qs, ins)
	}
	return qs, nil
}

// outboxHooks is j's webhook events when webhooks are on (WEBHOOK_URL):
// with no receiver nothing is queued.
func (b Base) outboxHooks(j *journal) []hookRow {
	if b.outbox == nil {
		return nil
	}
	return j.hooks
}

// afterCommit counts the queued events and wakes this instance's
// deliverer once the transaction has committed.
func (b Base) afterCommit(hooks []hookRow) ent.CommitHook {
	return func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			if err := next.Commit(ctx, tx); err != nil {
				return err
			}
			b.queued(hooks)
			return nil
		})
	}
}

// queued counts committed webhook events and wakes the deliverer.
func (b Base) queued(hooks []hookRow) {
	if b.outbox == nil || len(hooks) == 0 {
		return
	}
	for _, h := range hooks {
		b.events.count(EventWebhookQueued, slog.String("type", string(h.typ)))
	}
	b.outbox.wake()
}

// recordTx runs change and writes the journal it fills, in one transaction.
func (b Base) recordTx(ctx context.Context, change func(tx *ent.Tx, j *journal) error) error {
	return b.withTx(ctx, func(tx *ent.Tx) error {
		var j journal
		if err := change(tx, &j); err != nil {
			return err
		}
		return b.writeJournal(ctx, tx, &j)
	})
}
