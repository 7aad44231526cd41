// Package assistloop holds the domain: its entities, enumerations, errors,
// the principal a request acts for, and the service interfaces the storage
// layer implements and the transports call. It depends on nothing but the
// standard library and a UUID type.
//
// Struct tags name the database columns for the storage layer (bun reads
// them); they are plain strings, so this package does not import bun.
package assistloop

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ResponseMode says who answers the customer.
type ResponseMode string

const (
	ResponseModeAI    ResponseMode = "ai"
	ResponseModeHuman ResponseMode = "human"
)

func (m ResponseMode) Valid() bool { return m == ResponseModeAI || m == ResponseModeHuman }

// ConversationStatus is open or closed. The REST API shows it as a boolean
// (true = open) and filters with 1/0.
type ConversationStatus string

const (
	ConversationOpen   ConversationStatus = "open"
	ConversationClosed ConversationStatus = "closed"
)

func (s ConversationStatus) Valid() bool { return s == ConversationOpen || s == ConversationClosed }

// MessageType says who wrote a message.
type MessageType string

const (
	MessageGuest          MessageType = "guest"           // the customer
	MessageAgent          MessageType = "agent"           // the AI or a human assistant
	MessagePlatformAction MessageType = "platform_action" // a system notice (handoff, close)
)

// ResponderType says which kind of agent wrote an agent message.
type ResponderType string

const (
	ResponderAI             ResponderType = "ai"
	ResponderHumanAssistant ResponderType = "human_assistant"
)

// UserFeedback is the customer's rating of an AI answer.
type UserFeedback string

const (
	FeedbackPositive   UserFeedback = "positive"
	FeedbackNegative   UserFeedback = "negative"
	FeedbackNotAllowed UserFeedback = "not-allowed"
)

// EventType names the events the service publishes to webhooks.
type EventType string

const (
	EventNewConversation      EventType = "new_conversation"
	EventHumanHandoffRequired EventType = "human_handoff_required"
)

func (t EventType) Valid() bool { return t == EventNewConversation || t == EventHumanHandoffRequired }

// EventTypes lists every event type.
var EventTypes = []EventType{EventNewConversation, EventHumanHandoffRequired}

// MembershipRole is a user's role in a workspace.
type MembershipRole string

const (
	RoleOwner  MembershipRole = "owner"
	RoleMember MembershipRole = "member"
)

// User is a person who signs in: an owner or member of workspaces.
type User struct {
	ID           string    `bun:"id,pk"` // usr_…
	Email        string    `bun:"email"`
	Name         string    `bun:"name"`
	PasswordHash string    `bun:"password_hash" json:"-"`
	CreatedAt    time.Time `bun:"created_at"`
	UpdatedAt    time.Time `bun:"updated_at"`
}

// Organization is a workspace.
type Organization struct {
	ID        string    `bun:"id,pk"` // org_…
	Name      string    `bun:"name"`
	CreatedAt time.Time `bun:"created_at"`
}

// Membership links a user to a workspace.
type Membership struct {
	OrganizationID string         `bun:"organization_id,pk"`
	UserID         string         `bun:"user_id,pk"`
	Role           MembershipRole `bun:"role"`
	CreatedAt      time.Time      `bun:"created_at"`
}

// Agent is an AI support agent inside a workspace.
type Agent struct {
	ID             string    `bun:"id,pk"` // agt_…
	OrganizationID string    `bun:"organization_id"`
	Name           string    `bun:"name"`
	CreatedAt      time.Time `bun:"created_at"`
}

// ChatUser is a customer who talks to an agent. Every field but the id may be
// unknown.
type ChatUser struct {
	ID             string    `bun:"id,pk"` // chu_…
	OrganizationID string    `bun:"organization_id"`
	Name           *string   `bun:"name"`
	Email          *string   `bun:"email"`
	CountryCode    *string   `bun:"country_code"`
	ExternalID     *string   `bun:"external_id"`
	CreatedAt      time.Time `bun:"created_at"`
}

// Conversation is one thread between a chat user and an agent.
type Conversation struct {
	ID              uuid.UUID          `bun:"id,pk,type:uuid"`
	OrganizationID  string             `bun:"organization_id"`
	AgentID         string             `bun:"agent_id"`
	ChatUserID      *string            `bun:"chat_user_id"`
	SessionID       string             `bun:"session_id"`
	ResponseMode    ResponseMode       `bun:"response_mode"`
	Status          ConversationStatus `bun:"status"`
	LastMessageSeen bool               `bun:"last_message_seen"`
	LastMessageID   *uuid.UUID         `bun:"last_message_id,type:uuid"`
	CreatedAt       time.Time          `bun:"created_at"`
	UpdatedAt       time.Time          `bun:"updated_at"`
	ClosedAt        *time.Time         `bun:"closed_at"`
	DeletedAt       *time.Time         `bun:"deleted_at"`

	// Conversations API (second reference).
	AssignedTo  *string `bun:"assigned_to"` // usr_… of the workspace
	Starred     bool    `bun:"starred"`
	UnreadCount int     `bun:"unread_count"`
	// LastMessageAt is the time of the latest visible guest or agent
	// message, the creation time before there is one. The database keeps
	// it (a trigger); zero on insert means "the creation time".
	LastMessageAt time.Time `bun:"last_message_at,nullzero"`
	// SearchRank is the full-text relevance a search computed, else 0.
	SearchRank float32 `bun:"search_rank,scanonly" json:"-"`
}

// IsOpen reports whether the conversation is open (the REST "status": true).
func (c *Conversation) IsOpen() bool { return c.Status == ConversationOpen }

// Message is one message of a conversation.
type Message struct {
	ID              uuid.UUID      `bun:"id,pk,type:uuid"`
	ConversationID  uuid.UUID      `bun:"conversation_id,type:uuid"`
	OrganizationID  string         `bun:"organization_id"`
	Type            MessageType    `bun:"type"`
	ResponderType   *ResponderType `bun:"responder_type"`
	ResponderUserID *string        `bun:"responder_user_id"` // the human who replied
	Content         string         `bun:"content"`
	Via             string         `bun:"via"`
	IsRead          *bool          `bun:"is_read"`
	Status          *string        `bun:"status"`
	EmailedAt       *time.Time     `bun:"emailed_at"`
	EmailSeen       bool           `bun:"email_seen"`
	EmailOpenedAt   *time.Time     `bun:"email_opened_at"`
	UserFeedback    *UserFeedback  `bun:"user_feedback"`
	CreatedAt       time.Time      `bun:"created_at"`

	// Conversations API (second reference): the channel, the delivery
	// state reported by the conversation provider, and scheduling.
	Channel         MessageChannel `bun:"channel,nullzero"`
	ErrorCode       *string        `bun:"error_code"`
	ErrorType       *string        `bun:"error_type"`
	ErrorMessage    *string        `bun:"error_message"`
	StatusUpdatedAt *time.Time     `bun:"status_updated_at"`
	// ScheduledAt is set on a message sent later; until SentAt is set it
	// is invisible to lists, streams and events.
	ScheduledAt *time.Time `bun:"scheduled_at"`
	SentAt      *time.Time `bun:"sent_at"`
	CancelledAt *time.Time `bun:"cancelled_at"`
	LeasedUntil *time.Time `bun:"leased_until" json:"-"`
	LeaseToken  *uuid.UUID `bun:"lease_token,type:uuid" json:"-"`

	// SenderName is computed when the message is read: the chat user's name
	// for guest messages, the replying user's name for human replies, the
	// agent's name for AI replies.
	SenderName *string `bun:"sender_name,scanonly"`
}

// PublicID is the message's prefixed identifier, "msg_" and the UUID's hex.
func (m *Message) PublicID() string { return MessagePublicID(m.ID) }

// MessagePublicID formats a message UUID as its prefixed identifier.
func MessagePublicID(id uuid.UUID) string { return "msg_" + hex.EncodeToString(id[:]) }

// ParseMessageID accepts a message's prefixed id ("msg_…") or its UUID.
func ParseMessageID(s string) (uuid.UUID, bool) {
	if rest, ok := strings.CutPrefix(s, "msg_"); ok {
		if len(rest) != 32 {
			return uuid.Nil, false
		}
		var id uuid.UUID
		if _, err := hex.Decode(id[:], []byte(rest)); err != nil {
			return uuid.Nil, false
		}
		return id, true
	}
	return ParseUUID(s)
}

// ParseUUID parses an RFC 4122 UUID in its canonical 36-character form.
func ParseUUID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil
}

// Attachment is a file attached to a message.
type Attachment struct {
	ID             string     `bun:"id,pk"` // att_…
	OrganizationID string     `bun:"organization_id"`
	MessageID      *uuid.UUID `bun:"message_id,type:uuid"`
	FileName       string     `bun:"file_name"`
	ContentType    string     `bun:"content_type"`
	SizeBytes      int64      `bun:"size_bytes"`
	StorageKey     string     `bun:"storage_key"`
	CreatedAt      time.Time  `bun:"created_at"`
	// ConversationID is the conversation an upload is for: only a message
	// of that conversation may claim it.
	ConversationID *uuid.UUID `bun:"conversation_id,type:uuid"`
	UploadedBy     *string    `bun:"uploaded_by"`
}

// Event is an entry of the outbox: something webhooks tell the outside world
// about. Payload holds the exact JSON body a webhook delivers.
type Event struct {
	ID             uuid.UUID       `bun:"id,pk,type:uuid"`
	Seq            int64           `bun:"seq,scanonly"`
	Type           EventType       `bun:"type"`
	OrganizationID string          `bun:"organization_id"`
	AgentID        string          `bun:"agent_id"`
	ConversationID uuid.UUID       `bun:"conversation_id,type:uuid"`
	Payload        json.RawMessage `bun:"payload"`
	CreatedAt      time.Time       `bun:"created_at"`
}

// OAuthClient is an application registered to obtain tokens.
type OAuthClient struct {
	ID           string    `bun:"id,pk"`
	Name         string    `bun:"name"`
	SecretHash   *string   `bun:"secret_hash" json:"-"`
	RedirectURIs []string  `bun:"redirect_uris,array"`
	Scopes       []Scope   `bun:"scopes,array"`
	Public       bool      `bun:"public"`
	CreatedAt    time.Time `bun:"created_at"`
}

// AccessToken is a stored bearer token. Only the token's hash is kept.
type AccessToken struct {
	ID        string     `bun:"id,pk"` // tok_…
	TokenHash []byte     `bun:"token_hash" json:"-"`
	UserID    string     `bun:"user_id"`
	ClientID  *string    `bun:"client_id"`
	GrantID   *string    `bun:"grant_id"`
	Scopes    []Scope    `bun:"scopes,array"`
	CreatedAt time.Time  `bun:"created_at"`
	ExpiresAt *time.Time `bun:"expires_at"`
	RevokedAt *time.Time `bun:"revoked_at"`
}
