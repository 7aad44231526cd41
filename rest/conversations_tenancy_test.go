package rest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// TestConversationsAPICrossTenant: workspace B's token, with every scope,
// against every Conversations API route with workspace C's ids answers
// exactly like ids that do not exist, leaks nothing of C and changes
// nothing in C.
func TestConversationsAPICrossTenant(t *testing.T) {
	w, ws := convWorkspace(t)
	conv, contact := startConversation(t, w, ws, "Secret Customer", "secret@initech.example", "confidential words")
	convID, _ := assistloop.ParseUUID(conv)
	files := uploadedIDs(t, upload(t, w, ws.Token, ws.OrgID, conv, filePart{"fileAttachment", "secret.wav", "", wavBytes}))
	api := w.app.Services.ConversationsAPI
	call, err := api.AddInboundMessage(ws.as(), assistloop.InboundMessageInput{ConversationID: convID, Channel: assistloop.ChannelCall,
		AttachmentIDs: files, Transcription: []assistloop.TranscriptionSentence{{SentenceIndex: 1, EndTime: 5, Transcript: "secret", Confidence: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	sched, err := api.SendOutboundMessage(ws.as(), assistloop.OutboundMessageInput{ConversationID: &convID,
		Channel: assistloop.ChannelEmail, Content: "secret later", ScheduledAt: &later})
	if err != nil {
		t.Fatal(err)
	}
	before, err := api.FindAnyMessage(ws.as(), sched.ID)
	if err != nil {
		t.Fatal(err)
	}
	convBefore, err := w.app.Services.Conversations.FindConversation(ws.as(), convID)
	if err != nil {
		t.Fatal(err)
	}

	missingMsg := assistloop.MessagePublicID(uuid.New())
	type target struct{ foreign, missing string }
	tests := []struct {
		name, method, path, body string
		ids                      []target
		kind                     string
	}{
		{"get conversation", "GET", "/conversations/%s", "", []target{{conv, uuid.NewString()}}, "Conversation"},
		{"update conversation", "PUT", "/conversations/%s", `{"locationId":"` + w.B.OrgID + `","starred":true}`, []target{{conv, uuid.NewString()}}, "Conversation"},
		{"delete conversation", "DELETE", "/conversations/%s", "", []target{{conv, uuid.NewString()}}, "Conversation"},
		{"get message", "GET", "/conversations/messages/%s", "", []target{{call.PublicID(), missingMsg}}, "Message"},
		{"status", "PUT", "/conversations/messages/%s/status", `{"status":"read"}`, []target{{call.PublicID(), missingMsg}}, "Message"},
		{"cancel", "DELETE", "/conversations/messages/%s/schedule", "", []target{{sched.PublicID(), missingMsg}}, "Scheduled message"},
		{"cancel email", "DELETE", "/conversations/messages/email/%s/schedule", "", []target{{sched.PublicID(), missingMsg}}, "Scheduled email message"},
		{"outbound to a foreign conversation", "POST", "/conversations/messages", `{"type":"SMS","conversationId":"%s","message":"leak?"}`,
			[]target{{conv, uuid.NewString()}}, "Conversation"},
		{"outbound to a foreign contact", "POST", "/conversations/messages", `{"type":"SMS","contactId":"%s","message":"leak?"}`,
			[]target{{contact, "chu_00000000000000000000"}}, "Contact"},
		{"inbound", "POST", "/conversations/messages/inbound", `{"type":"SMS","conversationId":"%s","message":"leak?"}`,
			[]target{{conv, uuid.NewString()}}, "Conversation"},
		{"create in a foreign location", "POST", "/conversations/", `{"locationId":"%s","name":"x"}`,
			[]target{{ws.OrgID, "org_00000000000000000000"}}, "Location"},
		{"search a foreign location", "GET", "/conversations/search?locationId=%s&query=confidential", "",
			[]target{{ws.OrgID, "org_00000000000000000000"}}, "Location"},
		{"recording", "GET", "/conversations/messages/%s/locations/" + ws.OrgID + "/recording", "", []target{{call.PublicID(), missingMsg}}, "Message"},
		{"transcription", "GET", "/conversations/locations/" + ws.OrgID + "/messages/%s/transcription", "", []target{{call.PublicID(), missingMsg}}, "Message"},
		{"transcription download", "GET", "/conversations/locations/" + ws.OrgID + "/messages/%s/transcription/download", "",
			[]target{{call.PublicID(), missingMsg}}, "Message"},
		{"attachment", "GET", "/conversations/messages/attachments/%s", "", []target{{files[0], "att_00000000000000000000"}}, "Attachment"},
	}
	secrets := []string{ws.OrgID, ws.OrgName, conv, contact, "Secret Customer", "secret@initech.example", "confidential", ws.UserID, ws.AgentIDs[0]}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, id := range tt.ids {
				fill := func(s string) string { return strings.Replace(s, "%s", id.foreign, 1) }
				got := do(t, w.srv.URL, request{Method: tt.method, Path: "/v1" + fill(tt.path), Token: w.B.Token, Body: fill(tt.body)})
				fill = func(s string) string { return strings.Replace(s, "%s", id.missing, 1) }
				ref := do(t, w.srv.URL, request{Method: tt.method, Path: "/v1" + fill(tt.path), Token: w.B.Token, Body: fill(tt.body)})
				if got.Status != http.StatusNotFound {
					t.Fatalf("status %d, want 404: %s", got.Status, got.Body)
				}
				want := `{"error":"` + tt.kind + ` not found","message":"The requested ` + strings.ToLower(tt.kind) +
					` could not be found or you don't have access to it."}`
				if compact(t, got.Body) != want {
					t.Errorf("body %s, want %s", got.Body, want)
				}
				if ref.Status != got.Status || string(ref.Body) != string(got.Body) {
					t.Errorf("foreign: %d %s, missing: %d %s; they must be indistinguishable", got.Status, got.Body, ref.Status, ref.Body)
				}
				for _, s := range secrets {
					if contains(got.Body, s) {
						t.Errorf("the body leaks %q", s)
					}
				}
			}
		})
	}

	// Uploading into C's conversation from B, with B's location or C's.
	for _, org := range []string{w.B.OrgID, ws.OrgID} {
		r := upload(t, w, w.B.Token, org, conv, filePart{"fileAttachment", "x.png", "", pngBytes})
		if r.Status != http.StatusNotFound || !contains(r.Body, "Conversation not found") {
			t.Errorf("upload into a foreign conversation: %d %s", r.Status, r.Body)
		}
	}
	// B's search sees none of C's conversations.
	r := do(t, w.srv.URL, request{Path: "/v1/conversations/search?locationId=" + w.B.OrgID + "&query=confidential", Token: w.B.Token})
	if r.Status != 200 || !contains(r.Body, `"total":0`) {
		t.Errorf("B's search: %d %s", r.Status, r.Body)
	}

	after, err := api.FindAnyMessage(ws.as(), sched.ID)
	if err != nil {
		t.Fatal(err)
	}
	convAfter, err := w.app.Services.Conversations.FindConversation(ws.as(), convID)
	if err != nil {
		t.Fatal(err)
	}
	if after.CancelledAt != nil || *after.Status != *before.Status || convAfter.Starred || !convAfter.UpdatedAt.Equal(convBefore.UpdatedAt) {
		t.Errorf("workspace C changed: message %v → %v, conversation starred %v, updated %v → %v",
			*before.Status, *after.Status, convAfter.Starred, convBefore.UpdatedAt, convAfter.UpdatedAt)
	}
	if ms, _ := w.app.Services.Messages.ListMessages(ws.as(), assistloop.MessageFilter{ConversationID: convID}, assistloop.Page{First: 100}); len(ms.Messages) != 2 {
		t.Errorf("C's conversation has %d messages, want its 2", len(ms.Messages))
	}
}

// TestDeletedConversationDisappears: after DELETE, the conversation is
// missing from every route (the Conversations API and the Make routes),
// its scheduled messages are cancelled and its attachments unreachable.
func TestDeletedConversationDisappears(t *testing.T) {
	w, ws := convWorkspace(t)
	conv, contact := startConversation(t, w, ws, "Doomed Customer", "", "doomed unique word zebrafish")
	convID, _ := assistloop.ParseUUID(conv)
	files := uploadedIDs(t, upload(t, w, ws.Token, ws.OrgID, conv, filePart{"fileAttachment", "doc.pdf", "", pdfBytes}))
	api := w.app.Services.ConversationsAPI
	later := time.Now().Add(time.Hour)
	sched, err := api.SendOutboundMessage(ws.as(), assistloop.OutboundMessageInput{ConversationID: &convID,
		Channel: assistloop.ChannelLiveChat, Content: "later", ScheduledAt: &later, AttachmentIDs: files})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := w.app.Services.Messages.ListMessages(ws.as(), assistloop.MessageFilter{ConversationID: convID}, assistloop.Page{First: 10})
	if err != nil || len(msgs.Messages) != 1 {
		t.Fatalf("messages before: %v %v (the scheduled one must not be listed)", msgs, err)
	}
	first := msgs.Messages[0].PublicID()

	if r := do(t, w.srv.URL, request{Method: "DELETE", Path: "/v1/conversations/" + conv, Token: ws.Token}); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := do(t, w.srv.URL, request{Method: "DELETE", Path: "/v1/conversations/" + conv, Token: ws.Token}); r.Status != 404 {
		t.Errorf("deleting again: %d, want 404", r.Status)
	}
	gone := []request{
		{Path: "/v1/conversations/" + conv},
		{Method: "PUT", Path: "/v1/conversations/" + conv, Body: `{"locationId":"` + ws.OrgID + `","starred":true}`},
		{Path: "/v1/conversations/messages/" + first},
		{Path: "/v1/conversations/messages/" + sched.PublicID()},
		{Method: "POST", Path: "/v1/conversations/messages/inbound", Body: `{"type":"SMS","conversationId":"` + conv + `","message":"x"}`},
		{Method: "POST", Path: "/v1/conversations/messages", Body: `{"type":"SMS","conversationId":"` + conv + `","message":"x"}`},
		{Method: "POST", Path: "/v1/conversations/messages", Body: `{"type":"SMS","contactId":"` + contact + `","message":"x"}`},
		{Path: "/v1/conversations/messages/attachments/" + files[0]},
		{Path: "/v1/automation/conversations/" + conv + "/messages/find"},
		{Method: "POST", Path: "/v1/automation/conversations/" + conv + "/reply", Body: `{"content":"x"}`},
		{Method: "POST", Path: "/v1/automation/conversations/" + conv + "/close", Body: `{"platform":"make"}`},
	}
	for _, req := range gone {
		req.Token = ws.Token
		if r := do(t, w.srv.URL, req); r.Status != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404: %s", req.Method, req.Path, r.Status, r.Body)
		}
	}
	for _, path := range []string{
		"/v1/conversations/search?locationId=" + ws.OrgID + "&query=zebrafish",
		"/v1/conversations/search?locationId=" + ws.OrgID + "&contactId=" + contact,
		"/v1/automation/agents/" + ws.AgentIDs[0] + "/conversations/list?per_page=100",
		"/v1/automation/agents/" + ws.AgentIDs[0] + "/conversations/recent-sample?limit=10",
	} {
		r := do(t, w.srv.URL, request{Path: path, Token: ws.Token})
		if r.Status != 200 || contains(r.Body, conv) {
			t.Errorf("%s: %d, still shows the deleted conversation: %s", path, r.Status, r.Body)
		}
	}
	var cancelled int
	if err := w.db.NewRaw("SELECT count(*) FROM messages WHERE id = ? AND cancelled_at IS NOT NULL AND status = 'cancelled'", sched.ID).
		Scan(context.Background(), &cancelled); err != nil || cancelled != 1 {
		t.Errorf("the scheduled message was not cancelled: %d %v", cancelled, err)
	}
}
