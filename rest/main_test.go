package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/app"
	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/config"
	"github.com/assistloop/assistloop/internal/demo"
	"github.com/assistloop/assistloop/internal/pgtest"
	"github.com/assistloop/assistloop/internal/postgres"
	"github.com/assistloop/assistloop/rest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// world is the package's shared fixture: one database with the demo
// workspace (A) and a second, unrelated workspace (B), and a server whose
// rate-limit window is so short that no test but the rate-limit tests
// ever meets a limit.
type world struct {
	db  *bun.DB
	app *app.App
	srv *httptest.Server
	A   workspace
	B   workspace
}

// workspace is one user's workspace and a token with every scope.
type workspace struct {
	UserID, UserName, Email string
	OrgID, OrgName          string
	AgentIDs                []string // oldest first
	Token                   string
}

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

// shared returns the package's fixture, building it on first use.
func shared(t testing.TB) *world {
	t.Helper()
	worldOnce.Do(func() { theWorld, worldErr = buildWorld(pgtest.DSN(t)) })
	if worldErr != nil {
		t.Fatalf("fixture: %v", worldErr)
	}
	return theWorld
}

func buildWorld(dsn string) (*world, error) {
	ctx := context.Background()
	db, err := postgres.Open(dsn) // lives as long as the test binary
	if err != nil {
		return nil, err
	}
	w := &world{db: db}
	w.app = newApp(nil, db, map[string]string{"RATE_LIMIT_WINDOW": "1ms"})
	w.srv = httptest.NewServer(w.app.Handler())

	res, err := demo.Load(ctx, demo.Services{Users: w.app.Services.Users, Organizations: w.app.Services.Organizations,
		Agents: w.app.Services.Agents, Conversations: w.app.Services.Conversations, Tokens: w.app.Tokens, Clients: w.app.Clients})
	if err != nil {
		return nil, err
	}
	w.A = workspace{UserID: res.User.UUID, UserName: demo.UserName, Email: demo.Email, OrgID: res.OrganizationUUID,
		OrgName: demo.OrganizationName, AgentIDs: res.AgentUUIDs, Token: res.AccessToken}

	u, org, agent, err := w.app.Services.Users.CreateUser(ctx, assistloop.CreateUserInput{Email: "owner@globex.example",
		Password: "globex-password", Name: "Hank Scorpio", OrganizationName: "Globex Corporation", AgentName: "Globex Helper"})
	if err != nil {
		return nil, err
	}
	w.B = workspace{UserID: u.ID, UserName: u.Name, Email: u.Email, OrgID: org.ID, OrgName: org.Name, AgentIDs: []string{agent.ID}}
	if w.B.Token, _, err = w.app.Tokens.CreateAccessToken(ctx, assistloop.CreateAccessTokenInput{UserID: u.ID, Scopes: assistloop.AllScopes}); err != nil {
		return nil, err
	}
	asB := assistloop.WithPrincipal(ctx, &assistloop.Principal{UserID: u.ID, Scopes: assistloop.AllScopes})
	name := "Marge"
	c, _, err := w.app.Services.Conversations.StartConversation(asB, assistloop.StartConversationInput{AgentID: agent.ID,
		Content: "Hello Globex", ChatUser: &assistloop.ChatUserInput{Name: &name}})
	if err != nil {
		return nil, err
	}
	if _, err := w.app.Services.Conversations.RequestHumanHandoff(asB, c.ID, nil); err != nil {
		return nil, err
	}
	return w, nil
}

// newApp builds the service over db with the test configuration env.
func newApp(t testing.TB, db *bun.DB, env map[string]string) *app.App {
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		if t != nil {
			t.Fatal(err)
		}
		panic(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return app.New(cfg, log, db)
}

// token issues a token for a user with the given scopes (and OAuth client).
func (w *world) token(t testing.TB, userID string, clientID *string, scopes ...assistloop.Scope) string {
	t.Helper()
	tok, _, err := w.app.Tokens.CreateAccessToken(context.Background(),
		assistloop.CreateAccessTokenInput{UserID: userID, ClientID: clientID, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// as returns a context acting as the workspace's user.
func (ws workspace) as() context.Context {
	return assistloop.WithPrincipal(context.Background(), &assistloop.Principal{UserID: ws.UserID, Scopes: assistloop.AllScopes})
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// request describes one call.
type request struct {
	Method      string
	Path        string // with the /v1 or /api/v1 prefix and the query
	Token       string
	Body        string
	ContentType string // application/json when Body is set and this is empty
	// Undocumented marks a request the API accepts as a courtesy but the
	// OpenAPI description does not describe; its response is still checked.
	Undocumented bool
}

// do performs the request against base and checks the response against the
// OpenAPI description: every status, header and body must be documented.
func do(t testing.TB, base string, req request) *response {
	t.Helper()
	var body io.Reader
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	hr, err := http.NewRequest(method, base+req.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	if req.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.Token)
	}
	switch {
	case req.ContentType != "":
		hr.Header.Set("Content-Type", req.ContentType)
	case req.Body != "":
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := &response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	checkOpenAPI(t, base, hr, req, out)
	return out
}

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
	specMu   sync.Mutex
	routerBy = map[string]routers.Router{}
)

// loadSpec parses the served OpenAPI description.
func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		spec, specErr = openapi3.NewLoader().LoadFromData(rest.OpenAPI())
		if specErr == nil {
			specErr = spec.Validate(context.Background())
		}
	})
	if specErr != nil {
		t.Fatalf("OpenAPI description: %v", specErr)
	}
	return spec
}

// specRouter matches requests to base's /v1 and /api/v1 against the spec.
func specRouter(t testing.TB, base string) routers.Router {
	t.Helper()
	specMu.Lock()
	defer specMu.Unlock()
	if r, ok := routerBy[base]; ok {
		return r
	}
	doc := *loadSpec(t)
	doc.Servers = openapi3.Servers{{URL: base + "/v1"}, {URL: base + "/api/v1"}}
	r, err := legacy.NewRouter(&doc)
	if err != nil {
		t.Fatal(err)
	}
	routerBy[base] = r
	return r
}

func checkOpenAPI(t testing.TB, base string, hr *http.Request, req request, resp *response) {
	t.Helper()
	route, params, err := specRouter(t, base).FindRoute(hr)
	if err != nil {
		if resp.Status == http.StatusNotFound || resp.Status == http.StatusMethodNotAllowed {
			return // a route that does not exist
		}
		t.Errorf("%s %s: not in the OpenAPI description: %v", hr.Method, hr.URL.Path, err)
		return
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route, Options: opts}
	if resp.Status < 300 && !req.Undocumented {
		// What the API accepted, the description must accept too.
		vr := hr.Clone(ctx)
		vr.Body = io.NopCloser(strings.NewReader(req.Body))
		vin := *in
		vin.Request = vr
		if err := openapi3filter.ValidateRequest(ctx, &vin); err != nil {
			t.Errorf("%s %s: request accepted by the API but not by the OpenAPI description: %v", hr.Method, hr.URL, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.Status, Header: resp.Header, Options: opts}
	out.SetBodyBytes(resp.Body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("%s %s: %d response does not match the OpenAPI description: %v\nbody: %s", hr.Method, hr.URL, resp.Status, err, resp.Body)
	}
}

// compact returns JSON text without insignificant whitespace, for exact
// comparisons.
func compact(t testing.TB, s []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, s); err != nil {
		t.Fatalf("not JSON: %v: %s", err, s)
	}
	return b.String()
}
