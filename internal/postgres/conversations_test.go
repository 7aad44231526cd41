package postgres_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/assistloop/assistloop/internal/assistloop"
)

func TestStartConversationWritesConversationMessageAndEvent(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "acme")
	name, email, cc, ext := "Jane Smith", "jane@example.com", "US", "crm-1"
	conv, msg, err := s.conversations.StartConversation(w.ctx, assistloop.StartConversationInput{
		AgentID: w.agent.ID, Content: "Hi, I need help with my order",
		ChatUser: &assistloop.ChatUserInput{Name: &name, Email: &email, CountryCode: &cc, ExternalID: &ext},
	})
	if err != nil {
		t.Fatal(err)
	}
	if conv.Status != assistloop.ConversationOpen || conv.ResponseMode != assistloop.ResponseModeAI {
		t.Errorf("new conversation: status %q mode %q, want open/ai", conv.Status, conv.ResponseMode)
	}
	if !strings.HasPrefix(conv.SessionID, "sess_") {
		t.Errorf("session id %q, want a generated sess_ id", conv.SessionID)
	}
	if msg.Type != assistloop.MessageGuest || msg.ResponderType != nil || msg.Via != "web" {
		t.Errorf("first message: type %q responder %v via %q", msg.Type, msg.ResponderType, msg.Via)
	}

	events := s.eventsOf(t, conv.ID)
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	e := events[0]
	if e.Type != assistloop.EventNewConversation || e.AgentID != w.agent.ID || e.OrganizationID != w.org.ID {
		t.Errorf("event = %+v", e)
	}
	want := `{"id":"` + e.ID.String() + `","event":"new_conversation","timestamp":"` + assistloop.FormatTimestamp(conv.CreatedAt) + `",` +
		`"data":{"conversation":{"uuid":"` + conv.ID.String() + `","status":true,"response_mode":"ai","created_at":"` + assistloop.FormatTimestamp(conv.CreatedAt) + `"},` +
		`"agent":{"uuid":"` + w.agent.ID + `","name":"acme Bot"},` +
		`"chat_user":{"name":"Jane Smith","email":"jane@example.com"},` +
		`"organization":{"uuid":"` + w.org.ID + `","name":"acme Inc"},` +
		`"initial_message":{"uuid":"` + msg.PublicID() + `","content":"Hi, I need help with my order","type":"guest","created_at":"` + assistloop.FormatTimestamp(msg.CreatedAt) + `"}}}`
	if string(e.Payload) != want {
		t.Errorf("payload\n got %s\nwant %s", e.Payload, want)
	}

	// A returning customer (same external id) is the same chat user, with
	// the fields the new conversation brings.
	newName := "Jane Doe"
	conv2, _, err := s.conversations.StartConversation(w.ctx, assistloop.StartConversationInput{
		AgentID: w.agent.ID, Content: "Me again", ChatUser: &assistloop.ChatUserInput{Name: &newName, ExternalID: &ext},
	})
	if err != nil {
		t.Fatal(err)
	}
	if *conv2.ChatUserID != *conv.ChatUserID {
		t.Errorf("returning customer got chat user %s, want %s", *conv2.ChatUserID, *conv.ChatUserID)
	}
	cus, err := s.chatUsers.ChatUsersByIDs(w.ctx, []string{*conv.ChatUserID})
	if err != nil || len(cus) != 1 {
		t.Fatal(cus, err)
	}
	if *cus[0].Name != "Jane Doe" || *cus[0].Email != "jane@example.com" || *cus[0].CountryCode != "US" {
		t.Errorf("chat user after upsert = name %v email %v cc %v", *cus[0].Name, *cus[0].Email, *cus[0].CountryCode)
	}
}

func TestStartConversationValidation(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "valid")
	long := strings.Repeat("x", assistloop.MaxContentLength+1)
	bad := "not-an-email"
	tests := []struct {
		name  string
		in    assistloop.StartConversationInput
		code  string
		field string
	}{
		{"empty content", assistloop.StartConversationInput{AgentID: w.agent.ID, Content: "  \n"}, assistloop.EINVALID, "content"},
		{"long content", assistloop.StartConversationInput{AgentID: w.agent.ID, Content: long}, assistloop.EINVALID, "content"},
		{"bad email", assistloop.StartConversationInput{AgentID: w.agent.ID, Content: "hi", ChatUser: &assistloop.ChatUserInput{Email: &bad}}, assistloop.EINVALID, "chat_user.email"},
		{"invalid utf-8", assistloop.StartConversationInput{AgentID: w.agent.ID, Content: "hi \xff"}, assistloop.EINVALID, "content"},
		{"unknown agent", assistloop.StartConversationInput{AgentID: "agt_nope", Content: "hi"}, assistloop.ENOTFOUND, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.conversations.StartConversation(w.ctx, tt.in)
			wantCode(t, err, tt.code)
			if tt.field != "" {
				if fields := assistloop.ErrorOf(err).Fields; len(fields[tt.field]) == 0 {
					t.Errorf("fields = %v, want a problem with %q", fields, tt.field)
				}
			}
		})
	}
	_, _, err := s.conversations.StartConversation(w.as(assistloop.ScopeReadConversations), assistloop.StartConversationInput{AgentID: w.agent.ID, Content: "hi"})
	wantCode(t, err, assistloop.EFORBIDDEN)
	_, _, err = s.conversations.StartConversation(context.Background(), assistloop.StartConversationInput{AgentID: w.agent.ID, Content: "hi"})
	wantCode(t, err, assistloop.EUNAUTHORIZED)
}

// installFailure makes the database reject, inside the transaction, any row
// of table whose column contains marker: the change fails after part of it
// was written.
func installFailure(t *testing.T, s *services, table, column, marker string) {
	t.Helper()
	ctx := context.Background()
	fn := "fail_" + table + "_" + assistloop.RandomString(6)
	_, err := s.db.ExecContext(ctx, `CREATE FUNCTION `+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.`+column+`::text LIKE '%`+marker+`%' THEN RAISE EXCEPTION 'injected failure'; END IF;
			RETURN NEW;
		END $$`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TRIGGER `+fn+` AFTER INSERT ON `+table+` FOR EACH ROW EXECUTE FUNCTION `+fn+`()`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = s.db.ExecContext(ctx, `DROP TRIGGER `+fn+` ON `+table)
		_, _ = s.db.ExecContext(ctx, `DROP FUNCTION `+fn+`()`)
	})
}

func TestEventExistsExactlyWhenTheChangeCommitted(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "atomic")
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := s.db.NewRaw(q, args...).Scan(context.Background(), &n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The event insert (the transaction's last write) fails: nothing of the
	// conversation may remain.
	marker := "boom-" + assistloop.RandomString(6)
	installFailure(t, s, "events", "payload", marker)
	_, _, err := s.conversations.StartConversation(w.ctx, assistloop.StartConversationInput{AgentID: w.agent.ID, Content: "please " + marker})
	if err == nil {
		t.Fatal("start conversation succeeded despite the failing event insert")
	}
	wantCode(t, err, assistloop.EINTERNAL)
	if n := count("SELECT count(*) FROM conversations WHERE agent_id = ?", w.agent.ID); n != 0 {
		t.Errorf("%d conversations left behind", n)
	}
	if n := count("SELECT count(*) FROM messages WHERE content LIKE ?", "%"+marker+"%"); n != 0 {
		t.Errorf("%d messages left behind", n)
	}
	if n := count("SELECT count(*) FROM events WHERE agent_id = ?", w.agent.ID); n != 0 {
		t.Errorf("%d events left behind", n)
	}

	// The handoff's event fails (its last message carries the marker): the
	// conversation stays with the AI.
	conv, _ := s.start(t, w, "hello")
	if _, err := s.conversations.SendGuestMessage(w.ctx, conv.ID, "I need to speak with a human agent, "+marker); err != nil {
		t.Fatal(err)
	}
	_, err = s.conversations.RequestHumanHandoff(w.ctx, conv.ID, nil)
	wantCode(t, err, assistloop.EINTERNAL)
	got, err := s.conversations.FindConversation(w.ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ResponseMode != assistloop.ResponseModeAI {
		t.Errorf("after a failed handoff the mode is %q, want ai", got.ResponseMode)
	}
	if n := count("SELECT count(*) FROM messages WHERE conversation_id = ? AND type = 'platform_action'", conv.ID); n != 0 {
		t.Errorf("failed handoff left %d platform messages", n)
	}
	if events := s.eventsOf(t, conv.ID); len(events) != 1 || events[0].Type != assistloop.EventNewConversation {
		t.Errorf("events after failed handoff = %d, want only the new_conversation one", len(events))
	}
}

func TestStartConversationFailureMidway(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "midway")
	marker := "crash-" + assistloop.RandomString(6)
	installFailure(t, s, "messages", "content", marker)
	_, _, err := s.conversations.StartConversation(w.ctx, assistloop.StartConversationInput{AgentID: w.agent.ID, Content: marker})
	wantCode(t, err, assistloop.EINTERNAL)
	var n int
	if err := s.db.NewRaw("SELECT (SELECT count(*) FROM conversations WHERE agent_id = ?) + (SELECT count(*) FROM events WHERE agent_id = ?) + (SELECT count(*) FROM chat_users WHERE organization_id = ?)",
		w.agent.ID, w.agent.ID, w.org.ID).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rows left behind by the failed start", n)
	}
}

func TestHumanHandoff(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "handoff")
	conv, _ := s.start(t, w, "Hi, I need help with my order")
	if _, err := s.conversations.SendAgentMessage(w.ctx, conv.ID, "Could you provide your order number?"); err != nil {
		t.Fatal(err)
	}
	last, err := s.conversations.SendGuestMessage(w.ctx, conv.ID, "I need to speak with a human agent")
	if err != nil {
		t.Fatal(err)
	}
	reason := "billing question"
	got, err := s.conversations.RequestHumanHandoff(w.ctx, conv.ID, &reason)
	if err != nil {
		t.Fatal(err)
	}
	if got.ResponseMode != assistloop.ResponseModeHuman {
		t.Errorf("mode after handoff = %q", got.ResponseMode)
	}
	events := s.eventsOf(t, conv.ID)
	if len(events) != 2 || events[1].Type != assistloop.EventHumanHandoffRequired {
		t.Fatalf("events = %v", events)
	}
	var p assistloop.WebhookPayload
	if err := json.Unmarshal(events[1].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Data.Conversation.ResponseMode != assistloop.ResponseModeHuman || !p.Data.Conversation.Status {
		t.Errorf("payload conversation = %+v", p.Data.Conversation)
	}
	if p.Data.InitialMessage != nil || p.Data.LastMessage == nil || p.Data.LastMessage.UUID != last.PublicID() ||
		p.Data.LastMessage.Content != "I need to speak with a human agent" || p.Data.LastMessage.Type != assistloop.MessageGuest {
		t.Errorf("payload last_message = %+v (initial %+v), want the guest's last message", p.Data.LastMessage, p.Data.InitialMessage)
	}
	if !strings.Contains(string(events[1].Payload), `"last_message":`) || strings.Contains(string(events[1].Payload), `"initial_message"`) {
		t.Errorf("payload keys: %s", events[1].Payload)
	}

	// The handoff left a system notice, which lists show but which is not
	// the payload's last message.
	page, err := s.messages.ListMessages(w.ctx, assistloop.MessageFilter{ConversationID: conv.ID}, assistloop.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if top := page.Messages[0]; top.Type != assistloop.MessagePlatformAction || !strings.Contains(top.Content, reason) {
		t.Errorf("newest message = %q %q, want the handoff notice", top.Type, top.Content)
	}

	// Asking again changes nothing and announces nothing.
	if _, err := s.conversations.RequestHumanHandoff(w.ctx, conv.ID, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(s.eventsOf(t, conv.ID)); n != 2 {
		t.Errorf("second handoff: %d events, want still 2", n)
	}
	// The AI may not talk over the human.
	_, err = s.conversations.SendAgentMessage(w.ctx, conv.ID, "I can help!")
	wantCode(t, err, assistloop.ECONFLICT)
}

func TestReplyRecordsTheHumanAndFlipsResponseMode(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "reply")
	conv, _ := s.start(t, w, "Where is my parcel?")
	if conv.ResponseMode != assistloop.ResponseModeAI {
		t.Fatal("precondition: a new conversation is in ai mode")
	}
	msg, err := s.conversations.ReplyToConversation(w.ctx, conv.ID, "We've created ticket #12345")
	if err != nil {
		t.Fatal(err)
	}
	if msg.Type != assistloop.MessageAgent || msg.ResponderType == nil || *msg.ResponderType != assistloop.ResponderHumanAssistant {
		t.Errorf("reply type %q responder %v, want agent/human_assistant", msg.Type, msg.ResponderType)
	}
	if msg.ResponderUserID == nil || *msg.ResponderUserID != w.user.ID {
		t.Errorf("responder user = %v, want %s", msg.ResponderUserID, w.user.ID)
	}
	if msg.SenderName == nil || *msg.SenderName != w.user.Name {
		t.Errorf("sender name = %v, want %q", msg.SenderName, w.user.Name)
	}
	got, err := s.conversations.FindConversation(w.ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ResponseMode != assistloop.ResponseModeHuman {
		t.Errorf("mode after reply = %q, want human", got.ResponseMode)
	}
	if got.LastMessageID == nil || *got.LastMessageID != msg.ID {
		t.Errorf("last message id = %v, want the reply", got.LastMessageID)
	}
	if !got.UpdatedAt.After(conv.UpdatedAt) {
		t.Errorf("updated_at did not move: %v then %v", conv.UpdatedAt, got.UpdatedAt)
	}
	if n := len(s.eventsOf(t, conv.ID)); n != 1 {
		t.Errorf("a reply emitted events: %d, want only the start's", n)
	}
	// The system principal has no user to reply as.
	_, err = s.conversations.ReplyToConversation(assistloop.NewSystemContext(context.Background()), conv.ID, "hi")
	wantCode(t, err, assistloop.EFORBIDDEN)
	_, err = s.conversations.ReplyToConversation(w.ctx, conv.ID, "")
	wantCode(t, err, assistloop.EINVALID)
}

func TestCloseAndReopen(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "close")
	conv, _ := s.start(t, w, "hello")
	closed, err := s.conversations.CloseConversation(w.ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if closed.Status != assistloop.ConversationClosed || closed.ClosedAt == nil {
		t.Fatalf("after close: %q closed_at %v", closed.Status, closed.ClosedAt)
	}
	again, err := s.conversations.CloseConversation(w.ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !again.ClosedAt.Equal(*closed.ClosedAt) || !again.UpdatedAt.Equal(closed.UpdatedAt) {
		t.Errorf("closing twice changed the conversation: %v/%v then %v/%v", closed.ClosedAt, closed.UpdatedAt, again.ClosedAt, again.UpdatedAt)
	}
	_, err = s.conversations.SendAgentMessage(w.ctx, conv.ID, "still there?")
	wantCode(t, err, assistloop.ECONFLICT)
	_, err = s.conversations.RequestHumanHandoff(w.ctx, conv.ID, nil)
	wantCode(t, err, assistloop.ECONFLICT)

	if _, err := s.conversations.SendGuestMessage(w.ctx, conv.ID, "one more thing"); err != nil {
		t.Fatal(err)
	}
	reopened, err := s.conversations.FindConversation(w.ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if reopened.Status != assistloop.ConversationOpen || reopened.ClosedAt != nil {
		t.Errorf("a guest message did not reopen: %q %v", reopened.Status, reopened.ClosedAt)
	}
}

func TestMessagesOrderAndSenderNames(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "order")
	conv, first := s.start(t, w, "m0")
	want := []string{"m0"}
	for i := 1; i < 12; i++ {
		var err error
		content := "m" + string(rune('a'+i))
		if i%2 == 1 {
			_, err = s.conversations.SendAgentMessage(w.ctx, conv.ID, content)
		} else {
			_, err = s.conversations.SendGuestMessage(w.ctx, conv.ID, content)
		}
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, content)
	}
	var got []string
	after := ""
	for {
		page, err := s.messages.ListMessages(w.ctx, assistloop.MessageFilter{ConversationID: conv.ID}, assistloop.Page{First: 5, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			got = append(got, m.Content)
			wantName := "Jane Smith"
			if m.Type == assistloop.MessageAgent {
				wantName = w.agent.Name
			}
			if m.SenderName == nil || *m.SenderName != wantName {
				t.Errorf("%s: sender %v, want %q", m.Content, m.SenderName, wantName)
			}
		}
		if !page.PageInfo.HasNextPage {
			break
		}
		after = page.PageInfo.EndCursor
	}
	for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
		want[i], want[j] = want[j], want[i]
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("messages newest first:\n got %v\nwant %v", got, want)
	}

	// Types and date filters.
	page, err := s.messages.ListMessages(w.ctx, assistloop.MessageFilter{ConversationID: conv.ID,
		Types: []assistloop.MessageType{assistloop.MessageGuest}}, assistloop.Page{First: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 6 {
		t.Errorf("%d guest messages, want 6", len(page.Messages))
	}
	from := first.CreatedAt.Add(time.Microsecond)
	page, err = s.messages.ListMessages(w.ctx, assistloop.MessageFilter{ConversationID: conv.ID, CreatedFrom: &from}, assistloop.Page{First: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 11 {
		t.Errorf("%d messages after the first, want 11", len(page.Messages))
	}
	to := first.CreatedAt
	page, err = s.messages.ListMessages(w.ctx, assistloop.MessageFilter{ConversationID: conv.ID, CreatedTo: &to}, assistloop.Page{First: 100})
	if err != nil || len(page.Messages) != 1 || page.Messages[0].ID != first.ID {
		t.Errorf("created_to = first's time: %v, %v", page, err)
	}
}

func TestListConversationsFiltersAndPages(t *testing.T) {
	s := newServices(t)
	w := s.newWorkspace(t, "lists")
	var all []*assistloop.Conversation
	for i := 0; i < 15; i++ {
		c, _ := s.start(t, w, "hello")
		switch i % 4 {
		case 1:
			if _, err := s.conversations.RequestHumanHandoff(w.ctx, c.ID, nil); err != nil {
				t.Fatal(err)
			}
		case 2:
			if _, err := s.conversations.CloseConversation(w.ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		case 3:
			if _, err := s.conversations.ReplyToConversation(w.ctx, c.ID, "human here"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.conversations.CloseConversation(w.ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, c)
	}
	open, closed := assistloop.ConversationOpen, assistloop.ConversationClosed
	ai, human := assistloop.ResponseModeAI, assistloop.ResponseModeHuman
	tests := []struct {
		name   string
		filter assistloop.ConversationFilter
		want   int
	}{
		{"all", assistloop.ConversationFilter{}, 15},
		{"open", assistloop.ConversationFilter{Status: &open}, 8},
		{"closed", assistloop.ConversationFilter{Status: &closed}, 7},
		{"ai", assistloop.ConversationFilter{ResponseMode: &ai}, 8},
		{"human", assistloop.ConversationFilter{ResponseMode: &human}, 7},
		{"open human", assistloop.ConversationFilter{Status: &open, ResponseMode: &human}, 4},
		{"closed human", assistloop.ConversationFilter{Status: &closed, ResponseMode: &human}, 3},
		{"created from the 6th", assistloop.ConversationFilter{CreatedFrom: &all[5].CreatedAt}, 10},
		{"created to the 6th", assistloop.ConversationFilter{CreatedTo: &all[5].CreatedAt}, 6},
		{"range", assistloop.ConversationFilter{CreatedFrom: &all[2].CreatedAt, CreatedTo: &all[4].CreatedAt}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.filter.AgentID = w.agent.ID
			page, err := s.conversations.ListConversations(w.ctx, tt.filter, assistloop.Page{First: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Conversations) != tt.want {
				t.Errorf("%d conversations, want %d", len(page.Conversations), tt.want)
			}
			for i := 1; i < len(page.Conversations); i++ {
				if page.Conversations[i].CreatedAt.After(page.Conversations[i-1].CreatedAt) {
					t.Errorf("not newest first at %d", i)
				}
			}
		})
	}

	// Keyset pages walk everything once; offset pages agree with them.
	seen := map[uuid.UUID]bool{}
	after := ""
	var keyset []uuid.UUID
	for pages := 0; ; pages++ {
		page, err := s.conversations.ListConversations(w.ctx, assistloop.ConversationFilter{AgentID: w.agent.ID}, assistloop.Page{First: 4, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if pages > 0 != page.PageInfo.HasPreviousPage {
			t.Errorf("page %d: hasPreviousPage = %v", pages, page.PageInfo.HasPreviousPage)
		}
		for _, c := range page.Conversations {
			if seen[c.ID] {
				t.Errorf("conversation %s on two pages", c.ID)
			}
			seen[c.ID] = true
			keyset = append(keyset, c.ID)
		}
		if !page.PageInfo.HasNextPage {
			break
		}
		after = page.PageInfo.EndCursor
	}
	if len(seen) != 15 {
		t.Errorf("pages covered %d conversations, want 15", len(seen))
	}
	page, err := s.conversations.ListConversations(w.ctx, assistloop.ConversationFilter{AgentID: w.agent.ID}, assistloop.Page{First: 4, Offset: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range page.Conversations {
		if c.ID != keyset[8+i] {
			t.Errorf("offset page item %d = %s, want %s", i, c.ID, keyset[8+i])
		}
	}

	bad := []struct {
		name   string
		filter assistloop.ConversationFilter
		page   assistloop.Page
	}{
		{"first too big", assistloop.ConversationFilter{}, assistloop.Page{First: 101}},
		{"first negative", assistloop.ConversationFilter{}, assistloop.Page{First: -1}},
		{"offset negative", assistloop.ConversationFilter{}, assistloop.Page{Offset: -1}},
		{"cursor garbage", assistloop.ConversationFilter{}, assistloop.Page{After: "%%%"}},
		{"cursor wrong id", assistloop.ConversationFilter{}, assistloop.Page{After: "MTIzOm5vdC1hLXV1aWQ"}},
		{"reversed range", assistloop.ConversationFilter{CreatedFrom: &all[4].CreatedAt, CreatedTo: &all[2].CreatedAt}, assistloop.Page{}},
		{"unknown status", assistloop.ConversationFilter{Status: ptr(assistloop.ConversationStatus("pending"))}, assistloop.Page{}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			tt.filter.AgentID = w.agent.ID
			_, err := s.conversations.ListConversations(w.ctx, tt.filter, tt.page)
			wantCode(t, err, assistloop.EINVALID)
		})
	}
}
