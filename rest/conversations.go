package rest

import (
	"bytes"
	"net/http"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// listConversationsRoute: GET /automation/agents/{agentUuid}/conversations/list,
// an agent's conversations, newest first, filtered: [{"id","uuid",
// "session_id","response_mode","status","last_message_seen","deleted_at",
// "chat_user":{"name","email","country_code","chat_user_id"}}].
var listConversationsRoute = &route{
	method:  http.MethodGet,
	pattern: "/automation/agents/{agentUuid}/conversations/list",
	scope:   assistloop.ScopeReadConversations,
	document: `query RestListConversations($agentUuid: ID!, $filter: ConversationFilter!, $first: Int!, $offset: Int!) {
  conversations(agentUuid: $agentUuid, filter: $filter, first: $first, offset: $offset) {
    nodes {
      id: uuid uuid session_id: sessionId response_mode: responseMode status last_message_seen: lastMessageSeen
      deleted_at: deletedAt
      chat_user: chatUser { name email country_code: countryCode chat_user_id: uuid }
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
		q.dateRange(filter)
		p := q.pagination(defaultPerPage)
		if err := q.err(); err != nil {
			return nil, err
		}
		data, err := x.run(map[string]any{"agentUuid": x.pathParam("agentUuid"), "filter": filter,
			"first": p.perPage, "offset": p.offset()})
		if err != nil {
			return nil, err
		}
		nodes, err := at(data, "conversations", "nodes")
		if err != nil {
			return nil, err
		}
		return conversationItem.array(nodes)
	},
}

// conversationItem turns a conversation of the list document into a list
// item. A conversation whose customer is unknown gets a chat_user with
// every field null, so scenarios can map it regardless.
var conversationItem = rewrite{
	"response_mode": enumValue(responseModes),
	"status":        boolValue(openStatuses),
	"deleted_at":    timeValue(assistloop.FormatTimestamp),
	"chat_user":     nullAs(`{"name":null,"email":null,"country_code":null,"chat_user_id":null}`),
}

// GraphQL enum values and their REST spellings.
var (
	responseModes  = map[string]string{"AI": "ai", "HUMAN": "human"}
	openStatuses   = map[string]bool{"OPEN": true, "CLOSED": false}
	messageTypes   = map[string]string{"GUEST": "guest", "AGENT": "agent", "PLATFORM_ACTION": "platform_action"}
	responderTypes = map[string]string{"AI": "ai", "HUMAN_ASSISTANT": "human_assistant"}
	userFeedbacks  = map[string]string{"POSITIVE": "positive", "NEGATIVE": "negative", "NOT_ALLOWED": "not-allowed"}
	// eventTypes maps the REST type parameter to the GraphQL EventType.
	eventTypes = map[string]string{string(assistloop.EventNewConversation): "NEW_CONVERSATION",
		string(assistloop.EventHumanHandoffRequired): "HUMAN_HANDOFF_REQUIRED"}
)

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
		data, err := x.run(map[string]any{"agentUuid": x.pathParam("agentUuid"), "type": t, "limit": limit})
		if err != nil {
			return nil, err
		}
		samples, err := at(data, "recentEventSamples")
		if err != nil {
			return nil, err
		}
		// The payloads are written as stored, not re-encoded.
		var b bytes.Buffer
		b.WriteByte('[')
		err = elements(samples, func(sample []byte) error {
			payload, err := at(sample, "payload")
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			b.Write(payload)
			return err
		})
		if err != nil {
			return nil, err
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
		if _, err := x.run(map[string]any{"conversationUuid": x.pathParam("conversationUuid")}); err != nil {
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
		data, err := x.run(map[string]any{"conversationUuid": x.pathParam("conversationUuid"), "content": content})
		if err != nil {
			return nil, err
		}
		id, err := at(data, "replyToConversation", "message", "id")
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		b.WriteString(`{"status":"sent","message_id":`)
		b.Write(id)
		b.WriteString("}\n")
		return rawJSON(b.Bytes()), nil
	},
}
