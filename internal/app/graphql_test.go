package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/assistloop/assistloop/internal/assistloop"
)

func TestGraphQLConversationLifecycle(t *testing.T) {
	ta := newTestApp(t, nil)
	a := ta.newAccount(t, "life")
	conv := ta.start(t, a, "Hi, I need help with my order")

	var ai struct {
		SendAgentMessage struct{ Message struct{ ID, UUID string } }
	}
	ta.must(t, a.token, `mutation($c: ID!) { sendAgentMessage(input: {conversationUuid: $c, content: "Could you share the order number?"}) { message { id uuid } } }`,
		map[string]any{"c": conv}, &ai)
	if !strings.HasPrefix(ai.SendAgentMessage.Message.ID, "msg_") || strings.ReplaceAll(ai.SendAgentMessage.Message.UUID, "-", "") != ai.SendAgentMessage.Message.ID[4:] {
		t.Errorf("message ids %+v", ai.SendAgentMessage.Message)
	}
	ta.must(t, a.token, `mutation($c: ID!) { sendGuestMessage(input: {conversationUuid: $c, content: "I need to speak with a human agent"}) { message { id } } }`,
		map[string]any{"c": conv}, nil)
	var handoff struct {
		RequestHumanHandoff struct {
			Conversation struct{ UUID, ResponseMode string }
		}
	}
	ta.must(t, a.token, `mutation($c: ID!) { requestHumanHandoff(input: {conversationUuid: $c, reason: "asked for a human"}) { conversation { uuid responseMode } } }`,
		map[string]any{"c": conv}, &handoff)
	if handoff.RequestHumanHandoff.Conversation.ResponseMode != "HUMAN" {
		t.Errorf("after handoff: %+v", handoff)
	}
	ta.must(t, a.token, `mutation($c: ID!) { replyToConversation(input: {conversationUuid: $c, content: "Hi Jane, Maria here."}) { message { id } } }`,
		map[string]any{"c": conv}, nil)
	var closed struct {
		CloseConversation struct{ Conversation struct{ Status string } }
	}
	ta.must(t, a.token, `mutation($c: ID!) { closeConversation(input: {conversationUuid: $c}) { conversation { uuid status } } }`,
		map[string]any{"c": conv}, &closed)
	if closed.CloseConversation.Conversation.Status != "CLOSED" {
		t.Errorf("after close: %+v", closed)
	}

	var got struct {
		Viewer struct {
			User   struct{ UUID, Name, Email string }
			Scopes []string
		}
		Conversation struct {
			UUID, SessionID, Status, ResponseMode string
			Agent                                 struct{ UUID, Name string }
			Organization                          struct{ UUID, Name string }
			ChatUser                              struct{ UUID, Name, Email string }
			Messages                              struct {
				Nodes []struct {
					Type, Content string
					ResponderType *string
					SenderName    string
					Responder     *struct{ UUID string }
					Attachments   []any
				}
			}
		}
	}
	ta.must(t, a.token, `query($c: ID!) {
		viewer { user { uuid name email } scopes }
		conversation(uuid: $c) {
			uuid sessionId status responseMode
			agent { uuid name } organization { uuid name } chatUser { uuid name email }
			messages(first: 10) { nodes { type content responderType senderName responder { uuid } attachments { id } } }
		}
	}`, map[string]any{"c": conv}, &got)
	if got.Viewer.User.UUID != a.user.ID || len(got.Viewer.Scopes) != 4 {
		t.Errorf("viewer = %+v", got.Viewer)
	}
	c := got.Conversation
	if c.UUID != conv || c.Status != "CLOSED" || c.ResponseMode != "HUMAN" || c.Agent.UUID != a.agent.ID || c.Organization.UUID != a.org.ID ||
		c.ChatUser.Name != "Jane Smith" || !strings.HasPrefix(c.ChatUser.UUID, "chu_") {
		t.Errorf("conversation = %+v", c)
	}
	var types []string
	for _, m := range c.Messages.Nodes {
		types = append(types, m.Type)
	}
	if strings.Join(types, ",") != "AGENT,PLATFORM_ACTION,GUEST,AGENT,GUEST" {
		t.Errorf("message types newest first = %v", types)
	}
	reply := c.Messages.Nodes[0]
	if reply.ResponderType == nil || *reply.ResponderType != "HUMAN_ASSISTANT" || reply.Responder == nil || reply.Responder.UUID != a.user.ID ||
		reply.SenderName != "life" || reply.Attachments == nil {
		t.Errorf("reply = %+v", reply)
	}
}

func TestGraphQLErrors(t *testing.T) {
	ta := newTestApp(t, nil)
	a := ta.newAccount(t, "errs")
	b := ta.newAccount(t, "other")
	conv := ta.start(t, a, "hello")
	readOnly := ta.tokenFor(t, a, assistloop.ScopeReadConversations)

	tests := []struct {
		name, token, query string
		vars               map[string]any
		status             int
		code               string
		field              string // a field named in extensions.fields
	}{
		{"missing scope", readOnly, `mutation($c: ID!) { closeConversation(input: {conversationUuid: $c}) { conversation { uuid } } }`,
			map[string]any{"c": conv}, 200, "FORBIDDEN", ""},
		{"missing scope on a nested field", readOnly, `query($c: ID!) { conversation(uuid: $c) { uuid messages { nodes { id } } } }`,
			map[string]any{"c": conv}, 200, "FORBIDDEN", ""},
		{"other workspace", b.token, `query($c: ID!) { conversation(uuid: $c) { uuid } }`, map[string]any{"c": conv}, 200, "NOT_FOUND", ""},
		{"other workspace agent", b.token, `query($a: ID!) { agent(uuid: $a) { uuid } }`, map[string]any{"a": a.agent.ID}, 200, "NOT_FOUND", ""},
		{"other workspace write", b.token, `mutation($c: ID!) { replyToConversation(input: {conversationUuid: $c, content: "x"}) { message { id } } }`,
			map[string]any{"c": conv}, 200, "NOT_FOUND", ""},
		{"malformed uuid", a.token, `query { conversation(uuid: "not-a-uuid") { uuid } }`, nil, 200, "NOT_FOUND", ""},
		{"blank content", a.token, `mutation($c: ID!) { sendGuestMessage(input: {conversationUuid: $c, content: " "}) { message { id } } }`,
			map[string]any{"c": conv}, 200, "BAD_USER_INPUT", "content"},
		{"page too large", a.token, `query($a: ID!) { conversations(agentUuid: $a, first: 1000) { nodes { uuid } } }`,
			map[string]any{"a": a.agent.ID}, 200, "BAD_USER_INPUT", "first"},
		{"bad cursor", a.token, `query($a: ID!) { conversations(agentUuid: $a, after: "!!") { nodes { uuid } } }`,
			map[string]any{"a": a.agent.ID}, 200, "BAD_USER_INPUT", "after"},
		{"unknown enum", a.token, `query($a: ID!) { conversations(agentUuid: $a, filter: {status: PENDING}) { nodes { uuid } } }`,
			map[string]any{"a": a.agent.ID}, 422, "GRAPHQL_VALIDATION_FAILED", ""},
		{"bad variable type", a.token, `query($a: ID!, $n: Int) { conversations(agentUuid: $a, first: $n) { nodes { uuid } } }`,
			map[string]any{"a": a.agent.ID, "n": "ten"}, 422, "GRAPHQL_VALIDATION_FAILED", ""},
		{"syntax", a.token, `query { conversation(`, nil, 422, "GRAPHQL_PARSE_FAILED", ""},
		{"too complex", a.token, `{ organizations(first: 100) { nodes { agents(first: 100) { nodes { conversations(first: 100) { nodes { uuid } } } } } } }`,
			nil, 200, "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"conflict", a.token, `mutation($c: ID!) { sendAgentMessage(input: {conversationUuid: $c, content: "hi"}) { message { id } } }`,
			map[string]any{"c": ta.closed(t, a)}, 200, "CONFLICT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ta.gql(t, tt.token, tt.query, tt.vars)
			if r.Status != tt.status || r.code() != tt.code {
				t.Fatalf("status %d code %q, want %d %q; errors %+v", r.Status, r.code(), tt.status, tt.code, r.Errors)
			}
			e := r.Errors[0]
			if e.Message == "" || e.Extensions["title"] == nil {
				t.Errorf("error lacks message or title: %+v", e)
			}
			if tt.field != "" {
				fields, _ := e.Extensions["fields"].(map[string]any)
				if fields[tt.field] == nil {
					t.Errorf("extensions.fields = %v, want %q", e.Extensions["fields"], tt.field)
				}
			}
			if strings.Contains(strings.ToLower(e.Message), "sql") || strings.Contains(e.Message, "postgres") {
				t.Errorf("error leaks internals: %q", e.Message)
			}
		})
	}

	for name, header := range map[string]string{
		"no token":      "",
		"bad token":     "Bearer alat_definitely-not-a-token",
		"wrong scheme":  "Basic dXNlcjpwYXNz",
		"empty bearer":  "Bearer ",
		"revoked token": "Bearer " + ta.revokedToken(t, a),
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, ta.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { user { uuid } } }"}`))
			req.Header.Set("Content-Type", "application/json")
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body respBody
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != http.StatusUnauthorized || body.code() != "UNAUTHENTICATED" || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("status %d code %q challenge %q", res.StatusCode, body.code(), res.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func (ta *testApp) closed(t *testing.T, a *member) string {
	t.Helper()
	conv := ta.start(t, a, "to be closed")
	ta.must(t, a.token, `mutation($c: ID!) { closeConversation(input: {conversationUuid: $c}) { conversation { uuid } } }`, map[string]any{"c": conv}, nil)
	return conv
}

func (ta *testApp) revokedToken(t *testing.T, a *member) string {
	t.Helper()
	token, row, err := ta.Tokens.CreateAccessToken(t.Context(), assistloop.CreateAccessTokenInput{UserID: a.user.ID, Scopes: assistloop.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ta.DB.NewRaw("UPDATE access_tokens SET revoked_at = now() WHERE id = ?", row.ID).Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
	return token
}

// TestGraphQLQueryCountIsConstantPerPage: a page of conversations with
// their chat users, agents and workspaces costs the same number of queries
// whatever its size (dataloaders, no query per row).
func TestGraphQLQueryCountIsConstantPerPage(t *testing.T) {
	ta := newTestApp(t, nil)
	a := ta.newAccount(t, "loaders")
	for i := 0; i < 60; i++ {
		ta.start(t, a, fmt.Sprintf("conversation %d", i))
	}
	count := func(n int, query string) int64 {
		before := ta.queries.Load()
		var out map[string]any
		ta.must(t, a.token, query, map[string]any{"a": a.agent.ID, "n": n}, &out)
		return ta.queries.Load() - before
	}
	convQuery := `query($a: ID!, $n: Int) { conversations(agentUuid: $a, first: $n) {
		nodes { uuid chatUser { name email } agent { name } organization { name } } } }`
	small, large := count(5, convQuery), count(60, convQuery)
	t.Logf("conversation page: %d queries for 5 items, %d for 60", small, large)
	if small != large || small > 6 {
		t.Errorf("conversation page queries: %d for 5 items, %d for 60; want equal and small", small, large)
	}
	conv := ta.start(t, a, "many messages")
	for i := 0; i < 40; i++ {
		ta.must(t, a.token, `mutation($c: ID!) { replyToConversation(input: {conversationUuid: $c, content: "reply"}) { message { id } } }`, map[string]any{"c": conv}, nil)
	}
	msgQuery := `query($c: ID!, $n: Int) { messages(conversationUuid: $c, first: $n) { nodes { id senderName responder { name } attachments { id } } } }`
	countMsgs := func(n int) int64 {
		before := ta.queries.Load()
		ta.must(t, a.token, msgQuery, map[string]any{"c": conv, "n": n}, nil)
		return ta.queries.Load() - before
	}
	small, large = countMsgs(3), countMsgs(40)
	t.Logf("message page: %d queries for 3 items, %d for 40", small, large)
	if small != large || small > 6 {
		t.Errorf("message page queries: %d for 3 items, %d for 40; want equal and small", small, large)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	ta := newTestApp(t, nil)
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/healthz", "application/json", `"status":"ok"`},
		{"/readyz", "application/json", `"database":"ok"`},
		{"/metrics", "text/plain", "assistloop_http_requests_total"},
		{"/playground", "text/html", "graphiql"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(ta.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.contentType) || !strings.Contains(string(body), tc.contains) {
				t.Errorf("status %d type %q body %.200s", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
		})
	}
	res, err := http.Get(ta.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if res.StatusCode != 404 || body["error"] == "" || body["message"] == "" {
		t.Errorf("unknown route: %d %v", res.StatusCode, body)
	}
}
