package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// WebhookService implements assistloop.WebhookService.
type WebhookService struct {
	db    *DB
	guard assistloop.TargetGuard
}

// NewWebhookService returns the webhook service over db. guard vets target
// addresses at subscribe time; nil accepts every address (tests of the
// storage alone).
func NewWebhookService(db *DB, guard assistloop.TargetGuard) *WebhookService {
	return &WebhookService{db: db, guard: guard}
}

var _ assistloop.WebhookService = (*WebhookService)(nil)

// SubscribeWebhook validates the request and creates the subscription.
func (s *WebhookService) SubscribeWebhook(ctx context.Context, in assistloop.SubscribeWebhookInput) (*assistloop.WebhookSubscription, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.Require(assistloop.ScopeManageWebhooks); err != nil {
		return nil, err
	}
	if p.UserID == "" {
		return nil, assistloop.Errorf(assistloop.EFORBIDDEN, "Only a user can subscribe to webhooks.")
	}
	v := assistloop.Invalid()
	target := in.Validate(v)

	// The workspace must be one of the caller's and the agent inside it.
	// A foreign or missing one reads the same: "invalid".
	var agent *assistloop.Agent
	if _, bad := v.Fields["organization_uuid"]; !bad {
		org := new(assistloop.Organization)
		q := s.db.bun.NewSelect().Model(org).Where("?TableAlias.id = ?", strings.TrimSpace(*in.OrganizationID))
		if err := visibleTo(q, p, "id").Scan(ctx); err != nil {
			if err := notFound("Organization", err); assistloop.ErrorCode(err) != assistloop.ENOTFOUND {
				return nil, wrap("subscribe webhook", err)
			}
			v.Add("organization_uuid", "The selected organization uuid is invalid.")
		} else if _, bad := v.Fields["agent_uuid"]; !bad {
			agent = new(assistloop.Agent)
			err := s.db.bun.NewSelect().Model(agent).
				Where("?TableAlias.id = ?", strings.TrimSpace(*in.AgentID)).
				Where("?TableAlias.organization_id = ?", org.ID).Scan(ctx)
			if err != nil {
				if err := notFound("Agent", err); assistloop.ErrorCode(err) != assistloop.ENOTFOUND {
					return nil, wrap("subscribe webhook", err)
				}
				v.Add("agent_uuid", "The selected agent uuid is invalid.")
				agent = nil
			}
		}
	}
	// Resolving the host is the slowest check: only worth it when the rest
	// is fine.
	if target != nil && len(v.Fields) == 0 && s.guard != nil {
		if err := s.guard.CheckTarget(ctx, target); err != nil {
			return nil, err
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}

	sub := &assistloop.WebhookSubscription{
		ID:             assistloop.NewID(assistloop.PrefixWebhook),
		OrganizationID: agent.OrganizationID,
		AgentID:        agent.ID,
		UserID:         &p.UserID,
		TargetURL:      target.String(),
		Event:          assistloop.EventType(*in.Event),
		Platform:       *in.Platform,
		ExternalID:     trimmed(in.ExternalID),
		Secret:         assistloop.NewWebhookSecret(),
		Status:         assistloop.WebhookActive,
	}
	err = s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		sub.CreatedAt, sub.UpdatedAt = ts, ts
		_, err = tx.NewInsert().Model(sub).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, wrap("subscribe webhook", err)
	}
	return sub, nil
}

// UnsubscribeWebhook marks the subscription unsubscribed and cancels its
// pending deliveries.
func (s *WebhookService) UnsubscribeWebhook(ctx context.Context, id string) error {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return err
	}
	if err := p.Require(assistloop.ScopeManageWebhooks); err != nil {
		return err
	}
	err = s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sub := new(assistloop.WebhookSubscription)
		// Unsubscribed ones included: repeating an unsubscribe succeeds.
		// NO KEY UPDATE: a concurrent fan-out's foreign-key checks on the
		// subscription need not wait. Lock order everywhere: the
		// subscription, then its deliveries.
		q := tx.NewSelect().Model(sub).Where("?TableAlias.id = ?", id).For("NO KEY UPDATE")
		if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
			return notFound("Webhook", err)
		}
		if sub.Status == assistloop.WebhookUnsubscribed {
			return nil
		}
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		sub.Status, sub.UnsubscribedAt, sub.UpdatedAt = assistloop.WebhookUnsubscribed, &ts, ts
		if _, err := tx.NewUpdate().Model(sub).Column("status", "unsubscribed_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		return cancelPendingDeliveries(ctx, tx, []string{sub.ID}, ts)
	})
	return wrap("unsubscribe webhook", err)
}

// cancelPendingDeliveries cancels the subscriptions' pending deliveries,
// including any in flight: clearing the lease token keeps the in-flight
// result from reviving them.
func cancelPendingDeliveries(ctx context.Context, idb bun.IDB, subscriptionIDs []string, ts time.Time) error {
	_, err := idb.NewUpdate().Model((*assistloop.WebhookDelivery)(nil)).
		Set("status = ?", assistloop.DeliveryCancelled).
		Set("next_attempt_at = NULL").
		Set("lease_token = NULL").
		Set("completed_at = ?", ts).
		Set("updated_at = ?", ts).
		Where("subscription_id IN (?)", bun.In(subscriptionIDs)).
		Where("status = ?", assistloop.DeliveryPending).
		Exec(ctx)
	return err
}

// selectSubscriptions starts a query for the caller's live subscriptions.
func (s *WebhookService) selectSubscriptions(p *assistloop.Principal, dest any) *bun.SelectQuery {
	q := s.db.bun.NewSelect().Model(dest).Where("?TableAlias.status <> ?", assistloop.WebhookUnsubscribed)
	return visibleTo(q, p, "organization_id")
}

// FindWebhookSubscription returns a live subscription of the caller's
// workspaces.
func (s *WebhookService) FindWebhookSubscription(ctx context.Context, id string) (*assistloop.WebhookSubscription, error) {
	subs, err := s.WebhookSubscriptionsByIDs(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return nil, assistloop.NotFound("Webhook")
	}
	return subs[0], nil
}

// WebhookSubscriptionsByIDs returns the caller's live subscriptions among
// ids.
func (s *WebhookService) WebhookSubscriptionsByIDs(ctx context.Context, ids []string) ([]*assistloop.WebhookSubscription, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var subs []*assistloop.WebhookSubscription
	if err := s.selectSubscriptions(p, &subs).Where("?TableAlias.id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, wrap("webhook subscriptions by ids", err)
	}
	return subs, nil
}

// ListWebhookSubscriptions lists the caller's live subscriptions, newest
// first.
func (s *WebhookService) ListWebhookSubscriptions(ctx context.Context, f assistloop.WebhookSubscriptionFilter, page assistloop.Page) (*assistloop.WebhookSubscriptionPage, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	if f.OrganizationID != nil {
		if _, err := NewOrganizationService(s.db).FindOrganization(ctx, *f.OrganizationID); err != nil {
			return nil, err
		}
	}
	if f.AgentID != nil {
		if _, err := NewAgentService(s.db).FindAgent(ctx, *f.AgentID); err != nil {
			return nil, err
		}
	}
	if page, err = normalizePage(page); err != nil {
		return nil, err
	}
	var subs []*assistloop.WebhookSubscription
	q := s.selectSubscriptions(p, &subs)
	if f.OrganizationID != nil {
		q = q.Where("?TableAlias.organization_id = ?", *f.OrganizationID)
	}
	if f.AgentID != nil {
		q = q.Where("?TableAlias.agent_id = ?", *f.AgentID)
	}
	if q, err = applyKeyset(q, page, false); err != nil {
		return nil, err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap("list webhook subscriptions", err)
	}
	rows, cursors, info := window(subs, page, func(w *assistloop.WebhookSubscription) (time.Time, string) { return w.CreatedAt, w.ID })
	return &assistloop.WebhookSubscriptionPage{Subscriptions: rows, Cursors: cursors, PageInfo: info}, nil
}

// ListWebhookDeliveries lists a live subscription's deliveries, newest
// first.
func (s *WebhookService) ListWebhookDeliveries(ctx context.Context, f assistloop.DeliveryFilter, page assistloop.Page) (*assistloop.WebhookDeliveryPage, error) {
	if _, err := s.FindWebhookSubscription(ctx, f.SubscriptionID); err != nil {
		return nil, err
	}
	if f.Status != nil && !f.Status.Valid() {
		return nil, assistloop.InvalidField("status", "The selected status is invalid.")
	}
	page, err := normalizePage(page)
	if err != nil {
		return nil, err
	}
	var ds []*assistloop.WebhookDelivery
	q := s.db.bun.NewSelect().Model(&ds).Where("?TableAlias.subscription_id = ?", f.SubscriptionID)
	if f.Status != nil {
		q = q.Where("?TableAlias.status = ?", *f.Status)
	}
	if q, err = applyKeyset(q, page, true); err != nil {
		return nil, err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap("list webhook deliveries", err)
	}
	rows, cursors, info := window(ds, page, func(d *assistloop.WebhookDelivery) (time.Time, string) { return d.CreatedAt, d.ID.String() })
	return &assistloop.WebhookDeliveryPage{Deliveries: rows, Cursors: cursors, PageInfo: info}, nil
}

// FindWebhookDelivery returns a delivery of a live subscription of the
// caller's workspaces.
func (s *WebhookService) FindWebhookDelivery(ctx context.Context, id uuid.UUID) (*assistloop.WebhookDelivery, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	d := new(assistloop.WebhookDelivery)
	// Deliveries of an unsubscribed subscription went with it.
	q := s.db.bun.NewSelect().Model(d).Where("?TableAlias.id = ?", id).
		Where("?TableAlias.subscription_id IN (SELECT w.id FROM webhook_subscriptions AS w WHERE w.status <> ?)", assistloop.WebhookUnsubscribed)
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("find webhook delivery", notFound("Webhook delivery", err))
	}
	return d, nil
}

// AttemptsByDeliveryIDs returns the attempts of the caller's deliveries
// among ids, oldest first.
func (s *WebhookService) AttemptsByDeliveryIDs(ctx context.Context, ids []uuid.UUID) ([]*assistloop.WebhookDeliveryAttempt, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var as []*assistloop.WebhookDeliveryAttempt
	q := s.db.bun.NewSelect().Model(&as).Where("?TableAlias.delivery_id IN (?)", bun.In(ids))
	if !p.System {
		q = q.Where("?TableAlias.delivery_id IN (SELECT d.id FROM webhook_deliveries AS d WHERE d.organization_id IN "+
			"(SELECT m.organization_id FROM memberships AS m WHERE m.user_id = ?))", p.UserID)
	}
	if err := q.OrderExpr("?TableAlias.delivery_id, ?TableAlias.number, ?TableAlias.id").Scan(ctx); err != nil {
		return nil, wrap("webhook attempts", err)
	}
	return as, nil
}

// RedeliverEvent schedules the event's delivery to the subscription now.
func (s *WebhookService) RedeliverEvent(ctx context.Context, subscriptionID string, eventID uuid.UUID) (*assistloop.WebhookDelivery, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.Require(assistloop.ScopeManageWebhooks); err != nil {
		return nil, err
	}
	d := new(assistloop.WebhookDelivery)
	err = s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sub := new(assistloop.WebhookSubscription)
		q := tx.NewSelect().Model(sub).Where("?TableAlias.id = ?", subscriptionID).
			Where("?TableAlias.status <> ?", assistloop.WebhookUnsubscribed).For("SHARE")
		if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
			return notFound("Webhook", err)
		}
		ev := new(assistloop.Event)
		q = tx.NewSelect().Model(ev).Where("?TableAlias.id = ?", eventID)
		if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
			return notFound("Event", err)
		}
		switch {
		case sub.Status == assistloop.WebhookDisabled:
			return assistloop.Errorf(assistloop.ECONFLICT, "The webhook is disabled: its target answered 410 Gone.")
		case ev.AgentID != sub.AgentID || ev.Type != sub.Event:
			return assistloop.InvalidField("event_id", "The event is not of the webhook's agent and event type.")
		}
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		// A delivery in flight keeps its lease (no second sender until it
		// ends) but loses its token, so its result cannot undo this.
		err = tx.NewRaw(`
INSERT INTO webhook_deliveries AS d
    (id, event_id, subscription_id, organization_id, status, attempts, max_attempts, next_attempt_at, created_at, updated_at)
VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)
ON CONFLICT (event_id, subscription_id) DO UPDATE SET
    status = 'pending',
    max_attempts = d.attempts + ?,
    next_attempt_at = EXCLUDED.next_attempt_at,
    lease_token = NULL,
    completed_at = NULL,
    updated_at = EXCLUDED.updated_at
RETURNING d.id, d.event_id, d.subscription_id, d.organization_id, d.status, d.attempts, d.max_attempts,
    d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at, d.completed_at`,
			uuid.New(), ev.ID, sub.ID, sub.OrganizationID, assistloop.MaxDeliveryAttempts, ts, ts, ts,
			assistloop.MaxDeliveryAttempts).Scan(ctx, d)
		if err != nil {
			return err
		}
		return notify(ctx, tx, channelDeliveries, "")
	})
	if err != nil {
		return nil, wrap("redeliver event", err)
	}
	s.db.hub.wakeDeliveries()
	return d, nil
}
