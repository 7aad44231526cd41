package rest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// convRouteScopes is the scope of each Conversations API route (contract
// §4 and the lead's table): reads of conversations need
// read:conversations, reads of messages and files read:messages, every
// change write:conversations.
var convRouteScopes = map[string]assistloop.Scope{
	"GET /conversations/search":                                                             assistloop.ScopeReadConversations,
	"GET /conversations/{conversationId}":                                                   assistloop.ScopeReadConversations,
	"POST /conversations/":                                                                  assistloop.ScopeWriteConversations,
	"PUT /conversations/{conversationId}":                                                   assistloop.ScopeWriteConversations,
	"DELETE /conversations/{conversationId}":                                                assistloop.ScopeWriteConversations,
	"GET /conversations/messages/{messageId}":                                               assistloop.ScopeReadMessages,
	"POST /conversations/messages":                                                          assistloop.ScopeWriteConversations,
	"POST /conversations/messages/inbound":                                                  assistloop.ScopeWriteConversations,
	"POST /conversations/messages/upload":                                                   assistloop.ScopeWriteConversations,
	"PUT /conversations/messages/{messageId}/status":                                        assistloop.ScopeWriteConversations,
	"DELETE /conversations/messages/{messageId}/schedule":                                   assistloop.ScopeWriteConversations,
	"DELETE /conversations/messages/email/{emailMessageId}/schedule":                        assistloop.ScopeWriteConversations,
	"GET /conversations/messages/{messageId}/locations/{locationId}/recording":              assistloop.ScopeReadMessages,
	"GET /conversations/locations/{locationId}/messages/{messageId}/transcription":          assistloop.ScopeReadMessages,
	"GET /conversations/locations/{locationId}/messages/{messageId}/transcription/download": assistloop.ScopeReadMessages,
	"GET /conversations/messages/attachments/{attachmentId}":                                assistloop.ScopeReadMessages,
}

// convFixture is what a valid call of every Conversations API route needs,
// in workspace B.
type convFixture struct {
	conv, contact, doomed string
	call, email, chat     string // messages: an inbound call (with a recording and transcript), scheduled email, scheduled chat
	attachment            string
}

func newConvFixture(t *testing.T, w *world) convFixture {
	t.Helper()
	var f convFixture
	conv, _, err := w.app.Services.Conversations.StartConversation(w.B.as(), assistloop.StartConversationInput{
		AgentID: w.B.AgentIDs[0], Content: "scoped conversation"})
	if err != nil {
		t.Fatal(err)
	}
	f.conv, f.contact = conv.ID.String(), *conv.ChatUserID
	doomed, _, err := w.app.Services.Conversations.StartConversation(w.B.as(), assistloop.StartConversationInput{
		AgentID: w.B.AgentIDs[0], Content: "to delete"})
	if err != nil {
		t.Fatal(err)
	}
	f.doomed = doomed.ID.String()
	ids := uploadedIDs(t, upload(t, w, w.B.Token, w.B.OrgID, f.conv,
		filePart{"fileAttachment", "call.wav", "", wavBytes}, filePart{"fileAttachment", "doc.pdf", "", pdfBytes}))
	f.attachment = ids[1]
	api := w.app.Services.ConversationsAPI
	m, err := api.AddInboundMessage(w.B.as(), assistloop.InboundMessageInput{ConversationID: conv.ID, Channel: assistloop.ChannelCall,
		AttachmentIDs: ids[:1], Transcription: []assistloop.TranscriptionSentence{{SentenceIndex: 1, EndTime: 10, Transcript: "hi", Confidence: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	f.call = m.PublicID()
	later := time.Now().Add(time.Hour)
	for _, c := range []struct {
		dst     *string
		channel assistloop.MessageChannel
	}{{&f.email, assistloop.ChannelEmail}, {&f.chat, assistloop.ChannelLiveChat}} {
		m, err := api.SendOutboundMessage(w.B.as(), assistloop.OutboundMessageInput{ConversationID: &conv.ID, Channel: c.channel,
			Content: "later", ScheduledAt: &later})
		if err != nil {
			t.Fatal(err)
		}
		*c.dst = m.PublicID()
	}
	return f
}

// convRouteCalls is a valid call of each Conversations API route.
func convRouteCalls(t *testing.T, w *world) map[string]request {
	t.Helper()
	f := newConvFixture(t, w)
	body, ct := multipartBody(t, map[string]string{"locationId": w.B.OrgID, "conversationId": f.conv},
		filePart{"fileAttachment", "a.png", "", pngBytes})
	loc := "/v1/conversations/locations/" + w.B.OrgID + "/messages/" + f.call + "/transcription"
	return map[string]request{
		"GET /conversations/search":               {Path: "/v1/conversations/search?locationId=" + w.B.OrgID},
		"GET /conversations/{conversationId}":     {Path: "/v1/conversations/" + f.conv},
		"POST /conversations/":                    {Method: "POST", Path: "/v1/conversations/", Body: `{"locationId":"` + w.B.OrgID + `","name":"Scope"}`},
		"PUT /conversations/{conversationId}":     {Method: "PUT", Path: "/v1/conversations/" + f.conv, Body: `{"locationId":"` + w.B.OrgID + `","starred":true}`},
		"DELETE /conversations/{conversationId}":  {Method: "DELETE", Path: "/v1/conversations/" + f.doomed},
		"GET /conversations/messages/{messageId}": {Path: "/v1/conversations/messages/" + f.call},
		"POST /conversations/messages": {Method: "POST", Path: "/v1/conversations/messages",
			Body: `{"type":"Live_Chat","conversationId":"` + f.conv + `","message":"scoped"}`},
		"POST /conversations/messages/inbound": {Method: "POST", Path: "/v1/conversations/messages/inbound",
			Body: `{"type":"SMS","conversationId":"` + f.conv + `","message":"scoped"}`},
		"POST /conversations/messages/upload": {Method: "POST", Path: "/v1/conversations/messages/upload", Body: body, ContentType: ct},
		"PUT /conversations/messages/{messageId}/status": {Method: "PUT", Path: "/v1/conversations/messages/" + f.call + "/status",
			Body: `{"status":"read"}`},
		"DELETE /conversations/messages/{messageId}/schedule": {Method: "DELETE", Path: "/v1/conversations/messages/" + f.chat + "/schedule"},
		"DELETE /conversations/messages/email/{emailMessageId}/schedule": {Method: "DELETE",
			Path: "/v1/conversations/messages/email/" + f.email + "/schedule"},
		"GET /conversations/messages/{messageId}/locations/{locationId}/recording": {
			Path: "/v1/conversations/messages/" + f.call + "/locations/" + w.B.OrgID + "/recording"},
		"GET /conversations/locations/{locationId}/messages/{messageId}/transcription":          {Path: loc},
		"GET /conversations/locations/{locationId}/messages/{messageId}/transcription/download": {Path: loc + "/download"},
		"GET /conversations/messages/attachments/{attachmentId}":                                {Path: "/v1/conversations/messages/attachments/" + f.attachment},
	}
}

// convDocumentVars are variables for each route's document (whether they
// name anything does not matter: the scope is checked first).
func convDocumentVars(w *world, conv string) map[string]map[string]any {
	msg := "msg_00000000000000000000000000000000"
	return map[string]map[string]any{
		"GET /conversations/search":               {"input": map[string]any{"organizationUuid": w.B.OrgID}, "first": 10},
		"GET /conversations/{conversationId}":     {"uuid": conv},
		"POST /conversations/":                    {"input": map[string]any{"organizationUuid": w.B.OrgID}},
		"PUT /conversations/{conversationId}":     {"input": map[string]any{"conversationUuid": conv}},
		"DELETE /conversations/{conversationId}":  {"uuid": conv},
		"GET /conversations/messages/{messageId}": {"id": msg},
		"POST /conversations/messages":            {"input": map[string]any{"conversationUuid": conv, "channel": "LIVE_CHAT", "content": "x"}},
		"POST /conversations/messages/inbound":    {"input": map[string]any{"conversationUuid": conv, "channel": "SMS", "content": "x"}},
		"POST /conversations/messages/upload": {"input": map[string]any{"organizationUuid": w.B.OrgID, "conversationUuid": conv,
			"file": graphql.Upload{File: strings.NewReader("x"), Filename: "x.txt"}}},
		"PUT /conversations/messages/{messageId}/status":                                        {"input": map[string]any{"messageId": msg, "status": "read"}},
		"DELETE /conversations/messages/{messageId}/schedule":                                   {"id": msg, "emailOnly": false},
		"DELETE /conversations/messages/email/{emailMessageId}/schedule":                        {"id": msg, "emailOnly": true},
		"GET /conversations/messages/{messageId}/locations/{locationId}/recording":              {"id": msg, "org": w.B.OrgID},
		"GET /conversations/locations/{locationId}/messages/{messageId}/transcription":          {"id": msg, "org": w.B.OrgID},
		"GET /conversations/locations/{locationId}/messages/{messageId}/transcription/download": {"id": msg, "org": w.B.OrgID},
		"GET /conversations/messages/attachments/{attachmentId}":                                {"id": "att_missing"},
	}
}

// oauthToken signs workspace C's user in through the real authorization
// code flow, asking for scope (alias names welcome), and returns the
// access token and the scope the token endpoint granted.
func oauthToken(t *testing.T, w *world, scope string) (string, string) {
	t.Helper()
	redirect := "https://client.example/cb"
	client, secret, err := w.app.Clients.CreateClient(context.Background(), assistloop.CreateClientInput{
		Name: "Conversations integration", RedirectURIs: []string{redirect}})
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authz, _ := json.Marshal(map[string]string{"response_type": "code", "client_id": client.ID, "redirect_uri": redirect,
		"scope": scope, "state": "s1", "email": "bill@initech.example", "password": "initech-password"})
	resp, err := noRedirect.Post(w.srv.URL+"/api/v1/oauth/authorize", "application/json", strings.NewReader(string(authz)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	exchange, _ := json.Marshal(map[string]string{"grant_type": "authorization_code", "code": loc.Query().Get("code"),
		"redirect_uri": redirect, "client_id": client.ID, "client_secret": secret})
	resp, err = http.Post(w.srv.URL+"/oauth/token", "application/json", strings.NewReader(string(exchange)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken, tok.Scope
}

// TestConversationsAPIScopeAliases: a token obtained through the real OAuth
// flow with the reference's scope names conversations.readonly and
// conversations/message.write works on the matching routes and gets 403
// on the others.
func TestConversationsAPIScopeAliases(t *testing.T) {
	w, ws := convWorkspace(t)
	token, granted := oauthToken(t, w, "conversations.readonly conversations/message.write")
	if granted != "read:conversations write:conversations" {
		t.Errorf("granted scope %q, want the aliases resolved to read:conversations write:conversations", granted)
	}
	conv, contact := startConversation(t, w, ws, "Alias Customer", "", "aliases")
	m, err := w.app.Services.ConversationsAPI.SendOutboundMessage(ws.as(), assistloop.OutboundMessageInput{
		ChatUserID: &contact, Channel: assistloop.ChannelSMS, Content: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		req    request
		status int
	}{
		{request{Path: "/v1/conversations/search?locationId=" + ws.OrgID}, 200},
		{request{Path: "/v1/conversations/" + conv}, 200},
		{request{Method: "POST", Path: "/v1/conversations/messages", Body: `{"type":"SMS","contactId":"` + contact + `","message":"hi"}`}, 200},
		{request{Method: "PUT", Path: "/v1/conversations/messages/" + m.PublicID() + "/status", Body: `{"status":"delivered"}`}, 200},
		{request{Method: "PUT", Path: "/v1/conversations/" + conv, Body: `{"locationId":"` + ws.OrgID + `","starred":true}`}, 200},
		// Reading messages needs conversations/message.readonly.
		{request{Path: "/v1/conversations/messages/" + m.PublicID()}, 403},
		{request{Path: "/v1/conversations/locations/" + ws.OrgID + "/messages/" + m.PublicID() + "/transcription"}, 403},
		{request{Path: "/v1/automation/conversations/" + conv + "/messages/find"}, 403},
		{request{Method: "POST", Path: "/v1/webhooks/subscribe", Body: `{}`}, 403},
	}
	for _, tt := range tests {
		tt.req.Token = token
		r := do(t, w.srv.URL, tt.req)
		if r.Status != tt.status {
			t.Errorf("%s %s: %d, want %d: %s", tt.req.Method, tt.req.Path, r.Status, tt.status, r.Body)
		}
	}
}
