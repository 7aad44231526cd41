package assistloop

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestParseScopes(t *testing.T) {
	got, unknown := ParseScopes("read:messages conversations.readonly conversations/message.write conversations.write bogus read:messages")
	want := []Scope{ScopeReadMessages, ScopeReadConversations, ScopeWriteConversations}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(unknown, []string{"bogus"}) {
		t.Errorf("ParseScopes = %v, %v", got, unknown)
	}
	if s := FormatScopes([]Scope{ScopeWriteConversations, ScopeReadConversations}); s != "read:conversations write:conversations" {
		t.Errorf("FormatScopes = %q", s)
	}
}

func TestMessageIDs(t *testing.T) {
	id := uuid.MustParse("660e8400-e29b-41d4-a716-446655440002")
	if got := MessagePublicID(id); got != "msg_660e8400e29b41d4a716446655440002" {
		t.Errorf("public id = %q", got)
	}
	for in, ok := range map[string]bool{
		"msg_660e8400e29b41d4a716446655440002": true,
		"660e8400-e29b-41d4-a716-446655440002": true,
		"msg_660e8400":                         false,
		"msg_zz0e8400e29b41d4a716446655440002": false,
		"660e8400e29b41d4a716446655440002":     false,
		"":                                     false,
	} {
		got, parsed := ParseMessageID(in)
		if parsed != ok || (ok && got != id) {
			t.Errorf("ParseMessageID(%q) = %v, %v", in, got, parsed)
		}
	}
}

func TestErrors(t *testing.T) {
	err := Invalid().Add("per_page", "The per page must be at least 10.").Add("status", "The selected status is invalid.").Err()
	e := ErrorOf(err)
	if e.Code != EINVALID || e.Message != "The per page must be at least 10. (and 1 more error)" || len(e.Fields) != 2 {
		t.Errorf("validation error = %+v", e)
	}
	if Invalid().Err() != nil {
		t.Error("an empty validation error is an error")
	}
	nf := NotFound("Conversation")
	if nf.Title != "Conversation not found" || nf.Message != "The requested conversation could not be found or you don't have access to it." {
		t.Errorf("not found = %+v", nf)
	}
	if e := ErrorOf(os.ErrClosed); e.Code != EINTERNAL || strings.Contains(e.Message, "closed") {
		t.Errorf("foreign errors must become opaque internal errors: %+v", e)
	}
}

// TestWebhookPayloadMatchesTheReference compares the payload builder with
// the reference's examples, key by key and in order.
func TestWebhookPayloadMatchesTheReference(t *testing.T) {
	at := time.Date(2024, 11, 12, 10, 30, 0, 0, time.UTC)
	name, email := "Jane Smith", "jane@example.com"
	conv := &Conversation{ID: uuid.MustParse("550e8400-e29b-41d4-a716-446655440000"), Status: ConversationOpen, ResponseMode: ResponseModeAI, CreatedAt: at}
	subject := EventSubject{
		Conversation: conv,
		Agent:        &Agent{ID: "agt_abc123", Name: "Customer Support Agent"},
		Organization: &Organization{ID: "org_xyz789", Name: "Acme Corporation"},
		ChatUser:     &ChatUser{Name: &name, Email: &email},
		Message:      &Message{ID: uuid.MustParse("00000000-0000-4000-8000-000000abc123"), Content: "Hi, I need help with my order", Type: MessageGuest, CreatedAt: at},
	}
	for _, tc := range []struct {
		golden string
		typ    EventType
		at     time.Time
		mode   ResponseMode
	}{
		{"new_conversation.json", EventNewConversation, at, ResponseModeAI},
		{"human_handoff_required.json", EventHumanHandoffRequired, at.Add(5 * time.Minute), ResponseModeHuman},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			conv.ResponseMode = tc.mode
			got := NewWebhookPayload("550e8400-e29b-41d4-a716-446655440000", tc.typ, tc.at, subject).Marshal()
			want, err := os.ReadFile("testdata/" + tc.golden)
			if err != nil {
				t.Fatal(err)
			}
			var compact strings.Builder
			var v json.RawMessage = want
			b, _ := json.Marshal(v) // compacts, keeps key order
			compact.Write(b)
			if string(got) != compact.String() {
				t.Errorf("payload\n got %s\nwant %s", got, compact.String())
			}
		})
	}
	// An anonymous customer is a chat_user with null fields, not a missing key.
	subject.ChatUser = nil
	got := string(NewWebhookPayload("x", EventNewConversation, at, subject).Marshal())
	if !strings.Contains(got, `"chat_user":{"name":null,"email":null}`) {
		t.Errorf("anonymous payload: %s", got)
	}
}
