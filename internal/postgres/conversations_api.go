package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// ConversationsAPI implements assistloop.ConversationsAPIService on top of
// the ConversationService: every message goes through the same writers
// (sendGuest, reply, insertMessage), so events, notifications and the
// conversation lock work as for the foundation's mutations.
type ConversationsAPI struct {
	db   *DB
	conv *ConversationService
}

// NewConversationsAPI returns the Conversations API service over db.
func NewConversationsAPI(db *DB) *ConversationsAPI {
	return &ConversationsAPI{db: db, conv: NewConversationService(db)}
}

var _ assistloop.ConversationsAPIService = (*ConversationsAPI)(nil)

// requireWriter returns the principal if it may change conversations.
func requireWriter(ctx context.Context) (*assistloop.Principal, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	return p, p.Require(assistloop.ScopeWriteConversations)
}

// findLocation checks that the workspace is one of the caller's.
func findLocation(ctx context.Context, idb bun.IDB, p *assistloop.Principal, id string) error {
	q := idb.NewSelect().Model((*assistloop.Organization)(nil)).Column("id").Where("?TableAlias.id = ?", id)
	ok, err := visibleTo(q, p, "id").Exists(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return assistloop.NotFound("Location")
	}
	return nil
}

// CreateConversation creates a conversation; with a first message it is
// StartConversation, which emits new_conversation.
func (s *ConversationsAPI) CreateConversation(ctx context.Context, in assistloop.CreateConversationInput) (*assistloop.Conversation, *assistloop.Message, error) {
	p, err := requireWriter(ctx)
	if err != nil {
		return nil, nil, err
	}
	v := assistloop.Invalid()
	if in.ChatUserID != nil && in.ChatUser != nil {
		v.Add("contactId", "The contact id cannot be combined with the fields of a new contact.")
	}
	if in.Message != nil {
		if err := assistloop.ValidateContent("message", *in.Message); err != nil {
			v = mergeInvalid(v, err)
		}
	}
	if in.Channel != "" && !in.Channel.Valid() {
		v.Add("type", "The selected type is invalid.")
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	if err := findLocation(ctx, s.db.bun, p, in.OrganizationID); err != nil {
		return nil, nil, wrap("create conversation", err)
	}
	agent := new(assistloop.Agent)
	q := s.db.bun.NewSelect().Model(agent).Where("?TableAlias.organization_id = ?", in.OrganizationID)
	if in.AgentID != nil {
		q = q.Where("?TableAlias.id = ?", *in.AgentID)
	}
	if err := q.OrderExpr("?TableAlias.created_at, ?TableAlias.id").Limit(1).Scan(ctx); err != nil {
		return nil, nil, wrap("create conversation", notFound("Agent", err))
	}
	if in.Message != nil {
		start := assistloop.StartConversationInput{AgentID: agent.ID, ChatUser: in.ChatUser, ChatUserID: in.ChatUserID,
			Content: *in.Message, Channel: in.Channel}
		if err := start.Validate(); err != nil {
			return nil, nil, renameFields(err, map[string]string{"content": "message"})
		}
		return s.conv.StartConversation(ctx, start)
	}
	if in.ChatUser != nil {
		start := assistloop.StartConversationInput{ChatUser: in.ChatUser, Content: "-"}
		if err := start.Validate(); err != nil {
			return nil, nil, err
		}
	}
	var conv *assistloop.Conversation
	err = s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		chatUser, err := conversationChatUser(ctx, tx, agent.OrganizationID, in.ChatUserID, in.ChatUser, ts)
		if err != nil {
			return err
		}
		conv = &assistloop.Conversation{ID: uuid.New(), OrganizationID: agent.OrganizationID, AgentID: agent.ID,
			ChatUserID: &chatUser.ID, SessionID: "sess_" + assistloop.RandomString(20),
			ResponseMode: assistloop.ResponseModeAI, Status: assistloop.ConversationOpen,
			CreatedAt: ts, UpdatedAt: ts, LastMessageAt: ts}
		_, err = tx.NewInsert().Model(conv).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, nil, wrap("create conversation", err)
	}
	return conv, nil, nil
}

// mergeInvalid adds the field problems of a validation error to v.
func mergeInvalid(v *assistloop.Error, err error) *assistloop.Error {
	var e *assistloop.Error
	if errors.As(err, &e) {
		for f, ps := range e.Fields {
			for _, p := range ps {
				v.Add(f, p)
			}
		}
	}
	return v
}

// renameFields renames the fields of a validation error (the foundation's
// names to the reference's).
func renameFields(err error, names map[string]string) error {
	var e *assistloop.Error
	if !errors.As(err, &e) || e.Code != assistloop.EINVALID {
		return err
	}
	out := assistloop.Invalid()
	for f, ps := range e.Fields {
		name := f
		if n, ok := names[f]; ok {
			name = n
		}
		for _, p := range ps {
			if n, ok := names[f]; ok {
				p = strings.ReplaceAll(p, "The "+f+" ", "The "+n+" ")
			}
			out.Add(name, p)
		}
	}
	return out.Err()
}

// UpdateConversation applies every change in one transaction, under the
// conversation's lock.
func (s *ConversationsAPI) UpdateConversation(ctx context.Context, in assistloop.UpdateConversationInput) (*assistloop.Conversation, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var conv *assistloop.Conversation
	err := s.conv.change(ctx, "update conversation", in.ConversationID, func(ctx context.Context, tx bun.Tx, _ *assistloop.Principal, c *assistloop.Conversation) error {
		conv = c
		if in.OrganizationID != nil && *in.OrganizationID != c.OrganizationID {
			return assistloop.NotFound("Conversation")
		}
		var cols []string
		if in.AssignedTo != nil {
			var assignee *string
			if *in.AssignedTo != "" {
				ok, err := tx.NewSelect().Model((*assistloop.Membership)(nil)).
					Where("organization_id = ?", c.OrganizationID).Where("user_id = ?", *in.AssignedTo).Exists(ctx)
				if err != nil {
					return err
				}
				if !ok {
					return assistloop.InvalidField("assignedTo", "The assigned to must be a user of the location.")
				}
				assignee = in.AssignedTo
			}
			if !equalPtr(c.AssignedTo, assignee) {
				c.AssignedTo = assignee
				cols = append(cols, "assigned_to")
			}
		}
		if in.Status != nil && *in.Status != c.Status {
			if *in.Status == assistloop.ConversationClosed {
				if err := closeLocked(ctx, tx, c); err != nil {
					return err
				}
			} else {
				c.Status, c.ClosedAt = assistloop.ConversationOpen, nil
				cols = append(cols, "status", "closed_at")
			}
		}
		if in.ResponseMode != nil && *in.ResponseMode != c.ResponseMode {
			c.ResponseMode = *in.ResponseMode
			cols = append(cols, "response_mode")
		}
		if in.Starred != nil && *in.Starred != c.Starred {
			c.Starred = *in.Starred
			cols = append(cols, "starred")
		}
		if in.UnreadCount != nil && *in.UnreadCount != c.UnreadCount {
			c.UnreadCount = *in.UnreadCount
			cols = append(cols, "unread_count")
		}
		if len(cols) == 0 {
			return nil
		}
		if _, err := touch(ctx, tx, c); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model(c).Column(append(cols, "updated_at")...).WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return conv, nil
}

func equalPtr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// DeleteConversation soft-deletes the conversation and cancels its
// scheduled messages in the same transaction.
func (s *ConversationsAPI) DeleteConversation(ctx context.Context, id uuid.UUID) error {
	return s.conv.change(ctx, "delete conversation", id, func(ctx context.Context, tx bun.Tx, _ *assistloop.Principal, c *assistloop.Conversation) error {
		ts, err := touch(ctx, tx, c)
		if err != nil {
			return err
		}
		c.DeletedAt = &ts
		if _, err := tx.NewUpdate().Model(c).Column("deleted_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model((*assistloop.Message)(nil)).
			Set("cancelled_at = ?", ts).Set("status = ?", assistloop.StatusCancelled).
			Set("leased_until = NULL").Set("lease_token = NULL").
			Where("conversation_id = ?", c.ID).
			Where("scheduled_at IS NOT NULL AND sent_at IS NULL AND cancelled_at IS NULL").Exec(ctx)
		return err
	})
}

// SendOutboundMessage sends a human reply through ConversationService.reply,
// now or scheduled.
func (s *ConversationsAPI) SendOutboundMessage(ctx context.Context, in assistloop.OutboundMessageInput) (*assistloop.Message, error) {
	p, err := requireWriter(ctx)
	if err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	id, err := s.resolveConversation(ctx, p, in.ConversationID, in.ChatUserID)
	if err != nil {
		return nil, err
	}
	status := assistloop.StatusSent
	if in.Channel.External() {
		status = assistloop.StatusPending // until the provider reports
	}
	spec := messageSpec{content: in.Content, channel: in.Channel, status: &status, attachmentIDs: in.AttachmentIDs,
		check: sameContact(in.ChatUserID)}
	if in.ScheduledAt != nil && in.ScheduledAt.After(time.Now()) {
		at := in.ScheduledAt.UTC()
		spec.scheduledAt = &at
	}
	m, err := s.conv.reply(ctx, id, spec)
	if err == nil && spec.scheduledAt != nil {
		s.db.hub.wakeScheduler()
	}
	return m, err
}

// sameContact vets that a conversation is the named customer's.
func sameContact(chatUserID *string) func(c *assistloop.Conversation) error {
	return func(c *assistloop.Conversation) error {
		if chatUserID != nil && (c.ChatUserID == nil || *c.ChatUserID != *chatUserID) {
			return assistloop.InvalidField("contactId", "The contact is not the conversation's contact.")
		}
		return nil
	}
}

// resolveConversation returns the conversation id, or the customer's most
// recently active live conversation.
func (s *ConversationsAPI) resolveConversation(ctx context.Context, p *assistloop.Principal, id *uuid.UUID, chatUserID *string) (uuid.UUID, error) {
	if id != nil {
		return *id, nil
	}
	cu := new(assistloop.ChatUser)
	q := s.db.bun.NewSelect().Model(cu).Column("id").Where("?TableAlias.id = ?", *chatUserID)
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return uuid.Nil, wrap("resolve conversation", notFound("Contact", err))
	}
	var cs []*assistloop.Conversation
	err := s.db.bun.NewSelect().Model(&cs).Column("id").Where("chat_user_id = ?", cu.ID).Where("deleted_at IS NULL").
		OrderExpr("last_message_at DESC, id DESC").Limit(1).Scan(ctx)
	if err != nil {
		return uuid.Nil, wrap("resolve conversation", err)
	}
	if len(cs) == 0 {
		return uuid.Nil, assistloop.NotFound("Conversation")
	}
	return cs[0].ID, nil
}

// AddInboundMessage records a customer's message through sendGuest, with
// its transcript in the same transaction.
func (s *ConversationsAPI) AddInboundMessage(ctx context.Context, in assistloop.InboundMessageInput) (*assistloop.Message, error) {
	if _, err := requireWriter(ctx); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	spec := messageSpec{content: in.Content, channel: in.Channel, attachmentIDs: in.AttachmentIDs, check: sameContact(in.ChatUserID)}
	if len(in.Transcription) > 0 {
		spec.after = func(ctx context.Context, tx bun.Tx, m *assistloop.Message) error {
			return storeTranscription(ctx, tx, m, in.Transcription)
		}
	}
	return s.conv.sendGuest(ctx, in.ConversationID, spec)
}

// lockMessage loads a message of a live conversation of the caller's
// workspaces and locks its row.
func lockMessage(ctx context.Context, tx bun.Tx, p *assistloop.Principal, id uuid.UUID) (*assistloop.Message, error) {
	m := new(assistloop.Message)
	q := tx.NewSelect().Model(m).Where("?TableAlias.id = ?", id).
		Where("EXISTS (SELECT 1 FROM conversations AS c WHERE c.id = ?TableAlias.conversation_id AND c.deleted_at IS NULL)").
		For("UPDATE OF message")
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, notFound("Message", err)
	}
	return m, nil
}

// UpdateMessageStatus records the state a conversation provider reports.
func (s *ConversationsAPI) UpdateMessageStatus(ctx context.Context, in assistloop.UpdateMessageStatusInput) (*assistloop.Message, error) {
	p, err := requireWriter(ctx)
	if err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	err = s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		m, err := lockMessage(ctx, tx, p, in.MessageID)
		if err != nil {
			return err
		}
		switch {
		case m.CancelledAt != nil:
			return assistloop.Errorf(assistloop.ECONFLICT, "The message was cancelled before it was sent.")
		case m.Pending():
			return assistloop.Errorf(assistloop.ECONFLICT, "The message is scheduled and has not been sent yet.")
		}
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		m.Status, m.StatusUpdatedAt = &in.Status, &ts
		m.ErrorCode, m.ErrorType, m.ErrorMessage = nil, nil, nil
		if e := in.Error; e != nil && in.Status == assistloop.StatusFailed {
			m.ErrorCode, m.ErrorType, m.ErrorMessage = trimmed(e.Code), trimmed(e.Type), trimmed(e.Message)
		}
		cols := []string{"status", "status_updated_at", "error_code", "error_type", "error_message"}
		if in.Status == assistloop.StatusRead {
			read := true
			m.IsRead = &read
			cols = append(cols, "is_read")
		}
		_, err = tx.NewUpdate().Model(m).Column(cols...).WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, wrap("update message status", err)
	}
	return findAnyMessage(ctx, s.db.bun, p, in.MessageID)
}

// CancelScheduledMessage cancels a message the scheduler has not sent. The
// scheduler sends only under a lease it still holds and only a message
// not cancelled, in one transaction, so a cancellation that commits first
// always wins.
func (s *ConversationsAPI) CancelScheduledMessage(ctx context.Context, id uuid.UUID, emailOnly bool) (*assistloop.Message, error) {
	p, err := requireWriter(ctx)
	if err != nil {
		return nil, err
	}
	kind := "Scheduled message"
	if emailOnly {
		kind = "Scheduled email message"
	}
	err = s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		m, err := lockMessage(ctx, tx, p, id)
		if assistloop.ErrorCode(err) == assistloop.ENOTFOUND || (err == nil && (m.ScheduledAt == nil ||
			(emailOnly && m.ChannelOrDefault() != assistloop.ChannelEmail))) {
			return assistloop.NotFound(kind)
		}
		if err != nil {
			return err
		}
		switch {
		case m.SentAt != nil:
			return assistloop.Errorf(assistloop.ECONFLICT, "The message was already sent; it can no longer be cancelled.")
		case m.CancelledAt != nil:
			return nil
		}
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		cancelled := assistloop.StatusCancelled
		m.CancelledAt, m.Status, m.LeasedUntil, m.LeaseToken = &ts, &cancelled, nil, nil
		_, err = tx.NewUpdate().Model(m).Column("cancelled_at", "status", "leased_until", "lease_token").WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, wrap("cancel scheduled message", err)
	}
	return findAnyMessage(ctx, s.db.bun, p, id)
}

// findAnyMessage returns a message of a live conversation of the caller's
// workspaces, scheduled and cancelled ones included.
func findAnyMessage(ctx context.Context, idb bun.IDB, p *assistloop.Principal, id uuid.UUID) (*assistloop.Message, error) {
	if p == nil {
		return nil, assistloop.Unauthorized()
	}
	var ms []*assistloop.Message
	q := selectAnyMessages(idb, &ms).Where("?TableAlias.id = ?", id)
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("find message", err)
	}
	if len(ms) == 0 {
		return nil, assistloop.NotFound("Message")
	}
	return ms[0], nil
}

// FindAnyMessage returns a message, scheduled and cancelled ones included.
func (s *ConversationsAPI) FindAnyMessage(ctx context.Context, id uuid.UUID) (*assistloop.Message, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	return findAnyMessage(ctx, s.db.bun, p, id)
}

// MessagesByIDs returns the visible messages among ids.
func (s *ConversationsAPI) MessagesByIDs(ctx context.Context, ids []uuid.UUID) ([]*assistloop.Message, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var ms []*assistloop.Message
	q := selectMessages(s.db.bun, &ms).Where("?TableAlias.id IN (?)", bun.In(ids))
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("messages by ids", err)
	}
	return ms, nil
}

// claimAttachments links uploads to the new message msgID of the locked
// conversation c: each must be an upload for c that no message has used.
func claimAttachments(ctx context.Context, tx bun.Tx, c *assistloop.Conversation, msgID uuid.UUID, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	uniq := slices.Compact(slices.Sorted(slices.Values(ids)))
	var claimed []string
	err := tx.NewUpdate().Model((*assistloop.Attachment)(nil)).Set("message_id = ?", msgID).
		Where("id IN (?)", bun.In(uniq)).Where("message_id IS NULL").
		Where("organization_id = ?", c.OrganizationID).Where("conversation_id = ?", c.ID).
		Returning("id").Scan(ctx, &claimed)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if len(claimed) != len(uniq) {
		return assistloop.InvalidField("attachments",
			"Each attachment must be a file uploaded for this conversation and not used by another message.")
	}
	return nil
}

// storeTranscription writes (replaces) a message's transcript.
func storeTranscription(ctx context.Context, tx bun.Tx, m *assistloop.Message, ss []assistloop.TranscriptionSentence) error {
	doc, err := json.Marshal(ss)
	if err != nil {
		return err
	}
	_, err = tx.NewRaw(`
INSERT INTO message_transcriptions (message_id, organization_id, sentences, created_at, updated_at)
VALUES (?, ?, ?::jsonb, now(), now())
ON CONFLICT (message_id) DO UPDATE SET sentences = EXCLUDED.sentences, updated_at = now()`,
		m.ID, m.OrganizationID, string(doc)).Exec(ctx)
	return err
}

// SetMessageTranscription stores a sent message's transcript.
func (s *ConversationsAPI) SetMessageTranscription(ctx context.Context, messageID uuid.UUID, ss []assistloop.TranscriptionSentence) error {
	p, err := requireWriter(ctx)
	if err != nil {
		return err
	}
	if err := assistloop.ValidateTranscription("sentences", ss); err != nil {
		return err
	}
	if len(ss) == 0 {
		return assistloop.InvalidField("sentences", "The sentences field is required.")
	}
	err = s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		m, err := lockMessage(ctx, tx, p, messageID)
		if err != nil {
			return err
		}
		if m.Pending() || m.CancelledAt != nil {
			return assistloop.NotFound("Message")
		}
		return storeTranscription(ctx, tx, m, ss)
	})
	return wrap("set message transcription", err)
}

// visibleMessageIn returns a visible message of the workspace orgID (any
// of the caller's when empty).
func (s *ConversationsAPI) visibleMessageIn(ctx context.Context, orgID string, id uuid.UUID) (*assistloop.Message, error) {
	m, err := NewMessageService(s.db).FindMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	if orgID != "" && m.OrganizationID != orgID {
		return nil, assistloop.NotFound("Message")
	}
	return m, nil
}

// MessageTranscription returns a message's transcript.
func (s *ConversationsAPI) MessageTranscription(ctx context.Context, orgID string, id uuid.UUID) ([]assistloop.TranscriptionSentence, error) {
	m, err := s.visibleMessageIn(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	var docs []json.RawMessage
	err = s.db.bun.NewRaw("SELECT sentences FROM message_transcriptions WHERE message_id = ?", m.ID).Scan(ctx, &docs)
	if err != nil {
		return nil, wrap("message transcription", err)
	}
	if len(docs) == 0 {
		return nil, &assistloop.Error{Code: assistloop.ENOTFOUND, Title: "Transcription not found",
			Message: "The message has no transcription."}
	}
	var ss []assistloop.TranscriptionSentence
	if err := json.Unmarshal(docs[0], &ss); err != nil {
		return nil, wrap("message transcription", err)
	}
	slices.SortStableFunc(ss, func(a, b assistloop.TranscriptionSentence) int { return a.SentenceIndex - b.SentenceIndex })
	return ss, nil
}

// MessageRecording returns the message's first audio attachment.
func (s *ConversationsAPI) MessageRecording(ctx context.Context, orgID string, id uuid.UUID) (*assistloop.Attachment, error) {
	m, err := s.visibleMessageIn(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	var as []*assistloop.Attachment
	err = s.db.bun.NewSelect().Model(&as).Where("message_id = ?", m.ID).Where("content_type LIKE 'audio/%'").
		OrderExpr("created_at, id").Limit(1).Scan(ctx)
	if err != nil {
		return nil, wrap("message recording", err)
	}
	if len(as) == 0 {
		return nil, &assistloop.Error{Code: assistloop.ENOTFOUND, Title: "Recording not found",
			Message: "The message has no recording."}
	}
	return as[0], nil
}
