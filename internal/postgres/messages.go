package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// MessageService implements assistloop.MessageService.
type MessageService struct{ db *DB }

// NewMessageService returns the message service over db.
func NewMessageService(db *DB) *MessageService { return &MessageService{db: db} }

var _ assistloop.MessageService = (*MessageService)(nil)

// selectMessages starts a query of messages with their computed sender name.
// The joined rows are one conversation's, so the joins cost one index probe
// each, whatever the number of messages.
func selectMessages(idb bun.IDB, dst *[]*assistloop.Message) *bun.SelectQuery {
	return selectAnyMessages(idb, dst).Where(visibleMessage("?TableAlias"))
}

// selectAnyMessages is selectMessages with scheduled and cancelled messages.
func selectAnyMessages(idb bun.IDB, dst *[]*assistloop.Message) *bun.SelectQuery {
	return idb.NewSelect().Model(dst).
		ColumnExpr("?TableAlias.*").
		ColumnExpr(`CASE
			WHEN ?TableAlias.type = 'guest' THEN COALESCE(NULLIF(cu.name, ''), 'Guest')
			WHEN ?TableAlias.responder_type = 'human_assistant' THEN u.name
			WHEN ?TableAlias.type = 'agent' THEN a.name
			ELSE 'AssistLoop'
		END AS sender_name`).
		Join("JOIN conversations AS c ON c.id = ?TableAlias.conversation_id").
		Join("JOIN agents AS a ON a.id = c.agent_id").
		Join("LEFT JOIN chat_users AS cu ON cu.id = c.chat_user_id").
		Join("LEFT JOIN users AS u ON u.id = ?TableAlias.responder_user_id").
		Where("c.deleted_at IS NULL")
}

// visibleMessage is the condition on a messages table alias that keeps
// messages scheduled and not sent yet (or cancelled) out of every list,
// stream and event.
func visibleMessage(alias string) string {
	return "(" + alias + ".scheduled_at IS NULL OR " + alias + ".sent_at IS NOT NULL)"
}

// FindMessage returns a message of a live conversation in the caller's
// workspaces.
func (s *MessageService) FindMessage(ctx context.Context, id uuid.UUID) (*assistloop.Message, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var ms []*assistloop.Message
	q := selectMessages(s.db.bun, &ms).Where("?TableAlias.id = ?", id)
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("find message", err)
	}
	if len(ms) == 0 {
		return nil, assistloop.NotFound("Message")
	}
	return ms[0], nil
}

// ListMessages lists a conversation's messages, newest first.
func (s *MessageService) ListMessages(ctx context.Context, f assistloop.MessageFilter, page assistloop.Page) (*assistloop.MessagePage, error) {
	if _, err := NewConversationService(s.db).FindConversation(ctx, f.ConversationID); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	page, err := normalizePage(page)
	if err != nil {
		return nil, err
	}
	var ms []*assistloop.Message
	q := selectMessages(s.db.bun, &ms).Where("?TableAlias.conversation_id = ?", f.ConversationID)
	if len(f.Types) > 0 {
		q = q.Where("?TableAlias.type IN (?)", bun.In(f.Types))
	}
	if f.CreatedFrom != nil {
		q = q.Where("?TableAlias.created_at >= ?", *f.CreatedFrom)
	}
	if f.CreatedTo != nil {
		q = q.Where("?TableAlias.created_at <= ?", *f.CreatedTo)
	}
	if q, err = applyKeyset(q, page, true); err != nil {
		return nil, err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap("list messages", err)
	}
	rows, cursors, info := window(ms, page, func(m *assistloop.Message) (time.Time, string) { return m.CreatedAt, m.ID.String() })
	return &assistloop.MessagePage{Messages: rows, Cursors: cursors, PageInfo: info}, nil
}

// AttachmentsByMessageIDs returns the attachments of the given messages in
// the caller's workspaces, oldest first.
func (s *MessageService) AttachmentsByMessageIDs(ctx context.Context, ids []uuid.UUID) ([]*assistloop.Attachment, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var as []*assistloop.Attachment
	q := s.db.bun.NewSelect().Model(&as).Where("?TableAlias.message_id IN (?)", bun.In(ids)).OrderExpr("?TableAlias.created_at, ?TableAlias.id")
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("attachments by message ids", err)
	}
	return as, nil
}

// messagePoll bounds how late a live stream can be when a notification is
// lost (the listener reconnecting).
const messagePoll = 5 * time.Second

// SubscribeMessages streams the conversation's new messages, oldest first,
// until ctx ends.
func (s *MessageService) SubscribeMessages(ctx context.Context, conversationID uuid.UUID) (<-chan *assistloop.Message, error) {
	if _, err := NewConversationService(s.db).FindConversation(ctx, conversationID); err != nil {
		return nil, err
	}
	// Start listening before reading the cursor: a message committed in
	// between is then both after the cursor and announced.
	w, stop := s.db.hub.subscribeMessages(conversationID)
	var last []*assistloop.Message
	err := s.db.bun.NewSelect().Model(&last).Column("id", "created_at").
		Where("conversation_id = ?", conversationID).Where(visibleMessage("message")).
		OrderExpr("created_at DESC, id DESC").Limit(1).Scan(ctx)
	if err != nil {
		stop()
		return nil, wrap("subscribe messages", err)
	}
	var after cursor
	if len(last) > 0 {
		after = cursor{CreatedAt: last[0].CreatedAt, ID: last[0].ID.String()}
	}

	out := make(chan *assistloop.Message)
	go func() {
		defer close(out)
		defer stop()
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.c:
			case <-timer.C:
			}
			var ms []*assistloop.Message
			q := selectMessages(s.db.bun, &ms).Where("?TableAlias.conversation_id = ?", conversationID)
			if after.ID != "" {
				q = q.Where("(?TableAlias.created_at, ?TableAlias.id) > (?, ?)", after.CreatedAt, after.ID)
			}
			err := q.OrderExpr("?TableAlias.created_at, ?TableAlias.id").Limit(100).Scan(ctx)
			if err != nil && ctx.Err() == nil {
				s.db.log.Error("message stream query failed", "conversation", conversationID, "err", err)
			}
			for _, m := range ms {
				select {
				case out <- m:
					after = cursor{CreatedAt: m.CreatedAt, ID: m.ID.String()}
				case <-ctx.Done():
					return
				}
			}
			if len(ms) == 100 {
				w.wake() // more to read
			}
			timer.Reset(messagePoll)
		}
	}()
	return out, nil
}
