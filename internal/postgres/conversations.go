package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// ConversationService implements assistloop.ConversationService.
type ConversationService struct{ db *DB }

// NewConversationService returns the conversation service over db.
func NewConversationService(db *DB) *ConversationService { return &ConversationService{db: db} }

var _ assistloop.ConversationService = (*ConversationService)(nil)

// FindConversation returns a live conversation in one of the caller's
// workspaces.
func (s *ConversationService) FindConversation(ctx context.Context, id uuid.UUID) (*assistloop.Conversation, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	c := new(assistloop.Conversation)
	q := s.db.bun.NewSelect().Model(c).Where("?TableAlias.id = ?", id).Where("?TableAlias.deleted_at IS NULL")
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("find conversation", notFound("Conversation", err))
	}
	return c, nil
}

// ConversationsByIDs returns the live conversations among ids in the caller's
// workspaces.
func (s *ConversationService) ConversationsByIDs(ctx context.Context, ids []uuid.UUID) ([]*assistloop.Conversation, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var cs []*assistloop.Conversation
	q := s.db.bun.NewSelect().Model(&cs).Where("?TableAlias.id IN (?)", bun.In(ids)).Where("?TableAlias.deleted_at IS NULL")
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("conversations by ids", err)
	}
	return cs, nil
}

// ListConversations lists an agent's live conversations, newest first.
func (s *ConversationService) ListConversations(ctx context.Context, f assistloop.ConversationFilter, page assistloop.Page) (*assistloop.ConversationPage, error) {
	if _, err := NewAgentService(s.db).FindAgent(ctx, f.AgentID); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	page, err := normalizePage(page)
	if err != nil {
		return nil, err
	}
	var cs []*assistloop.Conversation
	q := s.db.bun.NewSelect().Model(&cs).
		Where("?TableAlias.agent_id = ?", f.AgentID).
		Where("?TableAlias.deleted_at IS NULL")
	if f.Status != nil {
		q = q.Where("?TableAlias.status = ?", *f.Status)
	}
	if f.ResponseMode != nil {
		q = q.Where("?TableAlias.response_mode = ?", *f.ResponseMode)
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
		return nil, wrap("list conversations", err)
	}
	rows, cursors, info := window(cs, page, func(c *assistloop.Conversation) (time.Time, string) { return c.CreatedAt, c.ID.String() })
	return &assistloop.ConversationPage{Conversations: rows, Cursors: cursors, PageInfo: info}, nil
}

// StartConversation creates a conversation with its first guest message and
// its new_conversation event, in one transaction.
func (s *ConversationService) StartConversation(ctx context.Context, in assistloop.StartConversationInput) (*assistloop.Conversation, *assistloop.Message, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := p.Require(assistloop.ScopeWriteConversations); err != nil {
		return nil, nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, nil, err
	}
	var (
		conv *assistloop.Conversation
		msg  *assistloop.Message
	)
	err = s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		agent := new(assistloop.Agent)
		q := tx.NewSelect().Model(agent).Where("?TableAlias.id = ?", in.AgentID)
		if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
			return notFound("Agent", err)
		}
		org := new(assistloop.Organization)
		if err := tx.NewSelect().Model(org).Where("id = ?", agent.OrganizationID).Scan(ctx); err != nil {
			return err
		}
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		chatUser, err := conversationChatUser(ctx, tx, org.ID, in.ChatUserID, in.ChatUser, ts)
		if err != nil {
			return err
		}
		sessionID := "sess_" + assistloop.RandomString(20)
		if in.SessionID != nil && strings.TrimSpace(*in.SessionID) != "" {
			sessionID = strings.TrimSpace(*in.SessionID)
		}
		msgID := uuid.New()
		conv = &assistloop.Conversation{
			ID:             uuid.New(),
			OrganizationID: org.ID,
			AgentID:        agent.ID,
			ChatUserID:     &chatUser.ID,
			SessionID:      sessionID,
			ResponseMode:   assistloop.ResponseModeAI,
			Status:         assistloop.ConversationOpen,
			LastMessageID:  &msgID,
			CreatedAt:      ts,
			UpdatedAt:      ts,
			UnreadCount:    1,
			LastMessageAt:  ts,
		}
		if _, err := tx.NewInsert().Model(conv).Exec(ctx); err != nil {
			return err
		}
		msg = &assistloop.Message{
			ID:             msgID,
			ConversationID: conv.ID,
			OrganizationID: org.ID,
			Type:           assistloop.MessageGuest,
			Content:        in.Content,
			Via:            via(in.Via, in.Channel),
			Channel:        channelOrDefault(in.Channel),
			CreatedAt:      ts,
			SenderName:     guestName(chatUser),
		}
		if err := insertMessage(ctx, tx, msg); err != nil {
			return err
		}
		return insertEvent(ctx, tx, assistloop.EventNewConversation, ts, assistloop.EventSubject{
			Conversation: conv, Agent: agent, Organization: org, ChatUser: chatUser, Message: msg,
		})
	})
	if err != nil {
		return nil, nil, wrap("start conversation", err)
	}
	return conv, msg, nil
}

func via(v *string, channel assistloop.MessageChannel) string {
	if v == nil || strings.TrimSpace(*v) == "" {
		return channel.Via()
	}
	return strings.TrimSpace(*v)
}

func channelOrDefault(c assistloop.MessageChannel) assistloop.MessageChannel {
	if c == "" {
		return assistloop.ChannelLiveChat
	}
	return c
}

func guestName(cu *assistloop.ChatUser) *string {
	if cu != nil && cu.Name != nil && *cu.Name != "" {
		return cu.Name
	}
	name := "Guest"
	return &name
}

// conversationChatUser returns the customer of a new conversation: the
// workspace's chat user id when given (ENOTFOUND otherwise), else the one
// in describes (created, or found by external id).
func conversationChatUser(ctx context.Context, tx bun.Tx, orgID string, id *string, in *assistloop.ChatUserInput, ts time.Time) (*assistloop.ChatUser, error) {
	if id == nil {
		return upsertChatUser(ctx, tx, orgID, in, ts)
	}
	cu := new(assistloop.ChatUser)
	if err := tx.NewSelect().Model(cu).Where("id = ?", *id).Where("organization_id = ?", orgID).Scan(ctx); err != nil {
		return nil, notFound("Contact", err)
	}
	return cu, nil
}

// upsertChatUser creates the conversation's customer, or updates the one
// with the same external id, keeping known fields the input leaves out.
func upsertChatUser(ctx context.Context, tx bun.Tx, orgID string, in *assistloop.ChatUserInput, ts time.Time) (*assistloop.ChatUser, error) {
	if in == nil {
		in = &assistloop.ChatUserInput{}
	}
	cu := &assistloop.ChatUser{
		ID:             assistloop.NewID(assistloop.PrefixChatUser),
		OrganizationID: orgID,
		Name:           trimmed(in.Name),
		Email:          trimmed(in.Email),
		CountryCode:    trimmed(in.CountryCode),
		ExternalID:     trimmed(in.ExternalID),
		CreatedAt:      ts,
	}
	q := tx.NewInsert().Model(cu)
	if cu.ExternalID != nil {
		q = q.On("CONFLICT (organization_id, external_id) WHERE external_id IS NOT NULL DO UPDATE").
			Set("name = COALESCE(EXCLUDED.name, chat_user.name)").
			Set("email = COALESCE(EXCLUDED.email, chat_user.email)").
			Set("country_code = COALESCE(EXCLUDED.country_code, chat_user.country_code)")
	}
	if _, err := q.Returning("*").Exec(ctx); err != nil {
		return nil, err
	}
	return cu, nil
}

func trimmed(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	if t == "" {
		return nil
	}
	return &t
}

// lockConversation loads a live conversation of the caller's workspaces
// and locks its row until the transaction ends. Every change to a
// conversation and its messages goes through this lock, so changes to one
// conversation are serialized and its timestamps strictly increase.
func lockConversation(ctx context.Context, tx bun.Tx, p *assistloop.Principal, id uuid.UUID) (*assistloop.Conversation, error) {
	c := new(assistloop.Conversation)
	q := tx.NewSelect().Model(c).Where("?TableAlias.id = ?", id).Where("?TableAlias.deleted_at IS NULL").For("UPDATE")
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, notFound("Conversation", err)
	}
	return c, nil
}

// touch returns the time of a change to the locked conversation c and
// records it as c.UpdatedAt: the database clock, but strictly later than the
// previous change, so a conversation's messages sort in the order they were
// written even within one microsecond.
func touch(ctx context.Context, tx bun.Tx, c *assistloop.Conversation) (time.Time, error) {
	ts, err := now(ctx, tx)
	if err != nil {
		return ts, err
	}
	if min := c.UpdatedAt.Add(time.Microsecond); ts.Before(min) {
		ts = min
	}
	c.UpdatedAt = ts
	return ts, nil
}

// change runs fn on a locked conversation inside a transaction, after
// checking the principal's scope. fn calls touch once it knows it changes
// something.
func (s *ConversationService) change(ctx context.Context, op string, id uuid.UUID, fn func(ctx context.Context, tx bun.Tx, p *assistloop.Principal, c *assistloop.Conversation) error) error {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return err
	}
	if err := p.Require(assistloop.ScopeWriteConversations); err != nil {
		return err
	}
	err = s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		c, err := lockConversation(ctx, tx, p, id)
		if err != nil {
			return err
		}
		return fn(ctx, tx, p, c)
	})
	return wrap(op, err)
}

// SendGuestMessage adds a customer message, reopening a closed conversation.
func (s *ConversationService) SendGuestMessage(ctx context.Context, id uuid.UUID, content string) (*assistloop.Message, error) {
	if err := assistloop.ValidateContent("content", content); err != nil {
		return nil, err
	}
	return s.sendGuest(ctx, id, messageSpec{content: content, channel: assistloop.ChannelLiveChat})
}

// messageSpec is what a new guest or human message carries beyond its
// author.
type messageSpec struct {
	content       string
	channel       assistloop.MessageChannel
	status        *string
	attachmentIDs []string
	scheduledAt   *time.Time
	// check, when set, vets the locked conversation first.
	check func(c *assistloop.Conversation) error
	// after, when set, runs in the transaction once the message is written.
	after func(ctx context.Context, tx bun.Tx, m *assistloop.Message) error
}

// sendGuest adds a customer message: it reopens a closed conversation and
// counts as unread.
func (s *ConversationService) sendGuest(ctx context.Context, id uuid.UUID, spec messageSpec) (*assistloop.Message, error) {
	var msg *assistloop.Message
	err := s.change(ctx, "send guest message", id, func(ctx context.Context, tx bun.Tx, _ *assistloop.Principal, c *assistloop.Conversation) error {
		if spec.check != nil {
			if err := spec.check(c); err != nil {
				return err
			}
		}
		ts, err := touch(ctx, tx, c)
		if err != nil {
			return err
		}
		msg = &assistloop.Message{ID: uuid.New(), ConversationID: c.ID, OrganizationID: c.OrganizationID,
			Type: assistloop.MessageGuest, Content: spec.content, Via: spec.channel.Via(), Channel: channelOrDefault(spec.channel),
			Status: spec.status, CreatedAt: ts}
		if err := insertMessage(ctx, tx, msg); err != nil {
			return err
		}
		if err := claimAttachments(ctx, tx, c, msg.ID, spec.attachmentIDs); err != nil {
			return err
		}
		c.LastMessageID = &msg.ID
		c.Status, c.ClosedAt = assistloop.ConversationOpen, nil
		c.UnreadCount++
		_, err = tx.NewUpdate().Model(c).Column("last_message_id", "status", "closed_at", "unread_count", "updated_at").WherePK().Exec(ctx)
		if err != nil {
			return err
		}
		if spec.after != nil {
			return spec.after(ctx, tx, msg)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.reload(ctx, msg)
}

// SendAgentMessage adds the AI's reply.
func (s *ConversationService) SendAgentMessage(ctx context.Context, id uuid.UUID, content string) (*assistloop.Message, error) {
	if err := assistloop.ValidateContent("content", content); err != nil {
		return nil, err
	}
	var msg *assistloop.Message
	err := s.change(ctx, "send agent message", id, func(ctx context.Context, tx bun.Tx, _ *assistloop.Principal, c *assistloop.Conversation) error {
		switch {
		case c.Status == assistloop.ConversationClosed:
			return assistloop.Errorf(assistloop.ECONFLICT, "The conversation is closed; the AI cannot reply to it.")
		case c.ResponseMode == assistloop.ResponseModeHuman:
			return assistloop.Errorf(assistloop.ECONFLICT, "A human has taken over the conversation; the AI cannot reply to it.")
		}
		ts, err := touch(ctx, tx, c)
		if err != nil {
			return err
		}
		ai := assistloop.ResponderAI
		msg = &assistloop.Message{ID: uuid.New(), ConversationID: c.ID, OrganizationID: c.OrganizationID,
			Type: assistloop.MessageAgent, ResponderType: &ai, Content: content, Via: "web", CreatedAt: ts}
		if err := insertMessage(ctx, tx, msg); err != nil {
			return err
		}
		c.LastMessageID = &msg.ID
		_, err = tx.NewUpdate().Model(c).Column("last_message_id", "updated_at").WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.reload(ctx, msg)
}

// RequestHumanHandoff switches the conversation to human mode and records
// the human_handoff_required event.
func (s *ConversationService) RequestHumanHandoff(ctx context.Context, id uuid.UUID, reason *string) (*assistloop.Conversation, error) {
	if reason != nil && len([]rune(*reason)) > assistloop.MaxReasonLength {
		return nil, assistloop.InvalidField("reason", "The reason may not be greater than 1000 characters.")
	}
	var conv *assistloop.Conversation
	err := s.change(ctx, "request human handoff", id, func(ctx context.Context, tx bun.Tx, _ *assistloop.Principal, c *assistloop.Conversation) error {
		conv = c
		switch {
		case c.Status == assistloop.ConversationClosed:
			return assistloop.Errorf(assistloop.ECONFLICT, "The conversation is closed; a human handoff cannot be requested.")
		case c.ResponseMode == assistloop.ResponseModeHuman:
			return nil // already with a human: nothing to announce
		}
		ts, err := touch(ctx, tx, c)
		if err != nil {
			return err
		}
		c.ResponseMode = assistloop.ResponseModeHuman
		if _, err := tx.NewUpdate().Model(c).Column("response_mode", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		notice := "The AI requested a human agent."
		if r := trimmed(reason); r != nil {
			notice += " Reason: " + *r
		}
		if err := insertMessage(ctx, tx, &assistloop.Message{ID: uuid.New(), ConversationID: c.ID, OrganizationID: c.OrganizationID,
			Type: assistloop.MessagePlatformAction, Content: notice, Via: "web", CreatedAt: ts}); err != nil {
			return err
		}
		subject, err := loadEventSubject(ctx, tx, c)
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, assistloop.EventHumanHandoffRequired, ts, subject)
	})
	if err != nil {
		return nil, err
	}
	return conv, nil
}

// ReplyToConversation adds a human reply as the calling user and switches
// the conversation to human mode.
func (s *ConversationService) ReplyToConversation(ctx context.Context, id uuid.UUID, content string) (*assistloop.Message, error) {
	if err := assistloop.ValidateContent("content", content); err != nil {
		return nil, err
	}
	return s.reply(ctx, id, messageSpec{content: content, channel: assistloop.ChannelLiveChat})
}

// reply adds a human reply as the calling user, or schedules it.
func (s *ConversationService) reply(ctx context.Context, id uuid.UUID, spec messageSpec) (*assistloop.Message, error) {
	var msg *assistloop.Message
	err := s.change(ctx, "reply to conversation", id, func(ctx context.Context, tx bun.Tx, p *assistloop.Principal, c *assistloop.Conversation) error {
		if p.UserID == "" {
			return assistloop.Errorf(assistloop.EFORBIDDEN, "Only a user can reply as a human assistant.")
		}
		if spec.check != nil {
			if err := spec.check(c); err != nil {
				return err
			}
		}
		human := assistloop.ResponderHumanAssistant
		msg = &assistloop.Message{ID: uuid.New(), ConversationID: c.ID, OrganizationID: c.OrganizationID,
			Type: assistloop.MessageAgent, ResponderType: &human, ResponderUserID: &p.UserID,
			Content: spec.content, Via: spec.channel.Via(), Channel: channelOrDefault(spec.channel), Status: spec.status}
		if spec.scheduledAt != nil {
			// Written now, invisible until the scheduler sends it; the
			// conversation does not change until then.
			ts, err := now(ctx, tx)
			if err != nil {
				return err
			}
			scheduled := assistloop.StatusScheduled
			msg.CreatedAt, msg.ScheduledAt, msg.Status = ts, spec.scheduledAt, &scheduled
			if err := insertMessage(ctx, tx, msg); err != nil {
				return err
			}
			return claimAttachments(ctx, tx, c, msg.ID, spec.attachmentIDs)
		}
		ts, err := touch(ctx, tx, c)
		if err != nil {
			return err
		}
		msg.CreatedAt = ts
		if err := insertMessage(ctx, tx, msg); err != nil {
			return err
		}
		if err := claimAttachments(ctx, tx, c, msg.ID, spec.attachmentIDs); err != nil {
			return err
		}
		return recordReply(ctx, tx, c, msg)
	})
	if err != nil {
		return nil, err
	}
	if msg.ScheduledAt != nil {
		return findAnyMessage(ctx, s.db.bun, assistloop.PrincipalFrom(ctx), msg.ID)
	}
	return s.reload(ctx, msg)
}

// recordReply updates the locked conversation for a human reply just
// written: its last message, human mode, and nothing left unread (the
// human has read the conversation).
func recordReply(ctx context.Context, tx bun.Tx, c *assistloop.Conversation, msg *assistloop.Message) error {
	c.LastMessageID = &msg.ID
	c.ResponseMode = assistloop.ResponseModeHuman
	c.UnreadCount = 0
	_, err := tx.NewUpdate().Model(c).Column("last_message_id", "response_mode", "unread_count", "updated_at").WherePK().Exec(ctx)
	return err
}

// CloseConversation closes the conversation; closing a closed one changes
// nothing.
func (s *ConversationService) CloseConversation(ctx context.Context, id uuid.UUID) (*assistloop.Conversation, error) {
	var conv *assistloop.Conversation
	err := s.change(ctx, "close conversation", id, func(ctx context.Context, tx bun.Tx, _ *assistloop.Principal, c *assistloop.Conversation) error {
		conv = c
		return closeLocked(ctx, tx, c)
	})
	if err != nil {
		return nil, err
	}
	return conv, nil
}

// closeLocked closes the locked conversation c; a closed one stays as it is.
func closeLocked(ctx context.Context, tx bun.Tx, c *assistloop.Conversation) error {
	if c.Status == assistloop.ConversationClosed {
		return nil
	}
	ts, err := touch(ctx, tx, c)
	if err != nil {
		return err
	}
	c.Status, c.ClosedAt = assistloop.ConversationClosed, &ts
	_, err = tx.NewUpdate().Model(c).Column("status", "closed_at", "updated_at").WherePK().Exec(ctx)
	return err
}

// reload reads a just-written message back with its computed sender name.
func (s *ConversationService) reload(ctx context.Context, m *assistloop.Message) (*assistloop.Message, error) {
	return NewMessageService(s.db).FindMessage(ctx, m.ID)
}

// insertMessage writes a message and queues its messageAdded notification.
func insertMessage(ctx context.Context, tx bun.Tx, m *assistloop.Message) error {
	if _, err := tx.NewInsert().Model(m).Exec(ctx); err != nil {
		return err
	}
	return notify(ctx, tx, channelMessages, m.ConversationID.String())
}

// loadEventSubject reads what an event payload describes: the conversation's
// agent, workspace, customer and latest guest or agent message.
func loadEventSubject(ctx context.Context, tx bun.Tx, c *assistloop.Conversation) (assistloop.EventSubject, error) {
	s := assistloop.EventSubject{Conversation: c, Agent: new(assistloop.Agent), Organization: new(assistloop.Organization)}
	if err := tx.NewSelect().Model(s.Agent).Where("id = ?", c.AgentID).Scan(ctx); err != nil {
		return s, err
	}
	if err := tx.NewSelect().Model(s.Organization).Where("id = ?", c.OrganizationID).Scan(ctx); err != nil {
		return s, err
	}
	if c.ChatUserID != nil {
		s.ChatUser = new(assistloop.ChatUser)
		if err := tx.NewSelect().Model(s.ChatUser).Where("id = ?", *c.ChatUserID).Scan(ctx); err != nil {
			return s, err
		}
	}
	var last []*assistloop.Message
	err := tx.NewSelect().Model(&last).
		Where("conversation_id = ?", c.ID).Where("type <> ?", assistloop.MessagePlatformAction).
		Where(visibleMessage("message")).
		OrderExpr("created_at DESC, id DESC").Limit(1).Scan(ctx)
	if err != nil {
		return s, err
	}
	if len(last) > 0 {
		s.Message = last[0]
	}
	return s, nil
}

// insertEvent writes an event of type t describing s into the outbox, in the
// caller's transaction, and queues the wake-up for event streams.
func insertEvent(ctx context.Context, tx bun.Tx, t assistloop.EventType, ts time.Time, s assistloop.EventSubject) error {
	id := uuid.New()
	e := &assistloop.Event{
		ID:             id,
		Type:           t,
		OrganizationID: s.Organization.ID,
		AgentID:        s.Agent.ID,
		ConversationID: s.Conversation.ID,
		Payload:        assistloop.NewWebhookPayload(id.String(), t, ts, s).Marshal(),
		CreatedAt:      ts,
	}
	if _, err := tx.NewInsert().Model(e).Exec(ctx); err != nil {
		return err
	}
	return notify(ctx, tx, channelEvents, "")
}
