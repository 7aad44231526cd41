package rest

import (
	"fmt"
	"net/http"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// findMessagesRoute: GET /automation/conversations/{conversationUuid}/messages/find,
// a conversation's guest and agent messages (no platform_action), newest
// first.
var findMessagesRoute = &route{
	method:  http.MethodGet,
	pattern: "/automation/conversations/{conversationUuid}/messages/find",
	scope:   assistloop.ScopeReadMessages,
	document: `query RestFindMessages($conversationUuid: ID!, $filter: MessageFilter!, $first: Int!, $offset: Int!) {
  messages(conversationUuid: $conversationUuid, filter: $filter, first: $first, offset: $offset) {
    nodes {
      id uuid content type isRead status responderType emailedAt emailSeen emailOpenedAt via createdAt
      userFeedback senderName
      attachments { id fileName contentType size url }
    }
  }
}`,
	serve: func(x *exchange) (any, error) {
		q := x.query()
		filter := map[string]any{"types": []string{"GUEST", "AGENT"}}
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
			Messages struct {
				Nodes []gqlMessage `json:"nodes"`
			} `json:"messages"`
		}
		vars := map[string]any{"conversationUuid": x.pathParam("conversationUuid"), "filter": filter,
			"first": p.perPage, "offset": p.offset()}
		if err := x.run(vars, &data); err != nil {
			return nil, err
		}
		out := make([]message, len(data.Messages.Nodes))
		for i := range data.Messages.Nodes {
			var err error
			if out[i], err = data.Messages.Nodes[i].rest(); err != nil {
				return nil, err
			}
		}
		return out, nil
	},
}

// gqlMessage is a message as the find document selects it.
type gqlMessage struct {
	ID            string          `json:"id"`
	UUID          string          `json:"uuid"`
	Content       string          `json:"content"`
	Type          string          `json:"type"`
	IsRead        *bool           `json:"isRead"`
	Status        *string         `json:"status"`
	ResponderType *string         `json:"responderType"`
	EmailedAt     *string         `json:"emailedAt"`
	EmailSeen     bool            `json:"emailSeen"`
	EmailOpenedAt *string         `json:"emailOpenedAt"`
	Via           string          `json:"via"`
	CreatedAt     string          `json:"createdAt"`
	UserFeedback  *string         `json:"userFeedback"`
	SenderName    *string         `json:"senderName"`
	Attachments   []gqlAttachment `json:"attachments"`
}

type gqlAttachment struct {
	ID          string `json:"id"`
	FileName    string `json:"fileName"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

// message is a Find Messages item, exactly the reference's keys. Message
// timestamps carry microseconds.
type message struct {
	ID            string       `json:"id"`
	UUID          string       `json:"uuid"`
	Content       string       `json:"content"`
	Type          string       `json:"type"`
	IsRead        *bool        `json:"is_read"`
	Status        *string      `json:"status"`
	ResponderType *string      `json:"responder_type"`
	EmailedAt     *string      `json:"emailed_at"`
	EmailSeen     bool         `json:"email_seen"`
	EmailOpenedAt *string      `json:"email_opened_at"`
	Via           string       `json:"via"`
	CreatedAt     string       `json:"created_at"`
	UserFeedback  *string      `json:"user_feedback"`
	SenderName    *string      `json:"sender_name"`
	Attachments   []attachment `json:"attachments"`
}

// attachment is a file attached to a message (the reference shows only
// empty lists; these are the GraphQL Attachment's fields).
type attachment struct {
	ID          string `json:"id"`
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

func (m *gqlMessage) rest() (message, error) {
	out := message{ID: m.ID, UUID: m.UUID, Content: m.Content, IsRead: m.IsRead, Status: m.Status,
		EmailSeen: m.EmailSeen, Via: m.Via, SenderName: m.SenderName, Attachments: make([]attachment, len(m.Attachments))}
	var err error
	if out.Type, err = enum(messageTypes, m.Type); err != nil {
		return out, err
	}
	if out.ResponderType, err = optionalEnum(responderTypes, m.ResponderType); err != nil {
		return out, err
	}
	if out.UserFeedback, err = optionalEnum(userFeedbacks, m.UserFeedback); err != nil {
		return out, err
	}
	if out.EmailedAt, err = timestamp(m.EmailedAt, assistloop.FormatMessageTimestamp); err != nil {
		return out, err
	}
	if out.EmailOpenedAt, err = timestamp(m.EmailOpenedAt, assistloop.FormatMessageTimestamp); err != nil {
		return out, err
	}
	created, err := timestamp(&m.CreatedAt, assistloop.FormatMessageTimestamp)
	if err != nil {
		return out, err
	}
	out.CreatedAt = *created
	for i, a := range m.Attachments {
		out.Attachments[i] = attachment{ID: a.ID, FileName: a.FileName, ContentType: a.ContentType, Size: a.Size, URL: a.URL}
	}
	return out, nil
}

func optionalEnum(values map[string]string, v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	out, err := enum(values, *v)
	return &out, err
}

// timestamp reformats a GraphQL Time (RFC 3339) with format; nil stays nil.
func timestamp(v *string, format func(time.Time) string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return nil, fmt.Errorf("rest: GraphQL time %q: %w", *v, err)
	}
	s := format(t)
	return &s, nil
}
