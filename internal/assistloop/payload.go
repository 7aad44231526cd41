package assistloop

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// TimestampLayout is the format of conversation, event and webhook
// timestamps: UTC to the second ("2024-11-12T10:30:00Z").
const TimestampLayout = "2006-01-02T15:04:05Z"

// MessageTimestampLayout is the format of a message's created_at in message
// lists: UTC with microseconds ("2024-11-12T10:30:15.000000Z").
const MessageTimestampLayout = "2006-01-02T15:04:05.000000Z"

// FormatTimestamp formats t with TimestampLayout.
func FormatTimestamp(t time.Time) string { return t.UTC().Format(TimestampLayout) }

// FormatMessageTimestamp formats t with MessageTimestampLayout.
func FormatMessageTimestamp(t time.Time) string { return t.UTC().Format(MessageTimestampLayout) }

// WebhookPayload is the body of a webhook delivery (and of a recent-sample
// item). Field order follows the reference, so the encoded bytes match it.
type WebhookPayload struct {
	ID        string      `json:"id"`
	Event     EventType   `json:"event"`
	Timestamp string      `json:"timestamp"`
	Data      WebhookData `json:"data"`
}

// WebhookData is the "data" object of a webhook payload.
type WebhookData struct {
	Conversation   PayloadConversation `json:"conversation"`
	Agent          PayloadRef          `json:"agent"`
	ChatUser       PayloadChatUser     `json:"chat_user"`
	Organization   PayloadRef          `json:"organization"`
	InitialMessage *PayloadMessage     `json:"initial_message,omitempty"`
	LastMessage    *PayloadMessage     `json:"last_message,omitempty"`
}

// PayloadConversation is the conversation inside a webhook payload.
type PayloadConversation struct {
	UUID         string       `json:"uuid"`
	Status       bool         `json:"status"`
	ResponseMode ResponseMode `json:"response_mode"`
	CreatedAt    string       `json:"created_at"`
}

// PayloadRef names an agent or a workspace inside a webhook payload.
type PayloadRef struct {
	UUID string `json:"uuid"`
	Name string `json:"name"`
}

// PayloadChatUser is the customer inside a webhook payload.
type PayloadChatUser struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
}

// PayloadMessage is the initial or last message inside a webhook payload.
// Its "uuid" is the message's prefixed id, as in the reference's examples.
type PayloadMessage struct {
	UUID      string      `json:"uuid"`
	Content   string      `json:"content"`
	Type      MessageType `json:"type"`
	CreatedAt string      `json:"created_at"`
}

// EventSubject is everything an event payload describes.
type EventSubject struct {
	Conversation *Conversation
	Agent        *Agent
	Organization *Organization
	ChatUser     *ChatUser // nil for an anonymous customer
	Message      *Message  // the initial message, or the last one on handoff
}

// NewWebhookPayload builds the payload of an event of type t with id and
// time at, describing s.
func NewWebhookPayload(id string, t EventType, at time.Time, s EventSubject) *WebhookPayload {
	p := &WebhookPayload{
		ID:        id,
		Event:     t,
		Timestamp: FormatTimestamp(at),
		Data: WebhookData{
			Conversation: PayloadConversation{
				UUID:         s.Conversation.ID.String(),
				Status:       s.Conversation.IsOpen(),
				ResponseMode: s.Conversation.ResponseMode,
				CreatedAt:    FormatTimestamp(s.Conversation.CreatedAt),
			},
			Agent:        PayloadRef{UUID: s.Agent.ID, Name: s.Agent.Name},
			Organization: PayloadRef{UUID: s.Organization.ID, Name: s.Organization.Name},
		},
	}
	if s.ChatUser != nil {
		p.Data.ChatUser = PayloadChatUser{Name: s.ChatUser.Name, Email: s.ChatUser.Email}
	}
	if s.Message != nil {
		m := &PayloadMessage{
			UUID:      s.Message.PublicID(),
			Content:   s.Message.Content,
			Type:      s.Message.Type,
			CreatedAt: FormatTimestamp(s.Message.CreatedAt),
		}
		if t == EventHumanHandoffRequired {
			p.Data.LastMessage = m
		} else {
			p.Data.InitialMessage = m
		}
	}
	return p
}

// Marshal encodes the payload. It cannot fail: every field is a plain value.
func (p *WebhookPayload) Marshal() []byte {
	b, err := json.Marshal(p)
	if err != nil {
		panic("assistloop: encoding webhook payload: " + err.Error())
	}
	return b
}

// SampleWebhookPayload builds a clearly synthetic payload of type t for an
// agent that has no events yet, so integrators can still map its fields.
func SampleWebhookPayload(t EventType, agent *Agent, org *Organization, at time.Time) *WebhookPayload {
	name, email := "Sample Customer", "customer@example.com"
	at = at.UTC().Truncate(time.Second)
	conv := &Conversation{ID: sampleUUID, ResponseMode: ResponseModeAI, Status: ConversationOpen, CreatedAt: at}
	msg := &Message{ID: sampleUUID, Type: MessageGuest, Content: "Hello, I have a question", CreatedAt: at}
	if t == EventHumanHandoffRequired {
		conv.ResponseMode = ResponseModeHuman
		msg.Content = "I need to speak with a human agent"
	}
	return NewWebhookPayload(sampleUUID.String(), t, at, EventSubject{
		Conversation: conv, Agent: agent, Organization: org,
		ChatUser: &ChatUser{Name: &name, Email: &email}, Message: msg,
	})
}

// sampleUUID marks synthetic samples: the nil UUID's neighbour, never
// generated for real rows.
var sampleUUID = uuid.MustParse("00000000-0000-4000-8000-000000000000")
