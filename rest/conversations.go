package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// listConversationsRoute: GET /automation/agents/{agentUuid}/conversations/list,
// an agent's conversations, newest first, filtered.
var listConversationsRoute = &route{
	method:  http.MethodGet,
	pattern: "/automation/agents/{agentUuid}/conversations/list",
	scope:   assistloop.ScopeReadConversations,
	document: `query RestListConversations($agentUuid: ID!, $filter: ConversationFilter!, $first: Int!, $offset: Int!) {
  conversations(agentUuid: $agentUuid, filter: $filter, first: $first, offset: $offset) {
    nodes {
      uuid sessionId responseMode status lastMessageSeen deletedAt
      chatUser { uuid name email countryCode }
    }
  }
}`,
	serve: func(x *exchange) (any, error) {
		q := x.query()
		filter := map[string]any{}
		if v, ok := q.oneOf("status", map[string]string{"0": "CLOSED", "1": "OPEN"}); ok {
			filter["status"] = v
		}
		if v, ok := q.oneOf("response_mode", map[string]string{"ai": "AI", "human": "HUMAN"}); ok {
			filter["responseMode"] = v
		}
		if v, ok := q.date("created_from", false); ok {
			filter["createdFrom"] = v
		}
		if v, ok := q.date("created_to", true); ok {
			filter["createdTo"] = v
		}
		p := q.pagination(defaultPerPage)
		if err := q.err(); err != nil {
			return nil, err
		}
		var data struct {
			Conversations struct {
				Nodes []gqlConversation `json:"nodes"`
			} `json:"conversations"`
		}
		vars := map[string]any{"agentUuid": x.pathParam("agentUuid"), "filter": filter,
			"first": p.perPage, "offset": p.offset()}
		if err := x.run(vars, &data); err != nil {
			return nil, err
		}
		out := make([]conversation, len(data.Conversations.Nodes))
		for i, c := range data.Conversations.Nodes {
			var err error
			if out[i], err = c.rest(); err != nil {
				return nil, err
			}
		}
		return out, nil
	},
}

// gqlConversation is a conversation as the list document selects it.
type gqlConversation struct {
	UUID            string  `json:"uuid"`
	SessionID       string  `json:"sessionId"`
	ResponseMode    string  `json:"responseMode"`
	Status          string  `json:"status"`
	LastMessageSeen bool    `json:"lastMessageSeen"`
	DeletedAt       *string `json:"deletedAt"`
	ChatUser        *struct {
		UUID        string  `json:"uuid"`
		Name        *string `json:"name"`
		Email       *string `json:"email"`
		CountryCode *string `json:"countryCode"`
	} `json:"chatUser"`
}

// conversation is a conversation list item, exactly the reference's keys.
type conversation struct {
	ID              string   `json:"id"`
	UUID            string   `json:"uuid"`
	SessionID       string   `json:"session_id"`
	ResponseMode    string   `json:"response_mode"`
	Status          bool     `json:"status"`
	LastMessageSeen bool     `json:"last_message_seen"`
	DeletedAt       *string  `json:"deleted_at"`
	ChatUser        chatUser `json:"chat_user"`
}

// chatUser is the customer of a conversation list item. An anonymous
// conversation has every field null, so scenarios can map it regardless.
type chatUser struct {
	Name        *string `json:"name"`
	Email       *string `json:"email"`
	CountryCode *string `json:"country_code"`
	ChatUserID  *string `json:"chat_user_id"`
}

var (
	responseModes  = map[string]string{"AI": "ai", "HUMAN": "human"}
	openStatuses   = map[string]bool{"OPEN": true, "CLOSED": false}
	eventTypes     = map[string]string{string(assistloop.EventNewConversation): "NEW_CONVERSATION", string(assistloop.EventHumanHandoffRequired): "HUMAN_HANDOFF_REQUIRED"}
	messageTypes   = map[string]string{"GUEST": "guest", "AGENT": "agent", "PLATFORM_ACTION": "platform_action"}
	responderTypes = map[string]string{"AI": "ai", "HUMAN_ASSISTANT": "human_assistant"}
	userFeedbacks  = map[string]string{"POSITIVE": "positive", "NEGATIVE": "negative", "NOT_ALLOWED": "not-allowed"}
)

func (c *gqlConversation) rest() (conversation, error) {
	mode, err := enum(responseModes, c.ResponseMode)
	if err != nil {
		return conversation{}, err
	}
	open, ok := openStatuses[c.Status]
	if !ok {
		return conversation{}, unknownEnum(c.Status)
	}
	deletedAt, err := timestamp(c.DeletedAt, assistloop.FormatTimestamp)
	if err != nil {
		return conversation{}, err
	}
	out := conversation{ID: c.UUID, UUID: c.UUID, SessionID: c.SessionID, ResponseMode: mode, Status: open,
		LastMessageSeen: c.LastMessageSeen, DeletedAt: deletedAt}
	if cu := c.ChatUser; cu != nil {
		out.ChatUser = chatUser{Name: cu.Name, Email: cu.Email, CountryCode: cu.CountryCode, ChatUserID: &cu.UUID}
	}
	return out, nil
}

// Recent samples: default 5, at most 10 (assistloop.MaxSampleLimit).
const defaultSampleLimit = 5

// recentSampleRoute: GET /automation/agents/{agentUuid}/conversations/recent-sample,
// webhook payloads of the agent's latest events, byte for byte as they were
// (or would be) delivered; one synthetic sample when the agent has none.
var recentSampleRoute = &route{
	method:  http.MethodGet,
	pattern: "/automation/agents/{agentUuid}/conversations/recent-sample",
	scope:   assistloop.ScopeReadConversations,
	document: `query RestRecentSamples($agentUuid: ID!, $type: EventType!, $limit: Int!) {
  recentEventSamples(agentUuid: $agentUuid, type: $type, limit: $limit) { payload }
}`,
	serve: func(x *exchange) (any, error) {
		q := x.query()
		limit := q.integer("limit", defaultSampleLimit, 1, assistloop.MaxSampleLimit)
		t := eventTypes[string(assistloop.EventNewConversation)]
		if v, ok := q.oneOf("type", eventTypes); ok {
			t = v
		}
		if err := q.err(); err != nil {
			return nil, err
		}
		var data struct {
			Samples []struct {
				Payload json.RawMessage `json:"payload"`
			} `json:"recentEventSamples"`
		}
		vars := map[string]any{"agentUuid": x.pathParam("agentUuid"), "type": t, "limit": limit}
		if err := x.run(vars, &data); err != nil {
			return nil, err
		}
		// The payloads are written as stored, not re-encoded.
		var b bytes.Buffer
		b.WriteByte('[')
		for i, s := range data.Samples {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(s.Payload)
		}
		b.WriteString("]\n")
		return rawJSON(b.Bytes()), nil
	},
}

// closeConversationRoute: POST /automation/conversations/{conversationUuid}/close
// with {"platform": "make"}. Closing a closed conversation succeeds.
var closeConversationRoute = &route{
	method:     http.MethodPost,
	pattern:    "/automation/conversations/{conversationUuid}/close",
	scope:      assistloop.ScopeWriteConversations,
	closeLimit: true,
	document: `mutation RestCloseConversation($conversationUuid: ID!) {
  closeConversation(input: {conversationUuid: $conversationUuid}) { conversation { uuid } }
}`,
	serve: func(x *exchange) (any, error) {
		body, err := x.body()
		if err != nil {
			return nil, err
		}
		invalid := assistloop.Invalid()
		if p := body.requiredString(invalid, "platform"); p != "" && p != platformMake {
			invalid.Add("platform", "The selected platform is invalid.")
		}
		if err := invalid.Err(); err != nil {
			return nil, err
		}
		var data struct{}
		if err := x.run(map[string]any{"conversationUuid": x.pathParam("conversationUuid")}, &data); err != nil {
			return nil, err
		}
		return closed{Status: "conversation_closed", Platform: platformMake}, nil
	},
}

// platformMake is the only integration platform the reference knows.
const platformMake = "make"

type closed struct {
	Status   string `json:"status"`
	Platform string `json:"platform"`
}

// replyRoute: POST /automation/conversations/{conversationUuid}/reply with
// {"content": "…"}: a human reply as the token's user.
var replyRoute = &route{
	method:  http.MethodPost,
	pattern: "/automation/conversations/{conversationUuid}/reply",
	scope:   assistloop.ScopeWriteConversations,
	document: `mutation RestReply($conversationUuid: ID!, $content: String!) {
  replyToConversation(input: {conversationUuid: $conversationUuid, content: $content}) { message { id } }
}`,
	serve: func(x *exchange) (any, error) {
		body, err := x.body()
		if err != nil {
			return nil, err
		}
		invalid := assistloop.Invalid()
		content := body.requiredString(invalid, "content")
		if err := invalid.Err(); err != nil {
			return nil, err
		}
		// Length and blankness are the domain's rules; its 422 comes back
		// through GraphQL with the same field.
		var data struct {
			Reply struct {
				Message struct {
					ID string `json:"id"`
				} `json:"message"`
			} `json:"replyToConversation"`
		}
		vars := map[string]any{"conversationUuid": x.pathParam("conversationUuid"), "content": content}
		if err := x.run(vars, &data); err != nil {
			return nil, err
		}
		return sent{Status: "sent", MessageID: data.Reply.Message.ID}, nil
	},
}

type sent struct {
	Status    string `json:"status"`
	MessageID string `json:"message_id"`
}

// enum maps a GraphQL enum value to its REST spelling.
func enum(values map[string]string, v string) (string, error) {
	if out, ok := values[v]; ok {
		return out, nil
	}
	return "", unknownEnum(v)
}

// unknownEnum is a bug: the schema gained a value this adapter does not
// know. Clients see a generic internal error; the log says which.
func unknownEnum(v string) error {
	return fmt.Errorf("rest: unmapped GraphQL enum value %q", v)
}
