package rest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// messageFields is the GraphQL selection behind every message the
// Conversations API shows.
const messageFields = `
fragment RestMessage on Message {
  id uuid conversationUuid organizationUuid chatUserUuid content type channel direction status createdAt
  responderType responderUuid senderName scheduledAt
  error { code type message }
  attachments { url }
}`

// gqlMessage is a message as messageFields selects it.
type gqlMessage struct {
	ID, UUID, ConversationUUID, OrganizationUUID string
	ChatUserUUID                                 *string
	Content, Type, Channel, Direction            string
	Status                                       *string
	CreatedAt                                    time.Time
	ResponderType, ResponderUUID, SenderName     *string
	ScheduledAt                                  *time.Time
	Error                                        *messageErrorDTO
	Attachments                                  []struct{ URL string }
}

type messageErrorDTO struct {
	Code    *string `json:"code"`
	Type    *string `json:"type"`
	Message *string `json:"message"`
}

// messageDTO is a message in the reference's shape (GetMessageResponseDto)
// plus our fields (uuid, senderType, responderType, senderName, error,
// scheduledTimestamp).
type messageDTO struct {
	ID                 string           `json:"id"`
	UUID               string           `json:"uuid"`
	Type               int              `json:"type"`
	MessageType        string           `json:"messageType"`
	LocationID         string           `json:"locationId"`
	ContactID          *string          `json:"contactId"`
	ConversationID     string           `json:"conversationId"`
	DateAdded          string           `json:"dateAdded"`
	Body               string           `json:"body"`
	Direction          string           `json:"direction"`
	Status             *string          `json:"status"`
	ContentType        string           `json:"contentType"`
	Attachments        []string         `json:"attachments"`
	UserID             *string          `json:"userId"`
	SenderType         string           `json:"senderType"`
	ResponderType      *string          `json:"responderType"`
	SenderName         *string          `json:"senderName"`
	Error              *messageErrorDTO `json:"error"`
	ScheduledTimestamp *int64           `json:"scheduledTimestamp"`
}

// dateAddedLayout is the reference's message date: UTC to the millisecond.
const dateAddedLayout = "2006-01-02T15:04:05.000Z"

func (m *gqlMessage) dto() messageDTO {
	t := messageTypeName(m.Type, m.Channel)
	out := messageDTO{
		ID: m.ID, UUID: m.UUID, Type: messageTypeCode(t), MessageType: t, LocationID: m.OrganizationUUID,
		ContactID: m.ChatUserUUID, ConversationID: m.ConversationUUID, DateAdded: m.CreatedAt.UTC().Format(dateAddedLayout),
		Body: m.Content, Direction: strings.ToLower(m.Direction), Status: m.Status, ContentType: "text/plain",
		Attachments: make([]string, len(m.Attachments)), UserID: m.ResponderUUID, SenderType: messageTypes[m.Type],
		SenderName: m.SenderName, Error: m.Error,
	}
	if m.ResponderType != nil {
		rt := responderTypes[*m.ResponderType]
		out.ResponderType = &rt
	}
	if m.ScheduledAt != nil {
		s := m.ScheduledAt.Unix()
		out.ScheduledTimestamp = &s
	}
	for i, a := range m.Attachments {
		out.Attachments[i] = a.URL
	}
	return out
}

// getMessageRoute: GET /conversations/messages/{messageId} (msg_… or the
// UUID), scheduled and cancelled messages included.
var getMessageRoute = &route{
	method:  http.MethodGet,
	pattern: "/conversations/messages/{messageId}",
	scope:   assistloop.ScopeReadMessages,
	document: `query RestGetMessage($id: ID!) {
  anyMessage(id: $id) { ...RestMessage }
}` + messageFields,
	serve: func(x *exchange) (any, error) {
		var out struct{ AnyMessage gqlMessage }
		if err := x.runInto(map[string]any{"id": x.pathParam("messageId")}, &out); err != nil {
			return nil, err
		}
		return out.AnyMessage.dto(), nil
	},
}

// sendMessageResponse is the reference's SendMessageResponseDto.
type sendMessageResponse struct {
	ConversationID string  `json:"conversationId"`
	MessageID      string  `json:"messageId"`
	EmailMessageID *string `json:"emailMessageId,omitempty"`
	Msg            string  `json:"msg"`
	Status         *string `json:"status"`
}

func sendResponse(m *gqlMessage, msg string) sendMessageResponse {
	out := sendMessageResponse{ConversationID: m.ConversationUUID, MessageID: m.ID, Msg: msg, Status: m.Status}
	if m.Channel == "EMAIL" {
		out.EmailMessageID = &m.ID // an email's message id is also its email message id
	}
	return out
}

// sendMessageRoute: POST /conversations/messages, a message from the agent
// side as the token's user (a human reply: the conversation switches to
// human mode), now or at scheduledTimestamp (UTC seconds).
var sendMessageRoute = &route{
	method:  http.MethodPost,
	pattern: "/conversations/messages",
	scope:   assistloop.ScopeWriteConversations,
	document: `mutation RestSendMessage($input: SendOutboundMessageInput!) {
  sendOutboundMessage(input: $input) { scheduled message { ...RestMessage } }
}` + messageFields,
	serve: func(x *exchange) (any, error) {
		body, err := x.body()
		if err != nil {
			return nil, err
		}
		invalid := assistloop.Invalid()
		input := map[string]any{"channel": body.channel(invalid, outboundChannels, true)}
		if v := body.optionalString(invalid, "contactId"); v != nil {
			input["chatUserUuid"] = *v
		}
		if v := body.optionalString(invalid, "conversationId"); v != nil {
			input["conversationUuid"] = *v
		}
		if input["chatUserUuid"] == nil && input["conversationUuid"] == nil {
			invalid.Add("contactId", "The contact id field is required.")
		}
		content := ""
		if v := body.optionalString(invalid, "message"); v != nil {
			content = *v
		}
		input["content"] = content
		if ids := attachmentIDs(invalid, body.stringList(invalid, "attachments")); len(ids) > 0 {
			input["attachmentIds"] = ids
		}
		if v := body.optionalInt(invalid, "scheduledTimestamp"); v != nil {
			if *v < 0 || *v > 253402300799 {
				invalid.Add("scheduledTimestamp", "The scheduled timestamp must be a time in seconds since the epoch.")
			} else {
				input["scheduledAt"] = time.Unix(*v, 0).UTC().Format(time.RFC3339)
			}
		}
		if err := invalid.Err(); err != nil {
			return nil, err
		}
		var out struct {
			SendOutboundMessage struct {
				Scheduled bool
				Message   gqlMessage
			}
		}
		if err := x.runInto(map[string]any{"input": input}, &out); err != nil {
			return nil, err
		}
		msg := "Message sent."
		if out.SendOutboundMessage.Scheduled {
			msg = "Message scheduled."
		}
		return sendResponse(&out.SendOutboundMessage.Message, msg), nil
	},
}

// transcriptionSentence is one sentence of the reference's transcript.
type transcriptionSentence struct {
	MediaChannel  int     `json:"mediaChannel"`
	SentenceIndex int     `json:"sentenceIndex"`
	StartTime     int     `json:"startTime"`
	EndTime       int     `json:"endTime"`
	Transcript    string  `json:"transcript"`
	Confidence    float64 `json:"confidence"`
}

// inboundMessageRoute: POST /conversations/messages/inbound, a customer's
// message received on another channel (the reference's "Add an inbound
// message"); a Call may carry our "transcription".
var inboundMessageRoute = &route{
	method:  http.MethodPost,
	pattern: "/conversations/messages/inbound",
	scope:   assistloop.ScopeWriteConversations,
	document: `mutation RestInboundMessage($input: AddInboundMessageInput!) {
  addInboundMessage(input: $input) { message { ...RestMessage } }
}` + messageFields,
	serve: func(x *exchange) (any, error) {
		body, err := x.body()
		if err != nil {
			return nil, err
		}
		invalid := assistloop.Invalid()
		input := map[string]any{
			"channel":          body.channel(invalid, inboundChannels, true),
			"conversationUuid": body.requiredString(invalid, "conversationId"),
		}
		if v := body.optionalString(invalid, "contactId"); v != nil {
			input["chatUserUuid"] = *v
		}
		content := ""
		if v := body.optionalString(invalid, "message"); v != nil {
			content = *v
		}
		input["content"] = content
		if ids := attachmentIDs(invalid, body.stringList(invalid, "attachments")); len(ids) > 0 {
			input["attachmentIds"] = ids
		}
		var ss []transcriptionSentence
		if body.object(invalid, "transcription", &ss) {
			vs := make([]any, len(ss))
			for i, s := range ss {
				vs[i] = map[string]any{"mediaChannel": s.MediaChannel, "sentenceIndex": s.SentenceIndex,
					"startTime": s.StartTime, "endTime": s.EndTime, "transcript": s.Transcript, "confidence": s.Confidence}
			}
			input["transcription"] = vs
		}
		if err := invalid.Err(); err != nil {
			return nil, err
		}
		var out struct {
			AddInboundMessage struct{ Message gqlMessage }
		}
		if err := x.runInto(map[string]any{"input": input}, &out); err != nil {
			return nil, err
		}
		m := out.AddInboundMessage.Message
		res := inboundResponse{Success: true, ConversationID: m.ConversationUUID, MessageID: m.ID, Message: "Message received.",
			ContactID: m.ChatUserUUID, DateAdded: m.CreatedAt.UTC().Format(dateAddedLayout)}
		if m.Channel == "EMAIL" {
			res.EmailMessageID = &m.ID
		}
		return res, nil
	},
}

// inboundResponse is the reference's ProcessMessageResponseDto.
type inboundResponse struct {
	Success        bool    `json:"success"`
	ConversationID string  `json:"conversationId"`
	MessageID      string  `json:"messageId"`
	Message        string  `json:"message"`
	ContactID      *string `json:"contactId"`
	DateAdded      string  `json:"dateAdded"`
	EmailMessageID *string `json:"emailMessageId,omitempty"`
}

// messageStatusRoute: PUT /conversations/messages/{messageId}/status with
// {"status": "delivered" | "failed" | "pending" | "read", "error": {"code",
// "type","message"}}, what the conversation provider reports.
var messageStatusRoute = &route{
	method:  http.MethodPut,
	pattern: "/conversations/messages/{messageId}/status",
	scope:   assistloop.ScopeWriteConversations,
	document: `mutation RestMessageStatus($input: UpdateMessageStatusInput!) {
  updateMessageStatus(input: $input) { message { ...RestMessage } }
}` + messageFields,
	serve: func(x *exchange) (any, error) {
		body, err := x.body()
		if err != nil {
			return nil, err
		}
		invalid := assistloop.Invalid()
		status := body.requiredString(invalid, "status")
		input := map[string]any{"messageId": x.pathParam("messageId"), "status": status}
		var e struct {
			Code    *string `json:"code"`
			Type    *string `json:"type"`
			Message *string `json:"message"`
		}
		if body.object(invalid, "error", &e) {
			if e.Code != nil {
				input["errorCode"] = *e.Code
			}
			if e.Type != nil {
				input["errorType"] = *e.Type
			}
			if e.Message != nil {
				input["errorMessage"] = *e.Message
			}
		}
		if err := invalid.Err(); err != nil {
			return nil, err
		}
		data, err := x.run(map[string]any{"input": input})
		if err != nil {
			return nil, renameGraphQLFields(err, map[string]string{"error.code": "error", "error.type": "error", "error.message": "error"})
		}
		var out struct {
			UpdateMessageStatus struct{ Message gqlMessage }
		}
		if err := json.Unmarshal(data, &out); err != nil {
			return nil, err
		}
		return sendResponse(&out.UpdateMessageStatus.Message, "Message status updated."), nil
	},
}

// cancelResponse is the reference's CancelScheduledResponseDto.
type cancelResponse struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

const cancelDocument = `mutation RestCancelScheduled($id: ID!, $emailOnly: Boolean!) {
  cancelScheduledMessage(input: {messageId: $id, emailOnly: $emailOnly}) { message { id } }
}`

func cancelScheduled(param string, emailOnly bool) func(x *exchange) (any, error) {
	return func(x *exchange) (any, error) {
		if _, err := x.run(map[string]any{"id": x.pathParam(param), "emailOnly": emailOnly}); err != nil {
			return nil, err
		}
		return cancelResponse{Status: http.StatusOK, Message: "Scheduled message cancelled."}, nil
	}
}

// cancelScheduledRoute: DELETE /conversations/messages/{messageId}/schedule.
var cancelScheduledRoute = &route{
	method:   http.MethodDelete,
	pattern:  "/conversations/messages/{messageId}/schedule",
	scope:    assistloop.ScopeWriteConversations,
	document: cancelDocument,
	serve:    cancelScheduled("messageId", false),
}

// cancelScheduledEmailRoute: DELETE /conversations/messages/email/{emailMessageId}/schedule;
// an email message's emailMessageId is its message id.
var cancelScheduledEmailRoute = &route{
	method:   http.MethodDelete,
	pattern:  "/conversations/messages/email/{emailMessageId}/schedule",
	scope:    assistloop.ScopeWriteConversations,
	document: cancelDocument,
	serve:    cancelScheduled("emailMessageId", true),
}
