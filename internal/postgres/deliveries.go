package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// DeliveryQueue implements assistloop.DeliveryQueue: the webhook delivery
// engine's storage. Every method requires the system principal.
type DeliveryQueue struct {
	db *DB
	// LockPoll is how often a standby instance tries to become the fan-out
	// worker.
	LockPoll time.Duration
}

// NewDeliveryQueue returns the delivery queue over db.
func NewDeliveryQueue(db *DB) *DeliveryQueue {
	return &DeliveryQueue{db: db, LockPoll: 2 * time.Second}
}

var _ assistloop.DeliveryQueue = (*DeliveryQueue)(nil)

// fanOutLockKey is the advisory lock held by the one fan-out worker of a
// database.
const fanOutLockKey = 7_340_214_005

func requireSystem(ctx context.Context) error {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return err
	}
	if !p.System {
		return assistloop.Errorf(assistloop.EFORBIDDEN, "Only the service itself may operate the delivery queue.")
	}
	return nil
}

// FanOutCursor returns the last event the named fan-out handled.
func (q *DeliveryQueue) FanOutCursor(ctx context.Context, name string) (*uuid.UUID, error) {
	if err := requireSystem(ctx); err != nil {
		return nil, err
	}
	var id uuid.NullUUID
	err := q.db.bun.NewRaw("SELECT event_id FROM webhook_cursors WHERE name = ?", name).Scan(ctx, &id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !id.Valid) {
		return nil, nil
	} else if err != nil {
		return nil, wrap("fan-out cursor", err)
	}
	return &id.UUID, nil
}

// FanOut creates the events' deliveries and moves the cursor, in one
// statement (so one transaction): a crash leaves both or neither, and a
// replay finds the deliveries already there.
func (q *DeliveryQueue) FanOut(ctx context.Context, name string, eventIDs []uuid.UUID) (int, error) {
	if err := requireSystem(ctx); err != nil {
		return 0, err
	}
	if len(eventIDs) == 0 {
		return 0, nil
	}
	ids := make([]string, len(eventIDs))
	for i, id := range eventIDs {
		ids[i] = id.String()
	}
	var created int
	err := q.db.bun.NewRaw(`
WITH cursor AS (
    INSERT INTO webhook_cursors (name, event_id, updated_at) VALUES (?, ?, now())
    ON CONFLICT (name) DO UPDATE SET event_id = EXCLUDED.event_id, updated_at = EXCLUDED.updated_at
), created AS (
    INSERT INTO webhook_deliveries
        (id, event_id, subscription_id, organization_id, status, attempts, max_attempts, next_attempt_at, created_at, updated_at)
    SELECT gen_random_uuid(), e.id, s.id, s.organization_id, 'pending', 0, ?, now(), now(), now()
    FROM events AS e
    JOIN webhook_subscriptions AS s ON s.agent_id = e.agent_id AND s.event = e.type
    WHERE e.id = ANY(?::uuid[]) AND s.status = 'active' AND s.created_at <= e.created_at
    ORDER BY e.txid, e.seq, s.id
    ON CONFLICT (event_id, subscription_id) DO NOTHING
    RETURNING 1
)
SELECT c.n FROM (SELECT count(*) AS n FROM created) AS c
LEFT JOIN LATERAL (SELECT pg_notify(?, '') WHERE c.n > 0) AS wake ON true`,
		name, eventIDs[len(eventIDs)-1], assistloop.MaxDeliveryAttempts, pgdialect.Array(ids), channelDeliveries).Scan(ctx, &created)
	if err != nil {
		return 0, wrap("fan out", err)
	}
	if created > 0 {
		q.db.hub.wakeDeliveries()
	}
	return created, nil
}

// LockFanOut takes the fan-out advisory lock on a connection of its own,
// which holds it until release (or until the connection dies, when
// PostgreSQL releases it and a standby takes over).
func (q *DeliveryQueue) LockFanOut(ctx context.Context) (func(), error) {
	if err := requireSystem(ctx); err != nil {
		return nil, err
	}
	conn, err := q.db.bun.Conn(ctx)
	if err != nil {
		return nil, wrap("fan-out lock", err)
	}
	for {
		var ok bool
		if err := conn.NewRaw("SELECT pg_try_advisory_lock(?)", fanOutLockKey).Scan(ctx, &ok); err != nil {
			conn.Close()
			return nil, wrap("fan-out lock", err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			conn.Close()
			return nil, ctx.Err()
		case <-time.After(q.LockPoll):
		}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock(?)", fanOutLockKey); err != nil {
			// Never hand a connection holding the lock back to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, nil
}

// claimedRow is a claimed delivery with what sending it needs.
type claimedRow struct {
	ID             uuid.UUID                `bun:"id,type:uuid"`
	LeaseToken     uuid.UUID                `bun:"lease_token,type:uuid"`
	EventID        uuid.UUID                `bun:"event_id,type:uuid"`
	Attempts       int                      `bun:"attempts"`
	MaxAttempts    int                      `bun:"max_attempts"`
	SubscriptionID string                   `bun:"subscription_id"`
	Status         assistloop.WebhookStatus `bun:"status"`
	TargetURL      string                   `bun:"target_url"`
	Secret         assistloop.WebhookSecret `bun:"secret"`
	Payload        json.RawMessage          `bun:"payload"`
}

// ClaimDeliveries leases up to limit due deliveries. SKIP LOCKED lets
// concurrent claimers (other goroutines, other instances) pass each other
// without waiting or taking the same rows; the lease keeps them off the
// rows after this statement commits, while the attempt is being made.
func (q *DeliveryQueue) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration) ([]*assistloop.DeliveryJob, error) {
	if err := requireSystem(ctx); err != nil {
		return nil, err
	}
	var rows []claimedRow
	err := q.db.bun.NewRaw(`
WITH due AS (
    SELECT id FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= now()
      AND (leased_until IS NULL OR leased_until <= now())
    ORDER BY next_attempt_at
    LIMIT ?
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries AS d
SET leased_until = now() + ? * interval '1 millisecond', lease_token = ?, updated_at = now()
FROM due, events AS e, webhook_subscriptions AS s
WHERE d.id = due.id AND e.id = d.event_id AND s.id = d.subscription_id
RETURNING d.id, d.lease_token, d.event_id, d.attempts, d.max_attempts, d.subscription_id,
    s.status, s.target_url, s.secret, e.payload`,
		limit, lease.Milliseconds(), uuid.New()).Scan(ctx, &rows)
	if err != nil {
		return nil, wrap("claim deliveries", err)
	}
	jobs := make([]*assistloop.DeliveryJob, len(rows))
	for i, r := range rows {
		attempt := r.Attempts + 1
		jobs[i] = &assistloop.DeliveryJob{
			DeliveryID: r.ID, LeaseToken: r.LeaseToken, EventID: r.EventID,
			Attempt: attempt, MaxAttempts: r.MaxAttempts,
			Retry:          max(1, attempt-(r.MaxAttempts-assistloop.MaxDeliveryAttempts)),
			SubscriptionID: r.SubscriptionID, Status: r.Status, TargetURL: r.TargetURL,
			Secret: r.Secret, Payload: r.Payload,
		}
	}
	return jobs, nil
}

// attemptRow is one recorded result, as the JSON RecordAttempts sends.
type attemptRow struct {
	DeliveryID  uuid.UUID `json:"delivery_id"`
	LeaseToken  uuid.UUID `json:"lease_token"`
	Number      int       `json:"number"`
	AttemptedAt time.Time `json:"attempted_at"`
	LatencyMs   int64     `json:"latency_ms"`
	StatusCode  *int      `json:"status_code"`
	Error       *string   `json:"error"`
	Outcome     string    `json:"outcome"`
	DelayMs     int64     `json:"delay_ms"`
}

// RecordAttempts stores a batch of results in one transaction. A result
// whose lease was lost (expired, or cleared by a cancellation or a
// redelivery) still gets its attempt row but changes nothing else.
func (q *DeliveryQueue) RecordAttempts(ctx context.Context, results []*assistloop.AttemptResult) error {
	if err := requireSystem(ctx); err != nil {
		return err
	}
	if len(results) == 0 {
		return nil
	}
	rows := make([]attemptRow, len(results))
	var gone []string
	for i, r := range results {
		rows[i] = attemptRow{
			DeliveryID: r.Job.DeliveryID, LeaseToken: r.Job.LeaseToken, Number: r.Job.Attempt,
			AttemptedAt: r.AttemptedAt, LatencyMs: r.Latency.Milliseconds(),
			Outcome: string(r.Outcome), DelayMs: r.Delay.Milliseconds(),
		}
		if r.StatusCode != 0 {
			rows[i].StatusCode = &r.StatusCode
		}
		if r.Error != "" {
			rows[i].Error = &r.Error
		}
		if r.Outcome == assistloop.OutcomeGone {
			gone = append(gone, r.Job.SubscriptionID)
		}
	}
	doc, err := json.Marshal(rows)
	if err != nil {
		return wrap("record attempts", err)
	}
	err = q.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if len(gone) > 0 {
			// Lock order: subscriptions before their deliveries, as
			// UnsubscribeWebhook does, so the two cannot deadlock.
			if _, err := tx.NewRaw("SELECT id FROM webhook_subscriptions WHERE id IN (?) ORDER BY id FOR NO KEY UPDATE",
				bun.In(gone)).Exec(ctx); err != nil {
				return err
			}
		}
		_, err := tx.NewRaw(`
WITH r AS (
    SELECT * FROM json_to_recordset(?::json) AS r(delivery_id uuid, lease_token uuid, number integer,
        attempted_at timestamptz, latency_ms integer, status_code integer, error text, outcome text, delay_ms bigint)
), applied AS (
    UPDATE webhook_deliveries AS d SET
        attempts = CASE WHEN r.outcome = 'cancelled' THEN d.attempts ELSE r.number END,
        status = CASE r.outcome WHEN 'succeeded' THEN 'succeeded' WHEN 'retry' THEN 'pending'
                                WHEN 'cancelled' THEN 'cancelled' ELSE 'failed' END,
        next_attempt_at = CASE WHEN r.outcome = 'retry' THEN now() + r.delay_ms * interval '1 millisecond' END,
        leased_until = NULL,
        lease_token = NULL,
        last_attempt_at = CASE WHEN r.outcome = 'cancelled' THEN d.last_attempt_at ELSE r.attempted_at END,
        last_status_code = CASE WHEN r.outcome = 'cancelled' THEN d.last_status_code ELSE r.status_code END,
        last_error = CASE WHEN r.outcome = 'cancelled' THEN d.last_error ELSE r.error END,
        completed_at = CASE WHEN r.outcome = 'retry' THEN NULL ELSE now() END,
        updated_at = now()
    FROM r
    WHERE d.id = r.delivery_id AND d.lease_token = r.lease_token
    RETURNING d.id, d.next_attempt_at
)
INSERT INTO webhook_delivery_attempts
    (delivery_id, number, attempted_at, latency_ms, status_code, error, next_attempt_at)
SELECT r.delivery_id, r.number, r.attempted_at, r.latency_ms, r.status_code, r.error, applied.next_attempt_at
FROM r LEFT JOIN applied ON applied.id = r.delivery_id
WHERE r.outcome <> 'cancelled'`, string(doc)).Exec(ctx)
		if err != nil || len(gone) == 0 {
			return err
		}
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model((*assistloop.WebhookSubscription)(nil)).
			Set("status = ?", assistloop.WebhookDisabled).
			Set("disabled_at = ?", ts).
			Set("disabled_reason = ?", "The target answered 410 Gone.").
			Set("updated_at = ?", ts).
			Where("id IN (?)", bun.In(gone)).
			Where("status = ?", assistloop.WebhookActive).
			Exec(ctx)
		if err != nil {
			return err
		}
		return cancelPendingDeliveries(ctx, tx, gone, ts)
	})
	return wrap("record attempts", err)
}

// ReleaseDeliveries hands unused leases back.
func (q *DeliveryQueue) ReleaseDeliveries(ctx context.Context, jobs []*assistloop.DeliveryJob) error {
	if err := requireSystem(ctx); err != nil {
		return err
	}
	if len(jobs) == 0 {
		return nil
	}
	type lease struct {
		ID    uuid.UUID `json:"id"`
		Token uuid.UUID `json:"token"`
	}
	leases := make([]lease, len(jobs))
	for i, j := range jobs {
		leases[i] = lease{j.DeliveryID, j.LeaseToken}
	}
	doc, err := json.Marshal(leases)
	if err != nil {
		return wrap("release deliveries", err)
	}
	_, err = q.db.bun.NewRaw(`
UPDATE webhook_deliveries AS d SET leased_until = NULL, lease_token = NULL, updated_at = now()
FROM json_to_recordset(?::json) AS r(id uuid, token uuid)
WHERE d.id = r.id AND d.lease_token = r.token`, string(doc)).Exec(ctx)
	if err != nil {
		return wrap("release deliveries", err)
	}
	q.db.hub.wakeDeliveries()
	return nil
}

// NextDue returns how long until the earliest unleased pending delivery is
// due, by the database clock (the one claims compare with).
func (q *DeliveryQueue) NextDue(ctx context.Context) (time.Duration, bool, error) {
	if err := requireSystem(ctx); err != nil {
		return 0, false, err
	}
	var ms []float64
	err := q.db.bun.NewRaw(`
SELECT GREATEST(0, extract(epoch FROM next_attempt_at - now()) * 1000) FROM webhook_deliveries
WHERE status = 'pending' AND (leased_until IS NULL OR leased_until <= now())
ORDER BY next_attempt_at LIMIT 1`).Scan(ctx, &ms)
	if err != nil {
		return 0, false, wrap("next due delivery", err)
	}
	if len(ms) == 0 {
		return 0, false, nil
	}
	return time.Duration(ms[0] * float64(time.Millisecond)), true, nil
}

// WaitDeliveries returns a channel signalled when deliveries may be due.
func (q *DeliveryQueue) WaitDeliveries() (<-chan struct{}, func()) {
	w, stop := q.db.hub.subscribeDeliveries()
	return w.c, stop
}
