package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// MessageScheduler implements assistloop.MessageScheduler: it sends
// scheduled messages when they are due.
//
// Claiming follows the webhook delivery queue (ClaimDeliveries): SELECT …
// FOR UPDATE SKIP LOCKED in a short statement that also sets a lease, so
// concurrent schedulers (goroutines, instances) pass each other without
// waiting and without taking the same rows. Sending is one transaction
// that locks the conversation, then sets sent_at only if the message is
// still scheduled, not cancelled, and leased with this scheduler's token;
// the message becomes visible, the conversation's last message moves, and
// messageAdded is notified, all at commit. A scheduler that dies after
// claiming loses nothing: its lease runs out and another one claims the
// message. A late sender whose lease was taken over finds a different
// token and sends nothing. So every message is sent exactly once.
//
// The claim statement is copied from the delivery queue rather than shared:
// the two differ in their table, due condition and what they return, and a
// generic builder would hide the SQL that matters.
type MessageScheduler struct{ db *DB }

// NewMessageScheduler returns the scheduler's storage over db.
func NewMessageScheduler(db *DB) *MessageScheduler { return &MessageScheduler{db: db} }

var _ assistloop.MessageScheduler = (*MessageScheduler)(nil)

// ClaimDueMessages leases up to limit due scheduled messages.
func (s *MessageScheduler) ClaimDueMessages(ctx context.Context, limit int, lease time.Duration) ([]assistloop.ScheduledJob, error) {
	if err := requireSystem(ctx); err != nil {
		return nil, err
	}
	token := uuid.New()
	var ids []uuid.UUID
	err := s.db.bun.NewRaw(`
WITH due AS (
    SELECT id FROM messages
    WHERE scheduled_at IS NOT NULL AND sent_at IS NULL AND cancelled_at IS NULL
      AND scheduled_at <= now()
      AND (leased_until IS NULL OR leased_until <= now())
    ORDER BY scheduled_at
    LIMIT ?
    FOR UPDATE SKIP LOCKED
)
UPDATE messages AS m
SET leased_until = now() + ? * interval '1 millisecond', lease_token = ?
FROM due WHERE m.id = due.id
RETURNING m.id`, limit, lease.Milliseconds(), token).Scan(ctx, &ids)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("claim scheduled messages", err)
	}
	jobs := make([]assistloop.ScheduledJob, len(ids))
	for i, id := range ids {
		jobs[i] = assistloop.ScheduledJob{MessageID: id, LeaseToken: token}
	}
	return jobs, nil
}

// SendScheduledMessage sends a claimed message if it is still scheduled
// and still this claim's.
func (s *MessageScheduler) SendScheduledMessage(ctx context.Context, job assistloop.ScheduledJob) (bool, error) {
	if err := requireSystem(ctx); err != nil {
		return false, err
	}
	sent := false
	err := s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		// Lock order: the conversation first, like every other writer.
		var convIDs []uuid.UUID
		err := tx.NewRaw("SELECT conversation_id FROM messages WHERE id = ?", job.MessageID).Scan(ctx, &convIDs)
		if err != nil || len(convIDs) == 0 {
			return err
		}
		c := new(assistloop.Conversation)
		err = tx.NewSelect().Model(c).Where("?TableAlias.id = ?", convIDs[0]).Where("?TableAlias.deleted_at IS NULL").For("UPDATE").Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // deleted: its scheduled messages were cancelled with it
		} else if err != nil {
			return err
		}
		m := new(assistloop.Message)
		err = tx.NewSelect().Model(m).Where("?TableAlias.id = ?", job.MessageID).
			Where("?TableAlias.lease_token = ?", job.LeaseToken).
			Where("?TableAlias.sent_at IS NULL AND ?TableAlias.cancelled_at IS NULL").
			For("UPDATE").Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // cancelled, sent, or claimed again by another scheduler
		} else if err != nil {
			return err
		}
		ts, err := touch(ctx, tx, c)
		if err != nil {
			return err
		}
		status := assistloop.StatusSent
		if m.ChannelOrDefault().External() {
			status = assistloop.StatusPending
		}
		m.SentAt, m.CreatedAt, m.Status, m.LeasedUntil, m.LeaseToken = &ts, ts, &status, nil, nil
		_, err = tx.NewUpdate().Model(m).Column("sent_at", "created_at", "status", "leased_until", "lease_token").WherePK().Exec(ctx)
		if err != nil {
			return err
		}
		if err := notify(ctx, tx, channelMessages, m.ConversationID.String()); err != nil {
			return err
		}
		sent = true
		return recordReply(ctx, tx, c, m)
	})
	if err != nil {
		return false, wrap("send scheduled message", err)
	}
	return sent, nil
}

// NextScheduledDue returns how long until the earliest unleased scheduled
// message is due, by the database clock.
func (s *MessageScheduler) NextScheduledDue(ctx context.Context) (time.Duration, bool, error) {
	if err := requireSystem(ctx); err != nil {
		return 0, false, err
	}
	var ms []float64
	err := s.db.bun.NewRaw(`
SELECT GREATEST(0, extract(epoch FROM greatest(scheduled_at, coalesce(leased_until, scheduled_at)) - now()) * 1000)
FROM messages
WHERE scheduled_at IS NOT NULL AND sent_at IS NULL AND cancelled_at IS NULL
ORDER BY scheduled_at LIMIT 1`).Scan(ctx, &ms)
	if err != nil {
		return 0, false, wrap("next scheduled message", err)
	}
	if len(ms) == 0 {
		return 0, false, nil
	}
	return time.Duration(ms[0] * float64(time.Millisecond)), true, nil
}

// WaitScheduled returns a channel signalled when a message is scheduled in
// this process.
func (s *MessageScheduler) WaitScheduled() (<-chan struct{}, func()) {
	w, stop := s.db.hub.subscribeScheduler()
	return w.c, stop
}
