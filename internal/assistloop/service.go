package assistloop

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits on input the domain accepts.
const (
	MaxContentLength  = 10000 // characters in a message
	MaxNameLength     = 255
	MaxEmailLength    = 320
	MaxSessionIDLen   = 255
	MaxReasonLength   = 1000
	DefaultPageSize   = 20
	MaxPageSize       = 100
	MaxOrganizationsN = 1000
)

// Page selects a window of a list: First items after the opaque cursor After,
// or, for page-numbered clients, First items after skipping Offset.
type Page struct {
	First  int
	After  string
	Offset int
}

// PageInfo describes where a returned window sits in the whole list.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     string
	EndCursor       string
}

// ConversationFilter narrows a conversation list. Lists are newest first.
type ConversationFilter struct {
	AgentID      string
	Status       *ConversationStatus
	ResponseMode *ResponseMode
	CreatedFrom  *time.Time // inclusive
	CreatedTo    *time.Time // inclusive
}

// Validate checks the filter's date range.
func (f ConversationFilter) Validate() error {
	v := Invalid()
	if f.CreatedFrom != nil && f.CreatedTo != nil && f.CreatedTo.Before(*f.CreatedFrom) {
		v.Add("created_to", "The created to must be a date after or equal to created from.")
	}
	if f.Status != nil && !f.Status.Valid() {
		v.Add("status", "The selected status is invalid.")
	}
	if f.ResponseMode != nil && !f.ResponseMode.Valid() {
		v.Add("response_mode", "The selected response mode is invalid.")
	}
	return v.Err()
}

// MessageFilter narrows a conversation's messages. Lists are newest first.
type MessageFilter struct {
	ConversationID uuid.UUID
	CreatedFrom    *time.Time
	CreatedTo      *time.Time
	// Types limits the list to these message types; empty means every type.
	Types []MessageType
}

// Validate checks the filter's date range.
func (f MessageFilter) Validate() error {
	if f.CreatedFrom != nil && f.CreatedTo != nil && f.CreatedTo.Before(*f.CreatedFrom) {
		return InvalidField("created_to", "The created to must be a date after or equal to created from.")
	}
	return nil
}

// ConversationPage is one window of a conversation list.
type ConversationPage struct {
	Conversations []*Conversation
	Cursors       []string
	PageInfo      PageInfo
}

// MessagePage is one window of a message list.
type MessagePage struct {
	Messages []*Message
	Cursors  []string
	PageInfo PageInfo
}

// OrganizationPage is one window of the caller's workspaces.
type OrganizationPage struct {
	Organizations []*Organization
	Cursors       []string
	PageInfo      PageInfo
}

// AgentPage is one window of a workspace's agents.
type AgentPage struct {
	Agents   []*Agent
	Cursors  []string
	PageInfo PageInfo
}

// ChatUserInput describes the customer starting a conversation. ExternalID,
// when given, identifies a returning customer within the workspace.
type ChatUserInput struct {
	Name        *string
	Email       *string
	CountryCode *string
	ExternalID  *string
}

// StartConversationInput starts a conversation with its first guest message.
type StartConversationInput struct {
	AgentID  string
	ChatUser *ChatUserInput
	// ChatUserID, instead of ChatUser, names an existing customer of the
	// agent's workspace.
	ChatUserID *string
	Content    string
	SessionID  *string
	Via        *string
	// Channel is the first message's channel (live chat when empty).
	Channel MessageChannel
}

// Validate checks the input's fields.
func (in *StartConversationInput) Validate() error {
	v := Invalid()
	validateContent(v, "content", in.Content)
	if in.ChatUser != nil {
		validateOptionalString(v, "chat_user.name", in.ChatUser.Name, MaxNameLength)
		validateOptionalString(v, "chat_user.email", in.ChatUser.Email, MaxEmailLength)
		validateOptionalString(v, "chat_user.country_code", in.ChatUser.CountryCode, 16)
		validateOptionalString(v, "chat_user.external_id", in.ChatUser.ExternalID, MaxNameLength)
		if e := in.ChatUser.Email; e != nil && *e != "" && !LooksLikeEmail(*e) {
			v.Add("chat_user.email", "The chat user email must be a valid email address.")
		}
	}
	validateOptionalString(v, "session_id", in.SessionID, MaxSessionIDLen)
	validateOptionalString(v, "via", in.Via, 32)
	return v.Err()
}

// ValidateContent checks a message body.
func ValidateContent(field, content string) error {
	v := Invalid()
	validateContent(v, field, content)
	return v.Err()
}

func validateContent(v *Error, field, content string) {
	switch n := utf8.RuneCountInString(content); {
	case !utf8.ValidString(content):
		v.Add(field, "The "+field+" must be valid UTF-8 text.")
	case isBlank(content):
		v.Add(field, "The "+field+" field is required.")
	case n > MaxContentLength:
		v.Add(field, "The "+field+" may not be greater than 10000 characters.")
	}
}

func validateOptionalString(v *Error, field string, s *string, max int) {
	if s == nil {
		return
	}
	if !utf8.ValidString(*s) {
		v.Add(field, "The "+field+" must be valid UTF-8 text.")
	} else if utf8.RuneCountInString(*s) > max {
		v.Add(field, "The "+field+" may not be greater than "+itoa(max)+" characters.")
	}
}

func isBlank(s string) bool {
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r', '\v', '\f', '\u00a0':
		default:
			return false
		}
	}
	return true
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// LooksLikeEmail is a deliberately loose check: one @ with text on both sides
// and a dot in the domain.
func LooksLikeEmail(s string) bool {
	at := -1
	for i, r := range s {
		if r == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
		if r == ' ' || r == '<' || r == '>' {
			return false
		}
	}
	if at <= 0 || at == len(s)-1 {
		return false
	}
	domain := s[at+1:]
	for i := 0; i < len(domain); i++ {
		if domain[i] == '.' && i > 0 && i < len(domain)-1 {
			return true
		}
	}
	return false
}

// CreateUserInput creates a user with a workspace they own and one agent in it.
type CreateUserInput struct {
	Email            string
	Password         string
	Name             string
	OrganizationName string
	AgentName        string
}

// Validate checks the input's fields.
func (in *CreateUserInput) Validate() error {
	v := Invalid()
	if !LooksLikeEmail(in.Email) || len(in.Email) > MaxEmailLength {
		v.Add("email", "The email must be a valid email address.")
	}
	if utf8.RuneCountInString(in.Password) < 8 {
		v.Add("password", "The password must be at least 8 characters.")
	} else if len(in.Password) > 1024 {
		v.Add("password", "The password may not be greater than 1024 bytes.")
	}
	if isBlank(in.Name) {
		v.Add("name", "The name field is required.")
	}
	validateOptionalString(v, "name", &in.Name, MaxNameLength)
	if isBlank(in.OrganizationName) {
		v.Add("organization", "The organization field is required.")
	}
	validateOptionalString(v, "organization", &in.OrganizationName, MaxNameLength)
	validateOptionalString(v, "agent_name", &in.AgentName, MaxNameLength)
	return v.Err()
}

// CreateClientInput registers an OAuth client.
type CreateClientInput struct {
	// ID, when set, names the client: an existing client with that id gets
	// the new name, redirect URIs, scopes and a fresh secret.
	ID           string
	Name         string
	RedirectURIs []string
	Public       bool
	// Scopes limits what the client may ask for; empty means every scope.
	Scopes []Scope
}

// CreateAccessTokenInput mints a bearer token for a user.
type CreateAccessTokenInput struct {
	UserID   string
	ClientID *string
	GrantID  *string
	Scopes   []Scope
	TTL      time.Duration // zero: never expires
}

// UserService manages people who sign in.
type UserService interface {
	// CreateUser creates a user, a workspace owned by them and one agent.
	// Returns EINVALID, ECONFLICT (email taken).
	CreateUser(ctx context.Context, in CreateUserInput) (*User, *Organization, *Agent, error)
	// AuthenticateUser checks an email and password. Returns EUNAUTHORIZED
	// for any mismatch, without saying which part was wrong.
	AuthenticateUser(ctx context.Context, email, password string) (*User, error)
	// FindUser returns the user with the id. Returns ENOTFOUND.
	FindUser(ctx context.Context, id string) (*User, error)
	// UsersByIDs returns users visible to the caller (themselves and
	// members of their workspaces); missing ids are omitted.
	UsersByIDs(ctx context.Context, ids []string) ([]*User, error)
}

// OrganizationService reads workspaces.
type OrganizationService interface {
	// ListOrganizations lists the caller's workspaces, newest first.
	ListOrganizations(ctx context.Context, page Page) (*OrganizationPage, error)
	// FindOrganization returns ENOTFOUND unless the caller is a member.
	FindOrganization(ctx context.Context, id string) (*Organization, error)
	OrganizationsByIDs(ctx context.Context, ids []string) ([]*Organization, error)
	// CreateOrganization creates a workspace owned by the calling user.
	// Returns EINVALID, EUNAUTHORIZED.
	CreateOrganization(ctx context.Context, name string) (*Organization, error)
}

// AgentService reads and creates agents.
type AgentService interface {
	// ListAgents lists a workspace's agents, newest first. ENOTFOUND for a
	// workspace the caller is not a member of.
	ListAgents(ctx context.Context, organizationID string, page Page) (*AgentPage, error)
	// FindAgent returns ENOTFOUND unless the agent is in one of the caller's
	// workspaces.
	FindAgent(ctx context.Context, id string) (*Agent, error)
	AgentsByIDs(ctx context.Context, ids []string) ([]*Agent, error)
	// CreateAgent creates an agent in one of the caller's workspaces.
	// Returns EINVALID, ENOTFOUND (workspace).
	CreateAgent(ctx context.Context, organizationID, name string) (*Agent, error)
}

// ChatUserService reads customers.
type ChatUserService interface {
	ChatUsersByIDs(ctx context.Context, ids []string) ([]*ChatUser, error)
}

// ConversationService reads conversations and performs every change to them.
// Each change that has an event writes it in the same transaction.
type ConversationService interface {
	// FindConversation returns ENOTFOUND for a missing, deleted or foreign
	// conversation.
	FindConversation(ctx context.Context, id uuid.UUID) (*Conversation, error)
	// ListConversations lists an agent's conversations, newest first.
	// Returns ENOTFOUND (agent), EINVALID (filter or cursor).
	ListConversations(ctx context.Context, f ConversationFilter, page Page) (*ConversationPage, error)
	ConversationsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Conversation, error)

	// StartConversation creates a conversation, its chat user (or reuses one
	// by external id), the first guest message and a new_conversation event.
	// Returns EINVALID, ENOTFOUND (agent), EFORBIDDEN.
	StartConversation(ctx context.Context, in StartConversationInput) (*Conversation, *Message, error)
	// SendGuestMessage adds a customer message; it reopens a closed
	// conversation.
	SendGuestMessage(ctx context.Context, conversationID uuid.UUID, content string) (*Message, error)
	// SendAgentMessage adds the AI's reply. ECONFLICT when a human has taken
	// over or the conversation is closed.
	SendAgentMessage(ctx context.Context, conversationID uuid.UUID, content string) (*Message, error)
	// RequestHumanHandoff switches the conversation to human mode and
	// records a human_handoff_required event. A conversation already in
	// human mode is returned unchanged, without a new event. ECONFLICT on a
	// closed conversation.
	RequestHumanHandoff(ctx context.Context, conversationID uuid.UUID, reason *string) (*Conversation, error)
	// ReplyToConversation adds a human reply as the calling user and switches
	// the conversation to human mode.
	ReplyToConversation(ctx context.Context, conversationID uuid.UUID, content string) (*Message, error)
	// CloseConversation closes the conversation; closing a closed one
	// succeeds and changes nothing.
	CloseConversation(ctx context.Context, conversationID uuid.UUID) (*Conversation, error)
}

// MessageService reads messages and streams new ones.
type MessageService interface {
	// FindMessage returns ENOTFOUND for a missing or foreign message.
	FindMessage(ctx context.Context, id uuid.UUID) (*Message, error)
	// ListMessages lists a conversation's messages, newest first.
	ListMessages(ctx context.Context, f MessageFilter, page Page) (*MessagePage, error)
	// AttachmentsByMessageIDs returns the attachments of the messages.
	AttachmentsByMessageIDs(ctx context.Context, ids []uuid.UUID) ([]*Attachment, error)
	// SubscribeMessages streams messages added to the conversation from now
	// on, until ctx ends. ENOTFOUND for a foreign conversation.
	SubscribeMessages(ctx context.Context, conversationID uuid.UUID) (<-chan *Message, error)
}

// EventService reads the event outbox.
type EventService interface {
	// StreamEvents sends the caller's committed events, in commit order,
	// starting after the event with id after (from the oldest retained
	// event when after is nil), then every new one as it commits, until ctx
	// ends. ENOTFOUND when after names no visible event.
	StreamEvents(ctx context.Context, after *uuid.UUID, types []EventType) (<-chan *Event, error)
	// FindEvent returns ENOTFOUND for a missing or foreign event.
	FindEvent(ctx context.Context, id uuid.UUID) (*Event, error)
	// EventsByIDs returns the caller's events among ids.
	EventsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Event, error)
	// RecentEvents returns the agent's latest events of type t, newest
	// first. ENOTFOUND for a foreign agent, EINVALID for a limit outside
	// 1..MaxSampleLimit.
	RecentEvents(ctx context.Context, agentID string, t EventType, limit int) ([]*Event, error)
}

// MaxSampleLimit caps RecentEvents.
const MaxSampleLimit = 10

// TokenService mints and checks bearer tokens.
type TokenService interface {
	// CreateAccessToken stores a new token and returns its secret value,
	// which is never stored.
	CreateAccessToken(ctx context.Context, in CreateAccessTokenInput) (string, *AccessToken, error)
	// AuthenticateToken returns the principal of a live token. Returns
	// EUNAUTHORIZED for an unknown, expired or revoked token.
	AuthenticateToken(ctx context.Context, token string) (*Principal, error)
}

// ClientService registers OAuth clients.
type ClientService interface {
	// CreateClient registers a client (or re-registers the one with
	// in.ID) and returns its secret (empty for a public client), which is
	// stored only as a hash.
	CreateClient(ctx context.Context, in CreateClientInput) (*OAuthClient, string, error)
}
