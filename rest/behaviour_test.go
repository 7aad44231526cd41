package rest_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/assistloop/assistloop/internal/assistloop"
)

type listItem struct {
	UUID         string `json:"uuid"`
	ResponseMode string `json:"response_mode"`
	Status       bool   `json:"status"`
}

type messageItem struct {
	ID            string  `json:"id"`
	UUID          string  `json:"uuid"`
	Content       string  `json:"content"`
	Type          string  `json:"type"`
	ResponderType *string `json:"responder_type"`
	SenderName    *string `json:"sender_name"`
	CreatedAt     string  `json:"created_at"`
}

func uuids(items []listItem) []string {
	out := make([]string, len(items))
	for i, c := range items {
		out[i] = c.UUID
	}
	return out
}

func getList(t *testing.T, w *world, token, path string) []listItem {
	t.Helper()
	r := do(t, w.srv.URL, request{Path: path, Token: token})
	if r.Status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", path, r.Status, r.Body)
	}
	var out []listItem
	r.json(t, &out)
	return out
}

// TestListFilters: status, response_mode and the created_at range filter
// as documented; a date alone as created_to includes that whole day.
func TestListFilters(t *testing.T) {
	w := shared(t)
	ctx := w.B.as()
	agent, err := w.app.Services.Agents.CreateAgent(ctx, w.B.OrgID, "Filter Agent")
	if err != nil {
		t.Fatal(err)
	}
	var convs []*assistloop.Conversation // oldest first
	for i := range 3 {
		c, _, err := w.app.Services.Conversations.StartConversation(ctx, assistloop.StartConversationInput{AgentID: agent.ID, Content: fmt.Sprint("hello ", i)})
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c)
	}
	if _, err := w.app.Services.Conversations.CloseConversation(ctx, convs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.Services.Conversations.RequestHumanHandoff(ctx, convs[1].ID, nil); err != nil {
		t.Fatal(err)
	}
	id := func(i int) string { return convs[i].ID.String() }
	first, last := convs[0].CreatedAt.UTC(), convs[2].CreatedAt.UTC()
	day := first.Format(time.DateOnly)
	next := first.AddDate(0, 0, 1).Format(time.DateOnly)
	prev := first.AddDate(0, 0, -1).Format(time.DateOnly)
	lastDay := last.Format(time.DateOnly)
	micro := func(t time.Time) string { return url.QueryEscape(t.Format("2006-01-02T15:04:05.000000Z07:00")) }
	base := "/v1/automation/agents/" + agent.ID + "/conversations/list"

	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{id(2), id(1), id(0)}},
		{"?status=1", []string{id(2), id(1)}},
		{"?status=0", []string{id(0)}},
		{"?response_mode=human", []string{id(1)}},
		{"?response_mode=ai&status=1", []string{id(2)}},
		{"?status=0&response_mode=human", []string{}},
		{"?created_from=" + day + "&created_to=" + lastDay, []string{id(2), id(1), id(0)}},
		{"?created_to=" + prev, []string{}},
		{"?created_from=" + next, []string{}},
		// The range is inclusive at both ends, to the microsecond.
		{"?created_from=" + micro(convs[1].CreatedAt), []string{id(2), id(1)}},
		{"?created_to=" + micro(convs[1].CreatedAt), []string{id(1), id(0)}},
		{"?created_from=" + micro(convs[1].CreatedAt) + "&created_to=" + micro(convs[1].CreatedAt), []string{id(1)}},
		// The same instant in another zone.
		{"?created_from=" + micro(convs[1].CreatedAt.In(time.FixedZone("", 2*3600))), []string{id(2), id(1)}},
	}
	for _, tt := range tests {
		got := uuids(getList(t, w, w.B.Token, base+tt.query))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.query, got, tt.want)
		}
	}
	items := getList(t, w, w.B.Token, base)
	want := []listItem{{id(2), "ai", true}, {id(1), "human", true}, {id(0), "ai", false}}
	if !slices.Equal(items, want) {
		t.Errorf("items %+v, want %+v", items, want)
	}
}

// TestListPaging: page walks the list; the pages together are the whole
// list, newest first, without overlap.
func TestListPaging(t *testing.T) {
	w := shared(t)
	agent := w.A.AgentIDs[0]
	base := "/v1/automation/agents/" + agent + "/conversations/list"
	all := uuids(getList(t, w, w.A.Token, base+"?per_page=100"))
	if len(all) != 24 {
		t.Fatalf("%d conversations for the demo's support agent, want 24", len(all))
	}
	if def := getList(t, w, w.A.Token, base); len(def) != 20 {
		t.Errorf("default page has %d items, want 20", len(def))
	}
	var paged []string
	for page := 1; page <= 4; page++ {
		paged = append(paged, uuids(getList(t, w, w.A.Token, fmt.Sprintf("%s?per_page=10&page=%d", base, page)))...)
	}
	if !slices.Equal(paged, all) {
		t.Errorf("pages %v\nwhole list %v", paged, all)
	}
	// Newest first, as the services order them.
	page, err := w.app.Services.Conversations.ListConversations(w.A.as(), assistloop.ConversationFilter{AgentID: agent}, assistloop.Page{First: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range page.Conversations {
		if i > 0 && !c.CreatedAt.Before(page.Conversations[i-1].CreatedAt) {
			t.Fatal("services do not list newest first")
		}
		if all[i] != c.ID.String() {
			t.Fatalf("item %d is %s, want %s", i, all[i], c.ID)
		}
	}
}

// TestFindMessages: only guest and agent messages, newest first, with
// microsecond timestamps; the date range filters them.
func TestFindMessages(t *testing.T) {
	w := shared(t)
	conv := newestConversation(t, w, w.A.Token, w.A.AgentIDs[0], "Ahmed Hassan")
	id, _ := assistloop.ParseUUID(conv)
	stored, err := w.app.Services.Messages.ListMessages(w.A.as(), assistloop.MessageFilter{ConversationID: id}, assistloop.Page{First: 100})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	var platform int
	for _, m := range stored.Messages {
		if m.Type == assistloop.MessagePlatformAction {
			platform++
			continue
		}
		want = append(want, m.PublicID()+" "+assistloop.FormatMessageTimestamp(m.CreatedAt))
	}
	if platform == 0 {
		t.Fatal("the fixture conversation has no platform_action message to exclude")
	}
	r := do(t, w.srv.URL, request{Path: "/v1/automation/conversations/" + conv + "/messages/find", Token: w.A.Token})
	var got []messageItem
	r.json(t, &got)
	var gotKeys []string
	for i, m := range got {
		gotKeys = append(gotKeys, m.ID+" "+m.CreatedAt)
		if m.Type == "platform_action" {
			t.Errorf("a platform_action message: %+v", m)
		}
		if i > 0 && m.CreatedAt >= got[i-1].CreatedAt {
			t.Errorf("message %d is not older than the one before", i)
		}
		if u, _ := uuid.Parse(m.UUID); assistloop.MessagePublicID(u) != m.ID {
			t.Errorf("id %s does not match uuid %s", m.ID, m.UUID)
		}
	}
	if !slices.Equal(gotKeys, want) {
		t.Errorf("messages %v\nwant %v", gotKeys, want)
	}

	// Date range: up to the second newest guest or agent message.
	var second time.Time
	for _, m := range stored.Messages {
		if m.Type != assistloop.MessagePlatformAction && m.PublicID() == got[1].ID {
			second = m.CreatedAt
		}
	}
	from := url.QueryEscape(second.UTC().Format(time.RFC3339Nano))
	r = do(t, w.srv.URL, request{Path: "/v1/automation/conversations/" + conv + "/messages/find?created_to=" + from, Token: w.A.Token})
	var older []messageItem
	r.json(t, &older)
	if len(older) != len(got)-1 || older[0].ID != got[1].ID {
		t.Errorf("created_to=%s: %d messages of %d", second, len(older), len(got))
	}
	for _, m := range older {
		if m.CreatedAt > assistloop.FormatMessageTimestamp(second) {
			t.Errorf("created_to=%s returned a message of %s", second, m.CreatedAt)
		}
	}
}

// TestReplyAndClose: a reply is an agent message of a human assistant,
// signed by the token's user, and switches the conversation to human mode;
// close closes, twice without complaint.
func TestReplyAndClose(t *testing.T) {
	w := shared(t)
	conv := newConversation(t, w)
	base := "/v1/automation/conversations/" + conv
	r := do(t, w.srv.URL, request{Method: "POST", Path: base + "/reply", Token: w.B.Token, Body: `{"content":"We've created ticket #12345","ignored":true}`})
	if r.Status != http.StatusOK {
		t.Fatalf("reply: %d %s", r.Status, r.Body)
	}
	var sent struct {
		Status    string `json:"status"`
		MessageID string `json:"message_id"`
	}
	r.json(t, &sent)

	r = do(t, w.srv.URL, request{Path: base + "/messages/find", Token: w.B.Token})
	var msgs []messageItem
	r.json(t, &msgs)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	m := msgs[0]
	if m.ID != sent.MessageID || m.Type != "agent" || m.ResponderType == nil || *m.ResponderType != "human_assistant" ||
		m.SenderName == nil || *m.SenderName != w.B.UserName || m.Content != "We've created ticket #12345" {
		t.Errorf("newest message %+v, want the reply %s by %s", m, sent.MessageID, w.B.UserName)
	}
	list := getList(t, w, w.B.Token, "/v1/automation/agents/"+w.B.AgentIDs[0]+"/conversations/list?response_mode=human&status=1")
	if !slices.ContainsFunc(list, func(c listItem) bool { return c.UUID == conv }) {
		t.Errorf("the conversation is not open in human mode after the reply")
	}

	// Forms work too, and JSON that curl labelled as a form.
	for _, tt := range []struct {
		body, ct     string
		undocumented bool
	}{
		{"content=" + url.QueryEscape("Form reply & more"), "application/x-www-form-urlencoded", false},
		{`{"content":"curl -d reply"}`, "application/x-www-form-urlencoded", true},
		{`{"content":"charset reply"}`, "application/json; charset=utf-8", false},
	} {
		req := request{Method: "POST", Path: base + "/reply", Token: w.B.Token, Body: tt.body, ContentType: tt.ct, Undocumented: tt.undocumented}
		if r := do(t, w.srv.URL, req); r.Status != http.StatusOK {
			t.Errorf("%s %s: %d %s", tt.ct, tt.body, r.Status, r.Body)
		}
	}

	for i := range 2 {
		r := do(t, w.srv.URL, request{Method: "POST", Path: base + "/close", Token: w.B.Token, Body: `{"platform":"make"}`})
		if r.Status != http.StatusOK || compact(t, r.Body) != `{"status":"conversation_closed","platform":"make"}` {
			t.Errorf("close %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	list = getList(t, w, w.B.Token, "/v1/automation/agents/"+w.B.AgentIDs[0]+"/conversations/list?status=0&per_page=100")
	if !slices.ContainsFunc(list, func(c listItem) bool { return c.UUID == conv && !c.Status }) {
		t.Errorf("the conversation is not closed after close")
	}
}

// TestRecentSamplePassThrough: samples are the stored webhook bodies, byte
// for byte; limit defaults to 5.
func TestRecentSamplePassThrough(t *testing.T) {
	w := shared(t)
	agent := w.A.AgentIDs[0]
	for _, tt := range []struct {
		query string
		typ   assistloop.EventType
		n     int
	}{
		{"", assistloop.EventNewConversation, 5},
		{"?limit=10", assistloop.EventNewConversation, 10},
		{"?limit=1&type=human_handoff_required", assistloop.EventHumanHandoffRequired, 1},
	} {
		events, err := w.app.Services.Events.RecentEvents(w.A.as(), agent, tt.typ, tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != tt.n {
			t.Fatalf("%d stored events, want %d", len(events), tt.n)
		}
		want := []byte("[")
		for i, e := range events {
			if i > 0 {
				want = append(want, ',')
			}
			want = append(want, e.Payload...)
		}
		want = append(want, "]\n"...)
		r := do(t, w.srv.URL, request{Path: "/v1/automation/agents/" + agent + "/conversations/recent-sample" + tt.query, Token: w.A.Token})
		if !bytes.Equal(r.Body, want) {
			t.Errorf("%s:\n got %s\nwant %s", tt.query, r.Body, want)
		}
	}
}

// TestDropdownsReturnEverything: without page or per_page the workspaces
// and agents dropdowns list every item; with them, one page.
func TestDropdownsReturnEverything(t *testing.T) {
	w := shared(t)
	ctx := context.Background()
	u, org, _, err := w.app.Services.Users.CreateUser(ctx, assistloop.CreateUserInput{Email: "many-" + assistloop.RandomString(6) + "@example.com",
		Password: "many-password", Name: "Many", OrganizationName: "Org 0", AgentName: "Agent 0"})
	if err != nil {
		t.Fatal(err)
	}
	as := assistloop.WithPrincipal(ctx, &assistloop.Principal{UserID: u.ID, Scopes: assistloop.AllScopes})
	const n = 112 // more than one internal page of 100
	for i := 1; i < n; i++ {
		if _, err := w.app.Services.Organizations.CreateOrganization(as, fmt.Sprint("Org ", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.app.Services.Agents.CreateAgent(as, org.ID, fmt.Sprint("Agent ", i)); err != nil {
			t.Fatal(err)
		}
	}
	token := w.token(t, u.ID, nil, assistloop.ScopeReadMessages)
	for _, tt := range []struct {
		path      string
		n         int
		first     string
		firstName string
	}{
		{"/v1/my/organizations", n, "organization_uuid", "Org 111"},
		{"/v1/my/organizations?per_page=10", 10, "organization_uuid", "Org 111"},
		{"/v1/my/organizations?page=2", n - 100, "organization_uuid", "Org 11"},
		{"/v1/my/organizations?page=12&per_page=10", 2, "organization_uuid", "Org 1"},
		{"/v1/organizations/" + org.ID + "/agents", n, "agent_uuid", "Agent 111"},
		{"/v1/organizations/" + org.ID + "/agents?page=3&per_page=50", n - 100, "agent_uuid", "Agent 11"},
	} {
		r := do(t, w.srv.URL, request{Path: tt.path, Token: token})
		var items []map[string]string
		r.json(t, &items)
		if len(items) != tt.n {
			t.Errorf("%s: %d items, want %d", tt.path, len(items), tt.n)
			continue
		}
		if items[0]["name"] != tt.firstName || items[0]["id"] != items[0][tt.first] {
			t.Errorf("%s: first item %v, want %s", tt.path, items[0], tt.firstName)
		}
		seen := map[string]bool{}
		for _, it := range items {
			if seen[it["id"]] {
				t.Errorf("%s: %s twice", tt.path, it["id"])
			}
			seen[it["id"]] = true
		}
	}
}

// TestPrefixes: /api/v1 serves exactly what /v1 serves.
func TestPrefixes(t *testing.T) {
	w := shared(t)
	for _, path := range []string{
		"/oauth/me", "/my/organizations", "/organizations/" + w.A.OrgID + "/agents",
		"/automation/agents/" + w.A.AgentIDs[1] + "/conversations/list?per_page=10",
		"/automation/agents/" + w.A.AgentIDs[1] + "/conversations/recent-sample?limit=2",
	} {
		v1 := do(t, w.srv.URL, request{Path: "/v1" + path, Token: w.A.Token})
		api := do(t, w.srv.URL, request{Path: "/api/v1" + path, Token: w.A.Token})
		if v1.Status != http.StatusOK || api.Status != v1.Status || !bytes.Equal(v1.Body, api.Body) {
			t.Errorf("%s: /v1 %d, /api/v1 %d, bodies equal: %v", path, v1.Status, api.Status, bytes.Equal(v1.Body, api.Body))
		}
		if v1.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no X-Content-Type-Options", path)
		}
	}
}

// TestOpenAPIServed: the description is public and is the embedded one.
func TestOpenAPIServed(t *testing.T) {
	w := shared(t)
	for _, path := range []string{"/v1/openapi.json", "/api/v1/openapi.json"} {
		r := do(t, w.srv.URL, request{Path: path})
		if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", path, r.Status, r.Header.Get("Content-Type"))
		}
		var doc struct {
			OpenAPI string `json:"openapi"`
		}
		r.json(t, &doc)
		if doc.OpenAPI != "3.1.0" {
			t.Errorf("%s: openapi %q", path, doc.OpenAPI)
		}
	}
}

// TestConversationWithoutChatUser: a conversation whose customer record is
// gone (chat_user_id set null) still lists with the documented chat_user
// object, every field null.
func TestConversationWithoutChatUser(t *testing.T) {
	w := shared(t)
	ctx := w.B.as()
	agent, err := w.app.Services.Agents.CreateAgent(ctx, w.B.OrgID, "Anonymous Agent")
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := w.app.Services.Conversations.StartConversation(ctx, assistloop.StartConversationInput{AgentID: agent.ID, Content: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	// Test-only SQL: no service deletes customers yet.
	if _, err := w.db.ExecContext(context.Background(), "UPDATE conversations SET chat_user_id = NULL WHERE id = ?", c.ID); err != nil {
		t.Fatal(err)
	}
	r := do(t, w.srv.URL, request{Path: "/v1/automation/agents/" + agent.ID + "/conversations/list", Token: w.B.Token})
	want := `[{"id":"` + c.ID.String() + `","uuid":"` + c.ID.String() + `","session_id":"` + c.SessionID +
		`","response_mode":"ai","status":true,"last_message_seen":false,"deleted_at":null,` +
		`"chat_user":{"name":null,"email":null,"country_code":null,"chat_user_id":null}}]`
	if got := compact(t, r.Body); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
