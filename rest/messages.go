package rest

import (
	"net/http"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// findMessagesRoute: GET /automation/conversations/{conversationUuid}/messages/find,
// a conversation's guest and agent messages (no platform_action), newest
// first: [{"id","uuid","content","type","is_read","status",
// "responder_type","emailed_at","email_seen","email_opened_at","via",
// "created_at","user_feedback","sender_name","attachments"}].
var findMessagesRoute = &route{
	method:  http.MethodGet,
	pattern: "/automation/conversations/{conversationUuid}/messages/find",
	scope:   assistloop.ScopeReadMessages,
	document: `query RestFindMessages($conversationUuid: ID!, $filter: MessageFilter!, $first: Int!, $offset: Int!) {
  messages(conversationUuid: $conversationUuid, filter: $filter, first: $first, offset: $offset) {
    nodes {
      id uuid content type is_read: isRead status responder_type: responderType emailed_at: emailedAt
      email_seen: emailSeen email_opened_at: emailOpenedAt via created_at: createdAt user_feedback: userFeedback
      sender_name: senderName
      attachments { id file_name: fileName content_type: contentType size url }
    }
  }
}`,
	serve: func(x *exchange) (any, error) {
		q := x.query()
		filter := map[string]any{"types": []string{"GUEST", "AGENT"}}
		q.dateRange(filter)
		p := q.pagination(defaultPerPage)
		if err := q.err(); err != nil {
			return nil, err
		}
		data, err := x.run(map[string]any{"conversationUuid": x.pathParam("conversationUuid"), "filter": filter,
			"first": p.perPage, "offset": p.offset()})
		if err != nil {
			return nil, err
		}
		nodes, err := at(data, "messages", "nodes")
		if err != nil {
			return nil, err
		}
		return messageItem.array(nodes)
	},
}

// messageItem turns a message of the find document into a Find Messages
// item. Message timestamps carry microseconds. Attachments keep the
// GraphQL Attachment's fields under REST names (the reference shows only
// empty lists).
var messageItem = rewrite{
	"type":            enumValue(messageTypes),
	"responder_type":  enumValue(responderTypes),
	"user_feedback":   enumValue(userFeedbacks),
	"created_at":      timeValue(assistloop.FormatMessageTimestamp),
	"emailed_at":      timeValue(assistloop.FormatMessageTimestamp),
	"email_opened_at": timeValue(assistloop.FormatMessageTimestamp),
}
