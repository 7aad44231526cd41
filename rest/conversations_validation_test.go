package rest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// TestConversationsAPIValidation is the table of bad input of the
// Conversations API: each gets its 4xx with the contract's error body,
// field by field.
func TestConversationsAPIValidation(t *testing.T) {
	w, ws := convWorkspace(t)
	conv, contact := startConversation(t, w, ws, "Validation Customer", "", "validate me")
	sent, err := w.app.Services.ConversationsAPI.SendOutboundMessage(ws.as(), assistloop.OutboundMessageInput{
		ChatUserID: &contact, Channel: assistloop.ChannelLiveChat, Content: "sent"})
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	pending, err := w.app.Services.ConversationsAPI.SendOutboundMessage(ws.as(), assistloop.OutboundMessageInput{
		ChatUserID: &contact, Channel: assistloop.ChannelLiveChat, Content: "pending", ScheduledAt: &later})
	if err != nil {
		t.Fatal(err)
	}
	search := "/v1/conversations/search?locationId=" + ws.OrgID
	put := "/v1/conversations/" + conv
	msgs := "/v1/conversations/messages"
	status := "/v1/conversations/messages/" + sent.PublicID() + "/status"
	tooLong := strings.Repeat("é", assistloop.MaxContentLength+1)
	loc := `"locationId":"` + ws.OrgID + `"`

	tests := []struct {
		name, method, path, body, contentType string
		status                                int
		want                                  string
	}{
		// Search.
		{"search without location", "GET", "/v1/conversations/search", "", "", 422, invalid("locationId", "The location id field is required.")},
		{"search limit 0", "GET", search + "&limit=0", "", "", 422, invalid("limit", "The limit must be between 1 and 100.")},
		{"search limit 101", "GET", search + "&limit=101", "", "", 422, invalid("limit", "The limit must be between 1 and 100.")},
		{"search limit text", "GET", search + "&limit=ten", "", "", 422, invalid("limit", "The limit must be an integer.")},
		{"search status", "GET", search + "&status=archived", "", "", 422, invalid("status", "The selected status is invalid.")},
		{"search sort", "GET", search + "&sort=up", "", "", 422, invalid("sort", "The selected sort is invalid.")},
		{"search sortBy", "GET", search + "&sortBy=name", "", "", 422, invalid("sortBy", "The selected sort by is invalid.")},
		{"search sortBy unsupported", "GET", search + "&sortBy=score_profile", "", "", 422, invalid("sortBy", "The sort by score_profile is not supported.")},
		{"search relevance without query", "GET", search + "&sortBy=relevance", "", "", 422, invalid("sortBy", "Sorting by relevance needs a query.")},
		{"search responseMode", "GET", search + "&responseMode=robot", "", "", 422, invalid("responseMode", "The selected response mode is invalid.")},
		{"search startAfterDate", "GET", search + "&startAfterDate=yesterday", "", "", 422,
			invalid("startAfterDate", "The start after date must be a time in milliseconds since the epoch (or an ISO 8601 date).")},
		{"search dates reversed", "GET", search + "&dateAddedFrom=2024-11-12&dateAddedTo=2024-11-11", "", "", 422,
			invalid("dateAddedTo", "The date added to must be a date after or equal to date added from.")},
		{"search bad date", "GET", search + "&dateAddedFrom=2024-13-01", "", "", 422, invalid("dateAddedFrom", "The date added from is not a valid date.")},
		{"search query too long", "GET", search + "&query=" + strings.Repeat("a", 501), "", "", 422, invalid("query", "The query may not be greater than 500 characters.")},
		{"search cursor", "GET", search + "&cursor=%21%21", "", "", 422, invalid("cursor", "The cursor is malformed.")},
		// Create.
		{"create without location", "POST", "/v1/conversations/", `{}`, "", 422, invalid("locationId", "The location id field is required.")},
		{"create blank message", "POST", "/v1/conversations/", `{` + loc + `,"message":"  "}`, "", 422, invalid("message", "The message field is required.")},
		{"create message too long", "POST", "/v1/conversations/", `{` + loc + `,"message":"` + tooLong + `"}`, "", 422,
			invalid("message", "The message may not be greater than 10000 characters.")},
		{"create contact and new contact", "POST", "/v1/conversations/", `{` + loc + `,"contactId":"` + contact + `","name":"X"}`, "", 422,
			invalid("contactId", "The contact id cannot be combined with the fields of a new contact.")},
		{"create bad email", "POST", "/v1/conversations/", `{` + loc + `,"email":"nope"}`, "", 422,
			invalid("email", "The email must be a valid email address.")},
		{"create type", "POST", "/v1/conversations/", `{` + loc + `,"type":"Pigeon"}`, "", 422, invalid("type", "The selected type is invalid.")},
		{"create name not a string", "POST", "/v1/conversations/", `{` + loc + `,"name":5}`, "", 422, invalid("name", "The name must be a string.")},
		// Update.
		{"update without location", "PUT", put, `{"starred":true}`, "", 422, invalid("locationId", "The location id field is required.")},
		{"update unreadCount negative", "PUT", put, `{` + loc + `,"unreadCount":-1}`, "", 422, invalid("unreadCount", "The unread count must be between 0 and 1000000.")},
		{"update unreadCount text", "PUT", put, `{` + loc + `,"unreadCount":"many"}`, "", 422, invalid("unreadCount", "The unread count must be an integer.")},
		{"update starred text", "PUT", put, `{` + loc + `,"starred":"yes"}`, "", 422, invalid("starred", "The starred field must be true or false.")},
		{"update status", "PUT", put, `{` + loc + `,"status":"archived"}`, "", 422, invalid("status", "The selected status is invalid.")},
		{"update responseMode", "PUT", put, `{` + loc + `,"responseMode":"robot"}`, "", 422, invalid("responseMode", "The selected response mode is invalid.")},
		{"update assignee outside", "PUT", put, `{` + loc + `,"assignedTo":"` + w.B.UserID + `"}`, "", 422,
			invalid("assignedTo", "The assigned to must be a user of the location.")},
		// Outbound.
		{"send without type", "POST", msgs, `{"contactId":"` + contact + `","message":"x"}`, "", 422, invalid("type", "The type field is required.")},
		{"send type", "POST", msgs, `{"type":"Fax","contactId":"` + contact + `","message":"x"}`, "", 422, invalid("type", "The selected type is invalid.")},
		{"send inbound-only type", "POST", msgs, `{"type":"Call","contactId":"` + contact + `","message":"x"}`, "", 422, invalid("type", "The selected type is invalid.")},
		{"send without contact", "POST", msgs, `{"type":"SMS","message":"x"}`, "", 422, invalid("contactId", "The contact id field is required.")},
		{"send without message", "POST", msgs, `{"type":"SMS","contactId":"` + contact + `"}`, "", 422, invalid("message", "The message field is required.")},
		{"send message too long", "POST", msgs, `{"type":"SMS","contactId":"` + contact + `","message":"` + tooLong + `"}`, "", 422,
			invalid("message", "The message may not be greater than 10000 characters.")},
		{"send attachments not a list", "POST", msgs, `{"type":"SMS","contactId":"` + contact + `","attachments":"a"}`, "", 422,
			invalid("attachments", "The attachments must be an array of strings.")},
		{"send attachment not an upload", "POST", msgs, `{"type":"SMS","contactId":"` + contact + `","attachments":["https://evil.example/x.png"]}`, "", 422,
			invalid("attachments", "Each attachment must be the URL (or id) of an uploaded file.")},
		{"send attachment unknown", "POST", msgs, `{"type":"SMS","contactId":"` + contact + `","attachments":["att_00000000000000000000"]}`, "", 422,
			invalid("attachments", "Each attachment must be a file uploaded for this conversation and not used by another message.")},
		{"send scheduledTimestamp text", "POST", msgs, `{"type":"SMS","contactId":"` + contact + `","message":"x","scheduledTimestamp":"soon"}`, "", 422,
			invalid("scheduledTimestamp", "The scheduled timestamp must be an integer.")},
		{"send scheduledTimestamp too far", "POST", msgs, `{"type":"SMS","contactId":"` + contact + `","message":"x","scheduledTimestamp":4102444800}`, "", 422,
			invalid("scheduledTimestamp", "The scheduled timestamp may not be more than a year ahead.")},
		{"send contact of another conversation", "POST", msgs, `{"type":"SMS","conversationId":"` + conv + `","contactId":"chu_other","message":"x"}`, "", 422,
			invalid("contactId", "The contact is not the conversation's contact.")},
		// Inbound.
		{"inbound without conversation", "POST", msgs + "/inbound", `{"type":"SMS","message":"x"}`, "", 422,
			invalid("conversationId", "The conversation id field is required.")},
		{"inbound transcription shape", "POST", msgs + "/inbound", `{"type":"Call","conversationId":"` + conv + `","transcription":{"a":1}}`, "", 422,
			invalid("transcription", "The transcription has the wrong shape.")},
		{"inbound transcription times", "POST", msgs + "/inbound", `{"type":"Call","conversationId":"` + conv +
			`","transcription":[{"sentenceIndex":1,"startTime":5,"endTime":1,"transcript":"x","confidence":0.5}]}`, "", 422,
			invalid("transcription", "Each sentence must end at or after its start, at or after 0.")},
		// Status.
		{"status missing", "PUT", status, `{}`, "", 422, invalid("status", "The status field is required.")},
		{"status unknown", "PUT", status, `{"status":"lost"}`, "", 422, invalid("status", "The selected status is invalid.")},
		{"status error shape", "PUT", status, `{"status":"failed","error":"boom"}`, "", 422, invalid("error", "The error has the wrong shape.")},
		{"status of a scheduled message", "PUT", "/v1/conversations/messages/" + pending.PublicID() + "/status", `{"status":"read"}`, "", 409,
			`{"error":"Conflict","message":"The message is scheduled and has not been sent yet."}`},
		{"cancel a sent message", "DELETE", "/v1/conversations/messages/" + sent.PublicID() + "/schedule", "", "", 404,
			`{"error":"Scheduled message not found","message":"The requested scheduled message could not be found or you don't have access to it."}`},
		{"cancel a chat message as an email", "DELETE", "/v1/conversations/messages/email/" + pending.PublicID() + "/schedule", "", "", 404,
			`{"error":"Scheduled email message not found","message":"The requested scheduled email message could not be found or you don't have access to it."}`},
		// Bodies the API cannot read.
		{"malformed JSON", "POST", msgs, `{"type":`, "", 400, `{"error":"Bad request","message":"The request body is not valid JSON."}`},
		{"JSON array", "PUT", put, `[1]`, "", 400, `{"error":"Bad request","message":"The request body must be a JSON object."}`},
		{"unsupported media type", "POST", msgs + "/inbound", `x`, "text/plain", 415,
			`{"error":"Unsupported media type","message":"The request body must be JSON (application/json) or a form (application/x-www-form-urlencoded)."}`},
		{"body above 64 KiB", "POST", msgs, `{"message":"` + strings.Repeat("a", 70<<10) + `"}`, "", 413,
			`{"error":"Payload too large","message":"The request body may not be larger than 64 KiB."}`},
		{"upload not multipart", "POST", msgs + "/upload", `{}`, "", 415,
			`{"error":"Unsupported media type","message":"The request body must be multipart/form-data."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, w.srv.URL, request{Method: tt.method, Path: tt.path, Token: ws.Token, Body: tt.body, ContentType: tt.contentType})
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if got := compact(t, r.Body); got != tt.want {
				t.Errorf("body\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
