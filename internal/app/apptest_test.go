package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/config"
	"github.com/assistloop/assistloop/internal/pgtest"
)

// testApp is the real router on an httptest server over the package's
// database.
type testApp struct {
	*app.App
	URL     string
	queries atomic.Int64 // SQL statements run, for query-count assertions
}

func newTestApp(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	db := pgtest.Open(t)
	ta := &testApp{}
	db.AddQueryHook(countingHook{&ta.queries})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ta.App = app.New(cfg, log, db)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := ta.Store.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ta.Handler())
	t.Cleanup(srv.Close)
	ta.URL = srv.URL
	return ta
}

type countingHook struct{ n *atomic.Int64 }

func (h countingHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (h countingHook) AfterQuery(_ context.Context, _ *bun.QueryEvent)                    { h.n.Add(1) }

// member is a user with a workspace, an agent and a token.
type member struct {
	user  *assistloop.User
	org   *assistloop.Organization
	agent *assistloop.Agent
	token string
}

func (ta *testApp) newAccount(t *testing.T, name string, scopes ...assistloop.Scope) *member {
	t.Helper()
	if len(scopes) == 0 {
		scopes = assistloop.AllScopes
	}
	u, o, a, err := ta.Services.Users.CreateUser(context.Background(), assistloop.CreateUserInput{
		Email: name + "-" + assistloop.RandomString(6) + "@example.com", Password: "correct horse battery",
		Name: name, OrganizationName: name + " Inc", AgentName: name + " Bot",
	})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := ta.Tokens.CreateAccessToken(context.Background(), assistloop.CreateAccessTokenInput{UserID: u.ID, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return &member{user: u, org: o, agent: a, token: token}
}

// tokenFor issues another token of the member's user with other scopes.
func (ta *testApp) tokenFor(t *testing.T, a *member, scopes ...assistloop.Scope) string {
	t.Helper()
	token, _, err := ta.Tokens.CreateAccessToken(context.Background(), assistloop.CreateAccessTokenInput{UserID: a.user.ID, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

type respError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type respBody struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []respError     `json:"errors"`
}

func (r *respBody) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// gql posts a GraphQL operation with the token.
func (ta *testApp) gql(t *testing.T, token, query string, vars map[string]any) *respBody {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, ta.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := &respBody{Status: res.StatusCode}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, raw)
	}
	return out
}

// must runs an operation that has to succeed and decodes its data into v.
func (ta *testApp) must(t *testing.T, token, query string, vars map[string]any, v any) {
	t.Helper()
	r := ta.gql(t, token, query, vars)
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("status %d, errors %+v", r.Status, r.Errors)
	}
	if v != nil {
		if err := json.Unmarshal(r.Data, v); err != nil {
			t.Fatal(err)
		}
	}
}

const startMutation = `mutation($agent: ID!, $content: String!, $name: String, $email: String) {
	startConversation(input: {agentUuid: $agent, content: $content, chatUser: {name: $name, email: $email}}) {
		conversation { uuid status responseMode }
		message { id uuid }
	}
}`

// start begins a conversation through GraphQL and returns its uuid.
func (ta *testApp) start(t *testing.T, a *member, content string) string {
	t.Helper()
	var out struct {
		StartConversation struct {
			Conversation struct{ UUID string }
		}
	}
	ta.must(t, a.token, startMutation, map[string]any{"agent": a.agent.ID, "content": content, "name": "Jane Smith", "email": "jane@example.com"}, &out)
	return out.StartConversation.Conversation.UUID
}
