package rest_test

import (
	"strconv"
	"testing"
	"time"
)

// TestConversationsAPIGolden pins the documented shape of every
// Conversations API route, in the order an integration would use them.
func TestConversationsAPIGolden(t *testing.T) {
	w, ws := convWorkspace(t)
	conv, contact := startConversation(t, w, ws, "Jane Doe", "jane@initech.example", "My stapler is broken")
	tok := ws.Token

	step := func(name string, req request, status int) *response {
		t.Helper()
		req.Token = tok
		r := do(t, w.srv.URL, req)
		if r.Status != status {
			t.Fatalf("%s: status %d, want %d: %s", name, r.Status, status, r.Body)
		}
		checkConvGolden(t, "conv_"+name, r.Body)
		return r
	}

	step("search", request{Path: "/v1/conversations/search?locationId=" + ws.OrgID + "&query=stapler"}, 200)
	step("get", request{Path: "/v1/conversations/" + conv}, 200)
	step("create_with_message", request{Method: "POST", Path: "/v1/conversations/", Body: jsonBody(t, map[string]any{
		"locationId": ws.OrgID, "name": "Peter Gibbons", "email": "peter@initech.example", "message": "TPS reports?"})}, 201)
	step("create_for_contact", request{Method: "POST", Path: "/v1/conversations/", Body: jsonBody(t, map[string]any{
		"locationId": ws.OrgID, "contactId": contact, "agentId": ws.AgentIDs[1]})}, 201)
	step("update", request{Method: "PUT", Path: "/v1/conversations/" + conv, Body: jsonBody(t, map[string]any{
		"locationId": ws.OrgID, "starred": true, "unreadCount": 0, "assignedTo": convMember.UserID, "status": "closed"})}, 200)

	body, ct := multipartBody(t, map[string]string{"locationId": ws.OrgID, "conversationId": conv},
		filePart{"fileAttachment", "call.wav", "audio/wav", wavBytes}, filePart{"fileAttachment", "photo.png", "", pngBytes})
	up := step("upload", request{Method: "POST", Path: "/v1/conversations/messages/upload", Body: body, ContentType: ct}, 200)
	files := uploadedIDs(t, up)

	in := step("inbound", request{Method: "POST", Path: "/v1/conversations/messages/inbound", Body: jsonBody(t, map[string]any{
		"type": "Call", "conversationId": conv, "contactId": contact, "conversationProviderId": "ignored",
		"attachments": []string{w.srv.URL + "/v1/conversations/messages/attachments/" + files[0]},
		"transcription": []map[string]any{
			{"mediaChannel": 1, "sentenceIndex": 1, "startTime": 0, "endTime": 1200, "transcript": "Hello, Initech.", "confidence": 0.9},
			{"mediaChannel": 2, "sentenceIndex": 2, "startTime": 1300, "endTime": 2500, "transcript": "My stapler is gone.", "confidence": 0.8},
		}})}, 200)
	var inbound struct{ MessageID string }
	in.json(t, &inbound)

	out := step("outbound", request{Method: "POST", Path: "/v1/conversations/messages", Body: jsonBody(t, map[string]any{
		"type": "Live_Chat", "contactId": contact, "conversationId": conv, "message": "We found it in the basement.",
		"attachments": []string{files[1]}})}, 200)
	var sent struct{ MessageID string }
	out.json(t, &sent)
	byID := step("get_message", request{Path: "/v1/conversations/messages/" + sent.MessageID}, 200)
	var got struct{ UUID string }
	byID.json(t, &got)
	if byUUID := do(t, w.srv.URL, request{Path: "/v1/conversations/messages/" + got.UUID, Token: tok}); string(byUUID.Body) != string(byID.Body) {
		t.Errorf("a message by its UUID: %s, by its id: %s", byUUID.Body, byID.Body)
	}
	step("get_inbound_message", request{Path: "/v1/conversations/messages/" + inbound.MessageID}, 200)

	email := step("outbound_email", request{Method: "POST", Path: "/v1/conversations/messages", Body: jsonBody(t, map[string]any{
		"type": "Email", "contactId": contact, "message": "Your ticket is closed."})}, 200)
	var em struct{ MessageID string }
	email.json(t, &em)
	step("status_failed", request{Method: "PUT", Path: "/v1/conversations/messages/" + em.MessageID + "/status", Body: jsonBody(t, map[string]any{
		"status": "failed", "error": map[string]any{"code": "550", "type": "smtp", "message": "Mailbox unavailable"}})}, 200)
	step("get_failed_message", request{Path: "/v1/conversations/messages/" + em.MessageID}, 200)

	later := time.Now().Add(time.Hour).Unix()
	sch := step("outbound_scheduled", request{Method: "POST", Path: "/v1/conversations/messages", Body: jsonBody(t, map[string]any{
		"type": "Email", "contactId": contact, "conversationId": conv, "message": "Reminder", "scheduledTimestamp": later})}, 200)
	var scheduled struct{ MessageID, EmailMessageID string }
	sch.json(t, &scheduled)
	step("get_scheduled_message", request{Path: "/v1/conversations/messages/" + scheduled.MessageID}, 200)
	step("cancel_email_schedule", request{Method: "DELETE", Path: "/v1/conversations/messages/email/" + scheduled.EmailMessageID + "/schedule"}, 200)
	sch2 := step("outbound_scheduled_chat", request{Method: "POST", Path: "/v1/conversations/messages", Body: jsonBody(t, map[string]any{
		"type": "Live_Chat", "conversationId": conv, "message": "Later", "scheduledTimestamp": strconv.FormatInt(later, 10)})}, 200)
	var scheduled2 struct{ MessageID string }
	sch2.json(t, &scheduled2)
	step("cancel_schedule", request{Method: "DELETE", Path: "/v1/conversations/messages/" + scheduled2.MessageID + "/schedule"}, 200)

	tr := "/v1/conversations/locations/" + ws.OrgID + "/messages/" + inbound.MessageID + "/transcription"
	step("transcription", request{Path: tr}, 200)
	dl := rawGet(t, w, tok, tr+"/download")
	if dl.Status != 200 || string(dl.Body) != "Hello, Initech.\nMy stapler is gone.\n" ||
		dl.Header.Get("Content-Type") != "text/plain; charset=utf-8" || dl.Header.Get("Content-Disposition") != `attachment; filename="transcription.txt"` {
		t.Errorf("transcription download: %d %q %v", dl.Status, dl.Body, dl.Header)
	}
	rec := rawGet(t, w, tok, "/v1/conversations/messages/"+inbound.MessageID+"/locations/"+ws.OrgID+"/recording")
	if rec.Status != 200 || string(rec.Body) != string(wavBytes) || rec.Header.Get("Content-Type") != "audio/wave" ||
		rec.Header.Get("Content-Disposition") != `attachment; filename=call.wav` || rec.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("recording: %d %v", rec.Status, rec.Header)
	}
	step("search_after_messages", request{Path: "/v1/conversations/search?locationId=" + ws.OrgID + "&contactId=" + contact}, 200)
	step("delete", request{Method: "DELETE", Path: "/v1/conversations/" + conv}, 200)
	step("get_deleted", request{Path: "/v1/conversations/" + conv}, 404)
}
