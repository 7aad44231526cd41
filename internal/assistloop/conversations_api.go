package assistloop

import (
	"context"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// The Conversations API (the second reference, modelled on the
// LeadConnector/HighLevel Conversations API): search, create, update and
// delete conversations; outbound, inbound and scheduled messages; delivery
// states; uploaded attachments; call transcripts.

// MessageChannel is the channel a message travels on: the reference's
// message "type". It is separate from MessageType (guest, agent,
// platform_action), which says who wrote the message.
type MessageChannel string

const (
	ChannelLiveChat MessageChannel = "live_chat" // the chat widget: every message of the foundation
	ChannelWebChat  MessageChannel = "webchat"
	ChannelSMS      MessageChannel = "sms"
	ChannelEmail    MessageChannel = "email"
	ChannelWhatsApp MessageChannel = "whatsapp"
	ChannelGMB      MessageChannel = "gmb"
	ChannelIG       MessageChannel = "ig"
	ChannelFB       MessageChannel = "fb"
	ChannelCustom   MessageChannel = "custom"
	ChannelCall     MessageChannel = "call"
)

// MessageChannels lists every channel.
var MessageChannels = []MessageChannel{ChannelLiveChat, ChannelWebChat, ChannelSMS, ChannelEmail, ChannelWhatsApp,
	ChannelGMB, ChannelIG, ChannelFB, ChannelCustom, ChannelCall}

func (c MessageChannel) Valid() bool {
	for _, v := range MessageChannels {
		if c == v {
			return true
		}
	}
	return false
}

// External reports whether a provider outside the service delivers the
// channel's outbound messages (and reports their delivery state).
func (c MessageChannel) External() bool {
	return c != ChannelLiveChat && c != ChannelWebChat && c != ""
}

// Via is the seed-000 "via" of a message on the channel.
func (c MessageChannel) Via() string {
	if c == "" || c == ChannelLiveChat || c == ChannelWebChat {
		return "web"
	}
	return string(c)
}

// MessageDirection says whether a message came from the customer.
type MessageDirection string

const (
	DirectionInbound  MessageDirection = "inbound"
	DirectionOutbound MessageDirection = "outbound"
)

// Direction is inbound for the customer's messages, outbound otherwise.
func (m *Message) Direction() MessageDirection {
	if m.Type == MessageGuest {
		return DirectionInbound
	}
	return DirectionOutbound
}

// ChannelOrDefault is the message's channel (live chat for rows that
// predate channels).
func (m *Message) ChannelOrDefault() MessageChannel {
	if m.Channel == "" {
		return ChannelLiveChat
	}
	return m.Channel
}

// Pending reports whether the message is scheduled and not sent yet.
func (m *Message) Pending() bool {
	return m.ScheduledAt != nil && m.SentAt == nil && m.CancelledAt == nil
}

// Delivery states of a message (the reference's message status).
const (
	StatusPending   = "pending"
	StatusScheduled = "scheduled"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// ReportableStatuses are the states a conversation provider may report.
var ReportableStatuses = []string{StatusDelivered, StatusFailed, StatusPending, StatusRead}

// MessageError is a conversation provider's reason for a failed delivery.
type MessageError struct {
	Code    *string
	Type    *string
	Message *string
}

// SearchReadState is the reference's search "status": which conversations
// by their read state.
type SearchReadState string

const (
	ReadStateAll     SearchReadState = "all"
	ReadStateRead    SearchReadState = "read"    // no unread messages
	ReadStateUnread  SearchReadState = "unread"  // at least one unread message
	ReadStateStarred SearchReadState = "starred" // starred
	ReadStateRecents SearchReadState = "recents" // all, most recent first (the default order anyway)
)

// ConversationSort names the search's sort key.
type ConversationSort string

const (
	SortLastMessageDate ConversationSort = "last_message_date"
	SortDateAdded       ConversationSort = "date_added"
	SortRelevance       ConversationSort = "relevance"
)

// Search limits.
const (
	MaxSearchQueryLength = 500
	// SearchTotalCap bounds the count behind a search's total: counting
	// stops there, so a common word never makes a search scan everything.
	SearchTotalCap = 1000
)

// ConversationSearch selects conversations of one workspace. Lists are
// sorted by SortBy (newest first unless Ascending) with the id as a tie
// breaker.
type ConversationSearch struct {
	OrganizationID string
	// Query is full-text: every word must occur in the conversation's
	// messages or in its customer's name or email (web-search syntax:
	// "quoted phrases", OR, -excluded).
	Query          string
	ChatUserID     *string
	AgentID        *string
	ConversationID *uuid.UUID
	// AssignedTo keeps conversations assigned to any of these users;
	// Unassigned also keeps those assigned to nobody.
	AssignedTo   []string
	Unassigned   bool
	Status       *ConversationStatus
	ReadState    SearchReadState
	ResponseMode *ResponseMode
	CreatedFrom  *time.Time
	CreatedTo    *time.Time
	SortBy       ConversationSort
	Ascending    bool
	// StartAfter starts the page after the conversations whose sort date
	// is at or before (descending: at or after) this time, to the
	// millisecond: the reference's startAfterDate.
	StartAfter *time.Time
}

// Validate checks the search.
func (s *ConversationSearch) Validate() error {
	v := Invalid()
	if !utf8.ValidString(s.Query) {
		v.Add("query", "The query must be valid UTF-8 text.")
	} else if utf8.RuneCountInString(s.Query) > MaxSearchQueryLength {
		v.Add("query", "The query may not be greater than 500 characters.")
	}
	switch s.ReadState {
	case "", ReadStateAll, ReadStateRead, ReadStateUnread, ReadStateStarred, ReadStateRecents:
	default:
		v.Add("status", "The selected status is invalid.")
	}
	switch s.SortBy {
	case "", SortLastMessageDate, SortDateAdded:
	case SortRelevance:
		if strings.TrimSpace(s.Query) == "" {
			v.Add("sortBy", "Sorting by relevance needs a query.")
		}
		if s.StartAfter != nil {
			v.Add("startAfterDate", "The start after date cannot be combined with sorting by relevance.")
		}
	default:
		v.Add("sortBy", "The selected sort by is invalid.")
	}
	if s.CreatedFrom != nil && s.CreatedTo != nil && s.CreatedTo.Before(*s.CreatedFrom) {
		v.Add("dateAddedTo", "The date added to must be a date after or equal to date added from.")
	}
	return v.Err()
}

// ConversationSearchPage is one page of a search.
type ConversationSearchPage struct {
	Conversations []*Conversation
	// Total counts every match, up to SearchTotalCap; TotalCapped says the
	// count stopped there.
	Total       int
	TotalCapped bool
	// NextCursor continues after the page; empty on the last page.
	NextCursor string
}

// CreateConversationInput creates a conversation in a workspace, for an
// existing customer (ChatUserID) or a new one (ChatUser), with an agent
// (the workspace's oldest when AgentID is nil) and an optional first
// message from the customer.
type CreateConversationInput struct {
	OrganizationID string
	AgentID        *string
	ChatUserID     *string
	ChatUser       *ChatUserInput
	// Message, when set, is the customer's first message: the conversation
	// then starts like StartConversation and emits new_conversation.
	Message *string
	Channel MessageChannel
}

// UpdateConversationInput changes a conversation; nil fields stay as they
// are. AssignedTo "" unassigns.
type UpdateConversationInput struct {
	ConversationID uuid.UUID
	// OrganizationID, when set, must be the conversation's workspace.
	OrganizationID *string
	Status         *ConversationStatus
	ResponseMode   *ResponseMode
	AssignedTo     *string
	Starred        *bool
	UnreadCount    *int
}

// MaxUnreadCount bounds an unread count set by hand.
const MaxUnreadCount = 1_000_000

// Validate checks the input's fields.
func (in *UpdateConversationInput) Validate() error {
	v := Invalid()
	if in.Status != nil && !in.Status.Valid() {
		v.Add("status", "The selected status is invalid.")
	}
	if in.ResponseMode != nil && !in.ResponseMode.Valid() {
		v.Add("responseMode", "The selected response mode is invalid.")
	}
	if in.UnreadCount != nil && (*in.UnreadCount < 0 || *in.UnreadCount > MaxUnreadCount) {
		v.Add("unreadCount", "The unread count must be between 0 and 1000000.")
	}
	return v.Err()
}

// MaxAttachmentsPerMessage caps the attachments of one message.
const MaxAttachmentsPerMessage = 10

// MaxScheduleAhead bounds how far ahead a message may be scheduled.
const MaxScheduleAhead = 366 * 24 * time.Hour

// OutboundMessageInput sends a message from the agent side, as the calling
// user (a human reply: it switches the conversation to human mode), now or
// at ScheduledAt. The conversation is ConversationID, or the customer's
// most recent one.
type OutboundMessageInput struct {
	ConversationID *uuid.UUID
	ChatUserID     *string
	Channel        MessageChannel
	Content        string
	AttachmentIDs  []string
	ScheduledAt    *time.Time
}

// Validate checks the input's fields.
func (in *OutboundMessageInput) Validate() error {
	v := Invalid()
	validateMessageBody(v, in.Channel, in.Content, in.AttachmentIDs)
	if in.ConversationID == nil && in.ChatUserID == nil {
		v.Add("contactId", "The contact id field is required.")
	}
	if in.ScheduledAt != nil && in.ScheduledAt.After(time.Now().Add(MaxScheduleAhead)) {
		v.Add("scheduledTimestamp", "The scheduled timestamp may not be more than a year ahead.")
	}
	return v.Err()
}

// InboundMessageInput records a message from the customer, received on a
// channel outside the chat widget. It reopens a closed conversation.
type InboundMessageInput struct {
	ConversationID uuid.UUID
	// ChatUserID, when set, must be the conversation's customer.
	ChatUserID    *string
	Channel       MessageChannel
	Content       string
	AttachmentIDs []string
	// Transcription is a call's transcript, for Call messages.
	Transcription []TranscriptionSentence
}

// Validate checks the input's fields.
func (in *InboundMessageInput) Validate() error {
	v := Invalid()
	validateMessageBody(v, in.Channel, in.Content, in.AttachmentIDs)
	validateTranscription(v, "transcription", in.Transcription)
	return v.Err()
}

func validateMessageBody(v *Error, channel MessageChannel, content string, attachments []string) {
	if !channel.Valid() {
		v.Add("type", "The selected type is invalid.")
	}
	// A message needs words unless it carries files (or is a call).
	if content != "" || (len(attachments) == 0 && channel != ChannelCall) {
		validateContent(v, "message", content)
	}
	if len(attachments) > MaxAttachmentsPerMessage {
		v.Add("attachments", "The attachments may not have more than 10 items.")
	}
}

// UpdateMessageStatusInput records a delivery state reported by the
// conversation provider.
type UpdateMessageStatusInput struct {
	MessageID uuid.UUID
	Status    string
	Error     *MessageError
}

// Validate checks the input's fields.
func (in *UpdateMessageStatusInput) Validate() error {
	v := Invalid()
	ok := false
	for _, s := range ReportableStatuses {
		ok = ok || in.Status == s
	}
	if !ok {
		v.Add("status", "The selected status is invalid.")
	}
	if e := in.Error; e != nil {
		validateOptionalString(v, "error.code", e.Code, MaxNameLength)
		validateOptionalString(v, "error.type", e.Type, MaxNameLength)
		validateOptionalString(v, "error.message", e.Message, MaxReasonLength)
	}
	return v.Err()
}

// TranscriptionSentence is one sentence of a call transcript, as the
// reference shows it. Times are milliseconds from the start of the call.
type TranscriptionSentence struct {
	MediaChannel  int     `json:"mediaChannel"`
	SentenceIndex int     `json:"sentenceIndex"`
	StartTime     int     `json:"startTime"`
	EndTime       int     `json:"endTime"`
	Transcript    string  `json:"transcript"`
	Confidence    float64 `json:"confidence"`
}

// MaxTranscriptionSentences bounds a stored transcript.
const MaxTranscriptionSentences = 5000

// ValidateTranscription checks a transcript under the field name.
func ValidateTranscription(field string, ss []TranscriptionSentence) error {
	v := Invalid()
	validateTranscription(v, field, ss)
	return v.Err()
}

func validateTranscription(v *Error, field string, ss []TranscriptionSentence) {
	if len(ss) > MaxTranscriptionSentences {
		v.Add(field, "The transcription may not have more than 5000 sentences.")
		return
	}
	for _, s := range ss {
		switch {
		case !utf8.ValidString(s.Transcript) || utf8.RuneCountInString(s.Transcript) > MaxContentLength:
			v.Add(field, "Each transcript must be valid text of at most 10000 characters.")
		case s.StartTime < 0 || s.EndTime < s.StartTime:
			v.Add(field, "Each sentence must end at or after its start, at or after 0.")
		case s.Confidence < 0 || s.Confidence > 1:
			v.Add(field, "Each confidence must be between 0 and 1.")
		default:
			continue
		}
		return
	}
}

// FormatBytes spells a size limit: "25 MiB", "64 KiB", "100 bytes".
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(int(n>>20)) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(int(n>>10)) + " KiB"
	}
	return itoa(int(n)) + " bytes"
}

// UploadAttachmentInput is one uploaded file for a conversation. Body is
// read once, sequentially, and never held whole in memory.
type UploadAttachmentInput struct {
	OrganizationID string
	ConversationID uuid.UUID
	FileName       string
	Body           io.Reader
}

// ConversationsAPIService is the Conversations API's domain: every method
// acts for the principal in ctx, needs its scope, and treats an object
// outside the caller's workspaces as missing (ENOTFOUND).
type ConversationsAPIService interface {
	// SearchConversations returns a page of a workspace's live
	// conversations. after is a cursor from a previous page. Returns
	// EINVALID, ENOTFOUND (workspace).
	SearchConversations(ctx context.Context, s ConversationSearch, first int, after string) (*ConversationSearchPage, error)
	// CreateConversation creates a conversation; with a first message it
	// emits new_conversation. Returns EINVALID, ENOTFOUND (workspace,
	// agent, customer).
	CreateConversation(ctx context.Context, in CreateConversationInput) (*Conversation, *Message, error)
	// UpdateConversation applies the input in one transaction. Returns
	// EINVALID, ENOTFOUND.
	UpdateConversation(ctx context.Context, in UpdateConversationInput) (*Conversation, error)
	// DeleteConversation soft-deletes a conversation and cancels its
	// scheduled messages; it is then missing everywhere. ENOTFOUND.
	DeleteConversation(ctx context.Context, id uuid.UUID) error

	// SendOutboundMessage sends (or schedules) a human reply. Returns
	// EINVALID, ENOTFOUND, EFORBIDDEN (not a user).
	SendOutboundMessage(ctx context.Context, in OutboundMessageInput) (*Message, error)
	// AddInboundMessage records a customer's message. EINVALID, ENOTFOUND.
	AddInboundMessage(ctx context.Context, in InboundMessageInput) (*Message, error)
	// UpdateMessageStatus records a delivery state. ECONFLICT for a
	// message not sent yet (scheduled or cancelled).
	UpdateMessageStatus(ctx context.Context, in UpdateMessageStatusInput) (*Message, error)
	// CancelScheduledMessage cancels a message not sent yet; cancelling a
	// cancelled one succeeds. ECONFLICT once sent, ENOTFOUND for a message
	// that was never scheduled (or, with emailOnly, is not an email).
	CancelScheduledMessage(ctx context.Context, id uuid.UUID, emailOnly bool) (*Message, error)
	// FindAnyMessage returns a message, scheduled and cancelled ones too.
	FindAnyMessage(ctx context.Context, id uuid.UUID) (*Message, error)
	// MessagesByIDs returns the visible messages among ids.
	MessagesByIDs(ctx context.Context, ids []uuid.UUID) ([]*Message, error)

	// SetMessageTranscription stores (replaces) a message's transcript.
	SetMessageTranscription(ctx context.Context, messageID uuid.UUID, sentences []TranscriptionSentence) error
	// MessageTranscription returns the transcript of a message of the
	// workspace organizationID (any of the caller's when empty); ENOTFOUND
	// ("Transcription") when the message has none.
	MessageTranscription(ctx context.Context, organizationID string, messageID uuid.UUID) ([]TranscriptionSentence, error)
	// MessageRecording returns the message's audio attachment; ENOTFOUND
	// ("Recording") when it has none.
	MessageRecording(ctx context.Context, organizationID string, messageID uuid.UUID) (*Attachment, error)
}

// AttachmentService stores uploaded files in the blob store.
type AttachmentService interface {
	// UploadAttachment stores a file for a conversation: ETOOLARGE above the
	// size limit, EUNSUPPORTED when the bytes are not an allowed type
	// (sniffed, whatever the client claims), EINVALID for an empty file.
	// A refused upload leaves neither a blob nor a row.
	UploadAttachment(ctx context.Context, in UploadAttachmentInput) (*Attachment, error)
	// DiscardAttachments deletes the caller's uploads that no message has
	// claimed (a failed multi-file upload cleans up after itself).
	DiscardAttachments(ctx context.Context, ids []string) error
	// FindAttachment returns an attachment of the caller's workspaces.
	FindAttachment(ctx context.Context, id string) (*Attachment, error)
	// OpenAttachment returns an attachment and its bytes; the caller closes
	// the reader.
	OpenAttachment(ctx context.Context, id string) (*Attachment, io.ReadCloser, error)
}

// BlobStore keeps file contents under keys.
type BlobStore interface {
	// Write stores r under key. If reading r fails, nothing is stored and
	// the error is returned as is.
	Write(ctx context.Context, key, contentType string, r io.Reader) (int64, error)
	// Read opens the blob at key.
	Read(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes the blob at key; a missing one is not an error.
	Delete(ctx context.Context, key string) error
}

// ScheduledJob is a due scheduled message claimed by a scheduler.
type ScheduledJob struct {
	MessageID  uuid.UUID
	LeaseToken uuid.UUID
}

// MessageScheduler sends scheduled messages when they are due. Every
// method needs the system principal.
type MessageScheduler interface {
	// ClaimDueMessages leases up to limit due messages; concurrent
	// claimers (other instances) never get the same ones while the lease
	// holds.
	ClaimDueMessages(ctx context.Context, limit int, lease time.Duration) ([]ScheduledJob, error)
	// SendScheduledMessage sends a claimed message, exactly once: it does
	// nothing (false) when the message was cancelled, sent, or claimed by
	// another scheduler since.
	SendScheduledMessage(ctx context.Context, job ScheduledJob) (bool, error)
	// NextScheduledDue is how long until the earliest unleased scheduled
	// message is due.
	NextScheduledDue(ctx context.Context) (time.Duration, bool, error)
}
