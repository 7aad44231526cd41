package rest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// The Conversations API (the second reference, modelled on the
// LeadConnector/HighLevel Conversations API) under /v1/conversations:
// conversation routes here, message routes in conversations_messages.go,
// files in conversations_files.go. Field names are the reference's
// (camelCase; locationId = our workspace, contactId = our chat user); what
// our model has beyond it (status, responseMode, agentId, participants)
// keeps our names. The README's "Conversations API" section lists every
// mapping.

// conversationFields is the GraphQL selection behind every conversation
// the API shows.
const conversationFields = `
fragment RestConversation on Conversation {
  uuid organizationUuid agentUuid chatUserUuid assignedToUuid status responseMode starred unreadCount
  createdAt updatedAt lastMessageAt
  chatUser { name email }
  lastMessage { id content type channel direction }
  participants { role uuid name email }
}`

// gqlConversation is a conversation as conversationFields selects it.
type gqlConversation struct {
	UUID             string
	OrganizationUUID string
	AgentUUID        string
	ChatUserUUID     *string
	AssignedToUUID   *string
	Status           string
	ResponseMode     string
	Starred          bool
	UnreadCount      int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LastMessageAt    time.Time
	ChatUser         *struct{ Name, Email *string }
	LastMessage      *struct {
		ID, Content, Type, Channel, Direction string
	}
	Participants []struct {
		Role, UUID  string
		Name, Email *string
	}
}

// conversationDTO is a conversation in the reference's shape (its
// ConversationSchema and ConversationDto together), plus our fields.
type conversationDTO struct {
	ID                   string           `json:"id"`
	LocationID           string           `json:"locationId"`
	ContactID            *string          `json:"contactId"`
	AgentID              string           `json:"agentId"`
	AssignedTo           *string          `json:"assignedTo"`
	Status               string           `json:"status"`
	ResponseMode         string           `json:"responseMode"`
	Starred              bool             `json:"starred"`
	UnreadCount          int              `json:"unreadCount"`
	Deleted              bool             `json:"deleted"`
	FullName             *string          `json:"fullName"`
	ContactName          *string          `json:"contactName"`
	Email                *string          `json:"email"`
	Phone                *string          `json:"phone"`
	LastMessageID        *string          `json:"lastMessageId"`
	LastMessageBody      *string          `json:"lastMessageBody"`
	LastMessageType      *string          `json:"lastMessageType"`
	LastMessageDirection *string          `json:"lastMessageDirection"`
	LastMessageDate      int64            `json:"lastMessageDate"`
	DateAdded            int64            `json:"dateAdded"`
	DateUpdated          int64            `json:"dateUpdated"`
	Participants         []participantDTO `json:"participants"`
}

type participantDTO struct {
	Type  string  `json:"type"`
	ID    string  `json:"id"`
	Name  *string `json:"name"`
	Email *string `json:"email"`
}

var participantTypes = map[string]string{"CONTACT": "contact", "AGENT": "agent", "ASSIGNEE": "user"}

func (c *gqlConversation) dto() conversationDTO {
	out := conversationDTO{
		ID: c.UUID, LocationID: c.OrganizationUUID, ContactID: c.ChatUserUUID, AgentID: c.AgentUUID,
		AssignedTo: c.AssignedToUUID, Status: strings.ToLower(c.Status), ResponseMode: strings.ToLower(c.ResponseMode),
		Starred: c.Starred, UnreadCount: c.UnreadCount,
		LastMessageDate: c.LastMessageAt.UnixMilli(), DateAdded: c.CreatedAt.UnixMilli(), DateUpdated: c.UpdatedAt.UnixMilli(),
		Participants: make([]participantDTO, len(c.Participants)),
	}
	if cu := c.ChatUser; cu != nil {
		out.FullName, out.Email = cu.Name, cu.Email
		// The reference's contactName: the name, else the email.
		out.ContactName = cu.Name
		if out.ContactName == nil {
			out.ContactName = cu.Email
		}
	}
	if m := c.LastMessage; m != nil {
		t := messageTypeName(m.Type, m.Channel)
		dir := strings.ToLower(m.Direction)
		out.LastMessageID, out.LastMessageBody, out.LastMessageType, out.LastMessageDirection = &m.ID, &m.Content, &t, &dir
	}
	for i, p := range c.Participants {
		out.Participants[i] = participantDTO{Type: participantTypes[p.Role], ID: p.UUID, Name: p.Name, Email: p.Email}
	}
	return out
}

// The reference's message types: its TYPE_ names in the order of its
// numeric codes (TYPE_CALL = 1 … TYPE_ACTIVITY = 35).
var referenceMessageTypes = []string{"TYPE_CALL", "TYPE_SMS", "TYPE_EMAIL", "TYPE_SMS_REVIEW_REQUEST", "TYPE_WEBCHAT",
	"TYPE_SMS_NO_SHOW_REQUEST", "TYPE_CAMPAIGN_SMS", "TYPE_CAMPAIGN_CALL", "TYPE_CAMPAIGN_EMAIL", "TYPE_CAMPAIGN_VOICEMAIL",
	"TYPE_FACEBOOK", "TYPE_CAMPAIGN_FACEBOOK", "TYPE_CAMPAIGN_MANUAL_CALL", "TYPE_CAMPAIGN_MANUAL_SMS", "TYPE_GMB",
	"TYPE_CAMPAIGN_GMB", "TYPE_REVIEW", "TYPE_INSTAGRAM", "TYPE_WHATSAPP", "TYPE_CUSTOM_SMS", "TYPE_CUSTOM_EMAIL",
	"TYPE_CUSTOM_PROVIDER_SMS", "TYPE_CUSTOM_PROVIDER_EMAIL", "TYPE_IVR_CALL", "TYPE_ACTIVITY_CONTACT",
	"TYPE_ACTIVITY_INVOICE", "TYPE_ACTIVITY_PAYMENT", "TYPE_ACTIVITY_OPPORTUNITY", "TYPE_LIVE_CHAT",
	"TYPE_LIVE_CHAT_INFO_MESSAGE", "TYPE_ACTIVITY_APPOINTMENT", "TYPE_FACEBOOK_COMMENT", "TYPE_INSTAGRAM_COMMENT",
	"TYPE_CUSTOM_CALL", "TYPE_ACTIVITY"}

// channelTypes maps our channels (GraphQL MessageChannel) to the
// reference's message types.
var channelTypes = map[string]string{
	"LIVE_CHAT": "TYPE_LIVE_CHAT", "WEBCHAT": "TYPE_WEBCHAT", "SMS": "TYPE_SMS", "EMAIL": "TYPE_EMAIL",
	"WHATSAPP": "TYPE_WHATSAPP", "GMB": "TYPE_GMB", "IG": "TYPE_INSTAGRAM", "FB": "TYPE_FACEBOOK",
	"CUSTOM": "TYPE_CUSTOM_PROVIDER_SMS", "CALL": "TYPE_CALL",
}

// messageTypeName is the reference's type of a message: a system notice
// (platform_action) is TYPE_LIVE_CHAT_INFO_MESSAGE, anything else its
// channel's type.
func messageTypeName(kind, channel string) string {
	if kind == "PLATFORM_ACTION" {
		return "TYPE_LIVE_CHAT_INFO_MESSAGE"
	}
	return channelTypes[channel]
}

// messageTypeCode is the reference's numeric code of a type name.
func messageTypeCode(name string) int {
	for i, n := range referenceMessageTypes {
		if n == name {
			return i + 1
		}
	}
	return 0
}

// Search parameters.
var (
	searchStatuses = map[string]string{"all": "ALL", "read": "READ", "unread": "UNREAD", "starred": "STARRED", "recents": "RECENTS"}
	openClosed     = map[string]string{"open": "OPEN", "closed": "CLOSED"}
	searchSorts    = map[string]string{"last_message_date": "LAST_MESSAGE_DATE", "date_added": "DATE_ADDED", "relevance": "RELEVANCE"}
	sortOrders     = map[string]string{"asc": "ASC", "desc": "DESC"}
	modes          = map[string]string{"ai": "AI", "human": "HUMAN"}
)

// searchConversationsRoute: GET /conversations/search?locationId=…, the
// reference's Search Conversations: {"conversations":[…],"total":n}, plus
// "nextCursor" for exact keyset paging.
var searchConversationsRoute = &route{
	method:  http.MethodGet,
	pattern: "/conversations/search",
	scope:   assistloop.ScopeReadConversations,
	document: `query RestSearchConversations($input: ConversationSearchInput!, $first: Int!, $after: String) {
  searchConversations(input: $input, first: $first, after: $after) {
    nodes { ...RestConversation } total endCursor
  }
}` + conversationFields,
	serve: func(x *exchange) (any, error) {
		q := x.query()
		input := map[string]any{}
		if v, ok := q.get("locationId"); ok {
			input["organizationUuid"] = v
		} else {
			q.invalid.Add("locationId", "The location id field is required.")
		}
		for param, field := range map[string]string{"query": "query", "contactId": "chatUserUuid", "agentId": "agentUuid", "id": "conversationUuid"} {
			if v, ok := q.get(param); ok {
				input[field] = v
			}
		}
		if v, ok := q.get("assignedTo"); ok {
			var users []string
			for _, u := range strings.Split(v, ",") {
				switch u = strings.TrimSpace(u); u {
				case "":
				case "unassigned":
					input["unassigned"] = true
				default:
					users = append(users, u)
				}
			}
			if len(users) > 0 {
				input["assignedTo"] = users
			}
		}
		if v, ok := q.get("status"); ok {
			if s, ok := searchStatuses[v]; ok {
				input["readState"] = s
			} else if s, ok := openClosed[v]; ok {
				input["status"] = s
			} else {
				q.invalid.Add("status", "The selected status is invalid.")
			}
		}
		for _, name := range []string{"responseMode", "response_mode"} {
			if v, ok := q.oneOf(name, modes); ok {
				input["responseMode"] = v
			}
		}
		if v, ok := q.date("dateAddedFrom", false); ok {
			input["createdFrom"] = v
		}
		if v, ok := q.date("dateAddedTo", true); ok {
			input["createdTo"] = v
		}
		if v, ok := q.get("sortBy"); ok {
			switch s, known := searchSorts[v]; {
			case known:
				input["sortBy"] = s
			case v == "last_manual_message_date" || v == "score_profile":
				q.invalid.Add("sortBy", "The sort by "+v+" is not supported.")
			default:
				q.invalid.Add("sortBy", "The selected sort by is invalid.")
			}
		}
		if v, ok := q.oneOf("sort", sortOrders); ok {
			input["sortOrder"] = v
		}
		if v, ok := q.get("startAfterDate"); ok {
			if t, ok := epochOrDate(v); ok {
				input["startAfter"] = t.Format(time.RFC3339Nano)
			} else {
				q.invalid.Add("startAfterDate", "The start after date must be a time in milliseconds since the epoch (or an ISO 8601 date).")
			}
		}
		limit := q.integer("limit", defaultPerPage, 1, maxPerPage)
		vars := map[string]any{"input": input, "first": limit}
		if v, ok := q.get("cursor"); ok {
			vars["after"] = v
		}
		if err := q.err(); err != nil {
			return nil, err
		}
		var out struct {
			SearchConversations struct {
				Nodes     []gqlConversation
				Total     int
				EndCursor *string
			}
		}
		if err := x.runInto(vars, &out); err != nil {
			return nil, err
		}
		res := searchResponse{Conversations: make([]conversationDTO, len(out.SearchConversations.Nodes)),
			Total: out.SearchConversations.Total, NextCursor: out.SearchConversations.EndCursor}
		for i := range out.SearchConversations.Nodes {
			res.Conversations[i] = out.SearchConversations.Nodes[i].dto()
		}
		return res, nil
	},
}

type searchResponse struct {
	Conversations []conversationDTO `json:"conversations"`
	Total         int               `json:"total"`
	NextCursor    *string           `json:"nextCursor"`
}

// epochOrDate reads the reference's startAfterDate: milliseconds since the
// epoch, or (a courtesy) an ISO 8601 date.
func epochOrDate(s string) (time.Time, bool) {
	if n, err := jsonInt(s); err == nil {
		if n < 0 || n > 253402300799999 {
			return time.Time{}, false
		}
		return time.UnixMilli(n).UTC(), true
	}
	t, _, ok := parseISO8601(s)
	return t.UTC(), ok
}

func jsonInt(s string) (int64, error) {
	var n int64
	err := json.Unmarshal([]byte(s), &n)
	return n, err
}

// getConversationRoute: GET /conversations/{conversationId}, one
// conversation with its participants, last message and status.
var getConversationRoute = &route{
	method:  http.MethodGet,
	pattern: "/conversations/{conversationId}",
	scope:   assistloop.ScopeReadConversations,
	document: `query RestGetConversation($uuid: ID!) {
  conversation(uuid: $uuid) { ...RestConversation }
}` + conversationFields,
	serve: func(x *exchange) (any, error) {
		var out struct{ Conversation gqlConversation }
		if err := x.runInto(map[string]any{"uuid": x.pathParam("conversationId")}, &out); err != nil {
			return nil, err
		}
		return out.Conversation.dto(), nil
	},
}

// conversationResponse is the reference's {"success":true,"conversation":…}.
type conversationResponse struct {
	Success      bool            `json:"success"`
	Conversation conversationDTO `json:"conversation"`
}

// createConversationRoute: POST /conversations/ with {"locationId",
// "contactId"} (the reference) or a new contact's fields, an optional
// agentId and an optional first "message": 201 {"success":true,
// "conversation":…}.
var createConversationRoute = &route{
	method:  http.MethodPost,
	pattern: "/conversations/",
	scope:   assistloop.ScopeWriteConversations,
	status:  http.StatusCreated,
	document: `mutation RestCreateConversation($input: CreateConversationInput!) {
  createConversation(input: $input) { conversation { ...RestConversation } }
}` + conversationFields,
	serve: func(x *exchange) (any, error) {
		body, err := x.body()
		if err != nil {
			return nil, err
		}
		invalid := assistloop.Invalid()
		input := map[string]any{"organizationUuid": body.requiredString(invalid, "locationId")}
		for param, field := range map[string]string{"contactId": "chatUserUuid", "agentId": "agentUuid", "message": "message"} {
			if v := body.optionalString(invalid, param); v != nil {
				input[field] = *v
			}
		}
		chatUser := map[string]any{}
		for param, field := range map[string]string{"name": "name", "email": "email", "countryCode": "countryCode", "externalId": "externalId"} {
			if v := body.optionalString(invalid, param); v != nil {
				chatUser[field] = *v
			}
		}
		if len(chatUser) > 0 {
			input["chatUser"] = chatUser
		}
		if body.has("type") {
			input["channel"] = body.channel(invalid, inboundChannels, false)
		}
		if err := invalid.Err(); err != nil {
			return nil, err
		}
		data, err := x.run(map[string]any{"input": input})
		if err != nil {
			return nil, renameGraphQLFields(err, map[string]string{"chat_user.name": "name", "chat_user.email": "email",
				"chat_user.country_code": "countryCode", "chat_user.external_id": "externalId"})
		}
		var out struct {
			CreateConversation struct{ Conversation gqlConversation }
		}
		if err := json.Unmarshal(data, &out); err != nil {
			return nil, err
		}
		return conversationResponse{Success: true, Conversation: out.CreateConversation.Conversation.dto()}, nil
	},
}

// renameGraphQLFields renames the fields of a validation error that came
// back through GraphQL.
func renameGraphQLFields(err error, names map[string]string) error {
	ge, ok := err.(*graphQLError)
	if !ok || ge.e.Code != assistloop.EINVALID {
		return err
	}
	out := assistloop.Invalid()
	for f, ps := range ge.e.Fields {
		name := f
		if n, ok := names[f]; ok {
			name = n
		}
		spoken := strings.NewReplacer(".", " ", "_", " ").Replace(f)
		for _, p := range ps {
			p = strings.ReplaceAll(p, "The "+f+" ", "The "+attribute(name)+" ")
			out.Add(name, strings.ReplaceAll(p, "The "+spoken+" ", "The "+attribute(name)+" "))
		}
	}
	return out.Err()
}

// updateConversationRoute: PUT /conversations/{conversationId} with the
// reference's {"locationId","unreadCount","starred"} and our "status"
// (open/closed), "responseMode" (ai/human) and "assignedTo" (a user id;
// null unassigns): {"success":true,"conversation":…}.
var updateConversationRoute = &route{
	method:  http.MethodPut,
	pattern: "/conversations/{conversationId}",
	scope:   assistloop.ScopeWriteConversations,
	document: `mutation RestUpdateConversation($input: UpdateConversationInput!) {
  updateConversation(input: $input) { conversation { ...RestConversation } }
}` + conversationFields,
	serve: func(x *exchange) (any, error) {
		body, err := x.body()
		if err != nil {
			return nil, err
		}
		invalid := assistloop.Invalid()
		input := map[string]any{"conversationUuid": x.pathParam("conversationId"),
			"organizationUuid": body.requiredString(invalid, "locationId")}
		if v := body.optionalInt(invalid, "unreadCount"); v != nil {
			if *v < 0 || *v > assistloop.MaxUnreadCount {
				invalid.Add("unreadCount", "The unread count must be between 0 and 1000000.")
			} else {
				input["unreadCount"] = int(*v)
			}
		}
		if v := body.optionalBool(invalid, "starred"); v != nil {
			input["starred"] = *v
		}
		if v := body.optionalString(invalid, "status"); v != nil {
			if s, ok := openClosed[*v]; ok {
				input["status"] = s
			} else {
				invalid.Add("status", "The selected status is invalid.")
			}
		}
		if v := body.optionalString(invalid, "responseMode"); v != nil {
			if m, ok := modes[*v]; ok {
				input["responseMode"] = m
			} else {
				invalid.Add("responseMode", "The selected response mode is invalid.")
			}
		}
		if body.isNull("assignedTo") {
			input["assignedTo"] = ""
		} else if v := body.optionalString(invalid, "assignedTo"); v != nil {
			input["assignedTo"] = *v
		}
		if err := invalid.Err(); err != nil {
			return nil, err
		}
		var out struct {
			UpdateConversation struct{ Conversation gqlConversation }
		}
		if err := x.runInto(map[string]any{"input": input}, &out); err != nil {
			return nil, err
		}
		return conversationResponse{Success: true, Conversation: out.UpdateConversation.Conversation.dto()}, nil
	},
}

// deleteConversationRoute: DELETE /conversations/{conversationId}, a soft
// delete: {"success":true}; the conversation is then missing everywhere.
var deleteConversationRoute = &route{
	method:  http.MethodDelete,
	pattern: "/conversations/{conversationId}",
	scope:   assistloop.ScopeWriteConversations,
	document: `mutation RestDeleteConversation($uuid: ID!) {
  deleteConversation(input: {conversationUuid: $uuid}) { conversationUuid }
}`,
	serve: func(x *exchange) (any, error) {
		if _, err := x.run(map[string]any{"uuid": x.pathParam("conversationId")}); err != nil {
			return nil, err
		}
		return successResponse{Success: true}, nil
	},
}

type successResponse struct {
	Success bool `json:"success"`
}
