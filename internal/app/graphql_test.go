package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
)

func TestGraphQLConversationLifecycle(t *testing.T) {
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a)
	acc := newAccount(t, a, "Acme Corporation")
	conv := startConversation(t, base, acc, "Hi, I need help with my order").StartConversation.Conversation.UUID

	var ai struct {
		SendAgentMessage struct{ Message struct{ ID, UUID string } }
	}
	mustGQL(t, base, acc.Token, `mutation($c: ID!) { sendAgentMessage(input: {conversationUuid: $c, content: "Could you share the order number?"}) { message { id uuid } } }`,
		map[string]any{"c": conv}, &ai)
	if !strings.HasPrefix(ai.SendAgentMessage.Message.ID, "msg_") || strings.ReplaceAll(ai.SendAgentMessage.Message.UUID, "-", "") != ai.SendAgentMessage.Message.ID[4:] {
		t.Errorf("message ids %+v", ai.SendAgentMessage.Message)
	}
	mustGQL(t, base, acc.Token, `mutation($c: ID!) { sendGuestMessage(input: {conversationUuid: $c, content: "I need to speak with a human agent"}) { message { id } } }`,
		map[string]any{"c": conv}, nil)
	var handoff struct {
		RequestHumanHandoff struct {
			Conversation struct{ UUID, ResponseMode string }
		}
	}
	mustGQL(t, base, acc.Token, `mutation($c: ID!) { requestHumanHandoff(input: {conversationUuid: $c, reason: "asked for a human"}) { conversation { uuid responseMode } } }`,
		map[string]any{"c": conv}, &handoff)
	if handoff.RequestHumanHandoff.Conversation.ResponseMode != "HUMAN" {
		t.Errorf("after handoff: %+v", handoff)
	}
	mustGQL(t, base, acc.Token, `mutation($c: ID!) { replyToConversation(input: {conversationUuid: $c, content: "Hi Jane, Maria here."}) { message { id } } }`,
		map[string]any{"c": conv}, nil)
	var closed struct {
		CloseConversation struct{ Conversation struct{ Status string } }
	}
	mustGQL(t, base, acc.Token, `mutation($c: ID!) { closeConversation(input: {conversationUuid: $c}) { conversation { uuid status } } }`,
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
	mustGQL(t, base, acc.Token, `query($c: ID!) {
		viewer { user { uuid name email } scopes }
		conversation(uuid: $c) {
			uuid sessionId status responseMode
			agent { uuid name } organization { uuid name } chatUser { uuid name email }
			messages(first: 10) { nodes { type content responderType senderName responder { uuid } attachments { id } } }
		}
	}`, map[string]any{"c": conv}, &got)
	if got.Viewer.User.UUID != acc.UserID || len(got.Viewer.Scopes) != 4 {
		t.Errorf("viewer = %+v", got.Viewer)
	}
	c := got.Conversation
	if c.UUID != conv || c.Status != "CLOSED" || c.ResponseMode != "HUMAN" || c.Agent.UUID != acc.AgentID || c.Organization.UUID != acc.OrganizationID ||
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
	if reply.ResponderType == nil || *reply.ResponderType != "HUMAN_ASSISTANT" || reply.Responder == nil || reply.Responder.UUID != acc.UserID ||
		reply.SenderName != "Test User" || reply.Attachments == nil {
		t.Errorf("reply = %+v", reply)
	}
}

func TestGraphQLErrors(t *testing.T) {
	a := newApp(t, testConfig(t))
	base := serveAPI(t, a)
	acc := newAccount(t, a, "Acme Corporation")
	other := newAccount(t, a, "Other Inc")
	conv := startConversation(t, base, acc, "hello").StartConversation.Conversation.UUID
	readOnly := newToken(t, a, acc.UserID, assistloop.ScopeReadConversations)

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
		{"other workspace", other.Token, `query($c: ID!) { conversation(uuid: $c) { uuid } }`, map[string]any{"c": conv}, 200, "NOT_FOUND", ""},
		{"other workspace agent", other.Token, `query($a: ID!) { agent(uuid: $a) { uuid } }`, map[string]any{"a": acc.AgentID}, 200, "NOT_FOUND", ""},
		{"other workspace write", other.Token, `mutation($c: ID!) { replyToConversation(input: {conversationUuid: $c, content: "x"}) { message { id } } }`,
			map[string]any{"c": conv}, 200, "NOT_FOUND", ""},
		{"malformed uuid", acc.Token, `query { conversation(uuid: "not-a-uuid") { uuid } }`, nil, 200, "NOT_FOUND", ""},
		{"blank content", acc.Token, `mutation($c: ID!) { sendGuestMessage(input: {conversationUuid: $c, content: " "}) { message { id } } }`,
			map[string]any{"c": conv}, 200, "BAD_USER_INPUT", "content"},
		{"page too large", acc.Token, `query($a: ID!) { conversations(agentUuid: $a, first: 1000) { nodes { uuid } } }`,
			map[string]any{"a": acc.AgentID}, 200, "BAD_USER_INPUT", "first"},
		{"bad cursor", acc.Token, `query($a: ID!) { conversations(agentUuid: $a, after: "!!") { nodes { uuid } } }`,
			map[string]any{"a": acc.AgentID}, 200, "BAD_USER_INPUT", "after"},
		{"unknown enum", acc.Token, `query($a: ID!) { conversations(agentUuid: $a, filter: {status: PENDING}) { nodes { uuid } } }`,
			map[string]any{"a": acc.AgentID}, 422, "GRAPHQL_VALIDATION_FAILED", ""},
		{"bad variable type", acc.Token, `query($a: ID!, $n: Int) { conversations(agentUuid: $a, first: $n) { nodes { uuid } } }`,
			map[string]any{"a": acc.AgentID, "n": "ten"}, 422, "GRAPHQL_VALIDATION_FAILED", ""},
		{"syntax", acc.Token, `query { conversation(`, nil, 422, "GRAPHQL_PARSE_FAILED", ""},
		{"too complex", acc.Token, `{ organizations(first: 100) { nodes { agents(first: 100) { nodes { conversations(first: 100) { nodes { uuid } } } } } } }`,
			nil, 200, "COMPLEXITY_LIMIT_EXCEEDED", ""},
		{"conflict", acc.Token, `mutation($c: ID!) { sendAgentMessage(input: {conversationUuid: $c, content: "hi"}) { message { id } } }`,
			map[string]any{"c": closedConversation(t, base, acc)}, 200, "CONFLICT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gql(t, base, tt.token, tt.query, tt.vars)
			if r.Status != tt.status || r.code() != tt.code {
				t.Fatalf("status %d code %q, want %d %q; errors %+v", r.Status, r.code(), tt.status, tt.code, r.Errors)
			}
			e := r.Errors[0]
			if e.Message == "" || e.Extensions.Title == "" {
				t.Errorf("error lacks message or title: %+v", e)
			}
			if tt.field != "" && len(e.Extensions.Fields[tt.field]) == 0 {
				t.Errorf("extensions.fields = %v, want %q", e.Extensions.Fields, tt.field)
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
		"revoked token": "Bearer " + revokedToken(t, a, acc),
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ viewer { user { uuid } } }"}`))
			req.Header.Set("Content-Type", "application/json")
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body gqlResponse
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != http.StatusUnauthorized || body.code() != "UNAUTHENTICATED" || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("status %d code %q challenge %q", res.StatusCode, body.code(), res.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func closedConversation(t *testing.T, base string, acc account) string {
	t.Helper()
	conv := startConversation(t, base, acc, "to be closed").StartConversation.Conversation.UUID
	mustGQL(t, base, acc.Token, `mutation($c: ID!) { closeConversation(input: {conversationUuid: $c}) { conversation { uuid } } }`, map[string]any{"c": conv}, nil)
	return conv
}

func revokedToken(t *testing.T, a *app.App, acc account) string {
	t.Helper()
	token, row, err := a.Tokens.CreateAccessToken(t.Context(), assistloop.CreateAccessTokenInput{UserID: acc.UserID, Scopes: assistloop.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB.NewRaw("UPDATE access_tokens SET revoked_at = now() WHERE id = ?", row.ID).Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
	return token
}

// TestGraphQLQueryCountIsConstantPerPage: a page of conversations with
// their chat users, agents and workspaces costs the same number of queries
// whatever its size (dataloaders, no query per row).
func TestGraphQLQueryCountIsConstantPerPage(t *testing.T) {
	a := newApp(t, testConfig(t))
	var queries atomic.Int64
	a.DB.AddQueryHook(countingHook{&queries})
	base := serveAPI(t, a)
	acc := newAccount(t, a, "Acme Corporation")
	for i := 0; i < 60; i++ {
		startConversation(t, base, acc, fmt.Sprintf("conversation %d", i))
	}
	count := func(n int, query string) int64 {
		before := queries.Load()
		var out map[string]any
		mustGQL(t, base, acc.Token, query, map[string]any{"a": acc.AgentID, "n": n}, &out)
		return queries.Load() - before
	}
	convQuery := `query($a: ID!, $n: Int) { conversations(agentUuid: $a, first: $n) {
		nodes { uuid chatUser { name email } agent { name } organization { name } } } }`
	small, large := count(5, convQuery), count(60, convQuery)
	t.Logf("conversation page: %d queries for 5 items, %d for 60", small, large)
	if small != large || small > 6 {
		t.Errorf("conversation page queries: %d for 5 items, %d for 60; want equal and small", small, large)
	}
	conv := startConversation(t, base, acc, "many messages").StartConversation.Conversation.UUID
	for i := 0; i < 40; i++ {
		mustGQL(t, base, acc.Token, `mutation($c: ID!) { replyToConversation(input: {conversationUuid: $c, content: "reply"}) { message { id } } }`, map[string]any{"c": conv}, nil)
	}
	msgQuery := `query($c: ID!, $n: Int) { messages(conversationUuid: $c, first: $n) { nodes { id senderName responder { name } attachments { id } } } }`
	countMsgs := func(n int) int64 {
		before := queries.Load()
		mustGQL(t, base, acc.Token, msgQuery, map[string]any{"c": conv, "n": n}, nil)
		return queries.Load() - before
	}
	small, large = countMsgs(3), countMsgs(40)
	t.Logf("message page: %d queries for 3 items, %d for 40", small, large)
	if small != large || small > 6 {
		t.Errorf("message page queries: %d for 3 items, %d for 40; want equal and small", small, large)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	base := serveAPI(t, newApp(t, testConfig(t)))
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/healthz", "application/json", `"status":"ok"`},
		{"/readyz", "application/json", `"database":"ok"`},
		{"/metrics", "text/plain", "assistloop_http_requests_total"},
		{"/playground", "text/html", "graphiql"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(base + tc.path)
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
	res, err := http.Get(base + "/nope")
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

// countingHook counts the SQL statements a bun handle runs.
type countingHook struct{ n *atomic.Int64 }

func (h countingHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (h countingHook) AfterQuery(_ context.Context, _ *bun.QueryEvent)                    { h.n.Add(1) }
