package app_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/config"
	"github.com/assistloop/assistloop/internal/pgtest"
	"github.com/assistloop/assistloop/internal/postgres"
)

// testConfig is the default configuration with webhook targets allowed on
// loopback (the receivers are httptest servers on 127.0.0.1).
func testConfig(t testing.TB) config.Config {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.WebhookAllowPrivateTargets = true
	return cfg
}

// testLogger discards logs unless ASSISTLOOP_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("ASSISTLOOP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newApp builds the service over the package's database.
func newApp(t testing.TB, cfg config.Config) *app.App {
	t.Helper()
	return app.New(cfg, testLogger(), pgtest.Open(t))
}

// serve runs the whole service (HTTP, notification hub, webhook workers)
// on a free port until the test ends, and returns its base URL.
func serve(t testing.TB, a *app.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// serveAPI serves only the HTTP API (and the notification hub), without
// the webhook workers, which the test runs itself.
func serveAPI(t testing.TB, a *app.App) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := a.Store.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// account is a user with a workspace, an agent and an all-scopes token.
type account struct {
	UserID, OrganizationID, AgentID string
	Token                           string
}

var accountSeq struct {
	sync.Mutex
	n int
}

func newAccount(t testing.TB, a *app.App, orgName string) account {
	t.Helper()
	accountSeq.Lock()
	accountSeq.n++
	n := accountSeq.n
	accountSeq.Unlock()
	ctx := context.Background()
	u, org, agent, err := a.Services.Users.CreateUser(ctx, assistloop.CreateUserInput{
		Email:    fmt.Sprintf("user%d-%s@example.com", n, assistloop.RandomString(6)),
		Password: "correct horse battery staple", Name: "Test User", OrganizationName: orgName,
	})
	if err != nil {
		t.Fatal(err)
	}
	return account{UserID: u.ID, OrganizationID: org.ID, AgentID: agent.ID, Token: newToken(t, a, u.ID, assistloop.AllScopes...)}
}

func newToken(t testing.TB, a *app.App, userID string, scopes ...assistloop.Scope) string {
	t.Helper()
	tok, _, err := a.Tokens.CreateAccessToken(context.Background(), assistloop.CreateAccessTokenInput{UserID: userID, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// gqlError is one GraphQL error as clients see it.
type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code   string              `json:"code"`
		Title  string              `json:"title"`
		Fields map[string][]string `json:"fields"`
	} `json:"extensions"`
}

type gqlResponse struct {
	Status int             `json:"-"`
	Header http.Header     `json:"-"`
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// code is the first error's extensions.code, "" without errors.
func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Extensions.Code
}

// gql posts a GraphQL operation (with the token, when not empty) and
// returns the response.
func gql(t testing.TB, baseURL, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, baseURL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := gqlResponse{Status: resp.StatusCode, Header: resp.Header}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("GraphQL response %d is not JSON: %s", resp.StatusCode, raw)
	}
	return out
}

// mustGQL runs an operation that must succeed and decodes its data into v.
func mustGQL(t testing.TB, baseURL, token, query string, vars map[string]any, v any) {
	t.Helper()
	res := gql(t, baseURL, token, query, vars)
	if len(res.Errors) > 0 {
		t.Fatalf("GraphQL errors: %+v", res.Errors)
	}
	if v != nil {
		if err := json.Unmarshal(res.Data, v); err != nil {
			t.Fatal(err)
		}
	}
}

// subscribe creates a webhook subscription through the REST API, as Make
// does, checks the documented response shape and returns the
// subscription's id and secret.
func subscribe(t testing.TB, baseURL string, acc account, target, event string) (id, secret string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{
		"organization_uuid": acc.OrganizationID, "agent_uuid": acc.AgentID,
		"target_url": target, "event": event, "platform": "make",
	})
	req, _ := http.NewRequest(http.MethodPost, baseURL+"/v1/webhooks/subscribe", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+acc.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Data    struct{ ID, Secret string } `json:"data"`
		Message string                      `json:"message"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.Message != "Webhook subscribed successfully" ||
		!strings.HasPrefix(out.Data.ID, "whk_") || !strings.HasPrefix(out.Data.Secret, "whsec_") {
		t.Fatalf("POST /v1/webhooks/subscribe: %d %s", resp.StatusCode, raw)
	}
	return out.Data.ID, out.Data.Secret
}

const startConversationMutation = `mutation($input: StartConversationInput!) {
  startConversation(input: $input) { conversation { uuid createdAt } message { id uuid createdAt } }
}`

type startedConversation struct {
	StartConversation struct {
		Conversation struct {
			UUID      string
			CreatedAt time.Time
		}
		Message struct {
			ID        string
			UUID      string
			CreatedAt time.Time
		}
	}
}

func startConversation(t testing.TB, baseURL string, acc account, content string) startedConversation {
	t.Helper()
	var out startedConversation
	mustGQL(t, baseURL, acc.Token, startConversationMutation, map[string]any{"input": map[string]any{
		"agentUuid": acc.AgentID, "content": content,
		"chatUser": map[string]any{"name": "Jane Smith", "email": "jane@example.com"},
	}}, &out)
	return out
}

// delivery is one request a receiver got.
type delivery struct {
	Path   string
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is an HTTPS webhook target. respond chooses each answer.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []delivery
	arrived  chan delivery
	respond  func(n int, r *http.Request, w http.ResponseWriter) // n counts from 1
	inFlight map[string]int                                      // attempts in progress, by delivery (webhook-id and path)
	overlaps int                                                 // attempts that began while another of the same delivery was in progress
}

func newReceiver(t testing.TB, respond func(n int, r *http.Request, w http.ResponseWriter)) *receiver {
	t.Helper()
	rc := &receiver{arrived: make(chan delivery, 10000), respond: respond, inFlight: map[string]int{}}
	rc.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d := delivery{Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: time.Now()}
		id := r.Header.Get("webhook-id") + " " + r.URL.Path // one delivery
		rc.mu.Lock()
		rc.got = append(rc.got, d)
		n := len(rc.got)
		rc.inFlight[id]++
		if rc.inFlight[id] > 1 {
			rc.overlaps++
		}
		respond := rc.respond
		rc.mu.Unlock()
		defer func() {
			rc.mu.Lock()
			rc.inFlight[id]--
			rc.mu.Unlock()
		}()
		if respond != nil {
			respond(n, r, w)
		} else {
			w.WriteHeader(http.StatusOK)
		}
		rc.arrived <- d
	}))
	t.Cleanup(rc.Close)
	return rc
}

// setRespond changes how the receiver answers.
func (rc *receiver) setRespond(respond func(n int, r *http.Request, w http.ResponseWriter)) {
	rc.mu.Lock()
	rc.respond = respond
	rc.mu.Unlock()
}

// roots returns a pool trusting the receiver's certificate.
func (rc *receiver) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(rc.Certificate())
	return pool
}

// next waits for the next request the receiver answered.
func (rc *receiver) next(t testing.TB) delivery {
	t.Helper()
	select {
	case d := <-rc.arrived:
		return d
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook arrived within 30s")
		return delivery{}
	}
}

// requests returns a copy of every request so far.
func (rc *receiver) requests() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// eventually polls cond until it holds or 30 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fill replaces {{name}} placeholders in a golden template.
func fill(template string, values map[string]string) string {
	for k, v := range values {
		template = strings.ReplaceAll(template, "{{"+k+"}}", v)
	}
	return template
}

// fanOutAll creates the deliveries of every event, as the fan-out worker
// would, for tests that run without workers.
func fanOutAll(t testing.TB, a *app.App) {
	t.Helper()
	ctx := assistloop.NewSystemContext(context.Background())
	var ids []uuid.UUID
	if err := a.DB.NewRaw("SELECT id FROM events ORDER BY txid, seq").Scan(ctx, &ids); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.NewDeliveryQueue(a.Store).FanOut(ctx, "test", ids); err != nil {
		t.Fatal(err)
	}
}
